//! Who is calling and what they may do: password hashing, bearer secrets, login rate limits,
//! the `Actor` extractor (session cookie or API token, with the CSRF origin check) and the one
//! authorization check every workspace route goes through.

mod actor;
mod password;
mod ratelimit;
mod secret;

pub use actor::{Actor, ClientAddr, SESSION_COOKIE, Via, session_cookies_from};
pub use password::{
    Hasher, MAX_CHARS as PASSWORD_MAX_CHARS, check_size as check_password_size,
    validate as validate_password,
};
pub use ratelimit::LoginLimiter;
pub use secret::{Secret, hash_secret};

use crate::error::{Error, Result};
use crate::state::AppState;
use crate::store::Role;

/// What an action on a workspace needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// See the workspace and its members, list and run released apps.
    View,
    /// Build: apps and their drafts, releases, export and import; datasources, previews;
    /// reading constants (builders and admins).
    Build,
    /// Rename the workspace, add, change and remove members, read the audit log.
    Administer,
}

impl Role {
    pub fn allows(self, permission: Permission) -> bool {
        match permission {
            Permission::View => true,
            Permission::Build => matches!(self, Role::Admin | Role::Builder),
            Permission::Administer => self == Role::Admin,
        }
    }
}

/// The enforcement point for workspace routes. A workspace the actor can't see (no such
/// workspace, not a member, or outside the API token's scope) is a 404, never a 403, so ids
/// of other tenants' workspaces reveal nothing. A member lacking the permission gets a 403.
pub async fn authorize(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    permission: Permission,
) -> Result<Role> {
    if let Via::Token {
        workspace_id: scope,
        ..
    } = &actor.via
        && scope != workspace_id
    {
        return Err(Error::NotFound);
    }
    // No id contains a NUL, and PostgreSQL refuses one in a text parameter: a path like
    // `/workspaces/a%00b` names nothing, so say so before asking the store.
    if workspace_id.contains('\0') {
        return Err(Error::NotFound);
    }
    let role = state
        .caches
        .role(&state.store, actor.epoch, workspace_id, &actor.user.id)
        .await?;
    let role = role.ok_or(Error::NotFound)?;
    if !role.allows(permission) {
        let needed = match permission {
            Permission::Build => "the builder or admin role",
            _ => "the admin role",
        };
        return Err(Error::Forbidden(format!(
            "this needs {needed}; you are {}",
            role.as_str()
        )));
    }
    Ok(role)
}

/// Instance-level actions (users, new workspaces) need an instance admin on a session: API
/// tokens are scoped to one workspace and never reach instance settings.
pub fn require_instance_admin(actor: &Actor) -> Result<()> {
    if !matches!(actor.via, Via::Session { .. }) {
        return Err(Error::Forbidden(
            "API tokens can't do instance-level actions".into(),
        ));
    }
    if !actor.user.is_instance_admin() {
        return Err(Error::Forbidden("this needs an instance admin".into()));
    }
    Ok(())
}
