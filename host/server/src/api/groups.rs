//! `/api/v1/workspaces/{ws}/groups`: custom groups and their members (their grants are in
//! `grants.rs`).
//!
//! Changing groups needs `manage_groups`, and never lets anyone reach past what they hold:
//! a grant can be given only by someone who holds it, and someone can be put into a group
//! only by someone who holds every grant of that group (otherwise a `manage_groups` holder
//! could join a group that grants more than they have).

use super::audit_event;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::datasources::check_name;
use super::extract::{ApiJson, rfc3339};
use crate::auth::{Actor, ClientAddr, Permission, authorize, may, member_role};
use crate::authz::{Action, grant_object};
use crate::error::{Error, Problem, Result};
use crate::state::SharedState;
use crate::store::{Change, GrantRow, GroupMemberRow, GroupRow, Holder, Role};

#[derive(Serialize, ToSchema)]
pub struct GroupView {
    pub id: String,
    pub name: String,
    /// RFC 3339.
    pub created_at: String,
}

impl From<GroupRow> for GroupView {
    fn from(g: GroupRow) -> Self {
        GroupView {
            id: g.id,
            name: g.name,
            created_at: rfc3339(g.created_at),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupWrite {
    /// 1-100 characters, unique in the workspace.
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct GroupMemberView {
    pub user_id: String,
    pub email: String,
    /// RFC 3339.
    pub added_at: String,
}

impl From<GroupMemberRow> for GroupMemberView {
    fn from(m: GroupMemberRow) -> Self {
        GroupMemberView {
            user_id: m.user_id,
            email: m.email,
            added_at: rfc3339(m.created_at),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupMemberAdd {
    /// A member of the workspace.
    pub user_id: String,
}

pub(super) async fn group(state: &SharedState, ws: &str, id: &str) -> Result<GroupRow> {
    state.store.group_get(ws, id).await?.ok_or(Error::NotFound)
}

/// The workspace's groups.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/groups", tag = "groups",
    params(("ws" = String, Path, description = "Workspace id")),
    responses(
        (status = 200, body = Vec<GroupView>),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn groups_list(
    State(state): State<SharedState>,
    actor: Actor,
    Path(ws): Path<String>,
) -> Result<Json<Vec<GroupView>>> {
    authorize(&state, &actor, &ws, Permission::View).await?;
    let groups = state.store.groups_list(&ws).await?;
    Ok(Json(groups.into_iter().map(GroupView::from).collect()))
}

/// Create a group (`manage_groups`).
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/groups", tag = "groups",
    request_body = GroupWrite,
    params(("ws" = String, Path, description = "Workspace id")),
    responses(
        (status = 201, body = GroupView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn groups_create(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<GroupWrite>,
) -> Result<(StatusCode, Json<GroupView>)> {
    authorize(
        &state,
        &actor,
        &ws,
        Permission::Manage(Action::ManageGroups),
    )
    .await?;
    let name = check_name(&body.name)?;
    let mut change = state.store.change().await?;
    let id = change.group_insert(&ws, &name).await?;
    let detail = serde_json::json!({ "name": name });
    change
        .commit(audit_event(&actor, &ws, addr, "group.create", &id, detail))
        .await?;
    let created = group(&state, &ws, &id).await?;
    Ok((StatusCode::CREATED, Json(GroupView::from(created))))
}

/// A group.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/groups/{group}", tag = "groups",
    params(
        ("ws" = String, Path, description = "Workspace id"),
        ("group" = String, Path, description = "Group id"),
    ),
    responses(
        (status = 200, body = GroupView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn groups_get(
    State(state): State<SharedState>,
    actor: Actor,
    Path((ws, id)): Path<(String, String)>,
) -> Result<Json<GroupView>> {
    authorize(&state, &actor, &ws, Permission::View).await?;
    Ok(Json(GroupView::from(group(&state, &ws, &id).await?)))
}

/// Rename a group (`manage_groups`).
#[utoipa::path(patch, path = "/api/v1/workspaces/{ws}/groups/{group}", tag = "groups",
    request_body = GroupWrite,
    params(
        ("ws" = String, Path, description = "Workspace id"),
        ("group" = String, Path, description = "Group id"),
    ),
    responses(
        (status = 200, body = GroupView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn groups_update(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    Path((ws, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<GroupWrite>,
) -> Result<Json<GroupView>> {
    authorize(
        &state,
        &actor,
        &ws,
        Permission::Manage(Action::ManageGroups),
    )
    .await?;
    let name = check_name(&body.name)?;
    let before = group(&state, &ws, &id).await?;
    let mut change = state.store.change().await?;
    if !change.group_rename(&ws, &id, &name).await? {
        return Err(Error::NotFound);
    }
    let detail = serde_json::json!({ "name": name, "from": before.name });
    change
        .commit(audit_event(&actor, &ws, addr, "group.rename", &id, detail))
        .await?;
    Ok(Json(GroupView::from(group(&state, &ws, &id).await?)))
}

/// Delete a group with its memberships and grants (`manage_groups`).
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/groups/{group}", tag = "groups",
    params(
        ("ws" = String, Path, description = "Workspace id"),
        ("group" = String, Path, description = "Group id"),
    ),
    responses(
        (status = 204),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn groups_delete(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    Path((ws, id)): Path<(String, String)>,
) -> Result<StatusCode> {
    authorize(
        &state,
        &actor,
        &ws,
        Permission::Manage(Action::ManageGroups),
    )
    .await?;
    let row = group(&state, &ws, &id).await?;
    let mut change = state.store.change().await?;
    let grants = require_every_grant(&state, &actor, &ws, &mut change, &row, "delete it").await?;
    if !change.group_delete(&ws, &id).await? {
        return Err(Error::NotFound);
    }
    // What the group's members lost with it.
    let grants: Vec<_> = grants.iter().map(grant_detail).collect();
    let detail = serde_json::json!({ "name": row.name, "grants": grants });
    change
        .commit(audit_event(&actor, &ws, addr, "group.delete", &id, detail))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The group's members.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/groups/{group}/members", tag = "groups",
    params(
        ("ws" = String, Path, description = "Workspace id"),
        ("group" = String, Path, description = "Group id"),
    ),
    responses(
        (status = 200, body = Vec<GroupMemberView>),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn group_members_list(
    State(state): State<SharedState>,
    actor: Actor,
    Path((ws, id)): Path<(String, String)>,
) -> Result<Json<Vec<GroupMemberView>>> {
    authorize(&state, &actor, &ws, Permission::View).await?;
    group(&state, &ws, &id).await?;
    let members = state.store.group_members(&ws, &id).await?;
    Ok(Json(
        members.into_iter().map(GroupMemberView::from).collect(),
    ))
}

/// Put a workspace member into the group (`manage_groups`, and holding every grant of the
/// group).
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/groups/{group}/members", tag = "groups",
    request_body = GroupMemberAdd,
    params(
        ("ws" = String, Path, description = "Workspace id"),
        ("group" = String, Path, description = "Group id"),
    ),
    responses(
        (status = 201, body = GroupMemberView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn group_members_create(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    Path((ws, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<GroupMemberAdd>,
) -> Result<(StatusCode, Json<GroupMemberView>)> {
    authorize(
        &state,
        &actor,
        &ws,
        Permission::Manage(Action::ManageGroups),
    )
    .await?;
    let row = group(&state, &ws, &id).await?;
    if body.user_id.contains('\0') {
        return Err(Error::Validation(
            "`user_id` is not a member of this workspace".into(),
        ));
    }
    // Nobody changes their own groups: a member could otherwise copy what they hold today
    // into a group of their own and keep it after their role or other grants are taken.
    if body.user_id == actor.user.id {
        return Err(Error::Forbidden(
            "you can't add yourself to a group; another member who manages groups can".into(),
        ));
    }
    let mut change = state.store.change().await?;
    require_every_grant(&state, &actor, &ws, &mut change, &row, "add members to it").await?;
    change.group_member_add(&ws, &id, &body.user_id).await?;
    let detail = serde_json::json!({ "group": row.name, "userId": body.user_id });
    change
        .commit(audit_event(
            &actor,
            &ws,
            addr,
            "group.member_add",
            &id,
            detail,
        ))
        .await?;
    let added = state
        .store
        .group_members(&ws, &id)
        .await?
        .into_iter()
        .find(|m| m.user_id == body.user_id)
        .ok_or(Error::NotFound)?;
    Ok((StatusCode::CREATED, Json(GroupMemberView::from(added))))
}

/// Take a user out of the group (`manage_groups`).
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/groups/{group}/members/{user_id}",
    tag = "groups",
    params(
        ("ws" = String, Path, description = "Workspace id"),
        ("group" = String, Path, description = "Group id"),
        ("user_id" = String, Path, description = "User id"),
    ),
    responses(
        (status = 204),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn group_members_delete(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    Path((ws, id, user_id)): Path<(String, String, String)>,
) -> Result<StatusCode> {
    authorize(
        &state,
        &actor,
        &ws,
        Permission::Manage(Action::ManageGroups),
    )
    .await?;
    let row = group(&state, &ws, &id).await?;
    let mut change = state.store.change().await?;
    require_every_grant(
        &state,
        &actor,
        &ws,
        &mut change,
        &row,
        "remove members from it",
    )
    .await?;
    if !change.group_member_remove(&ws, &id, &user_id).await? {
        return Err(Error::NotFound);
    }
    let detail = serde_json::json!({ "group": row.name, "userId": user_id });
    change
        .commit(audit_event(
            &actor,
            &ws,
            addr,
            "group.member_remove",
            &id,
            detail,
        ))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A 403 unless the actor holds every grant of the group `row`; `doing` says what they
/// tried. Putting someone into a group gives them its grants, and taking them out or
/// deleting the group takes the grants away: nobody may do either with grants they could
/// not give themselves. Checked inside `change`, under the workspace's lock, so that a grant
/// added meanwhile can't slip past. Returns the group's grants.
pub(super) async fn require_every_grant(
    state: &SharedState,
    actor: &Actor,
    ws: &str,
    change: &mut Change,
    row: &GroupRow,
    doing: &str,
) -> Result<Vec<GrantRow>> {
    change.workspace_lock(ws).await?;
    let grants = change.grants_of(ws, Holder::Group(&row.id)).await?;
    for grant in &grants {
        if !holds(state, actor, ws, grant).await? {
            return Err(Error::Forbidden(format!(
                "group `{}` grants `{}`, which you don't hold: only someone who holds every \
                 grant of a group can {doing}",
                row.name, grant.action
            )));
        }
    }
    Ok(grants)
}

/// Whether the actor holds `grant`'s action on its object. An action this build does not
/// know (one a newer or older version wrote) counts as held by workspace admins only.
pub(super) async fn holds(
    state: &SharedState,
    actor: &Actor,
    ws: &str,
    grant: &GrantRow,
) -> Result<bool> {
    match Action::parse(&grant.action) {
        Some(action) => may(state, actor, ws, &grant_object(grant), action).await,
        None => Ok(member_role(state, actor, ws).await? == Role::Admin),
    }
}

/// A grant as audit records describe it.
pub(super) fn grant_detail(grant: &GrantRow) -> serde_json::Value {
    serde_json::json!({
        "grant": grant.id,
        "action": grant.action,
        "kind": grant.kind,
        "appId": grant.app_id,
        "datasourceId": grant.datasource_id,
    })
}
