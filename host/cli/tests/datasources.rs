//! Datasources, constants and secrets, and the builder's preview run, against the real
//! PostgreSQL on 127.0.0.1:5432 through the real postgres connector. Each test makes its own
//! login role (with a password, to exercise the sealed secret) and its own table, and drops
//! them at the end.

mod common;

use common::connectors::{PgFixture, start};
use common::{Client, Server, create_workspace};
use serde_json::{Value, json};

const PASSWORD: &str = "a long enough password";

struct World {
    server: Server,
    admin: Client,
    ws: String,
}

fn world(allow_loopback: bool) -> World {
    let server = start(allow_loopback);
    let admin = server.admin();
    let ws = create_workspace(&admin, "Data");
    World { server, admin, ws }
}

/// A world with one datasource, `db`, on a fresh role of the test PostgreSQL.
fn world_with_db() -> (World, PgFixture, String) {
    let w = world(true);
    let pg = PgFixture::new();
    let id = w.create("db", pg.config())["id"]
        .as_str()
        .unwrap()
        .to_string();
    (w, pg, id)
}

impl World {
    fn path(&self, rest: &str) -> String {
        format!("/api/v1/workspaces/{}/{rest}", self.ws)
    }

    fn create(&self, name: &str, config: Value) -> Value {
        let r = self.admin.post(
            &self.path("datasources"),
            &json!({ "name": name, "plugin": "postgres", "config": config }),
        );
        r.expect_status(201);
        r.json()
    }

    fn preview(&self, id: &str, sql: &str, inputs: Value) -> common::client::Resp {
        self.admin.post(
            &self.path(&format!("datasources/{id}/run")),
            &json!({ "operation": "sql", "query": { "sql": sql }, "inputs": inputs }),
        )
    }

    /// A user with `role` in the workspace, logged in.
    fn member(&self, email: &str, role: &str) -> Client {
        self.admin
            .post(
                "/api/v1/users",
                &json!({ "email": email, "password": PASSWORD }),
            )
            .expect_status(201);
        self.admin
            .post(
                &self.path("members"),
                &json!({ "email": email, "role": role }),
            )
            .expect_status(201);
        let mut c = self.server.client();
        c.login(email, PASSWORD).expect_status(200);
        c
    }
}

#[test]
fn plugins_are_listed_with_their_manifests() {
    let w = world(false);
    let plugins = w.admin.get("/api/v1/plugins");
    plugins.expect_status(200);
    let ids: Vec<String> = plugins
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["manifest"]["id"].as_str().unwrap().to_string())
        .collect();
    assert!(ids.contains(&"postgres".to_string()), "{ids:?}");
    assert!(ids.contains(&"rest".to_string()), "{ids:?}");
    w.server.client().get("/api/v1/plugins").expect_status(401);
}

#[test]
fn datasource_secrets_are_sealed_used_and_never_shown() {
    let w = world(true);
    let pg = PgFixture::new();
    let created = w.create("customers-db", pg.config());
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["secrets"]["password"], "set");
    assert!(created["config"].get("password").is_none());

    // A result that happens to contain the datasource's password shows a mask instead.
    let (head, tail) = pg.password.split_at(6);
    let echo = w.preview(id, &format!("select '{head}' || '{tail}' as p"), json!({}));
    echo.expect_status(200);
    assert!(!echo.body.contains(&pg.password), "{}", echo.body);

    let ran = w.preview(id, "select current_user as who", json!({}));
    ran.expect_status(200);
    assert_eq!(ran.json()["rows"][0][0], pg.role.as_str());
    assert_eq!(ran.json()["rowCount"], 1);
    w.admin
        .post(&w.path(&format!("datasources/{id}/test")), &json!({}))
        .expect_status(200);
    let schema = w.admin.get(&w.path(&format!("datasources/{id}/schema")));
    schema.expect_status(200);
    assert!(schema.body.contains(&pg.table), "{}", schema.body);

    // An app using the datasource, exported: names only, never the configuration.
    let query = json!({ "name": "who", "datasource": "customers-db", "operation": "sql",
                        "query": { "sql": "select current_user" } });
    let definition = json!({ "pages": [{ "id": "home", "name": "Home", "components": [] }],
                             "queries": [query] });
    w.admin
        .post(
            &w.path("apps"),
            &json!({ "name": "Who", "slug": "who", "definition": definition }),
        )
        .expect_status(201);
    let export = w.admin.get(&w.path("apps/who/export"));
    export.expect_status(200);
    assert!(export.body.contains("customers-db") && !export.body.contains("127.0.0.1"));

    // Nowhere: not in responses, exports, the audit log, the server's log or the store's files.
    let mut seen = vec![
        export.body,
        w.admin.get(&w.path("datasources")).body,
        w.admin.get(&w.path(&format!("datasources/{id}"))).body,
        w.admin.get(&w.path("audit")).body,
        w.server.logs(),
    ];
    if !common::use_postgres() {
        for entry in std::fs::read_dir(w.server.data_dir()).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                seen.push(String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned());
            }
        }
    }
    for text in seen {
        assert!(
            !text.contains(&pg.password),
            "the secret leaked into: {text}"
        );
    }
}

#[test]
fn pointing_a_datasource_elsewhere_drops_its_stored_secrets() {
    let (w, pg, id) = world_with_db();
    let path = w.path(&format!("datasources/{id}"));
    let mut config = pg.config();
    config.as_object_mut().unwrap().remove("password");

    // Same destination: the password stays.
    config["statement_timeout_ms"] = json!(5000);
    let same = w.admin.patch(&path, &json!({ "config": config }));
    same.expect_status(200);
    assert_eq!(same.json()["secrets"]["password"], "set");
    assert_eq!(same.json()["config"]["statement_timeout_ms"], 5000);

    // Another host without the password: it is dropped, and the audit record says so.
    config["host"] = json!("localhost");
    let moved = w.admin.patch(&path, &json!({ "config": config }));
    moved.expect_status(200);
    assert_eq!(moved.json()["secrets"]["password"], "unset");
    let audit = w
        .admin
        .get(&w.path("audit?action=datasource.update"))
        .json();
    assert!(audit.to_string().contains("secretsDropped"), "{audit}");

    // The password entered again works; `null` clears it.
    config["password"] = json!(pg.password);
    let again = w.admin.patch(&path, &json!({ "config": config }));
    assert_eq!(again.json()["secrets"]["password"], "set");
    w.preview(&id, "select 1", json!({})).expect_status(200);
    config["password"] = Value::Null;
    let cleared = w.admin.patch(&path, &json!({ "config": config }));
    assert_eq!(cleared.json()["secrets"]["password"], "unset");

    // Weakening how the password travels drops it as well: a password entered for one TLS
    // mode doesn't follow a downgrade made without it.
    config["password"] = json!(pg.password);
    w.admin
        .patch(&path, &json!({ "config": config }))
        .expect_status(200);
    config.as_object_mut().unwrap().remove("password");
    config["allow_cleartext_password"] = json!(true);
    let weaker = w.admin.patch(&path, &json!({ "config": config }));
    weaker.expect_status(200);
    assert_eq!(weaker.json()["secrets"]["password"], "unset");
}

#[test]
fn bad_datasources_are_refused_and_nothing_is_written() {
    let w = world(true);
    let post = |body: Value| w.admin.post(&w.path("datasources"), &body);
    let invalid = post(
        json!({ "name": "x", "plugin": "postgres", "config": { "host": "h", "port": "5432", "username": "u" } }),
    );
    let problem = invalid.expect_problem(422, "validation");
    assert!(
        problem["detail"].as_str().unwrap().contains("port"),
        "{problem}"
    );
    post(json!({ "name": "x", "plugin": "postgres", "config": { "host": "h", "username": "u", "bogus": 1 } }))
        .expect_problem(422, "validation");
    post(json!({ "name": "x", "plugin": "nope", "config": {} })).expect_problem(422, "validation");
    post(json!({ "name": "", "plugin": "postgres", "config": {} }))
        .expect_problem(422, "validation");
    post(json!({ "name": "x\u{0}", "plugin": "postgres", "config": {} }))
        .expect_problem(422, "validation");
    post(json!({ "name": "x", "plugin": "postgres", "config": [] }))
        .expect_problem(422, "validation");
    post(json!({ "name": "x", "plugin": "postgres", "config": {}, "extra": 1 })).expect_status(422);
    post(json!({ "name": "'; DROP TABLE datasources; --", "plugin": "postgres", "config": { "host": "h", "username": "u" }, "max_rows": 0 }))
        .expect_problem(422, "validation");
    assert_eq!(w.admin.get(&w.path("datasources")).json(), json!([]));

    let pg = PgFixture::new();
    w.create("dup", pg.config());
    post(json!({ "name": "dup", "plugin": "postgres", "config": pg.config() }))
        .expect_problem(409, "conflict");
    w.admin
        .get(&w.path("datasources/00000000-0000-0000-0000-000000000000"))
        .expect_problem(404, "not-found");
}

#[test]
fn viewers_and_strangers_cannot_reach_datasources() {
    let (w, _pg, id) = world_with_db();
    let viewer = w.member("viewer@example.com", "viewer");
    viewer
        .get(&w.path("datasources"))
        .expect_problem(403, "forbidden");
    viewer
        .post(
            &w.path(&format!("datasources/{id}/run")),
            &json!({ "operation": "sql", "query": { "sql": "select 1" } }),
        )
        .expect_problem(403, "forbidden");
    viewer
        .get(&w.path("constants"))
        .expect_problem(403, "forbidden");

    let builder = w.member("builder@example.com", "builder");
    builder.get(&w.path("datasources")).expect_status(200);
    builder
        .post(&w.path("constants"), &json!({ "name": "x", "value": "y" }))
        .expect_problem(403, "forbidden");

    w.admin
        .post(
            "/api/v1/users",
            &json!({ "email": "eve@example.com", "password": PASSWORD }),
        )
        .expect_status(201);
    let mut eve = w.server.client();
    eve.login("eve@example.com", PASSWORD).expect_status(200);
    eve.get(&w.path(&format!("datasources/{id}")))
        .expect_problem(404, "not-found");
    eve.post(&w.path(&format!("datasources/{id}/test")), &json!({}))
        .expect_problem(404, "not-found");
}

#[test]
fn inputs_are_bound_as_parameters_never_spliced() {
    let (w, pg, id) = world_with_db();

    let answer = w.preview(
        &id,
        "select {{ inputs.n }}::int + 1 as answer",
        json!({ "n": 41 }),
    );
    answer.expect_status(200);
    assert_eq!(answer.json()["rows"], json!([[42]]));
    assert_eq!(answer.json()["columns"][0]["name"], "answer");

    let injected = w.preview(
        &id,
        "select {{ inputs.n }}::int as n",
        json!({ "n": "1; drop table x" }),
    );
    let problem = injected.expect_problem(422, "remote");
    assert_eq!(problem["code"], "22P02", "{problem}");

    let sql = format!(
        "select name from {} where name = {{{{ inputs.q }}}}",
        pg.table
    );
    for hostile in [
        "' OR 1=1 --",
        "Ada'; DROP TABLE x; --",
        "{{ secrets.token }}",
        "nul\u{0}byte",
    ] {
        let r = w.preview(&id, &sql, json!({ "q": hostile }));
        if hostile.contains('\u{0}') {
            // PostgreSQL refuses NUL in text: a clean 422, not a crash.
            r.expect_problem(422, "remote");
        } else {
            r.expect_status(200);
            assert_eq!(r.json()["rows"], json!([]), "{hostile}");
        }
    }
    let huge = "x".repeat(200_000);
    let r = w.preview(
        &id,
        "select length({{ inputs.q }}) as n",
        json!({ "q": huge }),
    );
    r.expect_status(200);
    assert_eq!(r.json()["rows"], json!([[200000]]));
    let count = w.preview(
        &id,
        &format!("select count(*) as n from {}", pg.table),
        json!({}),
    );
    assert_eq!(count.json()["rows"], json!([[2]]));

    // A client can't supply the server's roots.
    for root in ["user", "secrets", "constants", "env"] {
        w.preview(&id, "select 1", json!({ root: { "id": "x" } }))
            .expect_problem(422, "validation");
    }
    let me = w.preview(&id, "select {{ user.email }} as me", json!({}));
    assert_eq!(me.json()["rows"], json!([[common::ADMIN_EMAIL]]));
}

#[test]
fn constants_and_secrets_resolve_on_the_server_only() {
    let (w, _pg, id) = world_with_db();
    let marker = "Sekrit-Token-4412-zz";
    w.admin
        .post(
            &w.path("constants"),
            &json!({ "name": "greeting", "value": "hello" }),
        )
        .expect_status(201);
    let secret = w.admin.post(
        &w.path("constants"),
        &json!({ "name": "token", "value": marker, "secret": true }),
    );
    secret.expect_status(201);
    assert_eq!(secret.json()["value"], Value::Null);
    w.admin
        .post(
            &w.path("constants"),
            &json!({ "name": "token", "value": "again", "secret": true }),
        )
        .expect_problem(409, "conflict");
    w.admin
        .post(
            &w.path("constants"),
            &json!({ "name": "bad name", "value": "v" }),
        )
        .expect_problem(422, "validation");

    let r = w.preview(
        &id,
        "select {{ constants.greeting }} as g, {{ secrets.token }} as s, length({{ secrets.token }}) as n",
        json!({}),
    );
    r.expect_status(200);
    let rows = r.json()["rows"].clone();
    assert_eq!(rows[0][0], "hello");
    assert_ne!(rows[0][1], marker, "a bound secret is masked in results");
    assert_eq!(rows[0][2], marker.len());

    // The database's error message would quote the value: masked there too.
    let cast = w.preview(&id, "select {{ secrets.token }}::int", json!({}));
    let problem = cast.expect_problem(422, "remote");
    assert!(!cast.body.contains(marker), "{problem}");

    // A builder can't run an unreleased query that uses a secret (it could transform it into
    // readable text); admins can, and released apps can.
    let builder = w.member("builder@example.com", "builder");
    builder
        .post(
            &w.path(&format!("datasources/{id}/run")),
            &json!({ "operation": "sql", "query": { "sql": "select reverse({{ secrets.token }})" } }),
        )
        .expect_problem(403, "forbidden");
    let audit = w.admin.get(&w.path("audit?action=query.preview")).body;
    assert!(
        audit.contains("secretsUsed") && audit.contains("reverse"),
        "{audit}"
    );

    let secret_id = secret.json()["id"].as_str().unwrap().to_string();
    w.admin
        .patch(
            &w.path(&format!("constants/{secret_id}")),
            &json!({ "value": "Rotated-Value-99" }),
        )
        .expect_status(200);
    let n = w.preview(&id, "select length({{ secrets.token }}) as n", json!({}));
    assert_eq!(n.json()["rows"], json!([[16]]));

    for text in [
        w.admin.get(&w.path("constants")).body,
        w.admin.get(&w.path("audit")).body,
        w.server.logs(),
    ] {
        assert!(
            !text.contains(marker) && !text.contains("Rotated-Value-99"),
            "{text}"
        );
    }
    w.admin
        .delete(&w.path(&format!("constants/{secret_id}")))
        .expect_status(204);
    w.preview(&id, "select {{ secrets.token }}", json!({}))
        .expect_problem(422, "invalid-query");
}

#[test]
fn a_tampered_or_moved_ciphertext_fails_to_open() {
    let w = world(true);
    let pg = PgFixture::new();
    let a = w.create("a", pg.config())["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = w.create("b", pg.config())["id"]
        .as_str()
        .unwrap()
        .to_string();
    w.preview(&b, "select 1", json!({})).expect_status(200);

    // b's row gets a's ciphertext: sealed for another row, so it must not open.
    w.server.store.execute(&format!(
        "UPDATE datasources SET secrets = (SELECT secrets FROM datasources WHERE id = '{a}') WHERE id = '{b}'"
    ));
    w.admin
        .post(&w.path(&format!("datasources/{b}/test")), &json!({}))
        .expect_problem(409, "secret-unreadable");

    // One flipped character in a's ciphertext.
    w.server.store.execute(&format!(
        "UPDATE datasources SET secrets = 'A' || substr(secrets, 2) WHERE id = '{a}' AND substr(secrets, 1, 1) <> 'A'; \
         UPDATE datasources SET secrets = 'B' || substr(secrets, 2) WHERE id = '{a}' AND substr(secrets, 1, 1) = 'A'"
    ));
    w.admin
        .post(&w.path(&format!("datasources/{a}/test")), &json!({}))
        .expect_problem(409, "secret-unreadable");
}

#[test]
fn loopback_is_refused_until_an_admin_allows_it() {
    let w = world(false);
    let pg = PgFixture::new();
    let id = w.create("db", pg.config())["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = w
        .admin
        .post(&w.path(&format!("datasources/{id}/test")), &json!({}));
    let problem = r.expect_problem(403, "egress-denied");
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("127.0.0.1"), "{detail}");
    // The operator sees one line naming what was refused.
    let logs = w.server.logs();
    assert!(
        logs.contains("egress.denied") && logs.contains("tcp://{host}:{port}"),
        "{logs}"
    );
}

#[test]
fn rotating_keys_reseals_secrets_while_the_server_runs() {
    let (w, pg, id) = world_with_db();
    w.admin
        .post(
            &w.path("constants"),
            &json!({ "name": "token", "value": "Before-Rotation-1", "secret": true }),
        )
        .expect_status(201);

    let out = common::lathe()
        .args(["keys", "rotate"])
        .args(w.server.store.args())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("re-sealed 2 secret(s)"), "{said}");
    let key_file = std::fs::read_to_string(w.server.data_dir().join("master.key")).unwrap();
    assert_eq!(key_file.lines().filter(|l| !l.trim().is_empty()).count(), 2);

    // A fresh pool must open the re-sealed secrets with the new master key.
    let mut config = pg.config();
    config["statement_timeout_ms"] = json!(4000);
    config.as_object_mut().unwrap().remove("password");
    w.admin
        .patch(
            &w.path(&format!("datasources/{id}")),
            &json!({ "config": config }),
        )
        .expect_status(200);
    w.admin
        .post(&w.path(&format!("datasources/{id}/test")), &json!({}))
        .expect_status(200);
    let n = w.preview(&id, "select length({{ secrets.token }}) as n", json!({}));
    assert_eq!(n.json()["rows"], json!([[17]]));
}

#[test]
fn the_server_refuses_a_missing_or_example_master_key() {
    let server = start(false);
    let admin = server.admin();
    let ws = create_workspace(&admin, "K");
    admin
        .post(
            &format!("/api/v1/workspaces/{ws}/constants"),
            &json!({ "name": "k", "value": "v", "secret": true }),
        )
        .expect_status(201);
    let data_dir = server.data_dir().to_path_buf();
    let store = server.crash();
    std::fs::remove_file(data_dir.join("master.key")).unwrap();

    let refusal = |key: Option<&str>| {
        let mut command = common::lathe();
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(store.args());
        if let Some(key) = key {
            command.env("LATHE_MASTER_KEY", key);
        }
        let out = command.output().unwrap();
        assert!(!out.status.success(), "the server started");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = refusal(None);
    assert!(err.contains("no master key"), "{err}");
    let err = refusal(Some("bGF0aGUtZXhhbXBsZS1rZXktZG8tbm90LXVzZS1pdCE="));
    assert!(err.contains("example"), "{err}");
    let err = refusal(Some("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="));
    assert!(err.contains("not configured"), "{err}");
}

#[test]
fn results_over_the_row_limit_are_cut_and_slow_queries_stopped() {
    let server = {
        let mut args = common::connectors::plugin_args(true);
        args.extend(["--query-timeout-secs".to_string(), "2".to_string()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let server = Server::start_with(&args);
        let out = server
            .store
            .admin_create(common::ADMIN_EMAIL, common::ADMIN_PASSWORD);
        assert!(out.status.success());
        server
    };
    let admin = server.admin();
    let ws = create_workspace(&admin, "Limits");
    let pg = PgFixture::new();
    let created = admin.post(
        &format!("/api/v1/workspaces/{ws}/datasources"),
        &json!({ "name": "db", "plugin": "postgres", "config": pg.config(), "max_rows": 5 }),
    );
    created.expect_status(201);
    let id = created.json()["id"].as_str().unwrap().to_string();
    let run = |sql: &str| {
        admin.post(
            &format!("/api/v1/workspaces/{ws}/datasources/{id}/run"),
            &json!({ "operation": "sql", "query": { "sql": sql } }),
        )
    };

    let cut = run("select g from generate_series(1, 100000) g");
    cut.expect_status(200);
    assert_eq!(cut.json()["rowCount"], 5);
    assert_eq!(cut.json()["truncated"], true);
    assert_eq!(cut.json()["rows"], json!([[1], [2], [3], [4], [5]]));

    let started = std::time::Instant::now();
    let slow = run("select pg_sleep(30)");
    // The connector sets statement_timeout just under the call deadline, so PostgreSQL
    // cancels the statement itself (57014) before the host has to stop the instance.
    let problem = slow.expect_problem(422, "remote");
    assert_eq!(problem["code"], "57014", "{problem}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "{problem}"
    );
    // The datasource still answers after its instance was stopped.
    run("select 1").expect_status(200);
}

#[test]
fn a_datasource_recovers_after_its_connection_dies() {
    let (w, pg, id) = world_with_db();
    w.preview(&id, "select 1", json!({})).expect_status(200);

    // A NUL in the query text is refused before it reaches the wire.
    w.preview(&id, "select 'a\u{0}b'", json!({}))
        .expect_problem(422, "invalid-query");
    w.preview(&id, "select 1", json!({})).expect_status(200);

    // The backend is killed from outside while the pooled connection is idle, as a
    // restart, a failover or an idle limit would. The connector sees the server's goodbye
    // before the next call and connects again: the next run works.
    common::connectors::pg(&format!(
        "do $$ begin
            perform pg_terminate_backend(pid) from pg_stat_activity where usename = '{role}';
            for i in 1..1000 loop
                perform pg_stat_clear_snapshot();
                exit when not exists (select from pg_stat_activity where usename = '{role}');
                perform pg_sleep(0.01);
            end loop;
        end $$",
        role = pg.role
    ));
    w.preview(&id, "select 1", json!({})).expect_status(200);
    w.preview(&id, "select 2", json!({})).expect_status(200);

    // The session kills itself: a FATAL error, answered as a datasource failure (424, not
    // a refused query: trying again works), then a working datasource again.
    let r = w.preview(
        &id,
        "select pg_terminate_backend(pg_backend_pid())",
        json!({}),
    );
    assert_eq!(
        r.expect_problem(424, "remote")["code"],
        "57P01",
        "{}",
        r.body
    );
    w.preview(&id, "select 3", json!({})).expect_status(200);
}

#[test]
fn a_transaction_opened_by_a_run_does_not_outlive_it() {
    let (w, pg, id) = world_with_db();
    w.preview(&id, "begin", json!({})).expect_status(200);
    // The block ended with the run that opened it, so a lock needs its own block again.
    let lock = w.preview(
        &id,
        &format!("lock table {} in access exclusive mode", pg.table),
        json!({}),
    );
    assert_eq!(lock.expect_problem(422, "remote")["code"], "25P01");
    // No lock is left behind for the next caller or for anyone else.
    common::connectors::pg(&format!(
        "set lock_timeout = '2s'; select count(*) from {}",
        pg.table
    ));
    let open = w.preview(&id, "select txid_current_if_assigned() as t", json!({}));
    open.expect_status(200);
    assert_eq!(open.json()["rows"][0][0], Value::Null, "{}", open.body);
}
