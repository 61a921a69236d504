//! The JSON API under `/api/v1`: one file per resource, handlers named `<resource>_<verb>`,
//! and the OpenAPI document generated from their annotations.

mod audit;
mod auth;
mod extract;
mod invites;
mod members;
mod password_resets;
mod tokens;
mod users;
mod workspaces;

use axum::Router;
use axum::routing::{get, patch, post};
use utoipa::OpenApi;

pub(crate) use extract::normalize_email;

use crate::error::Problem;
use crate::state::SharedState;

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
        invites::invites_create, invites::invites_list, invites::invites_delete,
        invites::invites_accept,
        password_resets::password_resets_create, password_resets::password_resets_confirm,
        audit::audit_list, audit::audit_list_instance,
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
        (name = "audit", description = "The audit log"),
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
        .route("/workspaces/{ws}/audit", get(audit::audit_list))
        .route("/audit", get(audit::audit_list_instance))
}
