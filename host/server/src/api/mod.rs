//! The JSON API under `/api/v1`: one file per resource, handlers named `<resource>_<verb>`,
//! and the OpenAPI document generated from their annotations.

mod app_access;
mod app_exports;
mod app_versions;
mod apps;
mod audit;
mod auth;
mod constants;
mod datasource_actions;
mod datasources;
mod extract;
mod grants;
mod groups;
mod invites;
mod members;
mod password_resets;
mod plugins;
mod public;
mod registries;
mod runs;
mod schemas;
mod settings;
mod tokens;
mod users;
mod workspaces;

use axum::Router;
use axum::routing::{MethodRouter, delete, get, patch, post};
use utoipa::OpenApi;

pub(crate) use datasources::open_secrets;
pub(crate) use extract::normalize_email;

use crate::auth::{Access, Actor, Gate};
use crate::error::Problem;
use crate::http::Around;
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
        groups::group_members_delete, grants::grants_list, grants::grants_create,
        grants::grants_delete, grants::role_grants_list, grants::role_grants_create,
        grants::role_grants_delete, grants::permissions_me,
        invites::invites_create, invites::invites_list, invites::invites_delete,
        invites::invites_accept,
        password_resets::password_resets_create, password_resets::password_resets_confirm,
        audit::audit_list, audit::audit_list_instance,
        plugins::plugins_list, plugins::plugins_install, plugins::plugins_rollback,
        plugins::plugins_delete,
        registries::registries_list, registries::registries_create,
        registries::registries_update, registries::registries_delete,
        registries::registry_packages_list,
        registries::trusted_keys_list, registries::trusted_keys_create,
        registries::trusted_keys_delete,
        settings::settings_egress_get, settings::settings_egress_update,
        datasources::datasources_list, datasources::datasources_create,
        datasources::datasources_get, datasources::datasources_update,
        datasources::datasources_delete, datasource_actions::datasources_test,
        datasource_actions::datasources_schema, datasource_actions::datasources_run,
        constants::constants_list, constants::constants_create,
        constants::constants_update, constants::constants_delete,
        apps::apps_create, apps::apps_list, apps::apps_get, apps::apps_update, apps::apps_delete,
        app_versions::apps_release, app_versions::app_versions_list,
        app_versions::app_versions_get, app_versions::app_versions_restore,
        app_exports::apps_export, app_exports::apps_import,
        schemas::schemas_app_definition,
        runs::queries_run,
        public::public_apps_get, public::public_queries_run,
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
        (name = "plugins", description = "Connectors: installed, installing, updating, removing"),
        (name = "registries", description = "Plugin registries and trusted publisher keys"),
        (name = "settings", description = "Instance settings"),
        (name = "datasources", description = "Datasources: a connector and its configuration"),
        (name = "constants", description = "Workspace constants and secrets"),
        (name = "apps", description = "Apps, their released versions, export and import"),
        (name = "public", description = "Public apps, for callers who are not signed in"),
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

/// Every route under `/api/v1` with who may reach it at all. [`router`] builds the API from
/// this table alone and puts every route behind the enforcement point with its access; a
/// test compares the table with the OpenAPI document, so no route exists without a decision
/// here. Inside, handlers ask the workspace policy what the caller may do.
pub(crate) fn routes() -> Vec<(&'static str, Access, MethodRouter<SharedState>)> {
    use Access::{Member, MemberOrInstanceAdmin, Public, SignedIn};
    vec![
        ("/openapi.json", Public, get(openapi_get)),
        (
            "/schemas/app-definition",
            Public,
            get(schemas::schemas_app_definition),
        ),
        ("/auth/login", Public, post(auth::auth_login)),
        ("/auth/logout", SignedIn, post(auth::auth_logout)),
        ("/auth/me", SignedIn, get(auth::auth_me)),
        ("/auth/password", SignedIn, post(auth::auth_password)),
        (
            "/auth/reset",
            Public,
            post(password_resets::password_resets_create),
        ),
        (
            "/auth/reset/confirm",
            Public,
            post(password_resets::password_resets_confirm),
        ),
        ("/invites/accept", Public, post(invites::invites_accept)),
        (
            "/public/workspaces/{ws}/apps/{app}",
            Public,
            get(public::public_apps_get),
        ),
        (
            "/public/workspaces/{ws}/apps/{app}/queries/{name}/run",
            Public,
            post(public::public_queries_run),
        ),
        (
            "/users",
            SignedIn,
            get(users::users_list).post(users::users_create),
        ),
        ("/users/{id}", SignedIn, patch(users::users_update)),
        (
            "/tokens",
            SignedIn,
            get(tokens::tokens_list).post(tokens::tokens_create),
        ),
        ("/tokens/{id}", SignedIn, delete(tokens::tokens_delete)),
        ("/audit", SignedIn, get(audit::audit_list_instance)),
        (
            "/plugins",
            SignedIn,
            get(plugins::plugins_list).post(plugins::plugins_install),
        ),
        ("/plugins/{id}", SignedIn, delete(plugins::plugins_delete)),
        (
            "/plugins/{id}/rollback",
            SignedIn,
            post(plugins::plugins_rollback),
        ),
        (
            "/registries",
            SignedIn,
            get(registries::registries_list).post(registries::registries_create),
        ),
        (
            "/registries/{id}",
            SignedIn,
            patch(registries::registries_update).delete(registries::registries_delete),
        ),
        (
            "/registries/{id}/packages",
            SignedIn,
            get(registries::registry_packages_list),
        ),
        (
            "/trusted-keys",
            SignedIn,
            get(registries::trusted_keys_list).post(registries::trusted_keys_create),
        ),
        (
            "/trusted-keys/{id}",
            SignedIn,
            delete(registries::trusted_keys_delete),
        ),
        (
            "/settings/egress",
            SignedIn,
            get(settings::settings_egress_get).put(settings::settings_egress_update),
        ),
        (
            "/workspaces",
            SignedIn,
            get(workspaces::workspaces_list).post(workspaces::workspaces_create),
        ),
        (
            "/workspaces/{ws}",
            Member,
            get(workspaces::workspaces_get).patch(workspaces::workspaces_update),
        ),
        (
            "/workspaces/{ws}/members",
            MemberOrInstanceAdmin,
            get(members::members_list).post(members::members_create),
        ),
        (
            "/workspaces/{ws}/members/{user_id}",
            MemberOrInstanceAdmin,
            patch(members::members_update).delete(members::members_delete),
        ),
        (
            "/workspaces/{ws}/invites",
            Member,
            get(invites::invites_list).post(invites::invites_create),
        ),
        (
            "/workspaces/{ws}/invites/{id}",
            Member,
            delete(invites::invites_delete),
        ),
        (
            "/workspaces/{ws}/groups",
            Member,
            get(groups::groups_list).post(groups::groups_create),
        ),
        (
            "/workspaces/{ws}/groups/{group}",
            Member,
            get(groups::groups_get)
                .patch(groups::groups_update)
                .delete(groups::groups_delete),
        ),
        (
            "/workspaces/{ws}/groups/{group}/members",
            Member,
            get(groups::group_members_list).post(groups::group_members_create),
        ),
        (
            "/workspaces/{ws}/groups/{group}/members/{user_id}",
            Member,
            delete(groups::group_members_delete),
        ),
        (
            "/workspaces/{ws}/groups/{group}/grants",
            Member,
            get(grants::grants_list).post(grants::grants_create),
        ),
        (
            "/workspaces/{ws}/groups/{group}/grants/{grant}",
            Member,
            delete(grants::grants_delete),
        ),
        (
            "/workspaces/{ws}/roles/{role}/grants",
            Member,
            get(grants::role_grants_list).post(grants::role_grants_create),
        ),
        (
            "/workspaces/{ws}/roles/{role}/grants/{grant}",
            Member,
            delete(grants::role_grants_delete),
        ),
        (
            "/workspaces/{ws}/permissions/me",
            Member,
            get(grants::permissions_me),
        ),
        ("/workspaces/{ws}/audit", Member, get(audit::audit_list)),
        (
            "/workspaces/{ws}/datasources",
            Member,
            get(datasources::datasources_list).post(datasources::datasources_create),
        ),
        (
            "/workspaces/{ws}/datasources/{id}",
            Member,
            get(datasources::datasources_get)
                .patch(datasources::datasources_update)
                .delete(datasources::datasources_delete),
        ),
        (
            "/workspaces/{ws}/datasources/{id}/test",
            Member,
            post(datasource_actions::datasources_test),
        ),
        (
            "/workspaces/{ws}/datasources/{id}/schema",
            Member,
            get(datasource_actions::datasources_schema),
        ),
        (
            "/workspaces/{ws}/datasources/{id}/run",
            Member,
            post(datasource_actions::datasources_run),
        ),
        (
            "/workspaces/{ws}/constants",
            Member,
            get(constants::constants_list).post(constants::constants_create),
        ),
        (
            "/workspaces/{ws}/constants/{id}",
            Member,
            patch(constants::constants_update).delete(constants::constants_delete),
        ),
        (
            "/workspaces/{ws}/apps",
            Member,
            app_body(get(apps::apps_list).post(apps::apps_create)),
        ),
        (
            "/workspaces/{ws}/apps/import",
            Member,
            app_body(post(app_exports::apps_import)),
        ),
        (
            "/workspaces/{ws}/apps/{app}",
            Member,
            app_body(
                get(apps::apps_get)
                    .patch(apps::apps_update)
                    .delete(apps::apps_delete),
            ),
        ),
        (
            "/workspaces/{ws}/apps/{app}/release",
            Member,
            app_body(post(app_versions::apps_release)),
        ),
        (
            "/workspaces/{ws}/apps/{app}/versions",
            Member,
            app_body(get(app_versions::app_versions_list)),
        ),
        (
            "/workspaces/{ws}/apps/{app}/versions/{n}",
            Member,
            app_body(get(app_versions::app_versions_get)),
        ),
        (
            "/workspaces/{ws}/apps/{app}/versions/{n}/restore",
            Member,
            app_body(post(app_versions::app_versions_restore)),
        ),
        (
            "/workspaces/{ws}/apps/{app}/export",
            Member,
            app_body(get(app_exports::apps_export)),
        ),
        (
            "/workspaces/{ws}/apps/{app}/queries/{name}/run",
            Member,
            app_body(post(runs::queries_run)),
        ),
    ]
}

/// The API's routes, each behind the enforcement point and at its full path under
/// [`PREFIX`]. The server's router takes them as its own rather than nesting them: a nested
/// router matches every request a second time and rebuilds its URI without the prefix, work
/// every query run paid for.
pub fn router(state: &SharedState) -> Router<SharedState> {
    let mut router = Router::new();
    for (path, access, methods) in routes() {
        let path = format!("{PREFIX}{path}");
        let gate = Gate::new(state.clone(), access);
        router = router.route(&path, methods.route_layer(Around(gate)));
    }
    router
}

/// Where the API lives; [`routes`] are relative to it.
pub const PREFIX: &str = "/api/v1";

/// The largest request body the app routes read: a definition may be up to
/// [`crate::definition::MAX_BYTES`] as compact JSON, and arrives pretty-printed or wrapped
/// in an import request, so these routes allow more than the server-wide default.
const APP_BODY_LIMIT: usize = 3 * 1024 * 1024;

/// Every route under this template reads app definitions, with [`APP_BODY_LIMIT`].
const APP_ROUTES: &str = "/api/v1/workspaces/{ws}/apps";

fn app_body(methods: MethodRouter<SharedState>) -> MethodRouter<SharedState> {
    methods.layer(axum::extract::DefaultBodyLimit::max(APP_BODY_LIMIT))
}

/// The body limit of the matched route `template`, for the edge to refuse a declared body
/// over it at once (the routes' `DefaultBodyLimit` enforces it on what is read): the app
/// routes' when it is one of them, `default` otherwise.
pub fn body_limit(template: Option<&str>, default: usize) -> usize {
    let app_route = template.is_some_and(|t| {
        t.strip_prefix(APP_ROUTES)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    });
    if app_route {
        default.max(APP_BODY_LIMIT)
    } else {
        default
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The routes anyone may call without signing in, named here on purpose: adding one is a
    /// decision this test makes visible.
    const PUBLIC: &[&str] = &[
        "/openapi.json",
        "/schemas/app-definition",
        "/auth/login",
        "/auth/reset",
        "/auth/reset/confirm",
        "/invites/accept",
        "/public/workspaces/{ws}/apps/{app}",
        "/public/workspaces/{ws}/apps/{app}/queries/{name}/run",
    ];

    #[test]
    fn every_route_is_in_the_table_with_its_access_and_public_ones_are_listed() {
        let doc: serde_json::Value = serde_json::from_str(&openapi_json()).unwrap();
        let documented: BTreeSet<String> = doc["paths"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|p| p.as_str() != "/api/v1/openapi.json")
            .map(|p| p.trim_start_matches("/api/v1").to_string())
            .collect();
        let table = routes();
        let routed: BTreeSet<String> = table
            .iter()
            .map(|(path, _, _)| path.to_string())
            .filter(|p| p != "/openapi.json")
            .collect();
        assert_eq!(
            routed, documented,
            "the route table and the OpenAPI document differ"
        );
        assert_eq!(
            table.len(),
            routed.len() + 1,
            "a path is in the table twice"
        );

        let public: BTreeSet<&str> = table
            .iter()
            .filter(|(_, access, _)| *access == Access::Public)
            .map(|(path, _, _)| *path)
            .collect();
        assert_eq!(public, PUBLIC.iter().copied().collect());
        // A workspace route is reachable only by the workspace's members, but for its members
        // routes, which instance admins reach too (api/members.rs).
        let instance_reach = [
            "/workspaces/{ws}/members",
            "/workspaces/{ws}/members/{user_id}",
        ];
        for (path, access, _) in &table {
            let expected = match () {
                _ if instance_reach.contains(path) => Some(Access::MemberOrInstanceAdmin),
                _ if path.starts_with("/workspaces/{ws}") => Some(Access::Member),
                _ => None,
            };
            if let Some(expected) = expected {
                assert_eq!(*access, expected, "{path}");
            } else {
                assert!(
                    !matches!(access, Access::Member | Access::MemberOrInstanceAdmin),
                    "{path} is {access:?}"
                );
            }
        }
    }
}
