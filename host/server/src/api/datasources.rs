//! `/api/v1/workspaces/{ws}/datasources`: a connector and its configuration. Secret fields are
//! sealed at rest and never returned: responses say only whether each is set. Changing where a
//! datasource points (a field its capabilities name, such as host, port or base URL) without
//! entering its secrets again drops the stored ones, so a builder can't send a saved password
//! to a server of their choosing.

use super::audit_event;
use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use lathe_runtime::Plugin;
use lathe_runtime::egress::{Capability, Part};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::extract::{ApiJson, rfc3339};
use crate::auth::{Actor, ClientAddr, Permission, authorize, may, require};
use crate::authz::{Action, Object};
use crate::error::{Error, Problem, Result};
use crate::state::SharedState;
use crate::store::{DatasourceRow, SealedKind, now_ms};
use crate::vault::{Row, Sealed};

/// Whether a secret field holds a value. The value itself is never returned.
#[derive(Serialize, ToSchema, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SecretState {
    Set,
    Unset,
}

#[derive(Serialize, ToSchema)]
pub struct DatasourceView {
    pub id: String,
    pub name: String,
    /// The plugin's id.
    pub plugin: String,
    /// The non-secret configuration fields.
    #[schema(value_type = Object)]
    pub config: Value,
    /// Each secret field of the plugin, and whether it is set.
    pub secrets: BTreeMap<String, SecretState>,
    /// Rows a run keeps before the result is cut (`truncated: true`).
    pub max_rows: i64,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// Why the datasource refuses to run (its plugin was removed with `force`, or someone
    /// disabled it); absent while it is enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DatasourceCreate {
    /// Unique in the workspace; apps refer to the datasource by this name.
    pub name: String,
    /// The plugin's id, from `GET /api/v1/plugins`.
    pub plugin: String,
    /// The configuration, secret fields included, as the plugin's config schema describes.
    #[schema(value_type = Object)]
    pub config: Value,
    /// Rows a run keeps (default 10,000).
    pub max_rows: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DatasourceUpdate {
    pub name: Option<String>,
    /// The whole non-secret configuration. A secret field given as a string replaces the
    /// stored one, given as `null` clears it, and left out keeps it, unless a field naming
    /// where the datasource connects changed: then left-out secrets are dropped.
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    pub max_rows: Option<i64>,
    /// `false` stops every run on the datasource; `true` lets it run again (also after its
    /// plugin was removed with `force` and installed again).
    pub enabled: Option<bool>,
}

/// The reason a datasource disabled by a member shows.
const DISABLED_BY_MEMBER: &str = "disabled by a member who may configure it";

pub const DEFAULT_MAX_ROWS: i64 = 10_000;
const MAX_ROWS_LIMIT: i64 = 1_000_000;

fn view(
    row: &DatasourceRow,
    plugin: Option<&Plugin>,
    secrets: &Map<String, Value>,
) -> DatasourceView {
    let names: Vec<String> = match plugin {
        Some(p) => p.manifest.secrets.clone(),
        None => secrets.keys().cloned().collect(),
    };
    let states = names
        .into_iter()
        .map(|name| {
            let state = match secrets.get(&name) {
                Some(v) if !v.is_null() => SecretState::Set,
                _ => SecretState::Unset,
            };
            (name, state)
        })
        .collect();
    DatasourceView {
        id: row.id.clone(),
        name: row.name.clone(),
        plugin: row.plugin_id.clone(),
        config: serde_json::from_str(&row.config).unwrap_or(Value::Object(Map::new())),
        secrets: states,
        max_rows: row.max_rows,
        created_at: rfc3339(row.created_at),
        updated_at: rfc3339(row.updated_at),
        disabled: row.disabled.clone(),
    }
}

pub(super) fn check_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Error::Validation(
            "`name` must be 1-100 characters without control characters".into(),
        ));
    }
    Ok(name.to_string())
}

fn check_max_rows(max_rows: Option<i64>) -> Result<Option<i64>> {
    match max_rows {
        Some(n) if !(1..=MAX_ROWS_LIMIT).contains(&n) => Err(Error::Validation(format!(
            "`max_rows` must be between 1 and {MAX_ROWS_LIMIT}"
        ))),
        other => Ok(other),
    }
}

fn installed(state: &SharedState, id: &str) -> Result<std::sync::Arc<Plugin>> {
    state.connectors.plugin(id).ok_or_else(|| {
        Error::Validation(format!(
            "no plugin `{id}` is installed (see GET /api/v1/plugins)"
        ))
    })
}

fn as_object(config: Value) -> Result<Map<String, Value>> {
    match config {
        Value::Object(map) => Ok(map),
        _ => Err(Error::Validation("`config` must be a JSON object".into())),
    }
}

/// Splits a configuration into its non-secret fields and its secret fields.
fn split(
    plugin: &Plugin,
    mut config: Map<String, Value>,
) -> (Map<String, Value>, Map<String, Value>) {
    let mut secrets = Map::new();
    for name in &plugin.manifest.secrets {
        if let Some(value) = config.remove(name) {
            secrets.insert(name.clone(), value);
        }
    }
    (config, secrets)
}

/// The configuration fields whose change drops the stored secrets unless they are given
/// again: those saying where the datasource connects (its capabilities are templated on
/// them) and those the manifest marks `"x-lathe-guards-secrets": true`.
fn destination_fields(plugin: &Plugin) -> Vec<String> {
    // Fields the plugin marks as deciding how its secrets travel (TLS mode, where an API key
    // goes): weakening one must not keep a password that was entered for the stronger setting.
    let mut fields: Vec<String> = plugin.manifest.config["properties"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, p)| p["x-lathe-guards-secrets"] == Value::Bool(true))
        .map(|(name, _)| name.clone())
        .collect();
    for capability in &plugin.manifest.capabilities {
        match Capability::parse(capability) {
            Ok(Capability::Tcp { host, port }) => {
                for part in [host, port] {
                    if let Part::Field(f) = part {
                        fields.push(f);
                    }
                }
            }
            Ok(Capability::Http { field, .. }) => fields.push(field),
            Err(_) => {}
        }
    }
    fields
}

/// Checks the whole configuration against the plugin's schema; the message names the field.
fn check_config(
    plugin: &Plugin,
    config: &Map<String, Value>,
    secrets: &Map<String, Value>,
) -> Result<()> {
    let mut whole = config.clone();
    whole.extend(
        secrets
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    plugin
        .check_config(&Value::Object(whole))
        .map_err(|e| Error::Validation(e.to_string()))
}

/// Seals the secret fields for the row; `None` when there are none.
async fn seal(
    state: &SharedState,
    ws: &str,
    id: &str,
    secrets: &Map<String, Value>,
) -> Result<Option<Sealed>> {
    let secrets: Map<String, Value> = secrets
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if secrets.is_empty() {
        return Ok(None);
    }
    let plaintext =
        zeroize::Zeroizing::new(serde_json::to_vec(&secrets).map_err(anyhow::Error::from)?);
    let row = Row {
        kind: SealedKind::Datasource,
        workspace_id: ws,
        id,
    };
    Ok(Some(state.vault.seal(row, &plaintext).await?))
}

/// The stored secret fields of a datasource, opened.
pub async fn open_secrets(state: &SharedState, row: &DatasourceRow) -> Result<Map<String, Value>> {
    let (Some(text), Some(version)) = (&row.secrets, row.key_version) else {
        return Ok(Map::new());
    };
    let sealed = Sealed {
        text: text.clone(),
        version,
    };
    let vault_row = Row {
        kind: SealedKind::Datasource,
        workspace_id: &row.workspace_id,
        id: &row.id,
    };
    let plaintext = state.vault.open_sealed(vault_row, &sealed).await?;
    serde_json::from_slice(&plaintext).map_err(|_| {
        Error::Unreadable(
            "the stored datasource secrets are not a JSON object; enter them again".into(),
        )
    })
}

pub(super) async fn load(state: &SharedState, ws: &str, id: &str) -> Result<DatasourceRow> {
    state
        .store
        .datasource_get(ws, id)
        .await?
        .ok_or(Error::NotFound)
}

/// The workspace's datasources (builders and admins).
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/datasources", tag = "datasources",
    params(("ws" = String, Path, description = "Workspace id")),
    responses(
        (status = 200, body = Vec<DatasourceView>),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn datasources_list(
    State(state): State<SharedState>,
    actor: Actor,
    Path(ws): Path<String>,
) -> Result<Json<Vec<DatasourceView>>> {
    authorize(&state, &actor, &ws, Permission::Build).await?;
    let rows = state.store.datasources_list(&ws).await?;
    let mut views = Vec::with_capacity(rows.len());
    for row in &rows {
        if usable(&state, &actor, &ws, row).await? {
            views.push(present(&state, row).await?);
        }
    }
    Ok(Json(views))
}

/// A view of the row: which secrets are set is read from the sealed object's keys.
async fn present(state: &SharedState, row: &DatasourceRow) -> Result<DatasourceView> {
    let plugin = state.connectors.plugin(&row.plugin_id);
    // An unreadable secret shows as unset rather than failing the listing.
    let secrets = open_secrets(state, row).await.unwrap_or_default();
    Ok(view(row, plugin.as_deref(), &secrets))
}

/// Create a datasource (builders and admins). The configuration is checked against the
/// plugin's schema; secret fields are sealed.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/datasources", tag = "datasources",
    request_body = DatasourceCreate,
    params(("ws" = String, Path, description = "Workspace id")),
    responses(
        (status = 201, body = DatasourceView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn datasources_create(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<DatasourceCreate>,
) -> Result<(StatusCode, Json<DatasourceView>)> {
    authorize(&state, &actor, &ws, Permission::Build).await?;
    require(
        &state,
        &actor,
        &ws,
        &Object::Datasource(None),
        Action::Configure,
        "every datasource of the workspace (creating one)",
    )
    .await?;
    let name = check_name(&body.name)?;
    let max_rows = check_max_rows(body.max_rows)?.unwrap_or(DEFAULT_MAX_ROWS);
    let plugin = installed(&state, &body.plugin)?;
    let (config, secrets) = split(&plugin, as_object(body.config)?);
    check_config(&plugin, &config, &secrets)?;
    if state.store.datasource_by_name(&ws, &name).await?.is_some() {
        return Err(Error::Conflict(format!(
            "a datasource named `{name}` exists"
        )));
    }

    let id = uuid::Uuid::new_v4().to_string();
    let sealed = seal(&state, &ws, &id, &secrets).await?;
    let now = now_ms();
    let row = DatasourceRow {
        id: id.clone(),
        workspace_id: ws.clone(),
        name,
        plugin_id: plugin.manifest.id.clone(),
        config: Value::Object(config).to_string(),
        key_version: sealed.as_ref().map(|s| s.version),
        secrets: sealed.map(|s| s.text),
        max_rows,
        created_by: Some(actor.user.id.clone()),
        created_at: now,
        updated_at: now,
        disabled: None,
    };
    let mut change = state.store.change().await?;
    // Written first (SQLite takes its writer lock on a change's first write), then checked:
    // a plugin removed meanwhile rolls the insert back.
    change.datasource_insert(&row).await?;
    if !state.connectors.is_bundled(&row.plugin_id)
        && !change.installed_hold(&row.plugin_id).await?
    {
        return Err(Error::Validation(format!(
            "no plugin `{}` is installed (see GET /api/v1/plugins)",
            row.plugin_id
        )));
    }
    let detail = serde_json::json!({ "name": row.name, "plugin": row.plugin_id });
    change
        .commit(audit_event(
            &actor,
            &ws,
            addr,
            "datasource.create",
            &id,
            detail,
        ))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(view(&row, Some(&plugin), &secrets)),
    ))
}

/// One datasource (builders and admins).
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/datasources/{id}", tag = "datasources",
    params(
        ("ws" = String, Path, description = "Workspace id"),
        ("id" = String, Path, description = "Datasource id"),
    ),
    responses(
        (status = 200, body = DatasourceView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn datasources_get(
    State(state): State<SharedState>,
    actor: Actor,
    Path((ws, id)): Path<(String, String)>,
) -> Result<Json<DatasourceView>> {
    authorize(&state, &actor, &ws, Permission::Build).await?;
    let row = load(&state, &ws, &id).await?;
    if !usable(&state, &actor, &ws, &row).await? {
        return Err(Error::Forbidden(format!(
            "this needs `use` or `configure` on datasource `{}`",
            row.name
        )));
    }
    Ok(Json(present(&state, &row).await?))
}

/// Change a datasource's name, configuration or row limit (builders and admins).
#[utoipa::path(patch, path = "/api/v1/workspaces/{ws}/datasources/{id}", tag = "datasources",
    request_body = DatasourceUpdate,
    params(
        ("ws" = String, Path, description = "Workspace id"),
        ("id" = String, Path, description = "Datasource id"),
    ),
    responses(
        (status = 200, body = DatasourceView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn datasources_update(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    Path((ws, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<DatasourceUpdate>,
) -> Result<Json<DatasourceView>> {
    authorize(&state, &actor, &ws, Permission::Build).await?;
    let mut row = load(&state, &ws, &id).await?;
    require_on(&state, &actor, &ws, &row, Action::Configure).await?;
    let plugin = installed(&state, &row.plugin_id)?;
    let max_rows = check_max_rows(body.max_rows)?;
    if let Some(name) = &body.name {
        let name = check_name(name)?;
        if state.store.datasource_name_taken(&ws, &name, &id).await? {
            return Err(Error::Conflict(format!(
                "a datasource named `{name}` exists"
            )));
        }
        row.name = name;
    }
    row.max_rows = max_rows.unwrap_or(row.max_rows);

    let mut dropped = Vec::new();
    let mut changed_secrets = Vec::new();
    let mut secrets = open_secrets(&state, &row).await.unwrap_or_default();
    if let Some(config) = body.config {
        let (config, given) = split(&plugin, as_object(config)?);
        let old: Map<String, Value> = serde_json::from_str(&row.config).unwrap_or_default();
        let moved = destination_fields(&plugin)
            .iter()
            .any(|f| old.get(f) != config.get(f));
        if moved {
            dropped = secrets
                .keys()
                .filter(|k| !given.contains_key(*k))
                .cloned()
                .collect();
            secrets.retain(|k, _| given.contains_key(k));
        }
        changed_secrets = given.keys().cloned().collect();
        secrets.extend(given);
        secrets.retain(|_, v| !v.is_null());
        check_config(&plugin, &config, &secrets)?;
        row.config = Value::Object(config).to_string();
    }
    let sealed = seal(&state, &ws, &id, &secrets).await?;
    row.key_version = sealed.as_ref().map(|s| s.version);
    row.secrets = sealed.map(|s| s.text);
    row.updated_at = now_ms();

    let mut change = state.store.change().await?;
    if !change.datasource_update(&row).await? {
        return Err(Error::NotFound);
    }
    // The disabled mark is written only when asked to change, never from the row read
    // above: a forced removal of the plugin committing meanwhile keeps its mark.
    if let Some(enabled) = body.enabled {
        if enabled
            && !state.connectors.is_bundled(&row.plugin_id)
            && !change.installed_hold(&row.plugin_id).await?
        {
            return Err(Error::Conflict(format!(
                "plugin `{}` is not installed: install it before enabling the datasource",
                row.plugin_id
            )));
        }
        row.disabled = change
            .datasource_set_disabled(&ws, &id, (!enabled).then_some(DISABLED_BY_MEMBER))
            .await?;
    }
    let detail = serde_json::json!({
        "name": row.name,
        "secretsChanged": changed_secrets,
        "secretsDropped": dropped,
        "enabled": row.disabled.is_none(),
    });
    change
        .commit(audit_event(
            &actor,
            &ws,
            addr,
            "datasource.update",
            &id,
            detail,
        ))
        .await?;
    state.connectors.forget(&id);
    Ok(Json(view(&row, Some(&plugin), &secrets)))
}

/// Delete a datasource (builders and admins).
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/datasources/{id}", tag = "datasources",
    params(
        ("ws" = String, Path, description = "Workspace id"),
        ("id" = String, Path, description = "Datasource id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn datasources_delete(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    Path((ws, id)): Path<(String, String)>,
) -> Result<StatusCode> {
    authorize(&state, &actor, &ws, Permission::Build).await?;
    let row = load(&state, &ws, &id).await?;
    require_on(&state, &actor, &ws, &row, Action::Configure).await?;
    let mut change = state.store.change().await?;
    if !change.datasource_delete(&ws, &id).await? {
        return Err(Error::NotFound);
    }
    let detail = serde_json::json!({ "name": row.name });
    change
        .commit(audit_event(
            &actor,
            &ws,
            addr,
            "datasource.delete",
            &id,
            detail,
        ))
        .await?;
    state.connectors.forget(&id);
    Ok(StatusCode::NO_CONTENT)
}

/// Whether the actor may use or configure the datasource `row`: who may see it.
async fn usable(state: &SharedState, actor: &Actor, ws: &str, row: &DatasourceRow) -> Result<bool> {
    let object = Object::Datasource(Some(row.id.clone()));
    Ok(may(state, actor, ws, &object, Action::Use).await?
        || may(state, actor, ws, &object, Action::Configure).await?)
}

/// A 403 unless the actor may do `action` on the datasource `row`.
pub(super) async fn require_on(
    state: &SharedState,
    actor: &Actor,
    ws: &str,
    row: &DatasourceRow,
    action: Action,
) -> Result<()> {
    let object = Object::Datasource(Some(row.id.clone()));
    let what = format!("datasource `{}`", row.name);
    require(state, actor, ws, &object, action, &what).await
}
