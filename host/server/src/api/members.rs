//! `/api/v1/workspaces/{ws}/members`: list, add, change role, remove. A workspace always keeps
//! one admin.
//!
//! An instance admin, signed in with a session, manages the members of every workspace as its
//! admin would, member or not: a workspace's own admins can't lock the instance out of it
//! (one who removed or demoted the instance admin, or left with the last admin account). Such
//! changes are audited with `asInstanceAdmin`.

use super::audit_event;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{ApiJson, normalize_email, rfc3339};
use super::groups::require_every_grant;
use crate::auth::{
    Actor, ClientAddr, Permission, authorize, check_role_reach, instance_admin_over,
};
use crate::authz::Action;
use crate::error::{Error, Problem, Result};
use crate::state::SharedState;
use crate::store::{MemberRow, Role};

#[derive(Serialize, ToSchema)]
pub struct MemberView {
    pub user_id: String,
    pub email: String,
    pub role: Role,
    /// RFC 3339.
    pub joined_at: String,
}

impl From<MemberRow> for MemberView {
    fn from(m: MemberRow) -> Self {
        MemberView {
            role: Role::parse(&m.role).unwrap_or(Role::Viewer),
            user_id: m.user_id,
            email: m.email,
            joined_at: rfc3339(m.created_at),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberAdd {
    /// Email of an existing user.
    pub email: String,
    pub role: Role,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberUpdate {
    pub role: Role,
}

/// The workspace's members.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/members", tag = "members",
    params(("ws" = String, Path, description = "Workspace id")),
    responses(
        (status = 200, body = Vec<MemberView>),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn members_list(
    State(state): State<SharedState>,
    actor: Actor,
    Path(ws): Path<String>,
) -> Result<Json<Vec<MemberView>>> {
    authorize(&state, &actor, &ws, Permission::View).await?;
    let members = state.store.members_list(&ws).await?;
    Ok(Json(members.into_iter().map(MemberView::from).collect()))
}

/// Add an existing user to the workspace (workspace admins).
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/members",
    tag = "members", request_body = MemberAdd,
    params(("ws" = String, Path, description = "Workspace id")),
    responses(
        (status = 201, body = MemberView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn members_create(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<MemberAdd>,
) -> Result<(StatusCode, Json<MemberView>)> {
    let reach = Reach::of(&state, &actor, &ws).await?;
    let as_instance_admin = reach.check(&actor, None, Some(body.role))?;
    let email = normalize_email(&body.email)?;
    let user = state
        .store
        .user_by_email(&email)
        .await?
        .ok_or_else(|| Error::Validation("no user has this email".into()))?;

    let mut change = state.store.change().await?;
    change.member_add(&ws, &user.id, body.role).await?;
    let detail = note(
        as_instance_admin,
        serde_json::json!({ "email": user.email, "role": body.role }),
    );
    change
        .commit(audit_event(
            &actor,
            &ws,
            addr,
            "member.add",
            &user.id,
            detail,
        ))
        .await?;
    let member = state
        .store
        .member_get(&ws, &user.id)
        .await?
        .ok_or(Error::NotFound)?;
    Ok((StatusCode::CREATED, Json(MemberView::from(member))))
}

/// Change a member's role (workspace admins). The last admin can't be demoted.
#[utoipa::path(patch, path = "/api/v1/workspaces/{ws}/members/{user_id}",
    tag = "members", request_body = MemberUpdate,
    params(
        ("ws" = String, Path, description = "Workspace id"),
        ("user_id" = String, Path, description = "User id"),
    ),
    responses(
        (status = 200, body = MemberView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn members_update(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    Path((ws, user_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<MemberUpdate>,
) -> Result<Json<MemberView>> {
    let reach = Reach::of(&state, &actor, &ws).await?;
    let before = state
        .store
        .member_get(&ws, &user_id)
        .await?
        .ok_or(Error::NotFound)?;
    let current = Role::parse(&before.role).unwrap_or(Role::Admin);
    let as_instance_admin = reach.check(&actor, Some((&user_id, current)), Some(body.role))?;

    let mut change = state.store.change().await?;
    change
        .member_set_role(&ws, &user_id, current, body.role)
        .await?;
    let detail = note(
        as_instance_admin,
        serde_json::json!({ "email": before.email, "from": before.role, "to": body.role }),
    );
    change
        .commit(audit_event(
            &actor,
            &ws,
            addr,
            "member.role_change",
            &user_id,
            detail,
        ))
        .await?;
    let member = state
        .store
        .member_get(&ws, &user_id)
        .await?
        .ok_or(Error::NotFound)?;
    Ok(Json(MemberView::from(member)))
}

/// Remove a member (workspace admins). The last admin can't be removed.
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/members/{user_id}", tag = "members",
    params(
        ("ws" = String, Path, description = "Workspace id"),
        ("user_id" = String, Path, description = "User id"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn members_delete(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    Path((ws, user_id)): Path<(String, String)>,
) -> Result<StatusCode> {
    let reach = Reach::of(&state, &actor, &ws).await?;
    let before = state
        .store
        .member_get(&ws, &user_id)
        .await?
        .ok_or(Error::NotFound)?;
    let current = Role::parse(&before.role).unwrap_or(Role::Admin);
    let as_instance_admin = reach.check(&actor, Some((&user_id, current)), None)?;

    let mut change = state.store.change().await?;
    // Leaving the workspace takes the member out of its groups too, which needs every grant
    // of each (api/groups.rs), unless an instance admin, acting as the workspace's admin,
    // does it.
    change.workspace_lock(&ws).await?;
    let groups = change.groups_of(&ws, &user_id).await?;
    if !as_instance_admin {
        for group in &groups {
            let doing = "remove its members from the workspace";
            require_every_grant(&state, &actor, &ws, &mut change, group, doing).await?;
        }
    }
    change.member_remove(&ws, &user_id, current).await?;
    let groups: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
    let detail = note(
        as_instance_admin,
        serde_json::json!({ "email": before.email, "role": before.role, "groups": groups }),
    );
    change
        .commit(audit_event(
            &actor,
            &ws,
            addr,
            "member.remove",
            &user_id,
            detail,
        ))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whose authority a member change is made with: the caller's role in the workspace (or the
/// role a `manage_members` grant comes with), and whether they are an instance admin, whose
/// authority is that of the workspace's admin, member or not, with no bar on raising their
/// own role (an instance admin demoted to viewer takes the workspace back).
struct Reach {
    member: Option<Role>,
    instance_admin: bool,
}

impl Reach {
    async fn of(state: &SharedState, actor: &Actor, ws: &str) -> Result<Reach> {
        let instance_admin = instance_admin_over(state, actor, ws).await?;
        let member = authorize(state, actor, ws, Permission::Manage(Action::ManageMembers)).await;
        match member {
            Ok(role) => Ok(Reach {
                member: Some(role),
                instance_admin,
            }),
            Err(_) if instance_admin => Ok(Reach {
                member: None,
                instance_admin,
            }),
            Err(e) => Err(e),
        }
    }

    /// Checks a change against the role-reach rules; `Ok(true)` when only the instance
    /// admin's authority allows it (the audit record then says so).
    fn check(
        &self,
        actor: &Actor,
        member: Option<(&str, Role)>,
        new_role: Option<Role>,
    ) -> Result<bool> {
        let as_member = self
            .member
            .map(|role| check_role_reach(actor, role, member, new_role));
        match as_member {
            Some(Ok(())) => Ok(false),
            _ if self.instance_admin => Ok(true),
            Some(Err(e)) => Err(e),
            None => Err(Error::NotFound),
        }
    }
}

/// The audit record's detail, marked when only an instance admin's authority allowed it.
fn note(as_instance_admin: bool, mut detail: serde_json::Value) -> serde_json::Value {
    if as_instance_admin {
        detail["asInstanceAdmin"] = true.into();
    }
    detail
}
