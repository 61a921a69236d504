//! `/api/v1/registries` and `/api/v1/trusted-keys`: where connectors are installed from and
//! whose signatures count (instance admins). A registry is an `http(s)://` URL or a local
//! directory (`file:///…` or an absolute path) for air-gapped sites.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{ApiJson, ApiQuery, rfc3339};
use crate::auth::{Actor, ClientAddr, require_instance_admin};
use crate::authz::InstanceAction;
use crate::error::{Error, Problem, Result};
use crate::install;
use crate::state::SharedState;
use crate::store::{AuditEvent, RegistryRow, TrustedKeyRow};

#[derive(Serialize, ToSchema)]
pub struct RegistryView {
    pub id: String,
    pub name: String,
    pub url: String,
    /// Whether unsigned packages, and packages signed by keys nobody trusts, may be
    /// installed from it.
    pub allow_unsigned: bool,
    /// RFC 3339.
    pub created_at: String,
}

impl From<&RegistryRow> for RegistryView {
    fn from(r: &RegistryRow) -> Self {
        RegistryView {
            id: r.id.clone(),
            name: r.name.clone(),
            url: r.url.clone(),
            allow_unsigned: r.allow_unsigned != 0,
            created_at: rfc3339(r.created_at),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistryCreate {
    /// 1-64 characters of a-z, 0-9 and '-'.
    pub name: String,
    /// `https://…`, `http://…`, `file:///…` or an absolute directory path.
    pub url: String,
    #[serde(default)]
    pub allow_unsigned: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistryUpdate {
    pub name: Option<String>,
    pub url: Option<String>,
    pub allow_unsigned: Option<bool>,
}

/// The configured registries (instance admins).
#[utoipa::path(get, path = "/api/v1/registries", tag = "registries",
    responses(
        (status = 200, body = Vec<RegistryView>),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn registries_list(
    State(state): State<SharedState>,
    actor: Actor,
) -> Result<Json<Vec<RegistryView>>> {
    require_instance_admin(&state, &actor, InstanceAction::ManageRegistries)?;
    let rows = state.store.registries_list().await?;
    Ok(Json(rows.iter().map(RegistryView::from).collect()))
}

/// Add a registry (instance admins).
#[utoipa::path(post, path = "/api/v1/registries", tag = "registries",
    request_body = RegistryCreate,
    responses(
        (status = 201, body = RegistryView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn registries_create(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    ApiJson(body): ApiJson<RegistryCreate>,
) -> Result<(StatusCode, Json<RegistryView>)> {
    require_instance_admin(&state, &actor, InstanceAction::ManageRegistries)?;
    let row = install::registry_row(
        body.name,
        body.url,
        body.allow_unsigned,
        Some(&actor.user.id),
    )?;
    let mut change = state.store.change().await?;
    change.registry_insert(&row).await?;
    change
        .commit(AuditEvent {
            target: Some(row.id.clone()),
            detail: Some(serde_json::json!({
                "name": row.name, "url": row.url, "allow_unsigned": body.allow_unsigned,
            })),
            ..actor.audit(addr, "registry.create")
        })
        .await?;
    Ok((StatusCode::CREATED, Json(RegistryView::from(&row))))
}

/// Change a registry's name, URL or whether it may serve unsigned packages (instance admins).
#[utoipa::path(patch, path = "/api/v1/registries/{id}", tag = "registries",
    request_body = RegistryUpdate,
    params(("id" = String, Path, description = "Registry id")),
    responses(
        (status = 200, body = RegistryView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn registries_update(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RegistryUpdate>,
) -> Result<Json<RegistryView>> {
    require_instance_admin(&state, &actor, InstanceAction::ManageRegistries)?;
    let mut row = state
        .store
        .registry_get(&id)
        .await?
        .ok_or(Error::NotFound)?;
    if let Some(name) = body.name {
        install::check_registry_name(&name)?;
        row.name = name;
    }
    if let Some(url) = body.url {
        install::check_source(&url)?;
        row.url = url;
    }
    if let Some(allow) = body.allow_unsigned {
        row.allow_unsigned = i64::from(allow);
    }
    let mut change = state.store.change().await?;
    if !change.registry_update(&row).await? {
        return Err(Error::NotFound);
    }
    change
        .commit(AuditEvent {
            target: Some(row.id.clone()),
            detail: Some(serde_json::json!({
                "name": row.name, "url": row.url, "allow_unsigned": row.allow_unsigned != 0,
            })),
            ..actor.audit(addr, "registry.update")
        })
        .await?;
    Ok(Json(RegistryView::from(&row)))
}

/// Remove a registry (instance admins). Installed plugins stay installed.
#[utoipa::path(delete, path = "/api/v1/registries/{id}", tag = "registries",
    params(("id" = String, Path, description = "Registry id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn registries_delete(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    require_instance_admin(&state, &actor, InstanceAction::ManageRegistries)?;
    let mut change = state.store.change().await?;
    if !change.registry_delete(&id).await? {
        return Err(Error::NotFound);
    }
    change
        .commit(AuditEvent {
            target: Some(id),
            ..actor.audit(addr, "registry.delete")
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PackagesQuery {
    /// Matches id, name and description, case-insensitively.
    #[serde(default)]
    pub q: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PackageView {
    pub id: String,
    /// Every version the registry lists, newest last, with its capabilities, publisher key
    /// and whether it is yanked.
    #[schema(value_type = Vec<Object>)]
    pub versions: serde_json::Value,
}

/// Browse or search a registry's packages (instance admins): what can be installed, with
/// the capabilities each version requests.
#[utoipa::path(get, path = "/api/v1/registries/{id}/packages", tag = "registries",
    params(("id" = String, Path, description = "Registry id"), PackagesQuery),
    responses(
        (status = 200, body = Vec<PackageView>),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 424, description = "The registry could not be read", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn registry_packages_list(
    State(state): State<SharedState>,
    actor: Actor,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<PackagesQuery>,
) -> Result<Json<Vec<PackageView>>> {
    require_instance_admin(&state, &actor, InstanceAction::InstallPlugins)?;
    let registry = state
        .store
        .registry_get(&id)
        .await?
        .ok_or(Error::NotFound)?;
    let client = install::client_for(&registry, &state.connectors)?;
    let index = client
        .index()
        .await
        .map_err(|e| Error::Registry(format!("registry `{}`: {e}", registry.name)))?;
    let needle = query.q.unwrap_or_default().to_lowercase();
    let packages = index
        .packages
        .iter()
        .filter(|(id, versions)| {
            needle.is_empty()
                || id.contains(&needle)
                || versions.iter().any(|v| {
                    v.name.to_lowercase().contains(&needle)
                        || v.description.to_lowercase().contains(&needle)
                })
        })
        .map(|(id, versions)| PackageView {
            id: id.clone(),
            versions: serde_json::to_value(versions).unwrap_or_default(),
        })
        .collect();
    Ok(Json(packages))
}

#[derive(Serialize, ToSchema)]
pub struct TrustedKeyView {
    pub id: String,
    pub name: String,
    /// `ed25519:<base64>`.
    pub public_key: String,
    /// RFC 3339.
    pub created_at: String,
}

impl From<&TrustedKeyRow> for TrustedKeyView {
    fn from(k: &TrustedKeyRow) -> Self {
        TrustedKeyView {
            id: k.id.clone(),
            name: k.name.clone(),
            public_key: k.public_key.clone(),
            created_at: rfc3339(k.created_at),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrustedKeyCreate {
    /// Who the key belongs to, for people: 1-100 characters.
    pub name: String,
    /// The publisher's public key, `ed25519:<base64>` (`lathe plugin keygen` prints it).
    pub public_key: String,
}

/// The publisher keys whose signatures this instance accepts (instance admins).
#[utoipa::path(get, path = "/api/v1/trusted-keys", tag = "registries",
    responses(
        (status = 200, body = Vec<TrustedKeyView>),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn trusted_keys_list(
    State(state): State<SharedState>,
    actor: Actor,
) -> Result<Json<Vec<TrustedKeyView>>> {
    require_instance_admin(&state, &actor, InstanceAction::ManageRegistries)?;
    let rows = state.store.trusted_keys_list().await?;
    Ok(Json(rows.iter().map(TrustedKeyView::from).collect()))
}

/// Trust a publisher key (instance admins).
#[utoipa::path(post, path = "/api/v1/trusted-keys", tag = "registries",
    request_body = TrustedKeyCreate,
    responses(
        (status = 201, body = TrustedKeyView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn trusted_keys_create(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    ApiJson(body): ApiJson<TrustedKeyCreate>,
) -> Result<(StatusCode, Json<TrustedKeyView>)> {
    require_instance_admin(&state, &actor, InstanceAction::ManageRegistries)?;
    let row = install::trusted_key_row(&body.name, &body.public_key, Some(&actor.user.id))?;
    let mut change = state.store.change().await?;
    change.trusted_key_insert(&row).await?;
    change
        .commit(AuditEvent {
            target: Some(row.id.clone()),
            detail: Some(serde_json::json!({ "name": row.name, "public_key": row.public_key })),
            ..actor.audit(addr, "trusted_key.create")
        })
        .await?;
    Ok((StatusCode::CREATED, Json(TrustedKeyView::from(&row))))
}

/// Stop trusting a publisher key (instance admins). Installed plugins it signed stay
/// installed; new installs and updates signed by it are refused.
#[utoipa::path(delete, path = "/api/v1/trusted-keys/{id}", tag = "registries",
    params(("id" = String, Path, description = "Trusted key id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn trusted_keys_delete(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    require_instance_admin(&state, &actor, InstanceAction::ManageRegistries)?;
    let mut change = state.store.change().await?;
    if !change.trusted_key_delete(&id).await? {
        return Err(Error::NotFound);
    }
    change
        .commit(AuditEvent {
            target: Some(id),
            ..actor.audit(addr, "trusted_key.delete")
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
