//! `/api/v1/users`: instance admins create and list accounts.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{ApiJson, normalize_email, rfc3339};
use crate::auth::{Actor, ClientAddr, require_instance_admin, validate_password};
use crate::authz::InstanceAction;
use crate::error::{Error, Problem, Result};
use crate::state::SharedState;
use crate::store::{AuditEvent, UserRow};

#[derive(Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub instance_admin: bool,
    pub disabled: bool,
    /// RFC 3339.
    pub created_at: String,
}

impl From<&UserRow> for UserView {
    fn from(u: &UserRow) -> Self {
        UserView {
            id: u.id.clone(),
            email: u.email.clone(),
            instance_admin: u.is_instance_admin(),
            disabled: u.disabled_at.is_some(),
            created_at: rfc3339(u.created_at),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserCreate {
    pub email: String,
    /// 8 to 128 characters.
    #[schema(min_length = 8, max_length = 128)]
    pub password: String,
    #[serde(default)]
    pub instance_admin: bool,
}

/// Create a user account (instance admins only).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = UserCreate,
    responses(
        (status = 201, body = UserView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn users_create(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    ApiJson(body): ApiJson<UserCreate>,
) -> Result<(StatusCode, Json<UserView>)> {
    require_instance_admin(&state, &actor, InstanceAction::ManageUsers)?;
    let email = normalize_email(&body.email)?;
    validate_password(&body.password)?;

    let hash = state.hasher.hash(&body.password).await?;
    let mut change = state.store.change().await?;
    let user = change
        .user_insert(&email, &hash, body.instance_admin)
        .await?;
    change
        .commit(AuditEvent {
            target: Some(user.id.clone()),
            detail: Some(
                serde_json::json!({ "email": user.email, "instance_admin": body.instance_admin }),
            ),
            ..actor.audit(addr, "user.create")
        })
        .await?;
    Ok((StatusCode::CREATED, Json(UserView::from(&user))))
}

/// List all user accounts (instance admins only).
#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    responses(
        (status = 200, body = Vec<UserView>),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn users_list(
    State(state): State<SharedState>,
    actor: Actor,
) -> Result<Json<Vec<UserView>>> {
    require_instance_admin(&state, &actor, InstanceAction::ManageUsers)?;
    let users = state.store.users_list().await?;
    Ok(Json(users.iter().map(UserView::from).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    /// Disabling ends the user's sessions at once; their API tokens stop working. Left out:
    /// unchanged.
    #[serde(default)]
    pub disabled: Option<bool>,
    /// Makes the user an instance admin, or no longer one, from their next request on. Left
    /// out: unchanged.
    #[serde(default)]
    pub instance_admin: Option<bool>,
}

/// Disable or re-enable a user, or make them an instance admin or not (instance admins).
///
/// Nobody does either to themselves, and a change that would leave no enabled instance
/// admin is a 409.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", request_body = UserUpdate,
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, body = UserView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn users_update(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UserUpdate>,
) -> Result<Json<UserView>> {
    require_instance_admin(&state, &actor, InstanceAction::ManageUsers)?;
    let mut events = Vec::new();
    if id == actor.user.id && body.disabled == Some(true) {
        return Err(Error::Validation("you can't disable yourself".into()));
    }
    if id == actor.user.id && body.instance_admin.is_some() {
        return Err(Error::Validation(
            "you can't change whether you are an instance admin; another instance admin can".into(),
        ));
    }
    if let Some(disabled) = body.disabled {
        events.push(if disabled {
            "user.disable"
        } else {
            "user.enable"
        });
    }
    if let Some(admin) = body.instance_admin {
        events.push(if admin {
            "user.instance_admin_grant"
        } else {
            "user.instance_admin_revoke"
        });
    }
    if events.is_empty() {
        return Err(Error::Validation(
            "nothing to change: send `disabled`, `instance_admin` or both".into(),
        ));
    }
    // NUL never names a user, and PostgreSQL refuses one in a parameter.
    if id.contains('\0') {
        return Err(Error::NotFound);
    }
    state.store.user_by_id(&id).await?.ok_or(Error::NotFound)?;

    let mut change = state.store.change().await?;
    if let Some(disabled) = body.disabled {
        change.user_set_disabled(&id, disabled).await?;
        if disabled {
            change.sessions_delete_for_user(&id, None).await?;
        }
    }
    if let Some(admin) = body.instance_admin {
        change.user_set_instance_admin(&id, admin).await?;
    }
    let event = |action| AuditEvent {
        target: Some(id.clone()),
        ..actor.audit(addr, action)
    };
    let last = events.pop().expect("one change at least");
    for action in events {
        change.record(event(action)).await?;
    }
    change.commit(event(last)).await?;
    let user = state.store.user_by_id(&id).await?.ok_or(Error::NotFound)?;
    Ok(Json(UserView::from(&user)))
}
