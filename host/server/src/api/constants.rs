//! `/api/v1/workspaces/{ws}/constants`: values queries use as `{{ constants.name }}`, and
//! secrets they use as `{{ secrets.name }}`. A secret's value is sealed at rest, never
//! returned, and resolved only on the server when a query runs. Builders and admins see the
//! list; admins change it.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{ApiJson, rfc3339};
use crate::auth::{Actor, ClientAddr, Permission, authorize};
use crate::authz::Action;
use crate::error::{Error, Problem, Result};
use crate::state::SharedState;
use crate::store::{AuditEvent, ConstantRow, SealedKind, now_ms};
use crate::vault::Row;

const MAX_VALUE_BYTES: usize = 64 * 1024;

#[derive(Serialize, ToSchema)]
pub struct ConstantView {
    pub id: String,
    pub name: String,
    /// A secret's value is never returned.
    pub secret: bool,
    /// The value of a constant; `null` for a secret.
    pub value: Option<String>,
    /// RFC 3339.
    pub updated_at: String,
}

impl From<&ConstantRow> for ConstantView {
    fn from(row: &ConstantRow) -> Self {
        ConstantView {
            id: row.id.clone(),
            name: row.name.clone(),
            secret: row.is_secret(),
            value: (!row.is_secret()).then(|| row.value.clone()),
            updated_at: rfc3339(row.updated_at),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConstantCreate {
    /// A name usable in `{{ }}`: a letter or `_`, then letters, digits or `_` (at most 64).
    pub name: String,
    pub value: String,
    /// Seal the value and never return it.
    #[serde(default)]
    pub secret: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConstantUpdate {
    pub value: String,
}

fn check_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !first_ok || !rest_ok || name.len() > 64 {
        return Err(Error::Validation(
            "`name` must start with a letter or `_` and hold only letters, digits and `_` (at most 64)".into(),
        ));
    }
    Ok(())
}

fn check_value(value: &str) -> Result<()> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(Error::Validation(format!(
            "`value` is longer than {MAX_VALUE_BYTES} bytes"
        )));
    }
    // PostgreSQL text can't hold NUL; refusing it on both stores keeps them alike.
    if value.contains('\0') {
        return Err(Error::Validation(
            "`value` must not contain NUL (\\u0000)".into(),
        ));
    }
    Ok(())
}

/// The stored form of a value: itself, or sealed for a secret.
async fn stored(state: &SharedState, row: &mut ConstantRow, value: &str) -> Result<()> {
    if row.is_secret() {
        let vault_row = Row {
            kind: SealedKind::Constant,
            workspace_id: &row.workspace_id,
            id: &row.id,
        };
        let sealed = state.vault.seal(vault_row, value.as_bytes()).await?;
        row.value = sealed.text;
        row.key_version = Some(sealed.version);
    } else {
        row.value = value.to_string();
        row.key_version = None;
    }
    Ok(())
}

fn audit(
    actor: &Actor,
    ws: &str,
    addr: std::net::IpAddr,
    action: &'static str,
    row: &ConstantRow,
) -> AuditEvent {
    AuditEvent {
        workspace_id: Some(ws.to_string()),
        target: Some(row.id.clone()),
        detail: Some(serde_json::json!({ "name": row.name, "secret": row.is_secret() })),
        ..actor.audit(addr, action)
    }
}

/// The workspace's constants and secrets (secret values are not returned).
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/constants", tag = "constants",
    params(("ws" = String, Path, description = "Workspace id")),
    responses(
        (status = 200, body = Vec<ConstantView>),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn constants_list(
    State(state): State<SharedState>,
    actor: Actor,
    Path(ws): Path<String>,
) -> Result<Json<Vec<ConstantView>>> {
    authorize(&state, &actor, &ws, Permission::Build).await?;
    let rows = state.store.constants_list(&ws).await?;
    Ok(Json(rows.iter().map(ConstantView::from).collect()))
}

/// Add a constant or a secret (workspace admins).
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/constants", tag = "constants",
    request_body = ConstantCreate,
    params(("ws" = String, Path, description = "Workspace id")),
    responses(
        (status = 201, body = ConstantView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn constants_create(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<ConstantCreate>,
) -> Result<(StatusCode, Json<ConstantView>)> {
    authorize(
        &state,
        &actor,
        &ws,
        Permission::Manage(Action::ManageConstants),
    )
    .await?;
    check_name(&body.name)?;
    check_value(&body.value)?;
    let now = now_ms();
    let mut row = ConstantRow {
        id: uuid::Uuid::new_v4().to_string(),
        workspace_id: ws.clone(),
        name: body.name,
        secret: i64::from(body.secret),
        value: String::new(),
        key_version: None,
        created_at: now,
        updated_at: now,
    };
    stored(&state, &mut row, &body.value).await?;
    let mut change = state.store.change().await?;
    change.constant_insert(&row).await.map_err(|e| match e {
        Error::Store(sqlx::Error::Database(db)) if db.is_unique_violation() => {
            Error::Conflict(format!(
                "a {} named `{}` exists",
                if row.is_secret() {
                    "secret"
                } else {
                    "constant"
                },
                row.name
            ))
        }
        other => other,
    })?;
    let action = if row.is_secret() {
        "secret.create"
    } else {
        "constant.create"
    };
    change
        .commit(audit(&actor, &ws, addr, action, &row))
        .await?;
    Ok((StatusCode::CREATED, Json(ConstantView::from(&row))))
}

/// Change a constant's or a secret's value (workspace admins).
#[utoipa::path(patch, path = "/api/v1/workspaces/{ws}/constants/{id}", tag = "constants",
    request_body = ConstantUpdate,
    params(
        ("ws" = String, Path, description = "Workspace id"),
        ("id" = String, Path, description = "Constant id"),
    ),
    responses(
        (status = 200, body = ConstantView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn constants_update(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    Path((ws, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<ConstantUpdate>,
) -> Result<Json<ConstantView>> {
    authorize(
        &state,
        &actor,
        &ws,
        Permission::Manage(Action::ManageConstants),
    )
    .await?;
    check_value(&body.value)?;
    let mut row = state
        .store
        .constant_get(&ws, &id)
        .await?
        .ok_or(Error::NotFound)?;
    stored(&state, &mut row, &body.value).await?;
    row.updated_at = now_ms();
    let mut change = state.store.change().await?;
    if !change.constant_update(&row).await? {
        return Err(Error::NotFound);
    }
    let action = if row.is_secret() {
        "secret.update"
    } else {
        "constant.update"
    };
    change
        .commit(audit(&actor, &ws, addr, action, &row))
        .await?;
    Ok(Json(ConstantView::from(&row)))
}

/// Delete a constant or a secret (workspace admins).
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/constants/{id}", tag = "constants",
    params(
        ("ws" = String, Path, description = "Workspace id"),
        ("id" = String, Path, description = "Constant id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn constants_delete(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    Path((ws, id)): Path<(String, String)>,
) -> Result<StatusCode> {
    authorize(
        &state,
        &actor,
        &ws,
        Permission::Manage(Action::ManageConstants),
    )
    .await?;
    let row = state
        .store
        .constant_get(&ws, &id)
        .await?
        .ok_or(Error::NotFound)?;
    let mut change = state.store.change().await?;
    if !change.constant_delete(&ws, &id).await? {
        return Err(Error::NotFound);
    }
    let action = if row.is_secret() {
        "secret.delete"
    } else {
        "constant.delete"
    };
    change
        .commit(audit(&actor, &ws, addr, action, &row))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
