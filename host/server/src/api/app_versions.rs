//! `/api/v1/workspaces/{ws}/apps/{app}/release` and `…/versions`: freeze the draft as the
//! next numbered version (which viewers then get), list and read versions, and restore one
//! into the draft. Builders and admins only.

use super::audit_event;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::app_access::{find_editable, parse_stored, require_datasources, view_after_change};
use super::apps::AppView;
use super::extract::{ApiJson, rfc3339};
use crate::auth::{Actor, ClientAddr, Permission, authorize, require};
use crate::authz::{Action, Object};
use crate::error::{Error, Problem, Result};
use crate::state::SharedState;
use crate::store::AppVersionRow;

const NOTE_MAX_CHARS: usize = 500;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppRelease {
    /// What changed, for the version history; up to 500 characters.
    #[schema(max_length = 500)]
    pub note: Option<String>,
}

/// A released version, without its definition.
#[derive(Serialize, ToSchema)]
pub struct AppVersionSummary {
    pub number: i64,
    pub note: Option<String>,
    pub released_by: Option<String>,
    /// RFC 3339.
    pub released_at: String,
    /// Whether this is the version viewers get.
    pub current: bool,
}

/// A released version with its definition.
#[derive(Serialize, ToSchema)]
pub struct AppVersionView {
    pub number: i64,
    pub note: Option<String>,
    pub released_by: Option<String>,
    /// RFC 3339.
    pub released_at: String,
    pub current: bool,
    #[schema(value_type = Object)]
    pub definition: Value,
}

fn summary(row: AppVersionRow, current: Option<i64>) -> AppVersionSummary {
    AppVersionSummary {
        current: current == Some(row.number),
        number: row.number,
        note: row.note,
        released_by: row.released_by,
        released_at: rfc3339(row.released_at),
    }
}

/// A release note: trimmed, at most 500 characters, no control characters but line breaks
/// and tabs; empty means none.
fn check_note(note: Option<&str>) -> Result<Option<String>> {
    let Some(note) = note.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    let allowed = |c: char| !c.is_control() || matches!(c, '\n' | '\r' | '\t');
    if note.chars().count() > NOTE_MAX_CHARS || !note.chars().all(allowed) {
        return Err(Error::Validation(format!(
            "`note` must be at most {NOTE_MAX_CHARS} characters with no control characters"
        )));
    }
    Ok(Some(note.to_string()))
}

/// A version number from the path; anything that isn't a positive number names no version.
pub(super) fn version_number(text: &str) -> Result<i64> {
    text.parse::<i64>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or(Error::NotFound)
}

/// Release the draft as the next numbered version; viewers get it from now on (builders and
/// admins).
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/apps/{app}/release", tag = "apps",
    request_body = AppRelease,
    params(
        ("ws" = String, Path, description = "Workspace id"),
        ("app" = String, Path, description = "App id or slug"),
    ),
    responses(
        (status = 201, body = AppVersionSummary),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn apps_release(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    Path((ws, app)): Path<(String, String)>,
    ApiJson(body): ApiJson<AppRelease>,
) -> Result<(StatusCode, Json<AppVersionSummary>)> {
    authorize(&state, &actor, &ws, Permission::View).await?;
    let note = check_note(body.note.as_deref())?;
    let app = find_editable(&state, &actor, &ws, &app).await?;
    // A release puts the draft's query text in front of every viewer: like a preview, it
    // needs `build` as well as `edit`.
    require(
        &state,
        &actor,
        &ws,
        &Object::Workspace,
        Action::Build,
        "the workspace (releasing)",
    )
    .await?;
    if app.public == 1 {
        // A public app's release is what anyone may run: releasing it is publishing.
        require(
            &state,
            &actor,
            &ws,
            &Object::Workspace,
            Action::ManageWorkspace,
            "the workspace (releasing a public app publishes it)",
        )
        .await?;
    }

    let mut change = state.store.change().await?;
    let (number, definition) = change
        .app_release(&ws, &app.id, note.as_deref(), &actor.user.id)
        .await?;
    // The digest ties the record to exactly what was frozen: a release is how a query's
    // access to secrets reaches viewers.
    let detail = serde_json::json!({
        "version": number,
        "note": note,
        "definition": super::app_access::definition_digest(&definition),
    });
    change
        .commit(audit_event(
            &actor,
            &ws,
            addr,
            "app.release",
            &app.id,
            detail,
        ))
        .await?;
    let row = state
        .store
        .app_version_get(&app.id, number)
        .await?
        .ok_or(Error::NotFound)?;
    Ok((StatusCode::CREATED, Json(summary(row, Some(number)))))
}

/// An app's released versions, newest first (builders and admins).
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/apps/{app}/versions", tag = "apps",
    params(
        ("ws" = String, Path, description = "Workspace id"),
        ("app" = String, Path, description = "App id or slug"),
    ),
    responses(
        (status = 200, body = Vec<AppVersionSummary>),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn app_versions_list(
    State(state): State<SharedState>,
    actor: Actor,
    Path((ws, app)): Path<(String, String)>,
) -> Result<Json<Vec<AppVersionSummary>>> {
    authorize(&state, &actor, &ws, Permission::View).await?;
    let app = find_editable(&state, &actor, &ws, &app).await?;
    let rows = state.store.app_versions_list(&app.id).await?;
    let current = app.released_version;
    Ok(Json(
        rows.into_iter().map(|r| summary(r, current)).collect(),
    ))
}

/// One released version with its definition (builders and admins).
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/apps/{app}/versions/{n}", tag = "apps",
    params(
        ("ws" = String, Path, description = "Workspace id"),
        ("app" = String, Path, description = "App id or slug"),
        ("n" = i64, Path, description = "Version number, from 1", minimum = 1),
    ),
    responses(
        (status = 200, body = AppVersionView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn app_versions_get(
    State(state): State<SharedState>,
    actor: Actor,
    Path((ws, app, n)): Path<(String, String, String)>,
) -> Result<Json<AppVersionView>> {
    authorize(&state, &actor, &ws, Permission::View).await?;
    let number = version_number(&n)?;
    let app = find_editable(&state, &actor, &ws, &app).await?;
    let row = state
        .store
        .app_version_get(&app.id, number)
        .await?
        .ok_or(Error::NotFound)?;
    let definition = parse_stored(&app.id, &row.definition)?;
    let s = summary(row, app.released_version);
    Ok(Json(AppVersionView {
        number: s.number,
        note: s.note,
        released_by: s.released_by,
        released_at: s.released_at,
        current: s.current,
        definition,
    }))
}

/// Copy a released version into the draft, replacing it; the release is unchanged
/// (builders and admins).
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/apps/{app}/versions/{n}/restore",
    tag = "apps",
    params(
        ("ws" = String, Path, description = "Workspace id"),
        ("app" = String, Path, description = "App id or slug"),
        ("n" = i64, Path, description = "Version number, from 1", minimum = 1),
    ),
    responses(
        (status = 200, body = AppView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn app_versions_restore(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    Path((ws, app, n)): Path<(String, String, String)>,
) -> Result<Json<AppView>> {
    authorize(&state, &actor, &ws, Permission::View).await?;
    let number = version_number(&n)?;
    let app = find_editable(&state, &actor, &ws, &app).await?;
    if let Some(version) = state.store.app_version_get(&app.id, number).await? {
        require_datasources(&state, &actor, &ws, &version.definition).await?;
    }

    let mut change = state.store.change().await?;
    change
        .app_restore(&ws, &app.id, number, &actor.user.id)
        .await?;
    let detail = serde_json::json!({ "version": number });
    change
        .commit(audit_event(
            &actor,
            &ws,
            addr,
            "app.restore",
            &app.id,
            detail,
        ))
        .await?;
    Ok(Json(view_after_change(&state, &ws, &app.id).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_trimmed_bounded_and_plain() {
        assert_eq!(check_note(Some("  fix  ")).unwrap().as_deref(), Some("fix"));
        assert_eq!(check_note(Some("   ")).unwrap(), None);
        assert!(check_note(Some("two\nlines")).is_ok());
        assert!(check_note(Some("nul\0")).is_err());
        assert!(check_note(Some(&"x".repeat(501))).is_err());
    }

    #[test]
    fn version_numbers_are_positive() {
        assert_eq!(version_number("3").unwrap(), 3);
        for bad in ["0", "-1", "x", "1.5", "99999999999999999999"] {
            assert!(version_number(bad).is_err(), "{bad}");
        }
    }
}
