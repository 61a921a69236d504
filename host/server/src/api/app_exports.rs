//! `/api/v1/workspaces/{ws}/apps/{app}/export` and `/api/v1/workspaces/{ws}/apps/import`:
//! an app as a portable JSON document and back. A document carries one definition and the
//! names of the datasources its queries use, never a datasource's configuration or any
//! secret: definitions refer to datasources by name only. Import maps those names through
//! the caller's `datasource_map` and keeps the rest as they are.

use super::audit_event;
use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::app_access::{check_definition, check_slug, find_editable, insert, parse_stored};
use super::app_versions::version_number;
use super::apps::AppView;
use super::extract::{ApiJson, ApiQuery, rfc3339, validate_name};
use crate::auth::{Actor, ClientAddr, Permission, authorize};
use crate::definition;
use crate::error::{Error, Problem, Result};
use crate::state::SharedState;
use crate::store::{AppFields, now_ms};

/// What an export document says it is.
pub const FORMAT: &str = "lathe.app";
/// The newest document format this server writes and reads.
pub const FORMAT_VERSION: u64 = 1;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `draft` (the default) or a released version's number.
    pub version: Option<String>,
}

/// The app an export document came from.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportedApp {
    pub name: String,
    pub slug: String,
}

/// An exported app. Field names are camelCase: it is a file format, like the definition.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExportDocument {
    /// Always `lathe.app`.
    pub format: String,
    /// The document format's version; this server writes 1 and reads up to 1.
    pub format_version: u64,
    /// RFC 3339.
    pub exported_at: String,
    pub app: ExportedApp,
    /// Which definition this is: `"draft"` or the released version's number.
    #[schema(value_type = Object)]
    pub version: Value,
    #[schema(value_type = Object)]
    pub definition: Value,
    /// The datasource names the definition's queries use.
    pub datasources: Vec<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppImport {
    /// A document from `export`.
    #[schema(value_type = Object)]
    pub document: Value,
    /// The new app's name; the document's when absent.
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    /// The new app's slug; the document's when absent.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = "^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
    )]
    pub slug: Option<String>,
    /// Datasource names in the document → names in this workspace. Every key must be a
    /// datasource the document uses.
    pub datasource_map: Option<BTreeMap<String, String>>,
}

#[derive(Serialize, ToSchema)]
pub struct AppImported {
    pub app: AppView,
    /// The datasource names the imported app's queries use, after mapping.
    pub datasources: Vec<String>,
    /// Those of them this workspace has no datasource for: the app's queries on them fail
    /// until the builder creates the datasource or points the queries elsewhere.
    pub unresolved_datasources: Vec<String>,
}

/// Export an app as a document: the draft or a released version, with the datasource names
/// it uses and nothing else (builders and admins).
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/apps/{app}/export", tag = "apps",
    params(
        ("ws" = String, Path, description = "Workspace id"),
        ("app" = String, Path, description = "App id or slug"),
        ExportQuery,
    ),
    responses(
        (status = 200, body = ExportDocument),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn apps_export(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    Path((ws, app)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> Result<Json<ExportDocument>> {
    authorize(&state, &actor, &ws, Permission::View).await?;
    let wanted = match query.version.as_deref() {
        None | Some("draft") => None,
        Some(n) => Some(version_number(n).map_err(|_| {
            Error::BadRequest("`version` must be `draft` or a version number".into())
        })?),
    };
    let app = find_editable(&state, &actor, &ws, &app).await?;
    let (text, version) = match wanted {
        None => (app.draft.clone(), Value::from("draft")),
        Some(n) => {
            let row = state
                .store
                .app_version_get(&app.id, n)
                .await?
                .ok_or(Error::NotFound)?;
            (row.definition, Value::from(n))
        }
    };
    let definition = parse_stored(&app.id, &text)?;
    let datasources = definition::datasource_names(&definition);

    let detail = serde_json::json!({ "version": version, "datasources": datasources });
    state
        .store
        .audit_append(audit_event(
            &actor,
            &ws,
            addr,
            "app.export",
            &app.id,
            detail,
        ))
        .await?;
    Ok(Json(ExportDocument {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        exported_at: rfc3339(now_ms()),
        app: ExportedApp {
            name: app.name,
            slug: app.slug,
        },
        version,
        definition,
        datasources,
    }))
}

/// Reads a document: first what it says it is, so that one from a newer Lathe gets a clear
/// answer rather than a complaint about fields this server doesn't know.
fn read_document(document: Value) -> Result<ExportDocument> {
    if document.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(Error::Validation(format!(
            "at /document/format: not a Lathe app export (expected \"{FORMAT}\")"
        )));
    }
    match document.get("formatVersion").and_then(Value::as_u64) {
        Some(v) if (1..=FORMAT_VERSION).contains(&v) => {}
        Some(v) if v > FORMAT_VERSION => {
            return Err(Error::Validation(format!(
                "at /document/formatVersion: version {v} comes from a newer Lathe; this one reads up to {FORMAT_VERSION}"
            )));
        }
        _ => {
            return Err(Error::Validation(
                "at /document/formatVersion: must be a positive whole number".into(),
            ));
        }
    }
    let document: ExportDocument = serde_json::from_value(document)
        .map_err(|e| Error::Validation(format!("at /document: {e}")))?;
    // What the audit record keeps of the source must be what an export writes, and small.
    let version_ok = document.version == Value::String("draft".into())
        || document.version.as_u64().is_some_and(|n| n >= 1);
    if !version_ok {
        return Err(Error::Validation(
            "at /document/version: must be \"draft\" or a released version's number".into(),
        ));
    }
    let time_ok = document.exported_at.len() <= 64
        && time::OffsetDateTime::parse(
            &document.exported_at,
            &time::format_description::well_known::Rfc3339,
        )
        .is_ok();
    if !time_ok {
        return Err(Error::Validation(
            "at /document/exportedAt: must be an RFC 3339 time".into(),
        ));
    }
    validate_name("document.app.name", &document.app.name)?;
    check_slug("document.app.slug", &document.app.slug)?;
    Ok(document)
}

/// A datasource name as a definition allows it: 1 to 100 characters, no control ones.
fn check_datasource_name(field: &str, name: &str) -> Result<()> {
    let chars = name.chars().count();
    if chars == 0 || chars > 100 || name.chars().any(char::is_control) {
        return Err(Error::Validation(format!(
            "at {field}: a datasource name must be 1 to 100 characters with no control characters"
        )));
    }
    Ok(())
}

/// Checks a datasource map against the names the document uses: a key it doesn't use is
/// most likely a typo, and is refused rather than silently ignored.
fn check_datasource_map(map: &BTreeMap<String, String>, used: &[String]) -> Result<()> {
    for (from, to) in map {
        let at = format!(
            "/datasource_map/{}",
            from.replace('~', "~0").replace('/', "~1")
        );
        if !used.contains(from) {
            return Err(Error::Validation(format!(
                "at {at}: the document has no query on a datasource named {from:?}"
            )));
        }
        check_datasource_name(&at, to)?;
    }
    Ok(())
}

/// Create an app in this workspace from an export document (builders and admins). The
/// document's datasource names are mapped through `datasource_map`; names without a
/// mapping are kept, and the response lists the ones this workspace lacks.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/apps/import", tag = "apps",
    request_body = AppImport,
    params(("ws" = String, Path, description = "Workspace id")),
    responses(
        (status = 201, body = AppImported),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn apps_import(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<AppImport>,
) -> Result<(StatusCode, Json<AppImported>)> {
    authorize(&state, &actor, &ws, Permission::Build).await?;
    let document = read_document(body.document)?;
    let name = validate_name("name", body.name.as_deref().unwrap_or(&document.app.name))?;
    let slug = body.slug.unwrap_or_else(|| document.app.slug.clone());
    check_slug("slug", &slug)?;

    let mut definition = document.definition;
    // The document's own list may be stale or edited by hand: the queries are the truth.
    check_definition(&definition, "/document/definition")?;
    let map = body.datasource_map.unwrap_or_default();
    check_datasource_map(&map, &definition::datasource_names(&definition))?;
    definition::rename_datasources(&mut definition, &map);
    let draft = check_definition(&definition, "/document/definition")?;
    let datasources = definition::datasource_names(&definition);

    let fields = AppFields {
        name: &name,
        slug: &slug,
        draft: &draft,
    };
    let mut extra = serde_json::Map::new();
    let from = serde_json::json!({
        "app": document.app, "version": document.version, "exportedAt": document.exported_at,
    });
    extra.insert("from".into(), from);
    extra.insert("datasource_map".into(), serde_json::json!(map));
    let app = insert(&state, &actor, addr, &ws, &fields, "app.import", extra).await?;
    let existing: Vec<String> = state
        .store
        .datasources_list(&ws)
        .await?
        .into_iter()
        .map(|d| d.name)
        .collect();
    let unresolved_datasources = datasources
        .iter()
        .filter(|name| !existing.contains(name))
        .cloned()
        .collect();
    Ok((
        StatusCode::CREATED,
        Json(AppImported {
            app,
            unresolved_datasources,
            datasources,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_from_newer_lathes_are_refused_by_version() {
        let doc = serde_json::json!({ "format": FORMAT, "formatVersion": 2, "future": true });
        let Err(Error::Validation(message)) = read_document(doc) else {
            panic!("accepted");
        };
        assert!(message.contains("newer Lathe"), "{message}");
        let not_ours = serde_json::json!({ "format": "tooljet", "formatVersion": 1 });
        assert!(read_document(not_ours).is_err());
    }

    #[test]
    fn datasource_maps_name_only_used_datasources() {
        let used = vec!["old-db".to_string()];
        let ok = BTreeMap::from([("old-db".to_string(), "new-db".to_string())]);
        check_datasource_map(&ok, &used).unwrap();
        let typo = BTreeMap::from([("old_db".to_string(), "new-db".to_string())]);
        assert!(check_datasource_map(&typo, &used).is_err());
        let bad = BTreeMap::from([("old-db".to_string(), "new\ndb".to_string())]);
        assert!(check_datasource_map(&bad, &used).is_err());
    }
}
