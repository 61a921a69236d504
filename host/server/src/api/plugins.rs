//! `/api/v1/plugins`: the connectors this server can run, with their manifests (configuration
//! schema, secret fields, operations and the destinations they may reach), and installing,
//! updating, rolling back and removing them (instance admins; see `crate::install`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{ApiJson, ApiQuery, rfc3339};
use crate::auth::{Actor, ClientAddr, require_instance_admin};
use crate::authz::InstanceAction;
use crate::error::{Error, Problem, Result};
use crate::install::{self, InstallRequest, Installed};
use crate::state::SharedState;
use crate::store::InstalledRow;

#[derive(Serialize, ToSchema)]
pub struct PluginView {
    /// The plugin's manifest: id, version, name, kind, capabilities, config schema, secret
    /// fields and operations.
    #[schema(value_type = Object)]
    pub manifest: serde_json::Value,
    /// sha256 of the component, hex.
    pub digest: String,
    /// `bundled` (from the server's plugins directory) or `registry` (installed).
    pub source: String,
    /// How it was installed, for a plugin installed from a registry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub installed: Option<InstalledView>,
}

#[derive(Serialize, ToSchema)]
pub struct InstalledView {
    /// The package's address: `sha256:<hex>` of its archive.
    pub package: String,
    pub version: String,
    /// The registry it came from, by name.
    pub registry: String,
    /// The key that signed it, `ed25519:<base64>`; absent for an unsigned package.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publisher: Option<String>,
    /// What an admin approved it to reach.
    pub approved_capabilities: Vec<String>,
    /// The version a rollback returns to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_version: Option<String>,
    /// RFC 3339.
    pub installed_at: String,
    /// RFC 3339: the last install, update or rollback.
    pub updated_at: String,
}

impl From<&InstalledRow> for InstalledView {
    fn from(row: &InstalledRow) -> Self {
        InstalledView {
            package: row.digest.clone(),
            version: row.version.clone(),
            registry: row.registry.clone(),
            publisher: row.publisher.clone(),
            approved_capabilities: serde_json::from_str(&row.approved).unwrap_or_default(),
            previous_version: row.previous_version.clone(),
            installed_at: rfc3339(row.installed_at),
            updated_at: rfc3339(row.updated_at),
        }
    }
}

/// The connectors this server can run (any signed-in user).
#[utoipa::path(get, path = "/api/v1/plugins", tag = "plugins",
    responses((status = 200, body = Vec<PluginView>)))]
pub async fn plugins_list(
    State(state): State<SharedState>,
    _actor: Actor,
) -> Result<Json<Vec<PluginView>>> {
    let installed = state.store.installed_list().await?;
    let plugins = state
        .connectors
        .plugins()
        .iter()
        .map(|p| {
            let row = installed
                .iter()
                .find(|r| r.plugin_id == p.manifest.id)
                .filter(|_| !state.connectors.is_bundled(&p.manifest.id));
            PluginView {
                manifest: serde_json::to_value(&p.manifest).unwrap_or_default(),
                digest: p.digest.clone(),
                source: if row.is_some() { "registry" } else { "bundled" }.into(),
                installed: row.map(InstalledView::from),
            }
        })
        .collect();
    Ok(Json(plugins))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginInstall {
    /// The plugin's id, e.g. `postgres`.
    pub id: String,
    /// An exact version; the newest version that is not yanked when left out.
    #[serde(default)]
    pub version: Option<String>,
    /// A registry by name; every configured registry, in name order, when left out.
    #[serde(default)]
    pub registry: Option<String>,
    /// The capabilities you approve. Installing needs every capability the package requests;
    /// an update, those the installed version was not approved for. Without them the answer
    /// is a 409 `approval-required` whose `capabilities` lists what to approve.
    #[serde(default)]
    pub approve_capabilities: Vec<String>,
    /// Approves an update signed by another key than the installed version (that key, or
    /// `unsigned`); without it such an update is a 409 `approval-required` naming both.
    #[serde(default)]
    pub approve_publisher: Option<String>,
}

/// How long an install through the API waits for a registry: less than the request time
/// limit (30 s by default), so a slow registry is a 424 that says so rather than a 408.
const FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// Install a plugin from a registry, or update it (instance admins). The package's digest,
/// signature (by a trusted key, unless the registry allows unsigned packages), manifest and
/// component are checked, and its capabilities must be approved, before anything is stored;
/// it is active on every server from their next request.
#[utoipa::path(post, path = "/api/v1/plugins", tag = "plugins", request_body = PluginInstall,
    responses(
        (status = 201, description = "Installed", body = PluginView),
        (status = 200, description = "Updated, or that package was active already", body = PluginView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Capabilities need approval, a bundled plugin, or a yanked version", body = Problem, content_type = "application/problem+json"),
        (status = 424, description = "The registry could not be read", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn plugins_install(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    ApiJson(body): ApiJson<PluginInstall>,
) -> Result<(StatusCode, Json<PluginView>)> {
    require_instance_admin(&state, &actor, InstanceAction::InstallPlugins)?;
    let request = InstallRequest {
        plugin: &body.id,
        version: body.version.as_deref(),
        registry: body.registry.as_deref(),
        approve: &body.approve_capabilities,
        approve_publisher: body.approve_publisher.as_deref(),
        fetch_timeout: FETCH_TIMEOUT,
    };
    let _installing = state.connectors.install_lock.lock().await;
    let candidate = install::fetch(&state.store, &state.connectors, &request).await?;
    let outcome = install::activate(
        &state.store,
        candidate,
        request.approve,
        request.approve_publisher,
        Some(&actor.user.id),
        actor.audit(addr, "plugin.install"),
    )
    .await?;
    let (status, row) = match outcome {
        Installed::New(row) => (StatusCode::CREATED, row),
        Installed::Updated(row) | Installed::Unchanged(row) => (StatusCode::OK, row),
    };
    Ok((status, Json(view_of(&state, &row).await?)))
}

/// Make the previous version of an installed plugin active again (instance admins). Its
/// capabilities were approved when it was installed.
#[utoipa::path(post, path = "/api/v1/plugins/{id}/rollback", tag = "plugins",
    params(("id" = String, Path, description = "Plugin id")),
    responses(
        (status = 200, body = PluginView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No previous version", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn plugins_rollback(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Json<PluginView>> {
    require_instance_admin(&state, &actor, InstanceAction::InstallPlugins)?;
    if state.connectors.is_bundled(&id) {
        return Err(Error::Conflict(format!(
            "`{id}` is bundled with this server: it has no versions to roll back to"
        )));
    }
    let _installing = state.connectors.install_lock.lock().await;
    install::rollback(
        &state.store,
        &id,
        Some(&actor.user.id),
        actor.audit(addr, "plugin.rollback"),
    )
    .await?;
    let row = state
        .store
        .installed_get(&id)
        .await?
        .ok_or(Error::NotFound)?;
    Ok(Json(view_of(&state, &row).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RemoveQuery {
    /// Remove even though datasources use the plugin: they are disabled.
    #[serde(default)]
    pub force: bool,
}

/// Remove an installed plugin (instance admins). Refused while datasources use it, unless
/// `force`, which disables them (they refuse to run until enabled again).
#[utoipa::path(delete, path = "/api/v1/plugins/{id}", tag = "plugins",
    params(("id" = String, Path, description = "Plugin id"), RemoveQuery),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Datasources use it, or it is bundled", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn plugins_delete(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<RemoveQuery>,
) -> Result<StatusCode> {
    require_instance_admin(&state, &actor, InstanceAction::InstallPlugins)?;
    if state.connectors.is_bundled(&id) {
        return Err(Error::Conflict(format!(
            "`{id}` is bundled with this server; remove it from its plugins directory"
        )));
    }
    let _installing = state.connectors.install_lock.lock().await;
    install::remove(
        &state.store,
        &id,
        query.force,
        actor.audit(addr, "plugin.remove"),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The view of an installed plugin as the catalog has it after the change.
async fn view_of(state: &SharedState, row: &InstalledRow) -> Result<PluginView> {
    state.sync().await?;
    let plugin = state.connectors.plugin(&row.plugin_id).ok_or_else(|| {
        Error::PackageRefused(format!(
            "`{}` was stored but does not load on this server; see the server log",
            row.plugin_id
        ))
    })?;
    Ok(PluginView {
        manifest: serde_json::to_value(&plugin.manifest).unwrap_or_default(),
        digest: plugin.digest.clone(),
        source: "registry".into(),
        installed: Some(InstalledView::from(row)),
    })
}
