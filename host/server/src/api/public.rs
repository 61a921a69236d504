//! `/api/v1/public/workspaces/{ws}/apps/{app}`: public apps for callers who are not signed in.
//! Only an app marked public, and only its current release: its definition, and runs of its
//! released queries with their declared inputs. Every request counts against a per-address
//! limit; every run is an audit record marked anonymous. Anything else, including an app
//! that exists but isn't public, is the same 404.

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::app_access::parse_stored;
use super::extract::ApiJson;
use super::runs::QueryRunBody;
use crate::auth::ClientAddr;
use crate::cache::Released;
use crate::error::{Error, Problem, Result};
use crate::pipeline::{self, AppRef, RunResponse};
use crate::state::SharedState;
use crate::store::Role;

/// A public app's current release.
#[derive(Serialize, ToSchema)]
pub struct PublicAppView {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub version: i64,
    #[schema(value_type = Object)]
    pub definition: Value,
}

/// A public app's released version.
#[utoipa::path(get, path = "/api/v1/public/workspaces/{ws}/apps/{app}", tag = "public",
    security(()),
    params(
        ("ws" = String, Path, description = "Workspace id"),
        ("app" = String, Path, description = "App id or slug"),
    ),
    responses(
        (status = 200, body = PublicAppView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn public_apps_get(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    Path((ws, app)): Path<(String, String)>,
) -> Result<Json<PublicAppView>> {
    state.public_limiter.attempt_from(addr).await?;
    if ws.contains('\0') || app.contains('\0') {
        return Err(Error::NotFound);
    }
    let row = state
        .store
        .app_find(&ws, &app)
        .await?
        .ok_or(Error::NotFound)?;
    let (Some(version), Some(text)) = (row.released_version, &row.released_definition) else {
        return Err(Error::NotFound);
    };
    if row.public != 1 {
        return Err(Error::NotFound);
    }
    Ok(Json(PublicAppView {
        definition: parse_stored(&row.id, text)?,
        id: row.id,
        name: row.name,
        slug: row.slug,
        version,
    }))
}

/// Run a released query of a public app.
#[utoipa::path(post, path = "/api/v1/public/workspaces/{ws}/apps/{app}/queries/{name}/run",
    tag = "public", request_body = QueryRunBody,
    security(()),
    params(
        ("ws" = String, Path, description = "Workspace id"),
        ("app" = String, Path, description = "App id or slug"),
        ("name" = String, Path, description = "The query's name"),
    ),
    responses(
        (status = 200, body = RunResponse),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 424, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn public_queries_run(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    Path((ws, app, name)): Path<(String, String, String)>,
    ApiJson(body): ApiJson<QueryRunBody>,
) -> Result<Json<RunResponse>> {
    state.public_limiter.attempt_from(addr).await?;
    if [&ws, &app, &name].iter().any(|s| s.contains('\0')) {
        return Err(Error::NotFound);
    }
    let epoch = state.sync().await?;
    let query = match state
        .caches
        .released_query(&state.store, epoch, &ws, &app, &name)
        .await?
    {
        Released::Found(query) if query.public => query,
        _ => return Err(Error::NotFound),
    };
    // Anonymous callers send only what the query declares.
    if let Some(Value::Object(inputs)) = &body.inputs {
        let declared = query
            .inputs
            .schema
            .get("properties")
            .and_then(Value::as_object);
        if let Some(extra) = inputs
            .keys()
            .find(|k| !declared.is_some_and(|d| d.contains_key(*k)))
        {
            return Err(Error::Validation(format!(
                "`inputs.{extra}` is not an input this query declares"
            )));
        }
    }
    let datasource = state
        .caches
        .datasource(&state.store, epoch, &ws, &query.query.datasource)
        .await?
        .ok_or(Error::NotFound)?;
    let run = pipeline::Run {
        workspace_id: &ws,
        datasource: &datasource,
        operation: &query.query.operation,
        query: &query.query.query,
        inputs: body.inputs,
        inputs_schema: Some(&query.inputs),
        app: Some(AppRef {
            app_id: &query.app_id,
            query: &name,
            version: query.version,
        }),
        role: Role::Viewer,
        expressions: Some(&query.expressions),
    };
    pipeline::run(&state, None, addr, run).await.map(Json)
}
