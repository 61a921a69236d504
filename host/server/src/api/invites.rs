//! Invites: a workspace admin invites an email address with a role; the emailed token (single
//! use, 7 days) adds that address to the workspace, creating its account when it has none.
//! Admins list the pending invites (never their tokens) and can revoke one before it is used.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{ApiJson, normalize_email, rfc3339};
use crate::auth::{
    Actor, ClientAddr, Permission, Secret, authorize, check_role_reach, hash_secret,
    validate_password,
};
use crate::authz::Action;
use crate::error::{Error, Problem, Result};
use crate::state::SharedState;
use crate::store::{AuditEvent, EmailTokenKind, InviteRow, NewEmailToken, Role, now_ms};

const INVITE_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteCreate {
    pub email: String,
    pub role: Role,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteAccept {
    /// The token from the emailed link.
    pub token: String,
    /// Required when the invited address has no account yet: its new password.
    #[schema(min_length = 8, max_length = 128)]
    pub password: Option<String>,
}

/// A pending invite. Its token is only ever in the email that was sent.
#[derive(Serialize, ToSchema)]
pub struct InviteView {
    pub id: String,
    pub email: String,
    pub role: Role,
    /// The user id of the admin who sent it.
    pub invited_by: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub expires_at: String,
}

impl From<InviteRow> for InviteView {
    fn from(i: InviteRow) -> Self {
        InviteView {
            role: i
                .role
                .as_deref()
                .and_then(Role::parse)
                .unwrap_or(Role::Viewer),
            id: i.id,
            email: i.email,
            invited_by: i.created_by,
            created_at: rfc3339(i.created_at),
            expires_at: rfc3339(i.expires_at),
        }
    }
}

/// The workspace's pending invites: not yet accepted, expired or revoked (workspace admins).
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/invites", tag = "members",
    params(("ws" = String, Path, description = "Workspace id")),
    responses(
        (status = 200, body = Vec<InviteView>),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn invites_list(
    State(state): State<SharedState>,
    actor: Actor,
    Path(ws): Path<String>,
) -> Result<Json<Vec<InviteView>>> {
    authorize(
        &state,
        &actor,
        &ws,
        Permission::Manage(Action::ManageMembers),
    )
    .await?;
    let invites = state.store.invites_pending(&ws).await?;
    Ok(Json(invites.into_iter().map(InviteView::from).collect()))
}

/// Revoke a pending invite: its link stops working (workspace admins).
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/invites/{id}", tag = "members",
    params(
        ("ws" = String, Path, description = "Workspace id"),
        ("id" = String, Path, description = "Invite id"),
    ),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such pending invite in this workspace",
            body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn invites_delete(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    Path((ws, id)): Path<(String, String)>,
) -> Result<StatusCode> {
    authorize(
        &state,
        &actor,
        &ws,
        Permission::Manage(Action::ManageMembers),
    )
    .await?;
    let mut change = state.store.change().await?;
    let invite = change.invite_revoke(&ws, &id).await?;
    let invite = invite.ok_or(Error::NotFound)?;
    change
        .commit(AuditEvent {
            workspace_id: Some(ws),
            target: Some(invite.id),
            detail: Some(serde_json::json!({ "email": invite.email, "role": invite.role })),
            ..actor.audit(addr, "member.invite_revoked")
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Email an invite to join the workspace (workspace admins).
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/invites",
    tag = "members", request_body = InviteCreate,
    params(("ws" = String, Path, description = "Workspace id")),
    responses(
        (status = 202, description = "The invite is on its way"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn invites_create(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<InviteCreate>,
) -> Result<StatusCode> {
    let role = authorize(
        &state,
        &actor,
        &ws,
        Permission::Manage(Action::ManageMembers),
    )
    .await?;
    check_role_reach(&actor, role, None, Some(body.role))?;
    let mailer = state.mailer.as_ref().ok_or(Error::MailNotConfigured)?;
    let email = normalize_email(&body.email)?;
    let workspace = state
        .store
        .workspace_get(&ws)
        .await?
        .ok_or(Error::NotFound)?;

    let token = Secret::generate("");
    let new = NewEmailToken {
        kind: EmailTokenKind::Invite,
        email: &email,
        workspace_id: Some(&ws),
        role: Some(body.role),
        created_by: Some(&actor.user.id),
        expires_at: now_ms() + i64::try_from(INVITE_TTL.as_millis()).unwrap_or(0),
    };
    let mut change = state.store.change().await?;
    change.email_token_insert(new, &token.hash()).await?;
    change
        .commit(AuditEvent {
            workspace_id: Some(ws.clone()),
            target: Some(email.clone()),
            detail: Some(serde_json::json!({ "email": email, "role": body.role })),
            ..actor.audit(addr, "member.invite")
        })
        .await?;

    let link = state.settings.link("accept-invite", token.expose());
    let text = format!(
        "{} invited you to the Lathe workspace \"{}\" as {}.\n\n\
         To accept, open this link within 7 days:\n\n{link}\n",
        actor.user.email,
        workspace.name,
        body.role.as_str()
    );
    mailer.send(&email, "You're invited to Lathe", text);
    Ok(StatusCode::ACCEPTED)
}

/// Accept an invite: joins the workspace, creating the account if the address has none.
#[utoipa::path(post, path = "/api/v1/invites/accept",
    security(()), tag = "members", request_body = InviteAccept,
    responses(
        (status = 204, description = "Joined"),
        (status = 404, description = "Unknown, used or expired invite",
            body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn invites_accept(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    ApiJson(body): ApiJson<InviteAccept>,
) -> Result<StatusCode> {
    if let Some(password) = &body.password {
        validate_password(password)?;
    }
    // Check before claiming, so a missing password doesn't use the invite up.
    let token_hash = hash_secret(&body.token);
    let peeked = state
        .store
        .email_token_peek(&token_hash, EmailTokenKind::Invite)
        .await?;
    let peeked = peeked.ok_or(Error::NotFound)?;
    let existing = state.store.user_by_email(&peeked.email).await?;
    // Hash before the change starts, so the write lock isn't held through argon2.
    let new_hash = match (&existing, &body.password) {
        (Some(_), _) => None,
        (None, Some(password)) => Some(state.hasher.hash(password).await?),
        (None, None) => {
            return Err(Error::Validation(
                "this address has no account yet: send `password`".into(),
            ));
        }
    };

    let mut change = state.store.change().await?;
    let claimed = change
        .email_token_claim(&token_hash, EmailTokenKind::Invite)
        .await?;
    let invite = claimed.ok_or(Error::NotFound)?;
    let (Some(ws), Some(role)) = (
        invite.workspace_id,
        invite.role.as_deref().and_then(Role::parse),
    ) else {
        return Err(Error::NotFound);
    };
    let user = match (existing, new_hash) {
        (Some(user), _) => user,
        (None, Some(hash)) => change.user_insert(&invite.email, &hash, false).await?,
        (None, None) => return Err(Error::NotFound),
    };
    change.member_add_if_absent(&ws, &user.id, role).await?;
    change
        .commit(AuditEvent {
            workspace_id: Some(ws),
            action: "member.invite_accepted",
            actor_id: Some(user.id.clone()),
            actor_email: Some(user.email.clone()),
            target: Some(user.id.clone()),
            address: Some(addr.to_string()),
            via: Some("invite".into()),
            detail: Some(serde_json::json!({ "role": role, "invited_by": invite.created_by })),
            ..Default::default()
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
