//! Accounts, login sessions, CSRF, rate limits and API tokens, through the real binary.

mod common;

use std::time::{Duration, Instant};

use common::{ADMIN_EMAIL, ADMIN_PASSWORD, Server};
use serde_json::json;

#[test]
fn admin_create_refuses_bad_passwords_and_duplicate_emails() {
    let server = Server::start();
    let short = server.store.admin_create("a@example.com", "short");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 8"));

    let ok = server.store.admin_create("a@example.com", ADMIN_PASSWORD);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let again = server.store.admin_create("A@Example.com", ADMIN_PASSWORD);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

#[test]
fn login_sets_an_httponly_lax_session_cookie_and_me_returns_the_user() {
    let server = Server::with_admin();
    let mut c = server.client();
    let r = c.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    r.expect_status(200);
    let cookie = r.header("set-cookie").unwrap();
    assert!(cookie.starts_with("lathe_session="));
    assert!(cookie.contains("HttpOnly"));
    assert!(cookie.contains("SameSite=Lax"));
    assert!(cookie.contains("Path=/"));
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP base URL must not set Secure"
    );
    assert!(
        !r.body.contains(c.cookie.as_deref().unwrap()),
        "session id must not be in the body"
    );

    let me = c.get("/api/v1/auth/me");
    me.expect_status(200);
    let me = me.json();
    assert_eq!(me["user"]["email"], ADMIN_EMAIL);
    assert_eq!(me["user"]["instance_admin"], true);
    assert!(me["user"].get("password_hash").is_none());
    assert_eq!(me["workspaces"], json!([]));
}

#[test]
fn session_cookie_is_secure_when_the_base_url_is_https() {
    let server = Server::start_with(&["--base-url", "https://lathe.example.com"]);
    assert!(
        server
            .store
            .admin_create(ADMIN_EMAIL, ADMIN_PASSWORD)
            .status
            .success()
    );
    let mut c = server.client();
    c.origin = Some("https://lathe.example.com".into());
    let r = c.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    r.expect_status(200);
    assert!(r.header("set-cookie").unwrap().contains("; Secure"));
}

#[test]
fn wrong_password_and_unknown_email_get_the_same_401() {
    let server = Server::with_admin();
    let mut c = server.client();
    let a = c
        .login(ADMIN_EMAIL, "wrong password!")
        .expect_problem(401, "invalid-credentials");
    let b = c
        .login("nobody@example.com", "wrong password!")
        .expect_problem(401, "invalid-credentials");
    assert_eq!(a, b);
    assert!(c.cookie.is_none());
}

#[test]
fn login_rotates_the_session_and_the_old_id_stops_working() {
    let server = Server::with_admin();
    let mut c = server.client();
    c.login(ADMIN_EMAIL, ADMIN_PASSWORD).expect_status(200);
    let first = c.cookie.clone().unwrap();
    c.login(ADMIN_EMAIL, ADMIN_PASSWORD).expect_status(200);
    let second = c.cookie.clone().unwrap();
    assert_ne!(first, second);

    c.get("/api/v1/auth/me").expect_status(200);
    let mut old = server.client();
    old.cookie = Some(first);
    old.get("/api/v1/auth/me")
        .expect_problem(401, "unauthenticated");
}

#[test]
fn a_stale_session_cookie_sent_first_does_not_lock_the_user_out() {
    let server = Server::with_admin();
    let mut c = server.client();
    c.login(ADMIN_EMAIL, ADMIN_PASSWORD).expect_status(200);
    let stale = c.cookie.clone().unwrap();
    c.login(ADMIN_EMAIL, ADMIN_PASSWORD).expect_status(200);
    let live = c.cookie.clone().unwrap();

    // As a browser sends a cookie left for a parent path next to the current one.
    let anon = server.client();
    let me = |cookies: &str| anon.raw("GET", "/api/v1/auth/me", &[("cookie", cookies)], None);
    me(&format!("lathe_session={stale}; lathe_session={live}")).expect_status(200);
    me(&format!(
        "lathe_session=junk; theme=dark; lathe_session={live}"
    ))
    .expect_status(200);
    me(&format!("lathe_session={stale}")).expect_problem(401, "unauthenticated");

    // Only the first three are tried, so a request can't carry a list of guesses.
    let guesses: Vec<String> = (0..3)
        .map(|i| format!("lathe_session={}", i.to_string().repeat(64)))
        .collect();
    let capped = format!("{}; lathe_session={live}", guesses.join("; "));
    me(&capped).expect_problem(401, "unauthenticated");
    let repeated = format!("{0}; {0}; {0}; lathe_session={live}", guesses[0]);
    me(&repeated).expect_status(200);
}

#[test]
fn logout_ends_the_session_and_clears_the_cookie() {
    let server = Server::with_admin();
    let c = server.admin();
    let r = c.raw("POST", "/api/v1/auth/logout", &[], None);
    r.expect_status(204);
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    c.get("/api/v1/auth/me")
        .expect_problem(401, "unauthenticated");
}

#[test]
fn session_expires_after_its_ttl() {
    let server = Server::start_with(&["--session-ttl-secs", "1"]);
    assert!(
        server
            .store
            .admin_create(ADMIN_EMAIL, ADMIN_PASSWORD)
            .status
            .success()
    );
    let c = server.admin();
    c.get("/api/v1/auth/me").expect_status(200);
    std::thread::sleep(Duration::from_millis(1500));
    c.get("/api/v1/auth/me")
        .expect_problem(401, "unauthenticated");
}

#[test]
fn forged_and_malformed_cookies_and_tokens_are_401() {
    let server = Server::with_admin();
    let mut c = server.client();
    for forged in ["00", &"a".repeat(64), "'; DROP TABLE sessions; --", ""] {
        c.cookie = Some(forged.to_string());
        c.get("/api/v1/auth/me")
            .expect_problem(401, "unauthenticated");
    }
    let c = server.client();
    for token in [
        format!("lathe_{}", "0".repeat(64)),
        "not-a-token".into(),
        "lathe_' OR 1=1 --".into(),
    ] {
        c.with_bearer(&token)
            .get("/api/v1/auth/me")
            .expect_problem(401, "unauthenticated");
    }
    c.raw(
        "GET",
        "/api/v1/auth/me",
        &[("authorization", "Basic YTpi")],
        None,
    )
    .expect_problem(401, "unauthenticated");
    server.admin().get("/api/v1/auth/me").expect_status(200);
}

#[test]
fn cookie_authenticated_unsafe_requests_need_the_base_url_origin() {
    let server = Server::with_admin();
    let mut c = server.admin();

    c.origin = None;
    c.post("/api/v1/workspaces", &json!({ "name": "x" }))
        .expect_problem(403, "csrf");
    c.origin = Some("https://evil.example".into());
    c.post("/api/v1/workspaces", &json!({ "name": "x" }))
        .expect_problem(403, "csrf");
    // Safe methods don't need it.
    c.get("/api/v1/workspaces").expect_status(200);
    // Nothing was created by the refused requests.
    assert_eq!(c.get("/api/v1/workspaces").json(), json!([]));

    c.origin = Some(server.url.clone());
    c.post("/api/v1/workspaces", &json!({ "name": "x" }))
        .expect_status(201);

    let mut anon = server.client();
    anon.origin = Some("https://evil.example".into());
    anon.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        .expect_problem(403, "csrf");
}

#[test]
fn a_megabyte_password_is_a_fast_400() {
    let server = Server::with_admin();
    let mut c = server.client();
    let huge = "p".repeat(1_000_000);
    let started = Instant::now();
    c.login(ADMIN_EMAIL, &huge)
        .expect_problem(400, "bad-request");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );

    let admin = server.admin();
    let started = Instant::now();
    admin
        .post(
            "/api/v1/users",
            &json!({ "email": "u@example.com", "password": huge }),
        )
        .expect_problem(400, "bad-request");
    assert!(started.elapsed() < Duration::from_secs(2));
    admin
        .post(
            "/api/v1/users",
            &json!({ "email": "u@example.com", "password": "1234567" }),
        )
        .expect_problem(422, "validation");
    assert_eq!(
        admin.get("/api/v1/users").json().as_array().unwrap().len(),
        1
    );
}

#[test]
fn a_password_outside_8_to_128_characters_is_a_422_as_documented() {
    let server = Server::with_admin();
    let admin = server.admin();
    let user = |password: &str| json!({ "email": "u@example.com", "password": password });
    for bad in ["1234567", &"é".repeat(129), &"p".repeat(129)] {
        admin
            .post("/api/v1/users", &user(bad))
            .expect_problem(422, "validation");
        admin
            .post(
                "/api/v1/auth/password",
                &json!({ "current_password": ADMIN_PASSWORD, "new_password": bad }),
            )
            .expect_problem(422, "validation");
    }
    // 128 characters of two bytes each is still a password; 513 bytes can't be one.
    admin
        .post("/api/v1/users", &user(&"é".repeat(128)))
        .expect_status(201);
    admin
        .post(
            "/api/v1/auth/password",
            &json!({ "current_password": "x".repeat(513), "new_password": "long enough" }),
        )
        .expect_problem(400, "bad-request");

    // The document promises the same: 422 for invalid values, 400 for what can't be a body.
    let doc = server.client().get("/api/v1/openapi.json").json();
    for (path, op) in [
        ("/api/v1/users", "post"),
        ("/api/v1/auth/password", "post"),
        ("/api/v1/auth/reset/confirm", "post"),
        ("/api/v1/invites/accept", "post"),
    ] {
        let responses = &doc["paths"][path][op]["responses"];
        let described = |status: &str| {
            responses[status]["description"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        };
        assert!(described("422").contains("8 to 128"), "{path}: {responses}");
        assert!(
            described("400").contains("512 bytes"),
            "{path}: {responses}"
        );
    }
}

#[test]
fn failed_logins_never_record_what_was_typed_as_the_email() {
    let server = Server::with_admin();
    let admin = server.admin();
    let admin_id = admin.get("/api/v1/auth/me").json()["user"]["id"].clone();
    let mut anon = server.client();
    // A password typed into the email field, email-shaped or not.
    for typed in ["Tr0ub4dor&3@example.com", "hunter2 is my password"] {
        anon.login(typed, "whatever it is")
            .expect_problem(401, "invalid-credentials");
    }
    anon.login(ADMIN_EMAIL, "a wrong guess 123")
        .expect_problem(401, "invalid-credentials");

    let r = admin.get("/api/v1/audit?action=auth.login_failed");
    let lowered = r.body.to_lowercase();
    for typed in ["tr0ub4dor", "hunter2"] {
        assert!(
            !lowered.contains(typed),
            "typed text in the audit log: {}",
            r.body
        );
    }
    let items = r.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 3, "{}", r.body);
    let (known, unknown): (Vec<_>, Vec<_>) = items.iter().partition(|e| e["target"] == admin_id);
    assert_eq!(known.len(), 1, "{}", r.body);
    assert_eq!(known[0]["detail"]["reason"], "wrong-password");
    for e in unknown {
        assert_eq!(e["actor_email"], json!(null), "{e}");
        assert_eq!(e["actor_id"], json!(null), "{e}");
        assert_eq!(e["target"], json!(null), "{e}");
        assert_eq!(e["detail"]["reason"], "unknown-account", "{e}");
        assert_eq!(e["address"], "127.0.0.1", "{e}");
    }
}

#[test]
fn replicas_on_one_store_share_the_login_rate_limits() {
    let a = Server::with_admin();
    let b = a.start_beside(&[]);
    // Five failures spread over two replicas lock the account on both.
    for i in 0..5 {
        let replica = if i % 2 == 0 { &a } else { &b };
        replica
            .client()
            .login(ADMIN_EMAIL, "a wrong guess 123")
            .expect_problem(401, "invalid-credentials");
    }
    for replica in [&a, &b] {
        let r = replica.client().login(ADMIN_EMAIL, ADMIN_PASSWORD);
        r.expect_problem(429, "rate-limited");
        assert!(r.header("retry-after").is_some());
    }

    // So do the per-address budgets.
    let limit = ["--login-address-limit", "4"];
    let c = Server::start_with(&limit);
    assert!(
        c.store
            .admin_create(ADMIN_EMAIL, ADMIN_PASSWORD)
            .status
            .success()
    );
    let d = c.start_beside(&limit);
    for replica in [&c, &d, &c, &d] {
        replica
            .client()
            .login("nobody@example.com", "whatever it is")
            .expect_problem(401, "invalid-credentials");
    }
    c.client()
        .login("nobody@example.com", "whatever it is")
        .expect_problem(429, "rate-limited");
}

#[test]
fn failed_logins_lock_the_account_with_429_and_retry_after() {
    let server = Server::with_admin();
    let mut c = server.client();
    for _ in 0..5 {
        c.login(ADMIN_EMAIL, "wrong password!")
            .expect_problem(401, "invalid-credentials");
    }
    let r = c.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    r.expect_problem(429, "rate-limited");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    // Another account from the same address is unaffected.
    c.login("other@example.com", "wrong password!")
        .expect_problem(401, "invalid-credentials");
}

#[test]
fn many_login_attempts_from_one_address_get_429() {
    let server = Server::start_with(&["--login-address-limit", "3"]);
    assert!(
        server
            .store
            .admin_create(ADMIN_EMAIL, ADMIN_PASSWORD)
            .status
            .success()
    );
    let mut c = server.client();
    for i in 0..3 {
        c.login(&format!("user{i}@example.com"), "wrong password!")
            .expect_status(401);
    }
    let r = c.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    r.expect_problem(429, "rate-limited");
    assert!(r.header("retry-after").is_some());
}

#[test]
fn api_token_is_shown_once_scoped_to_its_workspace_and_revocable() {
    let server = Server::with_admin();
    let admin = server.admin();
    let ws_a = common::create_workspace(&admin, "A");
    let ws_b = common::create_workspace(&admin, "B");

    let created = admin.post(
        "/api/v1/tokens",
        &json!({ "name": "ci", "workspace_id": ws_a, "expires_in_days": 30 }),
    );
    created.expect_status(201);
    let created = created.json();
    let token = created["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("lathe_"));

    let listed = admin.get("/api/v1/tokens");
    listed.expect_status(200);
    assert!(
        !listed.body.contains(&token),
        "a listed token must not carry its secret"
    );
    assert_eq!(listed.json()[0]["name"], "ci");
    assert_eq!(listed.json()[0]["revoked"], false);

    let bearer = admin.with_bearer(&token);
    let me = bearer.get("/api/v1/auth/me");
    me.expect_status(200);
    let names: Vec<_> = me.json()["workspaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("A")]);
    bearer
        .get(&format!("/api/v1/workspaces/{ws_a}"))
        .expect_status(200);
    bearer
        .get(&format!("/api/v1/workspaces/{ws_b}"))
        .expect_problem(404, "not-found");
    // Bearer requests need no Origin, and a token can't mint tokens or act instance-wide.
    bearer
        .post(
            "/api/v1/tokens",
            &json!({ "name": "x", "workspace_id": ws_a, "expires_in_days": 1 }),
        )
        .expect_problem(403, "forbidden");
    bearer
        .post("/api/v1/workspaces", &json!({ "name": "C" }))
        .expect_problem(403, "forbidden");

    let id = created["id"].as_str().unwrap();
    // What a token does is audited as done through that token.
    bearer
        .patch(
            &format!("/api/v1/workspaces/{ws_a}"),
            &json!({ "name": "A2" }),
        )
        .expect_status(200);
    let audit = admin.get(&format!(
        "/api/v1/workspaces/{ws_a}/audit?action=workspace.rename"
    ));
    assert_eq!(audit.json()["items"][0]["via"], format!("token:{id}"));
    admin
        .delete(&format!("/api/v1/tokens/{id}"))
        .expect_status(204);
    bearer
        .get("/api/v1/auth/me")
        .expect_problem(401, "unauthenticated");
    assert_eq!(admin.get("/api/v1/tokens").json()[0]["revoked"], true);
    admin
        .delete("/api/v1/tokens/00000000-0000-0000-0000-000000000000")
        .expect_problem(404, "not-found");
}

#[test]
fn tokens_need_membership_of_their_workspace_and_a_sane_expiry() {
    let server = Server::with_admin();
    let admin = server.admin();
    let ws = common::create_workspace(&admin, "A");
    admin
        .post(
            "/api/v1/tokens",
            &json!({ "name": "x", "workspace_id": "no-such-ws", "expires_in_days": 1 }),
        )
        .expect_problem(404, "not-found");
    for days in [0, 367] {
        admin
            .post(
                "/api/v1/tokens",
                &json!({ "name": "x", "workspace_id": ws, "expires_in_days": days }),
            )
            .expect_problem(422, "validation");
    }
    assert_eq!(admin.get("/api/v1/tokens").json(), json!([]));
}

#[test]
fn secrets_never_reach_the_logs_or_the_audit_log() {
    let server = Server::with_admin();
    let mut c = server.client();
    c.login(ADMIN_EMAIL, "a wrong guess 123").expect_status(401);
    c.login(ADMIN_EMAIL, ADMIN_PASSWORD).expect_status(200);
    let session = c.cookie.clone().unwrap();
    let ws = common::create_workspace(&c, "A");
    let token = c
        .post(
            "/api/v1/tokens",
            &json!({ "name": "t", "workspace_id": ws, "expires_in_days": 1 }),
        )
        .json()["token"]
        .as_str()
        .unwrap()
        .to_string();
    c.with_bearer(&token)
        .get("/api/v1/auth/me")
        .expect_status(200);

    let audit = c.get("/api/v1/audit?limit=200");
    audit.expect_status(200);
    let actions: Vec<_> = audit.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].clone())
        .collect();
    assert!(
        actions.contains(&json!("auth.login")) && actions.contains(&json!("auth.login_failed"))
    );
    std::thread::sleep(Duration::from_millis(200));
    let logs = server.logs();
    for secret in [
        ADMIN_PASSWORD,
        "a wrong guess 123",
        session.as_str(),
        token.as_str(),
    ] {
        assert!(!logs.contains(secret), "a secret is in the logs");
        assert!(!audit.body.contains(secret), "a secret is in the audit log");
    }
}

#[test]
fn changing_the_password_ends_other_sessions_but_keeps_this_one() {
    let server = Server::with_admin();
    let here = server.admin();
    let elsewhere = server.admin();
    let new_password = "a brand new password";

    here.post(
        "/api/v1/auth/password",
        &json!({ "current_password": "wrong guess!", "new_password": new_password }),
    )
    .expect_problem(401, "invalid-credentials");
    here.post(
        "/api/v1/auth/password",
        &json!({ "current_password": ADMIN_PASSWORD, "new_password": "short" }),
    )
    .expect_problem(422, "validation");
    elsewhere.get("/api/v1/auth/me").expect_status(200);

    here.post(
        "/api/v1/auth/password",
        &json!({ "current_password": ADMIN_PASSWORD, "new_password": new_password }),
    )
    .expect_status(204);
    here.get("/api/v1/auth/me").expect_status(200);
    elsewhere
        .get("/api/v1/auth/me")
        .expect_problem(401, "unauthenticated");

    let mut c = server.client();
    c.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        .expect_problem(401, "invalid-credentials");
    c.login(ADMIN_EMAIL, new_password).expect_status(200);
}

#[test]
fn disabling_a_user_ends_their_sessions_and_tokens_and_blocks_login() {
    let server = Server::with_admin();
    let admin = server.admin();
    let ws = common::create_workspace(&admin, "A");
    let password = "bob's password";
    let bob_id = admin
        .post(
            "/api/v1/users",
            &json!({ "email": "bob@example.com", "password": password }),
        )
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    admin
        .post(
            &format!("/api/v1/workspaces/{ws}/members"),
            &json!({ "email": "bob@example.com", "role": "builder" }),
        )
        .expect_status(201);
    let mut bob = server.client();
    bob.login("bob@example.com", password).expect_status(200);
    let token = bob
        .post(
            "/api/v1/tokens",
            &json!({ "name": "t", "workspace_id": ws, "expires_in_days": 1 }),
        )
        .json()["token"]
        .as_str()
        .unwrap()
        .to_string();

    let me = admin.get("/api/v1/auth/me").json();
    let admin_id = me["user"]["id"].as_str().unwrap();
    admin
        .patch(
            &format!("/api/v1/users/{admin_id}"),
            &json!({ "disabled": true }),
        )
        .expect_problem(422, "validation");
    let r = admin.patch(
        &format!("/api/v1/users/{bob_id}"),
        &json!({ "disabled": true }),
    );
    r.expect_status(200);
    assert_eq!(r.json()["disabled"], true);

    bob.get("/api/v1/auth/me")
        .expect_problem(401, "unauthenticated");
    bob.with_bearer(&token)
        .get("/api/v1/auth/me")
        .expect_problem(401, "unauthenticated");
    let mut again = server.client();
    again
        .login("bob@example.com", password)
        .expect_problem(401, "invalid-credentials");

    admin
        .patch(
            &format!("/api/v1/users/{bob_id}"),
            &json!({ "disabled": false }),
        )
        .expect_status(200);
    again.login("bob@example.com", password).expect_status(200);
    admin
        .patch(
            "/api/v1/users/00000000-0000-0000-0000-000000000000",
            &json!({ "disabled": true }),
        )
        .expect_problem(404, "not-found");
}

/// Logs in once with `X-Forwarded-For: <forwarded>`, then reads back that login's audit address.
fn audited_login_address(server: &Server, forwarded: &str) -> String {
    let mut c = server.client();
    let body = json!({ "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD });
    let headers = [
        ("content-type", "application/json"),
        ("x-forwarded-for", forwarded),
    ];
    c.raw(
        "POST",
        "/api/v1/auth/login",
        &headers,
        Some(body.to_string().into_bytes()),
    )
    .expect_status(200);
    // A second login (no header) to read the log with; the first is the older record.
    c.login(ADMIN_EMAIL, ADMIN_PASSWORD).expect_status(200);
    let audit = c.get("/api/v1/audit?action=auth.login&limit=2").json();
    audit["items"][1]["address"].as_str().unwrap().to_string()
}

#[test]
fn x_forwarded_for_names_the_client_only_behind_a_trusted_proxy() {
    let direct = Server::with_admin();
    assert_eq!(audited_login_address(&direct, "203.0.113.7"), "127.0.0.1");

    let proxied = Server::start_with(&["--trusted-proxies", "127.0.0.0/8,::1/128"]);
    assert!(
        proxied
            .store
            .admin_create(ADMIN_EMAIL, ADMIN_PASSWORD)
            .status
            .success()
    );
    let address = audited_login_address(&proxied, "198.51.100.1, 203.0.113.7");
    assert_eq!(address, "203.0.113.7");
}

#[test]
fn a_login_with_a_non_email_is_a_401_that_still_counts_against_the_address() {
    let server = Server::start_with(&["--login-address-limit", "2"]);
    assert!(
        server
            .store
            .admin_create(ADMIN_EMAIL, ADMIN_PASSWORD)
            .status
            .success()
    );
    let mut c = server.client();
    let long = "x".repeat(500_000);
    for email in [long.as_str(), "not an email"] {
        c.login(email, "whatever it is")
            .expect_problem(401, "invalid-credentials");
    }
    c.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        .expect_problem(429, "rate-limited");
}

#[test]
fn an_idle_session_ends_while_an_active_one_outlives_the_idle_time() {
    let server = Server::start_with(&["--session-idle-secs", "2"]);
    assert!(
        server
            .store
            .admin_create(ADMIN_EMAIL, ADMIN_PASSWORD)
            .status
            .success()
    );
    let c = server.admin();
    // Four seconds of activity, twice the idle time.
    for _ in 0..8 {
        std::thread::sleep(Duration::from_millis(500));
        c.get("/api/v1/auth/me").expect_status(200);
    }
    std::thread::sleep(Duration::from_millis(3000));
    c.get("/api/v1/auth/me")
        .expect_problem(401, "unauthenticated");
}

#[test]
fn instance_admins_are_made_and_unmade_by_another_and_one_always_stays() {
    let server = Server::with_admin();
    let admin = server.admin();
    let password = "carol password 1";
    let carol = admin.post(
        "/api/v1/users",
        &json!({ "email": "carol@example.com", "password": password }),
    );
    carol.expect_status(201);
    let carol_id = carol.json()["id"].as_str().unwrap().to_string();
    let mut carol = server.client();
    carol
        .login("carol@example.com", password)
        .expect_status(200);
    let admin_id = admin.get("/api/v1/auth/me").json()["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let user = |id: &str| format!("/api/v1/users/{id}");

    // Carol is not one yet; made one, she is from her next request.
    carol.get("/api/v1/users").expect_problem(403, "forbidden");
    let made = admin.patch(&user(&carol_id), &json!({ "instance_admin": true }));
    made.expect_status(200);
    assert_eq!(made.json()["instance_admin"], true);
    carol.get("/api/v1/users").expect_status(200);

    // Nobody changes their own status, nor sends nothing to change.
    carol
        .patch(&user(&carol_id), &json!({ "instance_admin": false }))
        .expect_problem(422, "validation");
    admin
        .patch(&user(&carol_id), &json!({}))
        .expect_problem(422, "validation");

    // Carol takes it from the first admin, who loses it at once; the last one can't go.
    carol
        .patch(&user(&admin_id), &json!({ "instance_admin": false }))
        .expect_status(200);
    admin.get("/api/v1/users").expect_problem(403, "forbidden");
    let audit = carol.get("/api/v1/audit?action=user.instance_admin_revoke");
    assert_eq!(
        audit.json()["items"][0]["target"],
        admin_id.as_str(),
        "{}",
        audit.body
    );

    // Two instance admins taking it from each other at once leave one.
    carol
        .patch(&user(&admin_id), &json!({ "instance_admin": true }))
        .expect_status(200);
    for _ in 0..10 {
        let (a, b) = std::thread::scope(|scope| {
            let a = scope.spawn(|| {
                admin
                    .patch(&user(&carol_id), &json!({ "instance_admin": false }))
                    .status
            });
            let b = scope.spawn(|| {
                carol
                    .patch(&user(&admin_id), &json!({ "instance_admin": false }))
                    .status
            });
            (a.join().unwrap(), b.join().unwrap())
        });
        for status in [a, b] {
            assert!([200, 403, 409].contains(&status), "{a} {b}");
        }
        assert!((a == 200) != (b == 200), "exactly one may win: {a} {b}");
        // Whoever is left makes the other one again.
        let restore = if a == 200 {
            (&admin, &carol_id)
        } else {
            (&carol, &admin_id)
        };
        restore
            .0
            .patch(&user(restore.1), &json!({ "instance_admin": true }))
            .expect_status(200);
    }
}
