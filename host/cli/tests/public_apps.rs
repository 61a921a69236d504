//! Public apps: anonymous callers load the release of an app marked public and run its
//! released queries with declared inputs only, within a per-address limit, each run an
//! audit record marked anonymous. Against the real PostgreSQL through the real connector.

mod common;

use common::connectors::{PgFixture, plugin_args};
use common::{ADMIN_EMAIL, ADMIN_PASSWORD, Client, Server, create_workspace};
use serde_json::json;

const PASSWORD: &str = "member password 1";

struct World {
    server: Server,
    admin: Client,
    ws: String,
    _pg: PgFixture,
}

/// A workspace with an app `crm` whose release has `find` (declared input `q`) and whose
/// draft adds `all`.
fn world(extra: &[&str]) -> World {
    let mut args = plugin_args(true);
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start_with(&args);
    assert!(
        server
            .store
            .admin_create(ADMIN_EMAIL, ADMIN_PASSWORD)
            .status
            .success()
    );
    let admin = server.admin();
    let ws = create_workspace(&admin, "Public");
    let pg = PgFixture::new();
    admin
        .post(
            &format!("/api/v1/workspaces/{ws}/datasources"),
            &json!({ "name": "db", "plugin": "postgres", "config": pg.config() }),
        )
        .expect_status(201);
    let find = json!({
        "name": "find", "datasource": "db", "operation": "sql",
        "query": { "sql": format!("select name from {} where name ilike {{{{ inputs.q }}}} || '%' order by id", pg.table) },
        "inputs": { "type": "object", "properties": { "q": { "type": "string", "maxLength": 20 } } }
    });
    let page = json!({ "id": "home", "name": "Home", "components": [] });
    let definition = json!({ "pages": [page], "queries": [find] });
    let app = format!("/api/v1/workspaces/{ws}/apps");
    admin
        .post(
            &app,
            &json!({ "name": "CRM", "slug": "crm", "definition": definition }),
        )
        .expect_status(201);
    admin
        .post(&format!("{app}/crm/release"), &json!({}))
        .expect_status(201);
    let all = json!({
        "name": "all", "datasource": "db", "operation": "sql",
        "query": { "sql": format!("select name from {}", pg.table) }
    });
    let mut draft = definition.clone();
    draft["queries"].as_array_mut().unwrap().push(all);
    admin
        .patch(&format!("{app}/crm"), &json!({ "definition": draft }))
        .expect_status(200);
    World {
        server,
        admin,
        ws,
        _pg: pg,
    }
}

impl World {
    fn public(&self, rest: &str) -> String {
        format!("/api/v1/public/workspaces/{}/apps/crm{rest}", self.ws)
    }

    fn set_public(&self, client: &Client, public: bool) -> u16 {
        client
            .patch(
                &format!("/api/v1/workspaces/{}/apps/crm", self.ws),
                &json!({ "public": public }),
            )
            .status
    }
}

#[test]
fn anyone_loads_and_runs_the_release_of_a_public_app_and_nothing_else() {
    let w = world(&[]);
    let anonymous = w.server.client();
    let run = |inputs: serde_json::Value| {
        anonymous.post(&w.public("/queries/find/run"), &json!({ "inputs": inputs }))
    };

    // Not public yet: the same 404 as for no app at all.
    anonymous
        .get(&w.public(""))
        .expect_problem(404, "not-found");
    run(json!({ "q": "a" })).expect_problem(404, "not-found");
    anonymous
        .get(&format!("/api/v1/public/workspaces/{}/apps/nope", w.ws))
        .expect_problem(404, "not-found");

    // Making it public takes more than editing it.
    let builder_email = "builder@example.com";
    w.admin
        .post(
            "/api/v1/users",
            &json!({ "email": builder_email, "password": PASSWORD }),
        )
        .expect_status(201);
    w.admin
        .post(
            &format!("/api/v1/workspaces/{}/members", w.ws),
            &json!({ "email": builder_email, "role": "builder" }),
        )
        .expect_status(201);
    let mut builder = w.server.client();
    builder.login(builder_email, PASSWORD).expect_status(200);
    assert_eq!(w.set_public(&builder, true), 403);
    assert_eq!(w.set_public(&w.admin, true), 200);
    // Once public, a release is a publication: an editor without `manage_workspace` can't.
    builder
        .post(
            &format!("/api/v1/workspaces/{}/apps/crm/release", w.ws),
            &json!({}),
        )
        .expect_problem(403, "forbidden");

    let app = anonymous.get(&w.public(""));
    app.expect_status(200);
    let app = app.json();
    assert_eq!(app["version"], 1);
    // The release, not the draft.
    assert_eq!(app["definition"]["queries"].as_array().unwrap().len(), 1);
    assert!(app.get("draft").is_none());

    let r = run(json!({ "q": "gr" }));
    r.expect_status(200);
    assert_eq!(r.json()["rows"], json!([["Grace"]]));
    // Injection stays data.
    assert_eq!(run(json!({ "q": "' OR 1=1 --" })).json()["rowCount"], 0);
    // Only declared inputs; never the server's roots; never the draft's queries.
    run(json!({ "q": "a", "extra": 1 })).expect_problem(422, "validation");
    run(json!({ "user": { "email": "admin@example.com" } })).expect_problem(422, "validation");
    anonymous
        .post(&w.public("/queries/all/run"), &json!({}))
        .expect_problem(404, "not-found");
    // The signed-in routes stay closed to it.
    anonymous
        .post(
            &format!("/api/v1/workspaces/{}/apps/crm/queries/find/run", w.ws),
            &json!({ "inputs": { "q": "a" } }),
        )
        .expect_problem(401, "unauthenticated");

    let audit = w
        .admin
        .get(&format!(
            "/api/v1/workspaces/{}/audit?action=query.run",
            w.ws
        ))
        .json();
    let record = &audit["items"][0];
    assert_eq!(record["via"], "anonymous");
    assert!(record["actor_id"].is_null() && record["actorId"].is_null());
    assert_eq!(record["detail"]["anonymous"], true);

    // Private again: gone on the next request.
    assert_eq!(w.set_public(&w.admin, false), 200);
    anonymous
        .get(&w.public(""))
        .expect_problem(404, "not-found");
    run(json!({ "q": "a" })).expect_problem(404, "not-found");
}

#[test]
fn anonymous_callers_are_limited_per_address() {
    let w = world(&["--public-rate-limit", "5"]);
    assert_eq!(w.set_public(&w.admin, true), 200);
    let anonymous = w.server.client();
    for _ in 0..5 {
        anonymous.get(&w.public("")).expect_status(200);
    }
    anonymous
        .post(
            &w.public("/queries/find/run"),
            &json!({ "inputs": { "q": "a" } }),
        )
        .expect_problem(429, "rate-limited");
    // Signed-in callers don't spend from it.
    w.admin
        .get(&format!("/api/v1/workspaces/{}/apps/crm", w.ws))
        .expect_status(200);
}
