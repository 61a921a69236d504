//! What a datasource's connector does on request: test the stored configuration, list the
//! schema for the query editor, and run an ad-hoc query (the builder's preview). Each needs
//! `use` on the datasource and works from the stored configuration only.

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::datasources::{load, require_on};
use super::extract::ApiJson;
use crate::auth::{Actor, ClientAddr, Permission, authorize};
use crate::authz::Action;
use crate::error::{Error, Problem, Result};
use crate::pipeline::{self, RunBody, RunResponse};
use crate::state::SharedState;

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestResult {
    pub ok: bool,
    pub duration_ms: u64,
}

/// Test the stored configuration: open a connection and ask the connector to check it.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/datasources/{id}/test", tag = "datasources",
    params(
        ("ws" = String, Path, description = "Workspace id"),
        ("id" = String, Path, description = "Datasource id"),
    ),
    responses(
        (status = 200, body = TestResult),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 424, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn datasources_test(
    State(state): State<SharedState>,
    actor: Actor,
    Path((ws, id)): Path<(String, String)>,
) -> Result<Json<TestResult>> {
    authorize(&state, &actor, &ws, Permission::Build).await?;
    let row = load(&state, &ws, &id).await?;
    require_on(&state, &actor, &ws, &row, Action::Use).await?;
    let started = std::time::Instant::now();
    let pool = pipeline::pool(&state, &row).await?.pool;
    pool.test().await.map_err(|e| {
        let e = Error::from(e);
        pipeline::note_refusal(&e, &ws, &id);
        e
    })?;
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(Json(TestResult {
        ok: true,
        duration_ms,
    }))
}

/// The datasource's schemas, tables and columns, for the query editor.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/datasources/{id}/schema", tag = "datasources",
    params(
        ("ws" = String, Path, description = "Workspace id"),
        ("id" = String, Path, description = "Datasource id"),
    ),
    responses(
        (status = 200, body = Object),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 424, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn datasources_schema(
    State(state): State<SharedState>,
    actor: Actor,
    Path((ws, id)): Path<(String, String)>,
) -> Result<Json<Value>> {
    authorize(&state, &actor, &ws, Permission::Build).await?;
    let row = load(&state, &ws, &id).await?;
    require_on(&state, &actor, &ws, &row, Action::Use).await?;
    let pool = pipeline::pool(&state, &row).await?.pool;
    let schema = pool.schema().await.map_err(|e| {
        let e = Error::from(e);
        pipeline::note_refusal(&e, &ws, &id);
        e
    })?;
    Ok(Json(lathe_runtime::output::schema_json(schema)))
}

/// Run an ad-hoc query on the datasource: the builder's preview (builders and admins).
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/datasources/{id}/run", tag = "datasources",
    request_body = RunBody,
    params(
        ("ws" = String, Path, description = "Workspace id"),
        ("id" = String, Path, description = "Datasource id"),
    ),
    responses(
        (status = 200, body = RunResponse),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 424, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn datasources_run(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    Path((ws, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<RunBody>,
) -> Result<Json<RunResponse>> {
    let role = authorize(&state, &actor, &ws, Permission::Build).await?;
    let row = load(&state, &ws, &id).await?;
    require_on(&state, &actor, &ws, &row, Action::Use).await?;
    let run = pipeline::Run {
        workspace_id: &ws,
        datasource: &row,
        operation: &body.operation,
        query: &body.query,
        inputs: body.inputs,
        inputs_schema: None,
        app: None,
        role,
        expressions: None,
    };
    pipeline::run(&state, Some(&actor), addr, run)
        .await
        .map(Json)
}
