//! `POST /api/v1/workspaces/{ws}/apps/{app}/queries/{name}/run`: runs a query stored in an
//! app, the released version's (or, for builders and admins, the draft's with
//! `?version=draft`). The client sends only the query's name and its inputs; the query text,
//! the datasource and the inputs schema come from the stored app. A run needs `view` on the
//! app (`edit` for the draft) and `use` on the query's datasource; both are looked up inside
//! the caller's workspace, so neither can come from another tenant.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::extract::{ApiJson, ApiQuery};
use std::sync::Arc;

use crate::auth::{Actor, ClientAddr, Permission, authorize, require};
use crate::authz::{Action, Object};
use crate::cache::{InputsSchema, Released, StoredQuery};
use crate::error::{Error, Problem, Result};
use crate::pipeline::{self, AppRef, RunResponse};
use crate::state::SharedState;
use crate::store::{QueryLookup, Which};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryRunBody {
    /// Values for the query's `{{ inputs.* }}` and browser-state expressions, checked against
    /// its inputs schema.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub inputs: Option<Value>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct QueryRunParams {
    /// `draft` runs the draft's query (builders and admins); by default the released one runs.
    pub version: Option<String>,
    /// With `version=draft`: the draft revision the caller has and means to run. When the
    /// draft has moved on since (someone saved), the run is refused with 409 `draft-changed`
    /// instead of running a query the caller has not seen.
    pub revision: Option<i64>,
}

/// Run a query of an app.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/apps/{app}/queries/{name}/run",
    tag = "apps", request_body = QueryRunBody,
    params(
        ("ws" = String, Path, description = "Workspace id"),
        ("app" = String, Path, description = "App id or slug"),
        ("name" = String, Path, description = "The query's name"),
        QueryRunParams,
    ),
    responses(
        (status = 200, body = RunResponse),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 424, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn queries_run(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    actor: Actor,
    Path((ws, app, name)): Path<(String, String, String)>,
    ApiQuery(params): ApiQuery<QueryRunParams>,
    ApiJson(body): ApiJson<QueryRunBody>,
) -> Result<Json<RunResponse>> {
    let role = authorize(&state, &actor, &ws, Permission::View).await?;
    if params.revision.is_some() && params.version.as_deref() != Some("draft") {
        return Err(Error::BadRequest(
            "`revision` applies to draft runs only (`version=draft`)".into(),
        ));
    }
    let which = match params.version.as_deref() {
        None | Some("released") => Which::Released,
        Some("draft") => Which::Draft,
        Some(_) => {
            return Err(Error::BadRequest(
                "`version` must be `draft` or `released`".into(),
            ));
        }
    };
    let query = match which {
        Which::Released => {
            match state
                .caches
                .released_query(&state.store, actor.epoch, &ws, &app, &name)
                .await?
            {
                Released::Found(query) => query,
                Released::Missing => return Err(Error::NotFound),
            }
        }
        Which::Draft => {
            // Whether the app exists and may be edited is answered before anything about its
            // draft's queries: a caller who may not open the app learns nothing from this.
            super::app_access::find_editable(&state, &actor, &ws, &app).await?;
            draft_query(&state, &ws, &app, &name, params.revision).await?
        }
    };
    // The app and the datasource are both checked: the right to open an app is not the
    // right to use every datasource its queries name.
    let app_object = Object::App(Some(query.app_id.clone()));
    match which {
        Which::Released => {
            require(&state, &actor, &ws, &app_object, Action::View, "this app").await?
        }
        Which::Draft => {
            // A draft's query is whatever its editor wrote: running it is a preview, which
            // needs `build` like any other.
            require(
                &state,
                &actor,
                &ws,
                &app_object,
                Action::Edit,
                "this app (its draft)",
            )
            .await?;
            require(
                &state,
                &actor,
                &ws,
                &Object::Workspace,
                Action::Build,
                "the workspace",
            )
            .await?
        }
    }
    let datasource = state
        .caches
        .datasource(&state.store, actor.epoch, &ws, &query.query.datasource)
        .await?
        .ok_or_else(|| {
            Error::Validation(format!(
                "query `{name}` uses datasource `{}`, which this workspace doesn't have",
                query.query.datasource
            ))
        })?;
    require(
        &state,
        &actor,
        &ws,
        &Object::Datasource(Some(datasource.id.clone())),
        Action::Use,
        &format!("datasource `{}`", datasource.name),
    )
    .await?;
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
        role,
        expressions: Some(&query.expressions),
    };
    pipeline::run(&state, Some(&actor), addr, run)
        .await
        .map(Json)
}

/// The draft's query, read and compiled for this run: drafts change with every save, so
/// they are not cached. With `expected`, the draft must still be at that revision.
async fn draft_query(
    state: &SharedState,
    ws: &str,
    app: &str,
    name: &str,
    expected: Option<i64>,
) -> Result<Arc<StoredQuery>> {
    let found = match state.store.app_query(ws, app, Which::Draft, name).await? {
        QueryLookup::Found(found) => found,
        QueryLookup::NoApp | QueryLookup::NotReleased | QueryLookup::NoQuery => {
            return Err(Error::NotFound);
        }
    };
    if let (Some(expected), Some(now)) = (expected, found.draft_revision)
        && expected != now
    {
        return Err(Error::DraftChanged(format!(
            "the draft is at revision {now}, not {expected} which you are running: someone \
             saved it since; reload it to see and run their version"
        )));
    }
    let inputs = InputsSchema::compile(found.query.inputs.clone())?;
    Ok(Arc::new(StoredQuery {
        public: found.public,
        app_id: found.app_id,
        version: None,
        query: found.query,
        inputs,
        expressions: Default::default(),
    }))
}
