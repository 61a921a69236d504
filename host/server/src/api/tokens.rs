//! `/api/v1/tokens`: API tokens for the caller, each scoped to one workspace, shown once.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{ApiJson, rfc3339, validate_name};
use crate::auth::{Actor, ClientAddr, Permission, Secret, Via, authorize};
use crate::error::{Error, Problem, Result};
use crate::state::SharedState;
use crate::store::{AuditEvent, TokenRow, new_id, now_ms};

const MAX_DAYS: u32 = 366;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenCreate {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// The one workspace the token can reach; the caller must be a member.
    pub workspace_id: String,
    /// Lifetime in days, 1 to 366.
    #[schema(minimum = 1, maximum = 366)]
    pub expires_in_days: u32,
}

#[derive(Serialize, ToSchema)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub workspace_id: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub expires_at: String,
    pub revoked: bool,
}

impl From<TokenRow> for TokenView {
    fn from(t: TokenRow) -> Self {
        TokenView {
            id: t.id,
            name: t.name,
            workspace_id: t.workspace_id,
            created_at: rfc3339(t.created_at),
            expires_at: rfc3339(t.expires_at),
            revoked: t.revoked_at.is_some(),
        }
    }
}

/// A new token: the only response that ever carries its secret.
#[derive(Serialize, ToSchema)]
pub struct TokenCreated {
    pub id: String,
    pub name: String,
    pub workspace_id: String,
    pub created_at: String,
    pub expires_at: String,
    /// Send as `Authorization: Bearer <token>`. Shown once; Lathe keeps only a hash.
    pub token: String,
}

fn audit(
    actor: &Actor,
    token: &TokenRow,
    addr: std::net::IpAddr,
    action: &'static str,
) -> AuditEvent {
    AuditEvent {
        workspace_id: Some(token.workspace_id.clone()),
        target: Some(token.id.clone()),
        detail: Some(serde_json::json!({ "name": token.name })),
        ..actor.audit(addr, action)
    }
}

/// Create an API token (from a login session only: a token can't mint tokens).
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = TokenCreate,
    responses(
        (status = 201, body = TokenCreated),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such workspace, or not a member",
            body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn tokens_create(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    ApiJson(body): ApiJson<TokenCreate>,
) -> Result<(StatusCode, Json<TokenCreated>)> {
    if !matches!(actor.via, Via::Session { .. }) {
        return Err(Error::Forbidden("API tokens can't create tokens".into()));
    }
    let name = validate_name("name", &body.name)?;
    if !(1..=MAX_DAYS).contains(&body.expires_in_days) {
        return Err(Error::Validation(format!(
            "`expires_in_days` must be 1 to {MAX_DAYS}"
        )));
    }
    authorize(&state, &actor, &body.workspace_id, Permission::View).await?;

    let secret = Secret::generate("lathe_");
    let lifetime = Duration::from_secs(u64::from(body.expires_in_days) * 24 * 3600);
    let created_at = now_ms();
    let row = TokenRow {
        id: new_id(),
        user_id: actor.user.id.clone(),
        workspace_id: body.workspace_id,
        name,
        created_at,
        expires_at: created_at + i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX / 2),
        revoked_at: None,
    };
    let mut change = state.store.change().await?;
    change.token_insert(&row, &secret.hash()).await?;
    change
        .commit(audit(&actor, &row, addr, "token.create"))
        .await?;

    let created = TokenCreated {
        token: secret.expose().to_string(),
        id: row.id,
        name: row.name,
        workspace_id: row.workspace_id,
        created_at: rfc3339(row.created_at),
        expires_at: rfc3339(row.expires_at),
    };
    Ok((StatusCode::CREATED, Json(created)))
}

/// The caller's tokens, without their secrets.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens",
    responses(
        (status = 200, body = Vec<TokenView>),
    ))]
pub async fn tokens_list(
    State(state): State<SharedState>,
    actor: Actor,
) -> Result<Json<Vec<TokenView>>> {
    let mut tokens = state.store.tokens_list(&actor.user.id).await?;
    // A token sees only its own workspace's tokens, as it sees only that workspace.
    if let Via::Token { workspace_id, .. } = &actor.via {
        tokens.retain(|t| &t.workspace_id == workspace_id);
    }
    Ok(Json(tokens.into_iter().map(TokenView::from).collect()))
}

/// Revoke one of the caller's tokens.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens",
    params(("id" = String, Path, description = "Token id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn tokens_delete(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let token = state
        .store
        .token_get(&actor.user.id, &id)
        .await?
        .filter(|t| match &actor.via {
            Via::Token { workspace_id, .. } => &t.workspace_id == workspace_id,
            Via::Session { .. } => true,
        })
        .ok_or(Error::NotFound)?;
    if token.revoked_at.is_none() {
        let mut change = state.store.change().await?;
        change.token_revoke(&actor.user.id, &id).await?;
        change
            .commit(audit(&actor, &token, addr, "token.revoke"))
            .await?;
    }
    Ok(StatusCode::NO_CONTENT)
}
