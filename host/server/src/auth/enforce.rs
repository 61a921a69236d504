//! The enforcement point every API route passes (`api::ROUTES` declares each route's
//! [`Access`]): it authenticates the caller from the session or token (never from the body
//! or a header it doesn't own), and on a workspace route makes sure the caller belongs to the
//! workspace in the path, answering 404 otherwise so that other tenants' ids can't be probed.
//! What a member may do there is then the workspace policy's, asked through
//! [`super::authorize`] and [`super::require`].

use std::convert::Infallible;

use axum::extract::{FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use tower::{Service, ServiceExt};

use super::{Actor, Via};
use crate::authz::InstanceAction;
use crate::error::{Error, Result};
use crate::http::Step;
use crate::state::{AppState, SharedState};
use crate::store::Role;

/// Who may reach a route at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: signing in, password resets, accepting invites, published documents.
    Public,
    /// Any signed-in caller (session or API token); instance actions are checked inside.
    SignedIn,
    /// A signed-in member of the workspace `{ws}` in the path.
    Member,
    /// A member, or an instance admin on a session whether a member or not (managing a
    /// workspace's members: see `api/members.rs`). The handler tells the two apart.
    MemberOrInstanceAdmin,
}

/// The enforcement point around one route: every method of the route passes [`enforce`] with
/// the route's [`Access`] before its handler (as the layer `Around(gate)`).
#[derive(Clone)]
pub struct Gate {
    state: SharedState,
    access: Access,
}

impl Gate {
    pub fn new(state: SharedState, access: Access) -> Gate {
        Gate { state, access }
    }
}

impl Step for Gate {
    async fn around<S>(self, request: Request, handler: S) -> Result<Response, Infallible>
    where
        S: Service<Request, Response = Response, Error = Infallible> + Send + 'static,
        S::Future: Send + 'static,
    {
        Ok(enforce(&self.state, self.access, request, handler).await)
    }
}

/// Admits the request to `handler` or answers it: anyone on a public route; otherwise the
/// authenticated caller, as the request's [`Actor`], when the route's `access` lets them in.
async fn enforce<S>(state: &SharedState, access: Access, request: Request, handler: S) -> Response
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    let (mut parts, body) = request.into_parts();
    if access != Access::Public {
        match admit(state, access, &mut parts).await {
            Ok(actor) => {
                parts.extensions.insert(actor);
            }
            Err(e) => return e.into_response(),
        }
    }
    match handler.oneshot(Request::from_parts(parts, body)).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

async fn admit(state: &SharedState, access: Access, parts: &mut Parts) -> Result<Actor> {
    let actor = Actor::authenticate(parts, state).await?;
    if matches!(access, Access::Member | Access::MemberOrInstanceAdmin) {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| Error::NotFound)?;
        let ws = params
            .iter()
            .find(|(name, _)| *name == "ws")
            .map(|(_, value)| value.to_string())
            .ok_or_else(|| {
                Error::Internal(anyhow::anyhow!(
                    "{} is declared a workspace route but has no {{ws}}",
                    parts.uri.path()
                ))
            })?;
        if access == Access::MemberOrInstanceAdmin
            && instance_admin_over(state, &actor, &ws).await?
        {
            return Ok(actor);
        }
        member_role(state, &actor, &ws).await?;
    }
    Ok(actor)
}

/// Whether the actor is an instance admin on a session and the workspace `ws` exists: such an
/// actor manages its members whether they belong to it or not.
pub async fn instance_admin_over(state: &AppState, actor: &Actor, ws: &str) -> Result<bool> {
    let instance_admin =
        super::require_instance_admin(state, actor, InstanceAction::ManageUsers).is_ok();
    // No id holds a NUL (PostgreSQL refuses one in a parameter): such a path names nothing.
    Ok(instance_admin && !ws.contains('\0') && state.store.workspace_get(ws).await?.is_some())
}

/// The actor's role in the workspace, or a 404: no such workspace, not a member, or outside
/// the API token's scope all look the same.
pub async fn member_role(state: &AppState, actor: &Actor, workspace_id: &str) -> Result<Role> {
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
    state
        .caches
        .role(&state.store, actor.epoch, workspace_id, &actor.user.id)
        .await?
        .ok_or(Error::NotFound)
}
