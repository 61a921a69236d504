//! The served OpenAPI document is the checked-in one, and every operation it lists is routed.

mod common;

use common::Server;

#[test]
fn served_openapi_document_equals_the_checked_in_copy() {
    let server = Server::start();
    let r = server.client().get("/api/v1/openapi.json");
    r.expect_status(200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let checked_in = include_str!("../../server/openapi.json");
    assert_eq!(r.body, checked_in);
}

#[test]
fn every_documented_operation_is_routed_and_needs_authentication() {
    let server = Server::start();
    let c = server.client();
    let doc = c.get("/api/v1/openapi.json").json();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{ws}", "w")
            .replace("{user_id}", "u")
            .replace("{id}", "i")
            .replace("{app}", "a")
            .replace("{n}", "1");
        for method in item.as_object().unwrap().keys() {
            let r = c.send(&method.to_uppercase(), &concrete, None);
            // Public operations take a JSON body and refuse a request without one.
            let public = [
                "/api/v1/auth/login",
                "/api/v1/auth/reset",
                "/api/v1/auth/reset/confirm",
                "/api/v1/invites/accept",
            ];
            // Published documents anyone may read.
            let open = ["/api/v1/schemas/app-definition"];
            // Public apps: an app that isn't there (or isn't public) is a 404 for everyone.
            let public_apps = "/api/v1/public/";
            if path.starts_with(public_apps) && method == "get" {
                r.expect_problem(404, "not-found");
            } else if path.starts_with(public_apps) || public.contains(&path.as_str()) {
                r.expect_problem(415, "unsupported-media-type");
            } else if open.contains(&path.as_str()) {
                r.expect_status(200);
            } else {
                r.expect_problem(401, "unauthenticated");
            }
            checked += 1;
        }
    }
    assert!(checked >= 18, "only {checked} operations documented");
}
