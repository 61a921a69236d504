//! Who is calling and what they may do: password hashing, bearer secrets, login rate limits,
//! the `Actor` extractor (session cookie or API token, with the CSRF origin check) and the one
//! authorization check every workspace route goes through.

mod actor;
mod enforce;
mod password;
mod ratelimit;
mod secret;

pub use actor::{Actor, ClientAddr, SESSION_COOKIE, Via, session_cookies_from};
pub use enforce::{Access, Gate, instance_admin_over, member_role};
pub use password::{
    Hasher, MAX_CHARS as PASSWORD_MAX_CHARS, check_size as check_password_size,
    validate as validate_password,
};
pub use ratelimit::LoginLimiter;
pub use secret::{Secret, hash_secret};

use crate::authz::{Action, InstanceAction, Object};
use crate::error::{Error, Result};
use crate::state::AppState;
use crate::store::Role;

/// What an action on a workspace needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Membership: see the workspace and its members, list and run released apps.
    View,
    /// Build: apps and their drafts, releases, export and import; datasources, previews;
    /// reading constants (builders and admins, and groups granted `build`).
    Build,
    /// A workspace action of the authorization model (`manage_members`, `read_audit`, …):
    /// admins, and groups granted it.
    Manage(Action),
}

impl Role {
    /// What the role alone allows, for handlers that shape a response by role.
    pub fn allows(self, permission: Permission) -> bool {
        match permission {
            Permission::View => true,
            Permission::Build => matches!(self, Role::Admin | Role::Builder),
            Permission::Manage(_) => self == Role::Admin,
        }
    }
}

/// The enforcement point for workspace routes. A workspace the actor can't see (no such
/// workspace, not a member, or outside the API token's scope) is a 404, never a 403, so ids
/// of other tenants' workspaces reveal nothing. A member lacking the permission gets a 403.
/// The decision is the workspace policy's (`authz`).
pub async fn authorize(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    permission: Permission,
) -> Result<Role> {
    let role = member_role(state, actor, workspace_id).await?;
    let action = match permission {
        Permission::View => return Ok(role),
        Permission::Build => Action::Build,
        Permission::Manage(action) => action,
    };
    if !may(state, actor, workspace_id, &Object::Workspace, action).await? {
        return Err(Error::Forbidden(format!(
            "this needs the `{}` permission in this workspace; you are {} and no group of \
             yours grants it",
            action.as_str(),
            role.as_str()
        )));
    }
    Ok(role)
}

/// Whether the actor, a member of the workspace (checked by [`authorize`] first), may do
/// `action` on `object`.
pub async fn may(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    object: &Object,
    action: Action,
) -> Result<bool> {
    let policy = state
        .caches
        .policy(&state.store, actor.epoch, workspace_id)
        .await?;
    policy.allows(&actor.user.id, object, action)
}

/// [`may`], or a 403 that names what is missing.
pub async fn require(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    object: &Object,
    action: Action,
    what: &str,
) -> Result<()> {
    if may(state, actor, workspace_id, object, action).await? {
        Ok(())
    } else {
        Err(Error::Forbidden(format!(
            "this needs `{}` on {what}, which neither your role nor your groups grant",
            action.as_str()
        )))
    }
}

impl Role {
    fn rank(self) -> u8 {
        match self {
            Role::Viewer => 0,
            Role::Builder => 1,
            Role::Admin => 2,
        }
    }
}

/// The escalation rule for members: whoever manages members (an admin, or a group granted
/// `manage_members`) may give only roles up to their own and may change or remove only
/// members whose role is not above their own; nobody raises their own role.
pub fn check_role_reach(
    caller: &Actor,
    caller_role: Role,
    member: Option<(&str, Role)>,
    new_role: Option<Role>,
) -> Result<()> {
    if let Some(role) = new_role
        && role.rank() > caller_role.rank()
    {
        return Err(Error::Forbidden(format!(
            "you can give roles up to your own ({}), not {}",
            caller_role.as_str(),
            role.as_str()
        )));
    }
    if let Some((user_id, current)) = member {
        if current.rank() > caller_role.rank() {
            return Err(Error::Forbidden(format!(
                "this member is {}, above your role ({})",
                current.as_str(),
                caller_role.as_str()
            )));
        }
        if user_id == caller.user.id && new_role.is_some_and(|role| role.rank() > current.rank()) {
            return Err(Error::Forbidden("nobody can raise their own role".into()));
        }
    }
    Ok(())
}

/// Instance-level actions (users, new workspaces, the instance audit log) need an instance
/// admin on a session: API tokens are scoped to one workspace and never reach instance
/// settings.
pub fn require_instance_admin(
    state: &AppState,
    actor: &Actor,
    action: InstanceAction,
) -> Result<()> {
    if !matches!(actor.via, Via::Session { .. }) {
        return Err(Error::Forbidden(
            "API tokens can't do instance-level actions".into(),
        ));
    }
    if !state
        .instance_policy
        .allows(actor.user.is_instance_admin(), action)?
    {
        return Err(Error::Forbidden(format!(
            "`{}` needs an instance admin",
            action.as_str()
        )));
    }
    Ok(())
}
