//! Invites and password resets by email, through a local SMTP sink.

mod common;

use common::smtp::SmtpSink;
use common::{ADMIN_EMAIL, ADMIN_PASSWORD, Client, Server};
use serde_json::json;

const BASE: &str = "http://lathe.test:8443";

/// A server that mails through `sink` and believes its public URL is `BASE`.
fn server(sink: &SmtpSink) -> (Server, Client) {
    let server = Server::start_with(&["--smtp-url", &sink.url(), "--base-url", BASE]);
    assert!(
        server
            .store
            .admin_create(ADMIN_EMAIL, ADMIN_PASSWORD)
            .status
            .success()
    );
    let mut admin = server.client();
    admin.origin = Some(BASE.into());
    admin.login(ADMIN_EMAIL, ADMIN_PASSWORD).expect_status(200);
    (server, admin)
}

fn client(server: &Server) -> Client {
    let mut c = server.client();
    c.origin = Some(BASE.into());
    c
}

#[test]
fn an_invite_link_creates_the_account_and_joins_it_once() {
    let sink = SmtpSink::start();
    let (server, admin) = server(&sink);
    let ws = common::create_workspace(&admin, "Ops");

    admin
        .raw(
            "POST",
            &format!("/api/v1/workspaces/{ws}/invites"),
            &[
                ("content-type", "application/json"),
                ("x-forwarded-host", "evil.example"),
            ],
            Some(
                json!({ "email": "New@Example.com", "role": "builder" })
                    .to_string()
                    .into_bytes(),
            ),
        )
        .expect_status(202);
    let mail = sink.wait_for("new@example.com");
    let (link, token) = mail.link_token("accept-invite").expect("invite link");
    assert!(
        link.starts_with(&format!("{BASE}/accept-invite?token=")),
        "{link}"
    );

    let anon = client(&server);
    anon.post("/api/v1/invites/accept", &json!({ "token": token }))
        .expect_problem(422, "validation");
    anon.post(
        "/api/v1/invites/accept",
        &json!({ "token": token, "password": "new user pass" }),
    )
    .expect_status(204);
    anon.post(
        "/api/v1/invites/accept",
        &json!({ "token": token, "password": "new user pass" }),
    )
    .expect_problem(404, "not-found");

    let mut newbie = client(&server);
    newbie
        .login("new@example.com", "new user pass")
        .expect_status(200);
    let me = newbie.get("/api/v1/auth/me").json();
    assert_eq!(me["workspaces"][0]["id"], ws.as_str());
    assert_eq!(me["workspaces"][0]["role"], "builder");

    let audit = admin.get(&format!("/api/v1/workspaces/{ws}/audit"));
    assert!(
        audit.body.contains("member.invite_accepted") && audit.body.contains("\"member.invite\"")
    );
    assert!(!audit.body.contains(&token));
    assert!(!server.logs().contains(&token));
}

/// Invites `email` into `ws` as `role` and returns the token from the mail.
fn invite(sink: &SmtpSink, admin: &Client, ws: &str, email: &str, role: &str) -> String {
    admin
        .post(
            &format!("/api/v1/workspaces/{ws}/invites"),
            &json!({ "email": email, "role": role }),
        )
        .expect_status(202);
    let mail = sink.wait_for(email);
    mail.link_token("accept-invite").expect("invite link").1
}

#[test]
fn pending_invites_are_listed_without_tokens_and_a_revoked_one_cannot_be_accepted() {
    let sink = SmtpSink::start();
    let (server, admin) = server(&sink);
    let ws = common::create_workspace(&admin, "Ops");
    let other_ws = common::create_workspace(&admin, "Elsewhere");
    let viewer_token = invite(&sink, &admin, &ws, "v@example.com", "viewer");
    let builder_token = invite(&sink, &admin, &ws, "b@example.com", "builder");
    let invites = format!("/api/v1/workspaces/{ws}/invites");

    let r = admin.get(&invites);
    r.expect_status(200);
    assert!(!r.body.contains(&viewer_token) && !r.body.contains(&builder_token));
    let listed = r.json();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2, "{}", r.body);
    let fields: Vec<&String> = listed[0].as_object().unwrap().keys().collect();
    assert_eq!(
        fields,
        [
            "id",
            "email",
            "role",
            "invited_by",
            "created_at",
            "expires_at"
        ]
    );
    assert_eq!(
        (&listed[0]["email"], &listed[0]["role"]),
        (&json!("v@example.com"), &json!("viewer"))
    );
    let viewer_invite = listed[0]["id"].as_str().unwrap().to_string();

    // An accepted invite is no longer pending; a builder may neither list nor revoke.
    let mut builder = client(&server);
    builder
        .post(
            "/api/v1/invites/accept",
            &json!({ "token": builder_token, "password": "builder pass" }),
        )
        .expect_status(204);
    builder
        .login("b@example.com", "builder pass")
        .expect_status(200);
    builder.get(&invites).expect_problem(403, "forbidden");
    builder
        .delete(&format!("{invites}/{viewer_invite}"))
        .expect_problem(403, "forbidden");

    // Another workspace's id doesn't reach it; its own does, once.
    admin
        .delete(&format!(
            "/api/v1/workspaces/{other_ws}/invites/{viewer_invite}"
        ))
        .expect_problem(404, "not-found");
    admin
        .delete(&format!("{invites}/{viewer_invite}"))
        .expect_status(204);
    admin
        .delete(&format!("{invites}/{viewer_invite}"))
        .expect_problem(404, "not-found");
    assert_eq!(admin.get(&invites).json(), json!([]));

    client(&server)
        .post(
            "/api/v1/invites/accept",
            &json!({ "token": viewer_token, "password": "viewer pass" }),
        )
        .expect_problem(404, "not-found");
    let audit = admin
        .get(&format!(
            "/api/v1/workspaces/{ws}/audit?action=member.invite_revoked"
        ))
        .json();
    let revoked = &audit["items"][0];
    assert_eq!(revoked["target"], viewer_invite.as_str(), "{audit}");
    assert_eq!(revoked["detail"]["email"], "v@example.com", "{audit}");
    assert!(!audit.to_string().contains(&viewer_token));
}

#[test]
fn an_invite_for_an_existing_account_needs_no_password() {
    let sink = SmtpSink::start();
    let (server, admin) = server(&sink);
    let ws = common::create_workspace(&admin, "Ops");
    admin
        .post(
            "/api/v1/users",
            &json!({ "email": "old@example.com", "password": "old user pass" }),
        )
        .expect_status(201);

    admin
        .post(
            &format!("/api/v1/workspaces/{ws}/invites"),
            &json!({ "email": "old@example.com", "role": "viewer" }),
        )
        .expect_status(202);
    let (_, token) = sink
        .wait_for("old@example.com")
        .link_token("accept-invite")
        .unwrap();
    client(&server)
        .post("/api/v1/invites/accept", &json!({ "token": token }))
        .expect_status(204);
    let members = admin
        .get(&format!("/api/v1/workspaces/{ws}/members"))
        .json();
    assert!(
        members
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["email"] == "old@example.com" && m["role"] == "viewer")
    );
}

#[test]
fn a_reset_link_sets_the_password_once_and_ends_every_session() {
    let sink = SmtpSink::start();
    let (server, admin) = server(&sink);
    let anon = client(&server);
    anon.raw(
        "POST",
        "/api/v1/auth/reset",
        &[
            ("content-type", "application/json"),
            ("host", "evil.example"),
            ("x-forwarded-host", "evil.example"),
        ],
        Some(json!({ "email": ADMIN_EMAIL }).to_string().into_bytes()),
    )
    .expect_status(202);
    let mail = sink.wait_for(ADMIN_EMAIL);
    let (link, token) = mail.link_token("reset-password").expect("reset link");
    assert!(
        link.starts_with(&format!("{BASE}/reset-password?token=")),
        "{link}"
    );

    anon.post(
        "/api/v1/auth/reset/confirm",
        &json!({ "token": token, "new_password": "short" }),
    )
    .expect_problem(422, "validation");
    anon.post(
        "/api/v1/auth/reset/confirm",
        &json!({ "token": token, "new_password": "reset password 1" }),
    )
    .expect_status(204);
    anon.post(
        "/api/v1/auth/reset/confirm",
        &json!({ "token": token, "new_password": "reset password 2" }),
    )
    .expect_problem(404, "not-found");
    admin
        .get("/api/v1/auth/me")
        .expect_problem(401, "unauthenticated");

    let mut c = client(&server);
    c.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        .expect_problem(401, "invalid-credentials");
    c.login(ADMIN_EMAIL, "reset password 1").expect_status(200);
    assert!(!server.logs().contains(&token));
}

#[test]
fn a_reset_for_an_unknown_email_answers_the_same_and_sends_nothing() {
    let sink = SmtpSink::start();
    let (server, _admin) = server(&sink);
    let anon = client(&server);
    let unknown = anon.post(
        "/api/v1/auth/reset",
        &json!({ "email": "ghost@example.com" }),
    );
    let known = anon.post("/api/v1/auth/reset", &json!({ "email": ADMIN_EMAIL }));
    assert_eq!((unknown.status, &unknown.body), (known.status, &known.body));
    sink.wait_for(ADMIN_EMAIL);
    assert!(
        sink.mails()
            .iter()
            .all(|m| !m.recipients.contains(&"ghost@example.com".to_string()))
    );
}

#[test]
fn forged_reset_and_invite_tokens_are_404() {
    let sink = SmtpSink::start();
    let (server, _admin) = server(&sink);
    let anon = client(&server);
    for token in [
        "",
        "00",
        &"f".repeat(64),
        "' OR 1=1 --",
        &"x".repeat(100_000),
    ] {
        anon.post(
            "/api/v1/auth/reset/confirm",
            &json!({ "token": token, "new_password": "whatever 123" }),
        )
        .expect_problem(404, "not-found");
        anon.post(
            "/api/v1/invites/accept",
            &json!({ "token": token, "password": "whatever 123" }),
        )
        .expect_problem(404, "not-found");
    }
}

#[test]
fn reset_requests_are_rate_limited_per_account() {
    let sink = SmtpSink::start();
    let (server, _admin) = server(&sink);
    let anon = client(&server);
    for _ in 0..5 {
        anon.post("/api/v1/auth/reset", &json!({ "email": ADMIN_EMAIL }))
            .expect_status(202);
    }
    let r = anon.post("/api/v1/auth/reset", &json!({ "email": ADMIN_EMAIL }));
    r.expect_problem(429, "rate-limited");
    assert!(r.header("retry-after").is_some());
}

#[test]
fn without_smtp_invites_and_resets_are_refused() {
    let server = Server::with_admin();
    let admin = server.admin();
    let ws = common::create_workspace(&admin, "Ops");
    admin
        .post(
            &format!("/api/v1/workspaces/{ws}/invites"),
            &json!({ "email": "a@example.com", "role": "viewer" }),
        )
        .expect_problem(409, "mail-not-configured");
    server
        .client()
        .post("/api/v1/auth/reset", &json!({ "email": ADMIN_EMAIL }))
        .expect_problem(409, "mail-not-configured");
}

#[test]
fn completing_a_reset_voids_the_other_outstanding_reset_links() {
    let sink = SmtpSink::start();
    let (server, _admin) = server(&sink);
    let anon = client(&server);
    for n in 1..=2 {
        anon.post("/api/v1/auth/reset", &json!({ "email": ADMIN_EMAIL }))
            .expect_status(202);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while sink.mails().len() < n && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    let tokens: Vec<String> = sink
        .mails()
        .iter()
        .filter_map(|m| m.link_token("reset-password").map(|(_, t)| t))
        .collect();
    assert_eq!(tokens.len(), 2);
    anon.post(
        "/api/v1/auth/reset/confirm",
        &json!({ "token": tokens[1], "new_password": "the newest password" }),
    )
    .expect_status(204);
    // The older link, though unexpired and unused, no longer works.
    anon.post(
        "/api/v1/auth/reset/confirm",
        &json!({ "token": tokens[0], "new_password": "an attacker's choice" }),
    )
    .expect_problem(404, "not-found");
    client(&server)
        .login(ADMIN_EMAIL, "the newest password")
        .expect_status(200);
}
