//! `/api/v1/workspaces/{ws}/audit` (workspace admins) and `/api/v1/audit` (instance admins,
//! for events outside any workspace such as logins): newest first, filtered, paginated.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{ApiQuery, parse_rfc3339, rfc3339};
use crate::auth::{Actor, Permission, authorize, require_instance_admin};
use crate::authz::{Action, InstanceAction};
use crate::error::{Error, Problem, Result};
use crate::state::SharedState;
use crate::store::{AuditFilter, AuditRow};

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 200;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only this action, e.g. `member.add`.
    pub action: Option<String>,
    /// Only events by this user id.
    pub actor: Option<String>,
    /// Only events at or after this RFC 3339 time.
    pub since: Option<String>,
    /// Only events before this RFC 3339 time.
    pub until: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditView {
    pub id: String,
    /// RFC 3339.
    pub at: String,
    pub workspace_id: Option<String>,
    pub actor_id: Option<String>,
    pub actor_email: Option<String>,
    pub action: String,
    pub target: Option<String>,
    /// The client address the request came from.
    pub address: Option<String>,
    /// How the actor authenticated: `session` or `token:<token id>`.
    pub via: Option<String>,
    pub detail: Option<serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditView>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl From<AuditRow> for AuditView {
    fn from(r: AuditRow) -> Self {
        AuditView {
            id: r.id.to_string(),
            at: rfc3339(r.created_at),
            workspace_id: r.workspace_id,
            actor_id: r.actor_id,
            actor_email: r.actor_email,
            action: r.action,
            target: r.target,
            address: r.address,
            via: r.via,
            detail: r.detail.and_then(|d| serde_json::from_str(&d).ok()),
        }
    }
}

fn filter_from(query: AuditQuery, workspace_id: Option<String>) -> Result<AuditFilter> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Error::BadRequest(format!(
            "`limit` must be 1 to {MAX_LIMIT}"
        )));
    }
    let before_id =
        match query.cursor {
            Some(c) => Some(c.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                Error::BadRequest("`cursor` is not one this API returned".into())
            })?),
            None => None,
        };
    Ok(AuditFilter {
        workspace_id,
        action: query.action,
        actor_id: query.actor,
        since: query
            .since
            .map(|s| parse_rfc3339("since", &s))
            .transpose()?,
        until: query
            .until
            .map(|s| parse_rfc3339("until", &s))
            .transpose()?,
        before_id,
        limit,
    })
}

async fn page(state: &SharedState, filter: AuditFilter) -> Result<AuditPage> {
    // Runs answered before this read are in it: their records may still be on their way
    // from the journal (store/audit_journal.rs).
    state.run_audit.flush().await?;
    let rows = state.store.audit_list(&filter).await?;
    let full = i64::try_from(rows.len()).unwrap_or(i64::MAX) == filter.limit;
    let next_cursor = if full {
        rows.last().map(|r| r.id.to_string())
    } else {
        None
    };
    Ok(AuditPage {
        items: rows.into_iter().map(AuditView::from).collect(),
        next_cursor,
    })
}

/// The workspace's audit log (workspace admins).
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/audit", tag = "audit",
    params(("ws" = String, Path, description = "Workspace id"), AuditQuery),
    responses(
        (status = 200, body = AuditPage),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn audit_list(
    State(state): State<SharedState>,
    actor: Actor,
    Path(ws): Path<String>,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>> {
    authorize(&state, &actor, &ws, Permission::Manage(Action::ReadAudit)).await?;
    let filter = filter_from(query, Some(ws))?;
    Ok(Json(page(&state, filter).await?))
}

/// The whole instance's audit log, including logins (instance admins).
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, body = AuditPage),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn audit_list_instance(
    State(state): State<SharedState>,
    actor: Actor,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>> {
    require_instance_admin(&state, &actor, InstanceAction::ReadAudit)?;
    let filter = filter_from(query, None)?;
    Ok(Json(page(&state, filter).await?))
}
