//! The JSON API under `/api/v1`: one file per resource, handlers named `<resource>_<verb>`,
//! and the OpenAPI document generated from their annotations.

mod app_exports;
mod app_versions;
mod apps;
mod audit;
mod auth;
mod constants;
mod datasources;
mod extract;
mod groups;
mod invites;
mod members;
mod password_resets;
mod plugins;
mod runs;
mod schemas;
mod tokens;
mod users;
mod workspaces;

use axum::Router;
use axum::routing::{get, patch, post};
use utoipa::OpenApi;

pub(crate) use datasources::open_secrets;
pub(crate) use extract::normalize_email;

use crate::auth::Actor;
use crate::error::Problem;
use crate::state::SharedState;
use crate::store::AuditEvent;

/// The audit record of a change `actor` made in workspace `ws` to `target`.
pub(super) fn audit_event(
    actor: &Actor,
    ws: &str,
    addr: std::net::IpAddr,
    action: &'static str,
    target: &str,
    detail: serde_json::Value,
) -> AuditEvent {
    AuditEvent {
        workspace_id: Some(ws.to_string()),
        target: Some(target.to_string()),
        detail: Some(detail),
        ..actor.audit(addr, action)
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Lathe API",
        description = "Lathe's JSON API. Errors are application/problem+json."
    ),
    paths(
        auth::auth_login, auth::auth_logout, auth::auth_me, auth::auth_password,
        users::users_create, users::users_list, users::users_update,
        tokens::tokens_create, tokens::tokens_list, tokens::tokens_delete,
        workspaces::workspaces_create, workspaces::workspaces_list,
        workspaces::workspaces_get, workspaces::workspaces_update,
        members::members_list, members::members_create,
        members::members_update, members::members_delete,
        groups::groups_list, groups::groups_create, groups::groups_get, groups::groups_update,
        groups::groups_delete, groups::group_members_list, groups::group_members_create,
        groups::group_members_delete, groups::grants_list, groups::grants_create,
        groups::grants_delete, groups::permissions_me,
        invites::invites_create, invites::invites_list, invites::invites_delete,
        invites::invites_accept,
        password_resets::password_resets_create, password_resets::password_resets_confirm,
        audit::audit_list, audit::audit_list_instance,
        plugins::plugins_list,
        datasources::datasources_list, datasources::datasources_create,
        datasources::datasources_get, datasources::datasources_update,
        datasources::datasources_delete, datasources::datasources_test,
        datasources::datasources_schema, datasources::datasources_run,
        constants::constants_list, constants::constants_create,
        constants::constants_update, constants::constants_delete,
        apps::apps_create, apps::apps_list, apps::apps_get, apps::apps_update, apps::apps_delete,
        app_versions::apps_release, app_versions::app_versions_list,
        app_versions::app_versions_get, app_versions::app_versions_restore,
        app_exports::apps_export, app_exports::apps_import,
        schemas::schemas_app_definition,
        runs::queries_run,
    ),
    components(schemas(Problem)),
    modifiers(&SecuritySchemes, &CommonResponses),
    security(("session" = []), ("bearer" = [])),
    tags(
        (name = "auth", description = "Login sessions"),
        (name = "users", description = "Accounts (instance admins)"),
        (name = "tokens", description = "API tokens"),
        (name = "workspaces", description = "Workspaces"),
        (name = "members", description = "Workspace members and roles"),
        (name = "groups", description = "Custom groups, their grants, and your permissions"),
        (name = "audit", description = "The audit log"),
        (name = "plugins", description = "Installed connectors"),
        (name = "datasources", description = "Datasources: a connector and its configuration"),
        (name = "constants", description = "Workspace constants and secrets"),
        (name = "apps", description = "Apps, their released versions, export and import"),
    )
)]
struct ApiDoc;

/// Declares the two ways to authenticate: the session cookie set by login (unsafe methods also
/// need an `Origin` equal to the base URL) and an API token as a bearer token.
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::auth::SESSION_COOKIE,
            ))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Adds the problem responses every operation of a kind can give, so each handler documents
/// only its own: 400/413/415/422 wherever a JSON body is read, 401 wherever a caller must
/// authenticate, 408 everywhere (request timeout).
struct CommonResponses;

impl utoipa::Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};

        let problem = |description: &str| {
            let content = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build();
            ResponseBuilder::new()
                .description(description)
                .content("application/problem+json", content)
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for op in operations.into_iter().flatten() {
                let mut common = vec![("408", "The request was not completed in time")];
                if op.request_body.is_some() {
                    common.extend([
                        (
                            "400",
                            "Malformed JSON, or a value far over any size it could have \
                             (a password over 512 bytes)",
                        ),
                        ("413", "Request body too large"),
                        ("415", "Not a JSON body"),
                        (
                            "422",
                            "Unknown fields, wrong types or invalid values \
                             (a password outside 8 to 128 characters, say)",
                        ),
                    ]);
                }
                // Operations without their own `security` inherit the document's: they need a
                // session or a token.
                if op.security.is_none() {
                    common.push(("401", "No valid session or API token"));
                }
                for (status, description) in common {
                    op.responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| problem(description).into());
                }
            }
        }
    }
}

/// The OpenAPI document, pretty-printed, as served and as checked into the repository.
pub fn openapi_json() -> String {
    let mut text = ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serialises");
    text.push('\n');
    text
}

async fn openapi_get() -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        openapi_json(),
    )
}

/// Routes under `/api/v1`.
pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/openapi.json", get(openapi_get))
        .route("/auth/login", post(auth::auth_login))
        .route("/auth/logout", post(auth::auth_logout))
        .route("/auth/me", get(auth::auth_me))
        .route("/auth/password", post(auth::auth_password))
        .route("/auth/reset", post(password_resets::password_resets_create))
        .route(
            "/auth/reset/confirm",
            post(password_resets::password_resets_confirm),
        )
        .route(
            "/workspaces/{ws}/invites",
            get(invites::invites_list).post(invites::invites_create),
        )
        .route(
            "/workspaces/{ws}/invites/{id}",
            axum::routing::delete(invites::invites_delete),
        )
        .route("/invites/accept", post(invites::invites_accept))
        .route("/users", get(users::users_list).post(users::users_create))
        .route("/users/{id}", patch(users::users_update))
        .route(
            "/tokens",
            get(tokens::tokens_list).post(tokens::tokens_create),
        )
        .route("/tokens/{id}", axum::routing::delete(tokens::tokens_delete))
        .route(
            "/workspaces",
            get(workspaces::workspaces_list).post(workspaces::workspaces_create),
        )
        .route(
            "/workspaces/{ws}",
            get(workspaces::workspaces_get).patch(workspaces::workspaces_update),
        )
        .route(
            "/workspaces/{ws}/members",
            get(members::members_list).post(members::members_create),
        )
        .route(
            "/workspaces/{ws}/members/{user_id}",
            patch(members::members_update).delete(members::members_delete),
        )
        .route(
            "/workspaces/{ws}/groups",
            get(groups::groups_list).post(groups::groups_create),
        )
        .route(
            "/workspaces/{ws}/groups/{group}",
            get(groups::groups_get)
                .patch(groups::groups_update)
                .delete(groups::groups_delete),
        )
        .route(
            "/workspaces/{ws}/groups/{group}/members",
            get(groups::group_members_list).post(groups::group_members_create),
        )
        .route(
            "/workspaces/{ws}/groups/{group}/members/{user_id}",
            axum::routing::delete(groups::group_members_delete),
        )
        .route(
            "/workspaces/{ws}/groups/{group}/grants",
            get(groups::grants_list).post(groups::grants_create),
        )
        .route(
            "/workspaces/{ws}/groups/{group}/grants/{grant}",
            axum::routing::delete(groups::grants_delete),
        )
        .route(
            "/workspaces/{ws}/permissions/me",
            get(groups::permissions_me),
        )
        .route("/workspaces/{ws}/audit", get(audit::audit_list))
        .route("/audit", get(audit::audit_list_instance))
        .route("/plugins", get(plugins::plugins_list))
        .route(
            "/workspaces/{ws}/datasources",
            get(datasources::datasources_list).post(datasources::datasources_create),
        )
        .route(
            "/workspaces/{ws}/datasources/{id}",
            get(datasources::datasources_get)
                .patch(datasources::datasources_update)
                .delete(datasources::datasources_delete),
        )
        .route(
            "/workspaces/{ws}/datasources/{id}/test",
            post(datasources::datasources_test),
        )
        .route(
            "/workspaces/{ws}/datasources/{id}/schema",
            get(datasources::datasources_schema),
        )
        .route(
            "/workspaces/{ws}/datasources/{id}/run",
            post(datasources::datasources_run),
        )
        .route(
            "/workspaces/{ws}/constants",
            get(constants::constants_list).post(constants::constants_create),
        )
        .route(
            "/workspaces/{ws}/constants/{id}",
            patch(constants::constants_update).delete(constants::constants_delete),
        )
        .merge(apps_router())
        .route(
            "/schemas/app-definition",
            get(schemas::schemas_app_definition),
        )
}

/// The largest request body the app routes read: a definition may be up to
/// [`crate::definition::MAX_BYTES`] as compact JSON, and arrives pretty-printed or wrapped
/// in an import request, so these routes allow more than the server-wide default.
const APP_BODY_LIMIT: usize = 3 * 1024 * 1024;

fn apps_router() -> Router<SharedState> {
    let ws = "/workspaces/{ws}/apps";
    Router::new()
        .route(ws, get(apps::apps_list).post(apps::apps_create))
        .route(&format!("{ws}/import"), post(app_exports::apps_import))
        .route(
            &format!("{ws}/{{app}}"),
            get(apps::apps_get)
                .patch(apps::apps_update)
                .delete(apps::apps_delete),
        )
        .route(
            &format!("{ws}/{{app}}/release"),
            post(app_versions::apps_release),
        )
        .route(
            &format!("{ws}/{{app}}/versions"),
            get(app_versions::app_versions_list),
        )
        .route(
            &format!("{ws}/{{app}}/versions/{{n}}"),
            get(app_versions::app_versions_get),
        )
        .route(
            &format!("{ws}/{{app}}/versions/{{n}}/restore"),
            post(app_versions::app_versions_restore),
        )
        .route(
            &format!("{ws}/{{app}}/export"),
            get(app_exports::apps_export),
        )
        .route(
            &format!("{ws}/{{app}}/queries/{{name}}/run"),
            post(runs::queries_run),
        )
        .layer(axum::extract::DefaultBodyLimit::max(APP_BODY_LIMIT))
}
