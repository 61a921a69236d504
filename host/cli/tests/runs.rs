//! Running an app's stored queries: the released version for everyone in the workspace, the
//! draft for builders, inputs checked against the query's schema and bound as parameters,
//! and an audit record for every run. Against the real PostgreSQL through the real connector.

mod common;

use common::connectors::{PgFixture, plugin_args, start};
use common::{Client, Server, create_workspace};
use serde_json::{Value, json};

const PASSWORD: &str = "a long enough password";

struct World {
    server: Server,
    admin: Client,
    ws: String,
    pg: PgFixture,
}

/// A workspace with the fixture's datasource and an app `crm` whose released version has
/// `find` (search by name, with a secret-marked `pin` input) and whose draft adds `count`.
fn world() -> World {
    let server = start(true);
    let admin = server.admin();
    let ws = create_workspace(&admin, "Runs");
    let pg = PgFixture::new();
    admin
        .post(
            &format!("/api/v1/workspaces/{ws}/datasources"),
            &json!({ "name": "crm-db", "plugin": "postgres", "config": pg.config() }),
        )
        .expect_status(201);
    let find = json!({
        "name": "find", "datasource": "crm-db", "operation": "sql",
        "query": { "sql": format!("select id, name from {} where name ilike {{{{ inputs.q }}}} || '%' order by id", pg.table) },
        "inputs": { "type": "object", "required": ["q"], "additionalProperties": false,
                    "properties": { "q": { "type": "string", "maxLength": 50 },
                                    "pin": { "type": "string", "secret": true } } },
        "runOnLoad": true
    });
    let definition =
        json!({ "pages": [{ "id": "home", "name": "Home", "components": [] }], "queries": [find] });
    admin
        .post(
            &format!("/api/v1/workspaces/{ws}/apps"),
            &json!({ "name": "CRM", "slug": "crm", "definition": definition }),
        )
        .expect_status(201);
    admin
        .post(
            &format!("/api/v1/workspaces/{ws}/apps/crm/release"),
            &json!({}),
        )
        .expect_status(201);
    let count = json!({
        "name": "count", "datasource": "crm-db", "operation": "sql",
        "query": { "sql": format!("select count(*) as n from {}", pg.table) }
    });
    let mut draft = definition.clone();
    draft["queries"].as_array_mut().unwrap().push(count);
    admin
        .patch(
            &format!("/api/v1/workspaces/{ws}/apps/crm"),
            &json!({ "definition": draft }),
        )
        .expect_status(200);
    World {
        server,
        admin,
        ws,
        pg,
    }
}

impl World {
    fn run_path(&self, query: &str) -> String {
        format!(
            "/api/v1/workspaces/{}/apps/crm/queries/{query}/run",
            self.ws
        )
    }

    fn member(&self, email: &str, role: &str) -> Client {
        self.admin
            .post(
                "/api/v1/users",
                &json!({ "email": email, "password": PASSWORD }),
            )
            .expect_status(201);
        self.admin
            .post(
                &format!("/api/v1/workspaces/{}/members", self.ws),
                &json!({ "email": email, "role": role }),
            )
            .expect_status(201);
        let mut c = self.server.client();
        c.login(email, PASSWORD).expect_status(200);
        c
    }
}

#[test]
fn a_viewer_runs_the_released_query_with_bound_inputs() {
    let w = world();
    let viewer = w.member("viewer@example.com", "viewer");
    let r = viewer.post(&w.run_path("find"), &json!({ "inputs": { "q": "gr" } }));
    r.expect_status(200);
    let body = r.json();
    assert_eq!(body["rows"], json!([[2, "Grace"]]));
    assert_eq!(body["rowCount"], 1);
    assert_eq!(body["truncated"], false);
    assert!(body["durationMs"].is_u64());
    assert_eq!(body["columns"][1]["name"], "name");

    for hostile in ["' OR 1=1 --", "%'; DROP TABLE x; --", "{{ secrets.x }}"] {
        let r = viewer.post(&w.run_path("find"), &json!({ "inputs": { "q": hostile } }));
        r.expect_status(200);
        assert_eq!(r.json()["rows"], json!([]), "{hostile}");
    }
    // Still two rows: nothing was dropped or changed.
    let all = viewer.post(&w.run_path("find"), &json!({ "inputs": { "q": "" } }));
    assert_eq!(all.json()["rowCount"], 2);
}

#[test]
fn the_draft_is_for_builders_and_the_release_for_everyone() {
    let w = world();
    let viewer = w.member("viewer@example.com", "viewer");
    let builder = w.member("builder@example.com", "builder");
    // `count` exists only in the draft.
    viewer
        .post(&w.run_path("count"), &json!({}))
        .expect_problem(404, "not-found");
    viewer
        .post(
            &format!("{}?version=draft", w.run_path("count")),
            &json!({}),
        )
        .expect_problem(403, "forbidden");
    let r = builder.post(
        &format!("{}?version=draft", w.run_path("count")),
        &json!({}),
    );
    r.expect_status(200);
    assert_eq!(r.json()["rows"], json!([[2]]));
    builder
        .post(&format!("{}?version=next", w.run_path("count")), &json!({}))
        .expect_problem(400, "bad-request");
    viewer
        .post(&w.run_path("nope"), &json!({}))
        .expect_problem(404, "not-found");
    viewer
        .post(
            &format!("/api/v1/workspaces/{}/apps/none/queries/find/run", w.ws),
            &json!({}),
        )
        .expect_problem(404, "not-found");

    // Someone from outside the workspace can't tell the app exists.
    w.admin
        .post(
            "/api/v1/users",
            &json!({ "email": "eve@example.com", "password": PASSWORD }),
        )
        .expect_status(201);
    let mut eve = w.server.client();
    eve.login("eve@example.com", PASSWORD).expect_status(200);
    eve.post(&w.run_path("find"), &json!({ "inputs": { "q": "" } }))
        .expect_problem(404, "not-found");
}

#[test]
fn inputs_that_break_the_schema_or_name_server_roots_are_refused() {
    let w = world();
    let run = |inputs: Value| {
        w.admin
            .post(&w.run_path("find"), &json!({ "inputs": inputs }))
    };
    let missing = run(json!({})).expect_problem(422, "validation");
    assert!(
        missing["detail"].as_str().unwrap().contains("q"),
        "{missing}"
    );
    run(json!({ "q": 5 })).expect_problem(422, "validation");
    run(json!({ "q": "x".repeat(51) })).expect_problem(422, "validation");
    run(json!({ "q": "a", "user": { "email": "ceo@example.com" } }))
        .expect_problem(422, "validation");
    run(json!({ "q": "a", "secrets": {} })).expect_problem(422, "validation");
    run(json!([1])).expect_problem(422, "validation");
    w.admin
        .post(
            &w.run_path("find"),
            &json!({ "inputs": { "q": "a" }, "query": "select 1" }),
        )
        .expect_status(422);
}

#[test]
fn every_run_is_audited_without_secret_inputs() {
    let w = world();
    let pin = "PIN-31415-marker";
    w.admin
        .post(
            &w.run_path("find"),
            &json!({ "inputs": { "q": "ad", "pin": pin } }),
        )
        .expect_status(200);
    w.admin
        .post(&w.run_path("find"), &json!({ "inputs": {} }))
        .expect_status(422);
    let audit = w.admin.get(&format!(
        "/api/v1/workspaces/{}/audit?action=query.run",
        w.ws
    ));
    audit.expect_status(200);
    let text = audit.body.clone();
    assert!(
        !text.contains(pin),
        "a secret input reached the audit log: {text}"
    );
    let records = audit.json();
    let items = records["items"]
        .as_array()
        .or(records.as_array())
        .cloned()
        .unwrap_or_default();
    assert_eq!(items.len(), 2, "{records}");
    let ok = items
        .iter()
        .find(|r| r["detail"]["outcome"] == "ok")
        .expect("a successful run");
    assert_eq!(ok["detail"]["query"], "find");
    assert_eq!(ok["detail"]["rowCount"], 1);
    assert_eq!(ok["detail"]["inputs"]["q"], "ad");
    assert_eq!(ok["detail"]["version"], 1);
    assert!(
        items
            .iter()
            .any(|r| r["detail"]["outcome"] == "urn:lathe:problem:validation")
    );
    assert!(!w.server.logs().contains(pin));
}

#[test]
fn a_query_on_a_missing_datasource_fails_cleanly() {
    let w = world();
    let id = w
        .admin
        .get(&format!("/api/v1/workspaces/{}/datasources", w.ws))
        .json()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    w.admin
        .delete(&format!("/api/v1/workspaces/{}/datasources/{id}", w.ws))
        .expect_status(204);
    let r = w
        .admin
        .post(&w.run_path("find"), &json!({ "inputs": { "q": "" } }));
    let problem = r.expect_problem(422, "validation");
    assert!(
        problem["detail"].as_str().unwrap().contains("crm-db"),
        "{problem}"
    );
    let _ = &w.pg;
}

/// The request path caches tokens, roles, released queries and datasources; a change made
/// through one server must still reach the very next request on another server sharing the
/// store (and on itself).
#[test]
fn changes_on_one_replica_reach_the_next_run_on_another() {
    let w = world();
    let args = plugin_args(true);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let other = w.server.start_beside(&args);
    let viewer = w.member("viewer@example.com", "viewer");
    let viewer_id = w
        .admin
        .get("/api/v1/users")
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "viewer@example.com")
        .expect("the viewer")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let token = |name: &str| {
        let r = viewer.post(
            "/api/v1/tokens",
            &json!({ "name": name, "workspace_id": w.ws, "expires_in_days": 1 }),
        );
        r.expect_status(201);
        other
            .client()
            .with_bearer(r.json()["token"].as_str().unwrap())
    };
    let (kept, revoked) = (token("kept"), token("revoked"));
    let run = |client: &Client, query: &str| {
        client.post(&w.run_path(query), &json!({ "inputs": { "q": "" } }))
    };
    for _ in 0..2 {
        assert_eq!(run(&kept, "find").json()["rowCount"], 2);
        assert_eq!(run(&revoked, "find").json()["rowCount"], 2);
    }

    // A new release: the next run anywhere runs the new query.
    let app = w
        .admin
        .get(&format!("/api/v1/workspaces/{}/apps/crm", w.ws))
        .json();
    let mut draft = app["draft"].clone();
    draft["queries"][0]["query"]["sql"] = json!("select 'v2' as v where {{ inputs.q }} = ''");
    w.admin
        .patch(
            &format!("/api/v1/workspaces/{}/apps/crm", w.ws),
            &json!({ "definition": draft }),
        )
        .expect_status(200);
    w.admin
        .post(
            &format!("/api/v1/workspaces/{}/apps/crm/release", w.ws),
            &json!({}),
        )
        .expect_status(201);
    assert_eq!(run(&kept, "find").json()["rows"], json!([["v2"]]));

    // A datasource change (a lower row limit) applies to the next run.
    let ds = w
        .admin
        .get(&format!("/api/v1/workspaces/{}/datasources", w.ws))
        .json()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    w.admin
        .post(
            &format!("/api/v1/workspaces/{}/apps/crm/versions/1/restore", w.ws),
            &json!({}),
        )
        .expect_status(200);
    w.admin
        .post(
            &format!("/api/v1/workspaces/{}/apps/crm/release", w.ws),
            &json!({}),
        )
        .expect_status(201);
    assert_eq!(run(&kept, "find").json()["rowCount"], 2);
    w.admin
        .patch(
            &format!("/api/v1/workspaces/{}/datasources/{ds}", w.ws),
            &json!({ "max_rows": 1 }),
        )
        .expect_status(200);
    let cut = run(&kept, "find").json();
    assert_eq!(
        (cut["rowCount"].clone(), cut["truncated"].clone()),
        (json!(1), json!(true))
    );

    // A role change: the viewer made a builder may run the draft at once.
    // (The draft is version 1 again since the restore above.)
    let draft_run = format!("{}?version=draft", w.run_path("find"));
    let everything = json!({ "inputs": { "q": "" } });
    kept.post(&draft_run, &everything)
        .expect_problem(403, "forbidden");
    // A group's grant, given and taken back here, counts there on the next run.
    let groups = format!("/api/v1/workspaces/{}/groups", w.ws);
    let group = w.admin.post(&groups, &json!({ "name": "editors" })).json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    w.admin
        .post(
            &format!("{groups}/{group}/members"),
            &json!({ "user_id": viewer_id }),
        )
        .expect_status(201);
    // Running a draft is a preview: `edit` on the app and `build`.
    w.admin
        .post(
            &format!("{groups}/{group}/grants"),
            &json!({ "action": "build" }),
        )
        .expect_status(201);
    let grant = w.admin.post(
        &format!("{groups}/{group}/grants"),
        &json!({ "action": "edit", "app_id": "crm" }),
    );
    grant.expect_status(201);
    kept.post(&draft_run, &everything).expect_status(200);
    let grant = grant.json()["id"].as_str().unwrap().to_string();
    w.admin
        .delete(&format!("{groups}/{group}/grants/{grant}"))
        .expect_status(204);
    kept.post(&draft_run, &everything)
        .expect_problem(403, "forbidden");
    w.admin
        .patch(
            &format!("/api/v1/workspaces/{}/members/{viewer_id}", w.ws),
            &json!({ "role": "builder" }),
        )
        .expect_status(200);
    kept.post(&draft_run, &everything).expect_status(200);

    // A revoked token stops at once; the other one still works.
    let id = viewer
        .get("/api/v1/tokens")
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "revoked")
        .expect("the token")["id"]
        .as_str()
        .unwrap()
        .to_string();
    viewer
        .delete(&format!("/api/v1/tokens/{id}"))
        .expect_status(204);
    run(&revoked, "find").expect_problem(401, "unauthenticated");
    run(&kept, "find").expect_status(200);

    // A disabled user's tokens stop, on this server too; re-enabled, they work again.
    let users = "/api/v1/users";
    w.admin
        .patch(
            &format!("{users}/{viewer_id}"),
            &json!({ "disabled": true }),
        )
        .expect_status(200);
    run(&kept, "find").expect_problem(401, "unauthenticated");
    let here = w
        .server
        .client()
        .with_bearer(kept.bearer.as_deref().unwrap());
    run(&here, "find").expect_problem(401, "unauthenticated");
    w.admin
        .patch(
            &format!("{users}/{viewer_id}"),
            &json!({ "disabled": false }),
        )
        .expect_status(200);
    run(&kept, "find").expect_status(200);

    // Removed from the workspace: their tokens for it go with the membership.
    w.admin
        .delete(&format!("/api/v1/workspaces/{}/members/{viewer_id}", w.ws))
        .expect_status(204);
    run(&kept, "find").expect_problem(401, "unauthenticated");
    run(&here, "find").expect_problem(401, "unauthenticated");

    // A session (cached like a token) ends everywhere at logout.
    let mut there = other.client();
    there.cookie = w.admin.cookie.clone();
    there.get("/api/v1/auth/me").expect_status(200);
    w.admin
        .raw("POST", "/api/v1/auth/logout", &[], None)
        .expect_status(204);
    there
        .get("/api/v1/auth/me")
        .expect_problem(401, "unauthenticated");
}

#[test]
fn numbers_in_inputs_keep_every_digit() {
    let w = world();
    let ds = w
        .admin
        .get(&format!("/api/v1/workspaces/{}/datasources", w.ws))
        .json()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Sent as raw text: a serde_json client would round the numbers before they left.
    let body = r#"{"operation": "sql",
        "query": {"sql": "select {{ inputs.big }}::numeric::text as big, {{ inputs.id }}::text as id"},
        "inputs": {"big": 123456789012345678901234567890, "id": 9007199254740993}}"#;
    let r = w.admin.raw(
        "POST",
        &format!("/api/v1/workspaces/{}/datasources/{ds}/run", w.ws),
        &[("content-type", "application/json")],
        Some(body.as_bytes().to_vec()),
    );
    r.expect_status(200);
    assert_eq!(
        r.json()["rows"],
        json!([["123456789012345678901234567890", "9007199254740993"]])
    );
}

/// A run whose client goes away before it is done is audited all the same, as `cancelled`:
/// by then the query may well have reached the datasource.
#[test]
fn a_run_whose_client_leaves_is_still_audited() {
    use std::io::Write;
    let w = world();
    let datasources = w
        .admin
        .get(&format!("/api/v1/workspaces/{}/datasources", w.ws))
        .json();
    let id = datasources[0]["id"].as_str().unwrap();
    let body = json!({ "operation": "sql", "query": { "sql": "select pg_sleep(3)" } }).to_string();
    let request = format!(
        "POST /api/v1/workspaces/{}/datasources/{id}/run HTTP/1.1\r\nhost: lathe\r\n\
         cookie: lathe_session={}\r\norigin: {}\r\ncontent-type: application/json\r\n\
         x-request-id: left-early\r\ncontent-length: {}\r\n\r\n{body}",
        w.ws,
        w.admin.cookie.as_deref().unwrap(),
        w.server.url,
        body.len()
    );
    let address = w.server.url.trim_start_matches("http://").to_string();
    let mut client = std::net::TcpStream::connect(&address).unwrap();
    client.write_all(request.as_bytes()).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    drop(client);

    let audit = format!("/api/v1/workspaces/{}/audit?action=query.preview", w.ws);
    let mut records = Value::Null;
    for _ in 0..100 {
        records = w.admin.get(&audit).json();
        if records["items"].as_array().is_some_and(|i| !i.is_empty()) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let items = records["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 1, "{records}");
    assert_eq!(items[0]["detail"]["outcome"], "cancelled", "{records}");
    assert_eq!(items[0]["detail"]["query"]["sql"], "select pg_sleep(3)");
    // The metrics count it too, as closed by the client.
    let metrics = w.admin.get("/metrics").body;
    let line = metrics
        .lines()
        .find(|l| l.starts_with("lathe_http_requests_total") && l.contains("status=\"499\""))
        .unwrap_or_else(|| panic!("no 499 series: {metrics}"));
    assert!(
        line.contains("/datasources/") && line.ends_with(" 1"),
        "{line}"
    );
    // And the log has its line, inside the request's span, without `--access-log`.
    let logs = w.server.logs();
    let logged = logs
        .lines()
        .find(|l| l.contains("http.response") && l.contains("left-early"))
        .unwrap_or_else(|| panic!("no log line for the abandoned request:\n{logs}"));
    assert!(logged.contains("status=499"), "{logged}");
}

/// A run answered is a run recorded, even when the server is killed at once. On SQLite the
/// records go through the server's journal: here the store's write lock is held by another
/// connection the whole time, so none of them can reach `audit_events` before the kill, and
/// the next start must import every one from the journal, each once.
#[test]
fn every_answered_run_is_audited_after_a_sigkill() {
    const RUNS: usize = 20;
    let w = world();
    let blocker = (!common::use_postgres()).then(|| WriteLock::take(&w.server.store.sqlite_file()));
    for _ in 0..RUNS {
        w.admin
            .post(&w.run_path("find"), &json!({ "inputs": { "q": "gr" } }))
            .expect_status(200);
    }
    let World { server, ws, pg, .. } = w;
    let store = server.crash();
    drop(blocker);
    let journals = store.data_dir.path().join("audit-journal");
    if !common::use_postgres() {
        let written = store.count("SELECT COUNT(*) FROM audit_events WHERE action = 'query.run'");
        assert_eq!(written, 0, "the records were to be in the journal only");
        assert_eq!(std::fs::read_dir(&journals).unwrap().count(), 1);
    }

    let args = plugin_args(true);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start_on(store, &args);
    let audit = server
        .admin()
        .get(&format!(
            "/api/v1/workspaces/{ws}/audit?action=query.run&limit=100"
        ))
        .json();
    let items = audit["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), RUNS, "{audit}");
    assert!(
        items
            .iter()
            .all(|r| r["detail"]["outcome"] == "ok" && r["detail"]["rowCount"] == 1)
    );
    if !common::use_postgres() {
        // The dead server's journal is gone; the running one's own remains.
        assert_eq!(std::fs::read_dir(&journals).unwrap().count(), 1);
    }
    drop(pg);
}

/// SQLite's write lock, held by a connection of the test's own until dropped.
struct WriteLock {
    release: Option<std::sync::mpsc::Sender<()>>,
    holder: Option<std::thread::JoinHandle<()>>,
}

impl WriteLock {
    fn take(file: &std::path::Path) -> WriteLock {
        let url = format!("sqlite://{}", file.display());
        let (taken, ready) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                use sqlx::Connection;
                sqlx::any::install_default_drivers();
                let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
                sqlx::raw_sql("BEGIN IMMEDIATE")
                    .execute(&mut conn)
                    .await
                    .unwrap();
                taken.send(()).unwrap();
                let _ = released.recv();
                sqlx::raw_sql("ROLLBACK").execute(&mut conn).await.unwrap();
            });
        });
        ready.recv().unwrap();
        WriteLock {
            release: Some(release),
            holder: Some(holder),
        }
    }
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        drop(self.release.take());
        if let Some(holder) = self.holder.take() {
            let _ = holder.join();
        }
    }
}
