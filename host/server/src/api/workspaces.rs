//! `/api/v1/workspaces`: create, list, read, rename.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{ApiJson, rfc3339, validate_name};
use crate::auth::{Actor, ClientAddr, Permission, authorize, require_instance_admin};
use crate::authz::{Action, InstanceAction};
use crate::error::{Error, Problem, Result};
use crate::state::SharedState;
use crate::store::{AuditEvent, Role, WorkspaceWithRole};

/// A workspace as its member sees it.
#[derive(Serialize, ToSchema)]
pub struct WorkspaceView {
    pub id: String,
    pub name: String,
    /// RFC 3339.
    pub created_at: String,
    /// The caller's role here.
    pub role: Role,
}

impl From<WorkspaceWithRole> for WorkspaceView {
    fn from(w: WorkspaceWithRole) -> Self {
        WorkspaceView {
            role: Role::parse(&w.role).unwrap_or(Role::Viewer),
            id: w.id,
            name: w.name,
            created_at: rfc3339(w.created_at),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceCreate {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceUpdate {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
}

/// Create a workspace; the caller becomes its admin (instance admins only).
#[utoipa::path(post, path = "/api/v1/workspaces",
    tag = "workspaces", request_body = WorkspaceCreate,
    responses(
        (status = 201, body = WorkspaceView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn workspaces_create(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    ApiJson(body): ApiJson<WorkspaceCreate>,
) -> Result<(StatusCode, Json<WorkspaceView>)> {
    require_instance_admin(&state, &actor, InstanceAction::ManageWorkspaces)?;
    let name = validate_name("name", &body.name)?;

    let mut change = state.store.change().await?;
    let ws = change.workspace_create(&name, &actor.user.id).await?;
    change
        .commit(AuditEvent {
            workspace_id: Some(ws.id.clone()),
            target: Some(ws.id.clone()),
            detail: Some(serde_json::json!({ "name": ws.name })),
            ..actor.audit(addr, "workspace.create")
        })
        .await?;
    let view = WorkspaceView {
        id: ws.id,
        name: ws.name,
        created_at: rfc3339(ws.created_at),
        role: Role::Admin,
    };
    Ok((StatusCode::CREATED, Json(view)))
}

/// The workspaces the caller is a member of.
#[utoipa::path(get, path = "/api/v1/workspaces", tag = "workspaces",
    responses(
        (status = 200, body = Vec<WorkspaceView>),
    ))]
pub async fn workspaces_list(
    State(state): State<SharedState>,
    actor: Actor,
) -> Result<Json<Vec<WorkspaceView>>> {
    let mut all = state.store.workspaces_for_user(&actor.user.id).await?;
    if let crate::auth::Via::Token { workspace_id, .. } = &actor.via {
        all.retain(|w| &w.id == workspace_id);
    }
    Ok(Json(all.into_iter().map(WorkspaceView::from).collect()))
}

/// One workspace.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}", tag = "workspaces",
    params(("ws" = String, Path, description = "Workspace id")),
    responses(
        (status = 200, body = WorkspaceView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn workspaces_get(
    State(state): State<SharedState>,
    actor: Actor,
    Path(ws): Path<String>,
) -> Result<Json<WorkspaceView>> {
    let role = authorize(&state, &actor, &ws, Permission::View).await?;
    let row = state
        .store
        .workspace_get(&ws)
        .await?
        .ok_or(Error::NotFound)?;
    Ok(Json(WorkspaceView {
        id: row.id,
        name: row.name,
        created_at: rfc3339(row.created_at),
        role,
    }))
}

/// Rename a workspace (workspace admins).
#[utoipa::path(patch, path = "/api/v1/workspaces/{ws}",
    tag = "workspaces", request_body = WorkspaceUpdate,
    params(("ws" = String, Path, description = "Workspace id")),
    responses(
        (status = 200, body = WorkspaceView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn workspaces_update(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<WorkspaceUpdate>,
) -> Result<Json<WorkspaceView>> {
    let role = authorize(
        &state,
        &actor,
        &ws,
        Permission::Manage(Action::ManageWorkspace),
    )
    .await?;
    let name = validate_name("name", &body.name)?;
    let before = state
        .store
        .workspace_get(&ws)
        .await?
        .ok_or(Error::NotFound)?;

    let mut change = state.store.change().await?;
    change.workspace_rename(&ws, &name).await?;
    change
        .commit(AuditEvent {
            workspace_id: Some(ws.clone()),
            target: Some(ws.clone()),
            detail: Some(serde_json::json!({ "from": before.name, "to": name })),
            ..actor.audit(addr, "workspace.rename")
        })
        .await?;
    Ok(Json(WorkspaceView {
        id: ws,
        name,
        created_at: rfc3339(before.created_at),
        role,
    }))
}
