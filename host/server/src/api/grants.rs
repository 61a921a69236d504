//! `/api/v1/workspaces/{ws}/groups/{group}/grants`, `/api/v1/workspaces/{ws}/roles/{role}/grants`
//! and `/api/v1/workspaces/{ws}/permissions/me`: what groups and roles are granted, and what
//! the caller holds.
//!
//! A grant can be given only by someone who holds it (see `groups.rs` for the rule on
//! members).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::audit_event;
use super::extract::{ApiJson, rfc3339};
use super::groups::{GroupView, grant_detail, group, holds};
use crate::auth::{Actor, ClientAddr, Permission, authorize, may, member_role};
use crate::authz::{Action, Kind, Object};
use crate::error::{Error, Problem, Result};
use crate::state::SharedState;
use crate::store::{GrantRow, Holder, NewGrant, Role};

#[derive(Serialize, ToSchema)]
pub struct GrantView {
    pub id: String,
    pub action: Action,
    /// What the grant is on: the workspace, apps or datasources.
    pub kind: Kind,
    /// The app of an app grant; absent for every app.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    /// The datasource of a datasource grant; absent for every datasource.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datasource_id: Option<String>,
    /// RFC 3339.
    pub created_at: String,
}

impl GrantView {
    fn new(g: GrantRow) -> Result<GrantView> {
        let stored = || Error::Internal(anyhow::anyhow!("grant {} is not one Lathe wrote", g.id));
        Ok(GrantView {
            action: Action::parse(&g.action).ok_or_else(stored)?,
            kind: Kind::parse(&g.kind).ok_or_else(stored)?,
            created_at: rfc3339(g.created_at),
            id: g.id,
            app_id: g.app_id,
            datasource_id: g.datasource_id,
        })
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantCreate {
    /// `view`/`edit` are on apps, `use`/`configure` on datasources, the rest on the workspace.
    pub action: Action,
    /// For an app action: the app's id; leave out for every app of the workspace.
    pub app_id: Option<String>,
    /// For a datasource action: the datasource's id; leave out for every datasource.
    pub datasource_id: Option<String>,
}

/// What the caller may do in the workspace, for hiding what they can't.
#[derive(Serialize, ToSchema)]
pub struct PermissionsView {
    pub role: Role,
    pub groups: Vec<GroupView>,
    /// Workspace actions held (`build`, `manage_members`, …).
    pub workspace: Vec<Action>,
    /// Actions held on every app and on each app of the workspace.
    pub apps: ObjectPermissions,
    /// Actions held on every datasource and on each datasource of the workspace.
    pub datasources: ObjectPermissions,
}

#[derive(Serialize, ToSchema)]
pub struct ObjectPermissions {
    /// Held on every object of the kind, present and future.
    pub all: Vec<Action>,
    /// Held on each object, by id (objects with none left out).
    pub by_id: std::collections::BTreeMap<String, Vec<Action>>,
}

/// Who a grant route is about: a group (its name for audit records) or a role.
struct Grantee<'a> {
    holder: Holder<'a>,
    /// `group` or `role`.
    kind: &'static str,
    /// The group's name or the role's.
    label: String,
    /// The group's id or the role's name, the audit records' target.
    target: &'a str,
}

impl Grantee<'_> {
    fn actions(&self) -> (&'static str, &'static str) {
        match self.holder {
            Holder::Group(_) => ("group.grant", "group.revoke"),
            Holder::Role(_) => ("role.grant", "role.revoke"),
        }
    }
}

async fn list_grants(state: &SharedState, ws: &str, holder: Holder<'_>) -> Result<Vec<GrantView>> {
    state
        .store
        .grants_of(ws, holder)
        .await?
        .into_iter()
        .map(GrantView::new)
        .collect()
}

/// Gives `grantee` a permission, if the actor holds it.
async fn add_grant(
    state: &SharedState,
    actor: &Actor,
    addr: std::net::IpAddr,
    ws: &str,
    grantee: Grantee<'_>,
    body: GrantCreate,
) -> Result<GrantView> {
    let kind = body.action.kind();
    let (app_id, datasource_id) = match (kind, body.app_id, body.datasource_id) {
        (Kind::Workspace, None, None) => (None, None),
        (Kind::App, app, None) => (app, None),
        (Kind::Datasource, None, datasource) => (None, datasource),
        _ => {
            return Err(Error::Validation(format!(
                "`{}` is a {} permission: {}",
                body.action.as_str(),
                kind.as_str(),
                match kind {
                    Kind::Workspace => "give neither `app_id` nor `datasource_id`",
                    Kind::App => "give `app_id` (or nothing, for every app), not `datasource_id`",
                    Kind::Datasource => {
                        "give `datasource_id` (or nothing, for every datasource), not `app_id`"
                    }
                }
            )));
        }
    };
    if [&app_id, &datasource_id]
        .iter()
        .any(|id| id.as_deref().is_some_and(|id| id.contains('\0')))
    {
        return Err(Error::Validation(
            "`app_id` and `datasource_id` name objects of this workspace; this names none".into(),
        ));
    }
    refuse_own_grantee(state, actor, ws, &grantee).await?;
    // The object must be in this workspace; its stored id is what the grant names.
    let app_id = match app_id {
        Some(app) => Some(
            state
                .store
                .app_find(ws, &app)
                .await?
                .ok_or_else(|| Error::Validation("`app_id` names no app of this workspace".into()))?
                .id,
        ),
        None => None,
    };
    let datasource_id = match datasource_id {
        Some(ds) => Some(
            state
                .store
                .datasource_get(ws, &ds)
                .await?
                .ok_or_else(|| {
                    Error::Validation(
                        "`datasource_id` names no datasource of this workspace".into(),
                    )
                })?
                .id,
        ),
        None => None,
    };
    let object = match kind {
        Kind::Workspace => Object::Workspace,
        Kind::App => Object::App(app_id.clone()),
        Kind::Datasource => Object::Datasource(datasource_id.clone()),
    };
    if !may(state, actor, ws, &object, body.action).await? {
        return Err(Error::Forbidden(format!(
            "you can grant only what you hold, and you don't hold `{}` there",
            body.action.as_str()
        )));
    }
    let mut change = state.store.change().await?;
    let grant_id = change
        .grant_insert(
            ws,
            grantee.holder,
            NewGrant {
                kind: kind.as_str(),
                app_id: app_id.as_deref(),
                datasource_id: datasource_id.as_deref(),
                action: body.action.as_str(),
                created_by: &actor.user.id,
            },
        )
        .await?;
    let mut detail = serde_json::json!({
        "grant": grant_id,
        "action": body.action,
        "kind": kind,
        "appId": app_id,
        "datasourceId": datasource_id,
    });
    detail[grantee.kind] = grantee.label.clone().into();
    let action = grantee.actions().0;
    change
        .commit(audit_event(actor, ws, addr, action, grantee.target, detail))
        .await?;
    let created = state
        .store
        .grants_of(ws, grantee.holder)
        .await?
        .into_iter()
        .find(|g| g.id == grant_id)
        .ok_or(Error::NotFound)?;
    GrantView::new(created)
}

/// Nobody widens a group they are in or the role they have: what they copied there from
/// another source (a group, a role) would outlive that source's revocation.
async fn refuse_own_grantee(
    state: &SharedState,
    actor: &Actor,
    ws: &str,
    grantee: &Grantee<'_>,
) -> Result<()> {
    let own = match grantee.holder {
        Holder::Group(id) => state
            .store
            .groups_of(ws, &actor.user.id)
            .await?
            .iter()
            .any(|g| g.id == id),
        Holder::Role(role) => member_role(state, actor, ws).await? == role,
    };
    if own {
        return Err(Error::Forbidden(format!(
            "you can't add grants to a {} you belong to; another member who manages groups can",
            grantee.kind
        )));
    }
    Ok(())
}

/// Takes a permission from `grantee`, if the actor holds it: as with giving one, nobody
/// takes away what they could not give back (a `manage_groups` holder could otherwise strip
/// the admins' custom groups of what only admins hold).
async fn remove_grant(
    state: &SharedState,
    actor: &Actor,
    addr: std::net::IpAddr,
    ws: &str,
    grantee: Grantee<'_>,
    grant: &str,
) -> Result<()> {
    let row = state
        .store
        .grants_of(ws, grantee.holder)
        .await?
        .into_iter()
        .find(|g| g.id == grant)
        .ok_or(Error::NotFound)?;
    if !holds(state, actor, ws, &row).await? {
        return Err(Error::Forbidden(format!(
            "this grant gives `{}`, which you don't hold: only someone who holds a permission \
             can take it away",
            row.action
        )));
    }
    let mut change = state.store.change().await?;
    if !change.grant_delete(ws, grantee.holder, grant).await? {
        return Err(Error::NotFound);
    }
    let mut detail = grant_detail(&row);
    detail[grantee.kind] = grantee.label.clone().into();
    change
        .commit(audit_event(
            actor,
            ws,
            addr,
            grantee.actions().1,
            grantee.target,
            detail,
        ))
        .await
}

async fn group_grantee<'a>(state: &SharedState, ws: &str, id: &'a str) -> Result<Grantee<'a>> {
    let row = group(state, ws, id).await?;
    Ok(Grantee {
        holder: Holder::Group(id),
        kind: "group",
        label: row.name,
        target: id,
    })
}

/// The role a path names: builder or viewer. The admin role holds everything and has no
/// grants to list or change.
/// Changing what a whole role holds is for admins: a member who manages groups could
/// otherwise give the role they are about to be demoted to what they hold today.
async fn require_admin(state: &SharedState, actor: &Actor, ws: &str) -> Result<()> {
    let role = authorize(state, actor, ws, Permission::Manage(Action::ManageGroups)).await?;
    if role != Role::Admin {
        return Err(Error::Forbidden(
            "only workspace admins change what the builder and viewer roles hold".into(),
        ));
    }
    Ok(())
}

fn role_grantee(role: &str) -> Result<Grantee<'_>> {
    match Role::parse(role) {
        Some(Role::Admin) => Err(Error::Validation(
            "the admin role holds everything; only the builder and viewer roles have grants".into(),
        )),
        Some(parsed) => Ok(Grantee {
            holder: Holder::Role(parsed),
            kind: "role",
            label: role.to_string(),
            target: role,
        }),
        None => Err(Error::NotFound),
    }
}

/// The group's grants.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/groups/{group}/grants", tag = "groups",
    params(
        ("ws" = String, Path, description = "Workspace id"),
        ("group" = String, Path, description = "Group id"),
    ),
    responses(
        (status = 200, body = Vec<GrantView>),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn grants_list(
    State(state): State<SharedState>,
    actor: Actor,
    Path((ws, id)): Path<(String, String)>,
) -> Result<Json<Vec<GrantView>>> {
    authorize(&state, &actor, &ws, Permission::View).await?;
    group(&state, &ws, &id).await?;
    Ok(Json(list_grants(&state, &ws, Holder::Group(&id)).await?))
}

/// Give the group a permission (`manage_groups`, and holding the permission yourself).
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/groups/{group}/grants", tag = "groups",
    request_body = GrantCreate,
    params(
        ("ws" = String, Path, description = "Workspace id"),
        ("group" = String, Path, description = "Group id"),
    ),
    responses(
        (status = 201, body = GrantView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn grants_create(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    Path((ws, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<GrantCreate>,
) -> Result<(StatusCode, Json<GrantView>)> {
    authorize(
        &state,
        &actor,
        &ws,
        Permission::Manage(Action::ManageGroups),
    )
    .await?;
    let grantee = group_grantee(&state, &ws, &id).await?;
    let created = add_grant(&state, &actor, addr, &ws, grantee, body).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Take a permission from the group (`manage_groups`).
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/groups/{group}/grants/{grant}",
    tag = "groups",
    params(
        ("ws" = String, Path, description = "Workspace id"),
        ("group" = String, Path, description = "Group id"),
        ("grant" = String, Path, description = "Grant id"),
    ),
    responses(
        (status = 204),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn grants_delete(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    Path((ws, id, grant)): Path<(String, String, String)>,
) -> Result<StatusCode> {
    authorize(
        &state,
        &actor,
        &ws,
        Permission::Manage(Action::ManageGroups),
    )
    .await?;
    let grantee = group_grantee(&state, &ws, &id).await?;
    remove_grant(&state, &actor, addr, &ws, grantee, &grant).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What the builder or viewer role holds in the workspace.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/roles/{role}/grants", tag = "groups",
    params(
        ("ws" = String, Path, description = "Workspace id"),
        ("role" = String, Path, description = "`builder` or `viewer`"),
    ),
    responses(
        (status = 200, body = Vec<GrantView>),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn role_grants_list(
    State(state): State<SharedState>,
    actor: Actor,
    Path((ws, role)): Path<(String, String)>,
) -> Result<Json<Vec<GrantView>>> {
    authorize(&state, &actor, &ws, Permission::View).await?;
    let grantee = role_grantee(&role)?;
    Ok(Json(list_grants(&state, &ws, grantee.holder).await?))
}

/// Give the builder or viewer role a permission (`manage_groups`, and holding it yourself).
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/roles/{role}/grants", tag = "groups",
    request_body = GrantCreate,
    params(
        ("ws" = String, Path, description = "Workspace id"),
        ("role" = String, Path, description = "`builder` or `viewer`"),
    ),
    responses(
        (status = 201, body = GrantView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn role_grants_create(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    Path((ws, role)): Path<(String, String)>,
    ApiJson(body): ApiJson<GrantCreate>,
) -> Result<(StatusCode, Json<GrantView>)> {
    require_admin(&state, &actor, &ws).await?;
    let grantee = role_grantee(&role)?;
    let created = add_grant(&state, &actor, addr, &ws, grantee, body).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Take a permission from the builder or viewer role (`manage_groups`).
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/roles/{role}/grants/{grant}",
    tag = "groups",
    params(
        ("ws" = String, Path, description = "Workspace id"),
        ("role" = String, Path, description = "`builder` or `viewer`"),
        ("grant" = String, Path, description = "Grant id"),
    ),
    responses(
        (status = 204),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn role_grants_delete(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    Path((ws, role, grant)): Path<(String, String, String)>,
) -> Result<StatusCode> {
    require_admin(&state, &actor, &ws).await?;
    let grantee = role_grantee(&role)?;
    remove_grant(&state, &actor, addr, &ws, grantee, &grant).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What you may do in the workspace: your role, your groups, and the actions you hold on the
/// workspace, on every app and datasource, and on each of them.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/permissions/me", tag = "groups",
    params(("ws" = String, Path, description = "Workspace id")),
    responses(
        (status = 200, body = PermissionsView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn permissions_me(
    State(state): State<SharedState>,
    actor: Actor,
    Path(ws): Path<String>,
) -> Result<Json<PermissionsView>> {
    let role = authorize(&state, &actor, &ws, Permission::View).await?;
    let policy = state.caches.policy(&state.store, actor.epoch, &ws).await?;
    let user = actor.user.id.as_str();
    let held = |object: &Object| -> Result<Vec<Action>> {
        let mut actions = Vec::new();
        for action in Action::ALL {
            if policy.allows(user, object, action)? {
                actions.push(action);
            }
        }
        Ok(actions)
    };
    let mut apps = ObjectPermissions {
        all: held(&Object::App(None))?,
        by_id: Default::default(),
    };
    for (id, released) in state.store.app_ids(&ws).await? {
        let actions = held(&Object::App(Some(id.clone())))?;
        // A never-released app exists only for those who may edit it.
        if !actions.is_empty() && (released || actions.contains(&Action::Edit)) {
            apps.by_id.insert(id, actions);
        }
    }
    let mut datasources = ObjectPermissions {
        all: held(&Object::Datasource(None))?,
        by_id: Default::default(),
    };
    for row in state.store.datasources_list(&ws).await? {
        let actions = held(&Object::Datasource(Some(row.id.clone())))?;
        if !actions.is_empty() {
            datasources.by_id.insert(row.id, actions);
        }
    }
    let groups = state.store.groups_of(&ws, user).await?;
    Ok(Json(PermissionsView {
        role,
        groups: groups.into_iter().map(GroupView::from).collect(),
        workspace: held(&Object::Workspace)?,
        apps,
        datasources,
    }))
}
