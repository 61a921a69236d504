//! Expired credentials: API tokens, reset links and invite links past their expiry are refused
//! and change nothing. Expiry is reached by ageing the stored rows, not by waiting days.

mod common;

use common::smtp::SmtpSink;
use common::{ADMIN_EMAIL, ADMIN_PASSWORD, Server};
use serde_json::json;

#[test]
fn an_expired_api_token_is_401() {
    let server = Server::with_admin();
    let admin = server.admin();
    let ws = common::create_workspace(&admin, "Ops");
    let created = admin.post(
        "/api/v1/tokens",
        &json!({ "name": "t", "workspace_id": ws, "expires_in_days": 1 }),
    );
    let token = created.json()["token"].as_str().unwrap().to_string();
    let bearer = admin.with_bearer(&token);
    bearer.get("/api/v1/auth/me").expect_status(200);

    server
        .store
        .execute("UPDATE api_tokens SET expires_at = 1000");
    bearer
        .get("/api/v1/auth/me")
        .expect_problem(401, "unauthenticated");
    bearer
        .get(&format!("/api/v1/workspaces/{ws}"))
        .expect_problem(401, "unauthenticated");
}

#[test]
fn expired_reset_and_invite_links_are_404_and_change_nothing() {
    let sink = SmtpSink::start();
    let server = Server::start_with(&["--smtp-url", &sink.url()]);
    assert!(
        server
            .store
            .admin_create(ADMIN_EMAIL, ADMIN_PASSWORD)
            .status
            .success()
    );
    let admin = server.admin();
    let ws = common::create_workspace(&admin, "Ops");

    let anon = server.client();
    anon.post("/api/v1/auth/reset", &json!({ "email": ADMIN_EMAIL }))
        .expect_status(202);
    let (_, reset) = sink
        .wait_for(ADMIN_EMAIL)
        .link_token("reset-password")
        .unwrap();
    admin
        .post(
            &format!("/api/v1/workspaces/{ws}/invites"),
            &json!({ "email": "late@example.com", "role": "viewer" }),
        )
        .expect_status(202);
    let (_, invite) = sink
        .wait_for("late@example.com")
        .link_token("accept-invite")
        .unwrap();

    server
        .store
        .execute("UPDATE email_tokens SET expires_at = 1000");
    anon.post(
        "/api/v1/auth/reset/confirm",
        &json!({ "token": reset, "new_password": "too late now" }),
    )
    .expect_problem(404, "not-found");
    anon.post(
        "/api/v1/invites/accept",
        &json!({ "token": invite, "password": "too late now" }),
    )
    .expect_problem(404, "not-found");

    let mut c = server.client();
    c.login(ADMIN_EMAIL, ADMIN_PASSWORD).expect_status(200);
    let members = admin
        .get(&format!("/api/v1/workspaces/{ws}/members"))
        .json();
    assert_eq!(members.as_array().unwrap().len(), 1);
    let users = admin.get("/api/v1/users").json();
    assert_eq!(users.as_array().unwrap().len(), 1);
}
