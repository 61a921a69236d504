//! `/api/v1/auth/reset`: password reset by email. Asking for a reset answers the same for
//! known and unknown addresses; the emailed token is single-use and expires in 30 minutes;
//! using it sets the password and ends every session of the account.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::extract::{ApiJson, normalize_email};
use crate::auth::{ClientAddr, PASSWORD_MAX_CHARS, Secret, hash_secret, validate_password};
use crate::error::{Error, Problem, Result};
use crate::state::SharedState;
use crate::store::{AuditEvent, EmailTokenKind, NewEmailToken, now_ms};

const RESET_TTL: Duration = Duration::from_secs(30 * 60);

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    pub email: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirm {
    /// The token from the emailed link.
    pub token: String,
    /// 8 to 128 characters.
    #[schema(min_length = 8, max_length = 128)]
    pub new_password: String,
}

/// Email a password-reset link. Answers 202 whether or not the address has an account.
#[utoipa::path(post, path = "/api/v1/auth/reset",
    security(()), tag = "auth", request_body = ResetRequest,
    responses(
        (status = 202, description = "If the address has an account, a link is on its way"),
        (status = 409, description = "Email is not configured",
            body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn password_resets_create(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    ApiJson(body): ApiJson<ResetRequest>,
) -> Result<StatusCode> {
    let mailer = state.mailer.as_ref().ok_or(Error::MailNotConfigured)?;
    let email = normalize_email(&body.email)?;
    state.reset_limiter.attempt(&email, addr).await?;
    // Every request counts against the account, so nobody can flood one inbox.
    state.reset_limiter.failed(&email).await?;

    let user = state.store.user_by_email(&email).await?;
    let Some(user) = user.filter(|u| u.disabled_at.is_none()) else {
        return Ok(StatusCode::ACCEPTED);
    };
    let token = Secret::generate("");
    let expires_at = now_ms() + i64::try_from(RESET_TTL.as_millis()).unwrap_or(0);
    let new = NewEmailToken {
        kind: EmailTokenKind::Reset,
        email: &user.email,
        workspace_id: None,
        role: None,
        created_by: None,
        expires_at,
    };
    let mut change = state.store.change().await?;
    change.email_token_insert(new, &token.hash()).await?;
    change
        .commit(AuditEvent {
            action: "auth.reset_requested",
            actor_email: Some(user.email.clone()),
            target: Some(user.id.clone()),
            address: Some(addr.to_string()),
            ..Default::default()
        })
        .await?;

    let link = state.settings.link("reset-password", token.expose());
    let text = format!(
        "Someone asked to reset the password of your Lathe account.\n\n\
         To choose a new password, open this link within 30 minutes:\n\n{link}\n\n\
         If it wasn't you, ignore this email; your password stays as it is.\n"
    );
    mailer.send(&user.email, "Reset your Lathe password", text);
    Ok(StatusCode::ACCEPTED)
}

/// Set a new password with an emailed reset token; ends every session of the account.
#[utoipa::path(post, path = "/api/v1/auth/reset/confirm",
    security(()), tag = "auth", request_body = ResetConfirm,
    responses(
        (status = 204, description = "Password changed"),
        (status = 404, description = "Unknown, used or expired token",
            body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn password_resets_confirm(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    ApiJson(body): ApiJson<ResetConfirm>,
) -> Result<StatusCode> {
    if body.token.len() > PASSWORD_MAX_CHARS {
        return Err(Error::NotFound);
    }
    validate_password(&body.new_password)?;
    let token_hash = hash_secret(&body.token);
    // A forged token costs one lookup, not a password hash.
    let peeked = state
        .store
        .email_token_peek(&token_hash, EmailTokenKind::Reset)
        .await?;
    let peeked = peeked.ok_or(Error::NotFound)?;
    let user = state
        .store
        .user_by_email(&peeked.email)
        .await?
        .ok_or(Error::NotFound)?;
    let hash = state.hasher.hash(&body.new_password).await?;
    // Before the change, so that nothing can fail after it commits. Only a holder of a live
    // token gets here.
    state.limiter.succeeded(&user.email).await?;

    let mut change = state.store.change().await?;
    let claimed = change
        .email_token_claim(&token_hash, EmailTokenKind::Reset)
        .await?;
    claimed.ok_or(Error::NotFound)?;
    change.user_set_password(&user.id, &hash).await?;
    change
        .email_tokens_void(&user.email, EmailTokenKind::Reset)
        .await?;
    change.sessions_delete_for_user(&user.id, None).await?;
    change
        .commit(AuditEvent {
            action: "auth.reset_completed",
            via: Some("reset-link".into()),
            actor_id: Some(user.id.clone()),
            actor_email: Some(user.email.clone()),
            target: Some(user.id.clone()),
            address: Some(addr.to_string()),
            ..Default::default()
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
