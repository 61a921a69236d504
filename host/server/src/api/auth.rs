//! `/api/v1/auth`: login, logout, me.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{ApiJson, normalize_email};
use super::users::UserView;
use super::workspaces::WorkspaceView;
use crate::auth::{
    Actor, ClientAddr, SESSION_COOKIE, Secret, Via, check_password_size, hash_secret,
    session_cookies_from, validate_password,
};
use crate::error::{Error, Problem, Result};
use crate::state::SharedState;
use crate::store::{AuditEvent, UserRow, now_ms};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// The caller and the workspaces they can reach, with their role in each.
#[derive(Serialize, ToSchema)]
pub struct Me {
    pub user: UserView,
    pub workspaces: Vec<WorkspaceView>,
}

/// Log in with email and password; sets a new session cookie.
#[utoipa::path(post, path = "/api/v1/auth/login",
    security(()), tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in; the session cookie is set", body = Me),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No instance admin exists yet",
            body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn auth_login(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Response> {
    check_password_size(&body.password)?;
    if let Some(origin) = headers.get(header::ORIGIN)
        && origin.as_bytes() != state.settings.origin.as_bytes()
    {
        return Err(Error::CsrfRejected);
    }
    if !state.store.instance_admin_exists().await? {
        return Err(Error::SetupRequired);
    }
    // Something that isn't an email can't match an account. It still counts against the
    // client address, but it never becomes a key of the per-account counter: arbitrary
    // request text as keys would let a client grow that map without bound.
    let Ok(email) = normalize_email(&body.email) else {
        state.limiter.attempt_from(addr).await?;
        audit_failed_login(&state, addr, None, "unknown-account").await?;
        return Err(Error::InvalidCredentials);
    };
    state.limiter.attempt(&email, addr).await?;

    let user = state.store.user_by_email(&email).await?;
    let matches = state
        .hasher
        .verify(
            &body.password,
            user.as_ref().map(|u| u.password_hash.as_str()),
        )
        .await?;
    let user = match user {
        Some(user) if matches && user.disabled_at.is_none() => user,
        found => {
            state.limiter.failed(&email).await?;
            let reason = match &found {
                None => "unknown-account",
                Some(u) if matches && u.disabled_at.is_some() => "disabled",
                Some(_) => "wrong-password",
            };
            audit_failed_login(&state, addr, found.as_ref(), reason).await?;
            return Err(Error::InvalidCredentials);
        }
    };
    state.limiter.succeeded(&email).await?;

    // Rotate: a session id the browser already had (possibly planted) never survives a login.
    state.store.sessions_delete_expired().await?;
    let session = Secret::generate("");
    let ttl = state.settings.session_ttl;
    let expires_at = now_ms() + i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2);
    let mut change = state.store.change().await?;
    change
        .session_insert(&session.hash(), &user.id, expires_at)
        .await?;
    for old in session_cookies_from(&headers) {
        change.session_delete(&hash_secret(&old)).await?;
    }
    change
        .commit(AuditEvent {
            action: "auth.login",
            via: Some("password".into()),
            actor_id: Some(user.id.clone()),
            actor_email: Some(user.email.clone()),
            address: Some(addr.to_string()),
            ..Default::default()
        })
        .await?;

    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        session.expose(),
        ttl.as_secs(),
        if state.settings.secure_cookies {
            "; Secure"
        } else {
            ""
        }
    );
    let me = me_for(
        &state,
        &Actor {
            user,
            via: Via::Session {
                id_hash: session.hash(),
            },
            epoch: state.sync().await?,
        },
    )
    .await?;
    let mut response = axum::Json(me).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(anyhow::Error::from)?,
    );
    Ok(response)
}

/// Records a failed login. The record names the account (as its target: whoever tried is
/// unknown) only when the store has one; what was typed into the email field is never kept,
/// since a user who typed their password there would otherwise find it in the audit log.
async fn audit_failed_login(
    state: &SharedState,
    addr: std::net::IpAddr,
    account: Option<&UserRow>,
    reason: &'static str,
) -> Result<()> {
    state
        .store
        .audit_append(AuditEvent {
            action: "auth.login_failed",
            target: account.map(|u| u.id.clone()),
            address: Some(addr.to_string()),
            via: Some("password".into()),
            detail: Some(serde_json::json!({ "reason": reason })),
            ..Default::default()
        })
        .await
}

/// End the current session and clear its cookie.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses(
        (status = 204, description = "Logged out"),
        (status = 400, description = "Called with an API token",
            body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn auth_logout(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
) -> Result<Response> {
    let Via::Session { id_hash } = &actor.via else {
        return Err(Error::BadRequest(
            "logout ends a cookie session; revoke API tokens instead".into(),
        ));
    };
    let mut change = state.store.change().await?;
    change.session_delete(id_hash).await?;
    change
        .commit(AuditEvent {
            ..actor.audit(addr, "auth.logout")
        })
        .await?;

    let clear = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&clear).map_err(anyhow::Error::from)?,
    );
    Ok(response)
}

/// The caller and their workspaces. With an API token, only the token's workspace.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth",
    responses(
        (status = 200, body = Me),
    ))]
pub async fn auth_me(State(state): State<SharedState>, actor: Actor) -> Result<axum::Json<Me>> {
    Ok(axum::Json(me_for(&state, &actor).await?))
}

async fn me_for(state: &SharedState, actor: &Actor) -> Result<Me> {
    let mut workspaces = state.store.workspaces_for_user(&actor.user.id).await?;
    if let Via::Token { workspace_id, .. } = &actor.via {
        workspaces.retain(|w| &w.id == workspace_id);
    }
    Ok(Me {
        user: UserView::from(&actor.user),
        workspaces: workspaces.into_iter().map(WorkspaceView::from).collect(),
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    /// 8 to 128 characters.
    #[schema(min_length = 8, max_length = 128)]
    pub new_password: String,
}

/// Change the caller's password; every other session of theirs ends.
#[utoipa::path(post, path = "/api/v1/auth/password", tag = "auth", request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed; other sessions ended"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn auth_password(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    ApiJson(body): ApiJson<PasswordChange>,
) -> Result<StatusCode> {
    let Via::Session { id_hash } = &actor.via else {
        return Err(Error::Forbidden(
            "change a password from a login session".into(),
        ));
    };
    check_password_size(&body.current_password)?;
    validate_password(&body.new_password)?;
    // Guessing the current password through this route counts like failed logins.
    state.limiter.attempt(&actor.user.email, addr).await?;
    let current = Some(actor.user.password_hash.as_str());
    if !state.hasher.verify(&body.current_password, current).await? {
        state.limiter.failed(&actor.user.email).await?;
        return Err(Error::InvalidCredentials);
    }

    let hash = state.hasher.hash(&body.new_password).await?;
    let mut change = state.store.change().await?;
    change.user_set_password(&actor.user.id, &hash).await?;
    change
        .email_tokens_void(&actor.user.email, crate::store::EmailTokenKind::Reset)
        .await?;
    change
        .sessions_delete_for_user(&actor.user.id, Some(id_hash))
        .await?;
    change
        .commit(AuditEvent {
            target: Some(actor.user.id.clone()),
            ..actor.audit(addr, "auth.password_change")
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
