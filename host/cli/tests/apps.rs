//! Apps: the draft, releases, versions, export and import, and who may do what, through
//! the real binary.

mod common;

use common::{Client, Server, create_workspace};
use serde_json::{Value, json};

const PASSWORD: &str = "member password 1";
const EXAMPLE: &str = include_str!("../../../examples/apps/customers.json");

struct World {
    server: Server,
    admin: Client,
    ws: String,
}

fn world() -> World {
    let server = Server::with_admin();
    let admin = server.admin();
    let ws = create_workspace(&admin, "Ops");
    World { server, admin, ws }
}

impl World {
    /// A new user with `role` in the workspace, logged in.
    fn member(&self, email: &str, role: &str) -> Client {
        let user = json!({ "email": email, "password": PASSWORD });
        self.admin.post("/api/v1/users", &user).expect_status(201);
        let member = json!({ "email": email, "role": role });
        let path = format!("/api/v1/workspaces/{}/members", self.ws);
        self.admin.post(&path, &member).expect_status(201);
        let mut c = self.server.client();
        c.login(email, PASSWORD).expect_status(200);
        c
    }

    fn apps(&self) -> String {
        format!("/api/v1/workspaces/{}/apps", self.ws)
    }

    fn app(&self, app: &str) -> String {
        format!("{}/{app}", self.apps())
    }

    /// Creates an app as the admin and returns its id.
    fn create(&self, name: &str, slug: &str, definition: Value) -> String {
        let body = json!({ "name": name, "slug": slug, "definition": definition });
        let r = self.admin.post(&self.apps(), &body);
        r.expect_status(201);
        r.json()["id"].as_str().unwrap().to_string()
    }

    fn slugs(&self, client: &Client, query: &str) -> Vec<String> {
        let r = client.get(&format!("{}{query}", self.apps()));
        r.expect_status(200);
        slugs_of(&r.json())
    }

    fn audit_actions(&self) -> Vec<String> {
        let r = self
            .admin
            .get(&format!("/api/v1/workspaces/{}/audit?limit=200", self.ws));
        r.expect_status(200);
        r.json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_string())
            .rev()
            .collect()
    }
}

fn slugs_of(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["slug"].as_str().unwrap().to_string())
        .collect()
}

fn example() -> Value {
    serde_json::from_str(EXAMPLE).unwrap()
}

/// A one-page app whose title text is `title`.
fn titled(title: &str) -> Value {
    json!({ "pages": [{ "id": "main", "name": "Main", "components": [{
        "id": "title", "type": "text", "props": { "text": title },
        "layout": { "x": 0, "y": 0, "w": 24, "h": 1 },
    }] }] })
}

#[test]
fn app_is_created_listed_searched_read_updated_and_deleted() {
    let w = world();
    let r = w
        .admin
        .post(&w.apps(), &json!({ "name": "Blank", "slug": "blank" }));
    r.expect_status(201);
    let blank = r.json();
    assert_eq!(blank["draft"]["pages"][0]["components"], json!([]));
    assert_eq!(blank["released"], Value::Null);
    assert_eq!(blank["draft_changed"], true);

    let customers = w.create("Customer Admin", "customers", example());
    w.create("Orders", "orders", titled("Orders"));
    w.admin
        .post(&w.apps(), &json!({ "name": "Again", "slug": "orders" }))
        .expect_problem(409, "conflict");

    assert_eq!(w.slugs(&w.admin, ""), ["blank", "customers", "orders"]);
    assert_eq!(w.slugs(&w.admin, "?q=CUSTOMER"), ["customers"]);
    assert_eq!(w.slugs(&w.admin, "?q=ord"), ["orders"]);
    assert!(
        w.slugs(&w.admin, "?q=%25").is_empty(),
        "% matches literally"
    );
    let page = w.admin.get(&format!("{}?limit=2", w.apps())).json();
    assert_eq!(slugs_of(&page), ["blank", "customers"]);
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = w
        .admin
        .get(&format!("{}?limit=2&cursor={cursor}", w.apps()));
    assert_eq!(slugs_of(&rest.json()), ["orders"]);
    assert_eq!(rest.json()["next_cursor"], Value::Null);

    let by_id = w.admin.get(&w.app(&customers)).json();
    let by_slug = w.admin.get(&w.app("customers")).json();
    assert_eq!(by_id, by_slug);
    assert_eq!(by_id["draft"], example());

    let r = w.admin.patch(
        &w.app("customers"),
        &json!({ "name": "Customers", "slug": "crm", "definition": titled("CRM") }),
    );
    r.expect_status(200);
    assert_eq!(r.json()["slug"], "crm");
    assert_eq!(r.json()["draft"], titled("CRM"));
    w.admin
        .get(&w.app("customers"))
        .expect_problem(404, "not-found");
    w.admin
        .patch(&w.app("crm"), &json!({ "slug": "orders" }))
        .expect_problem(409, "conflict");
    w.admin
        .patch(&w.app("crm"), &json!({}))
        .expect_problem(422, "validation");

    w.admin.delete(&w.app(&customers)).expect_status(204);
    w.admin
        .get(&w.app(&customers))
        .expect_problem(404, "not-found");
    w.admin
        .delete(&w.app(&customers))
        .expect_problem(404, "not-found");
    assert_eq!(w.slugs(&w.admin, ""), ["blank", "orders"]);

    let actions = w.audit_actions();
    let app_actions: Vec<&str> = actions
        .iter()
        .map(String::as_str)
        .filter(|a| a.starts_with("app."))
        .collect();
    assert_eq!(
        app_actions,
        [
            "app.create",
            "app.create",
            "app.create",
            "app.update",
            "app.delete"
        ]
    );
}

#[test]
fn builder_may_do_everything_a_viewer_only_reads_releases() {
    let w = world();
    let builder = w.member("builder@example.com", "builder");
    let viewer = w.member("viewer@example.com", "viewer");
    let body = json!({ "name": "Orders", "slug": "orders", "definition": titled("v1") });
    builder.post(&w.apps(), &body).expect_status(201);
    w.create("Draft only", "draft-only", titled("secret plans"));

    // Never released: invisible to viewers, as if it didn't exist.
    assert!(w.slugs(&viewer, "").is_empty());
    viewer
        .get(&w.app("orders"))
        .expect_problem(404, "not-found");
    viewer
        .get(&w.app("draft-only"))
        .expect_problem(404, "not-found");

    builder
        .post(&format!("{}/release", w.app("orders")), &json!({}))
        .expect_status(201);
    assert_eq!(w.slugs(&viewer, ""), ["orders"]);
    let seen = viewer.get(&w.app("orders")).json();
    assert_eq!(seen["released"]["definition"], titled("v1"));
    assert!(seen.get("draft").is_none(), "{seen}");

    // Viewers can't write, release, restore, read versions, export or import.
    let orders = w.app("orders");
    let forbidden = [
        viewer.post(&w.apps(), &json!({ "name": "X", "slug": "x" })),
        viewer.patch(&orders, &json!({ "name": "Mine" })),
        viewer.delete(&orders),
        viewer.post(&format!("{orders}/release"), &json!({})),
        viewer.get(&format!("{orders}/versions")),
        viewer.get(&format!("{orders}/versions/1")),
        viewer.post(&format!("{orders}/versions/1/restore"), &json!({})),
        viewer.get(&format!("{orders}/export")),
        viewer.post(&format!("{}/import", w.apps()), &json!({ "document": {} })),
    ];
    for r in forbidden {
        r.expect_problem(403, "forbidden");
    }
    assert_eq!(w.admin.get(&orders).json()["name"], "Orders");
}

#[test]
fn releases_are_numbered_restorable_and_viewers_keep_the_release_while_the_draft_moves() {
    let w = world();
    let viewer = w.member("viewer@example.com", "viewer");
    let app = w.create("Orders", "orders", titled("v1"));
    let path = w.app(&app);

    let r = w
        .admin
        .post(&format!("{path}/release"), &json!({ "note": " first " }));
    r.expect_status(201);
    assert_eq!(r.json()["number"], 1);
    assert_eq!(r.json()["note"], "first");
    assert_eq!(w.admin.get(&path).json()["draft_changed"], false);

    w.admin
        .patch(&path, &json!({ "definition": titled("v2 draft") }))
        .expect_status(200);
    assert_eq!(w.admin.get(&path).json()["draft_changed"], true);
    let seen = viewer.get(&path).json();
    assert_eq!(seen["released"]["version"], 1);
    assert_eq!(seen["released"]["definition"], titled("v1"));

    let r = w.admin.post(&format!("{path}/release"), &json!({}));
    assert_eq!(r.json()["number"], 2);
    assert_eq!(
        viewer.get(&path).json()["released"]["definition"],
        titled("v2 draft")
    );
    w.admin
        .patch(&path, &json!({ "definition": titled("v3 draft") }))
        .expect_status(200);

    let versions = w.admin.get(&format!("{path}/versions")).json();
    let numbers: Vec<(i64, bool)> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["number"].as_i64().unwrap(),
                v["current"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(numbers, [(2, true), (1, false)]);
    let v1 = w.admin.get(&format!("{path}/versions/1")).json();
    assert_eq!(v1["definition"], titled("v1"));
    assert_eq!(v1["note"], "first");
    for missing in ["3", "0", "-1", "x"] {
        w.admin
            .get(&format!("{path}/versions/{missing}"))
            .expect_problem(404, "not-found");
    }

    let r = w
        .admin
        .post(&format!("{path}/versions/1/restore"), &json!({}));
    r.expect_status(200);
    assert_eq!(r.json()["draft"], titled("v1"));
    assert_eq!(
        r.json()["released"]["version"],
        2,
        "restore leaves the release"
    );
    assert_eq!(
        viewer.get(&path).json()["released"]["definition"],
        titled("v2 draft")
    );
    w.admin
        .post(&format!("{path}/versions/9/restore"), &json!({}))
        .expect_problem(404, "not-found");

    let r = w.admin.post(&format!("{path}/release"), &json!({}));
    assert_eq!(r.json()["number"], 3);
    assert_eq!(
        viewer.get(&path).json()["released"]["definition"],
        titled("v1")
    );

    let actions = w.audit_actions();
    for action in ["app.release", "app.restore", "app.update"] {
        assert!(actions.iter().any(|a| a == action), "{action}: {actions:?}");
    }
    // A release record carries the digest of exactly what was frozen.
    let releases = w.admin.get(&format!(
        "/api/v1/workspaces/{}/audit?action=app.release",
        w.ws
    ));
    let digest = &releases.json()["items"][0]["detail"]["definition"]["sha256"];
    assert_eq!(digest.as_str().map(str::len), Some(64), "{}", releases.body);
}

#[test]
fn export_carries_no_secrets_and_imports_into_another_workspace_with_a_datasource_map() {
    let w = world();
    let app = w.create("Customers", "customers", example());
    w.admin
        .post(
            &format!("{}/release", w.app(&app)),
            &json!({ "note": "v1" }),
        )
        .expect_status(201);
    w.admin
        .patch(&w.app(&app), &json!({ "definition": titled("later") }))
        .expect_status(200);

    let draft = w.admin.get(&format!("{}/export", w.app(&app))).json();
    assert_eq!(draft["version"], "draft");
    assert_eq!(draft["definition"], titled("later"));
    let r = w.admin.get(&format!("{}/export?version=1", w.app(&app)));
    r.expect_status(200);
    let doc = r.json();
    let mut keys: Vec<&str> = doc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "app",
            "datasources",
            "definition",
            "exportedAt",
            "format",
            "formatVersion",
            "version"
        ]
    );
    assert_eq!(doc["format"], "lathe.app");
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["definition"], example());
    assert_eq!(doc["datasources"], json!(["customers-db"]));
    let text = r.body.to_lowercase();
    for word in [
        "password",
        "secret",
        "credential",
        "config",
        "token",
        "host",
    ] {
        assert!(!text.contains(word), "export mentions {word}: {text}");
    }
    for bad in ["?version=0", "?version=latest", "?version=99"] {
        let r = w.admin.get(&format!("{}/export{bad}", w.app(&app)));
        assert!(matches!(r.status, 400 | 404), "{bad}: {}", r.body);
    }

    let other = create_workspace(&w.admin, "Other");
    let import = format!("/api/v1/workspaces/{other}/apps/import");
    let typo = json!({ "document": doc, "datasource_map": { "customer-db": "crm" } });
    w.admin
        .post(&import, &typo)
        .expect_problem(422, "validation");

    let body = json!({ "document": doc, "datasource_map": { "customers-db": "crm-postgres" } });
    let r = w.admin.post(&import, &body);
    r.expect_status(201);
    let imported = r.json();
    assert_eq!(imported["datasources"], json!(["crm-postgres"]));
    assert_eq!(imported["unresolved_datasources"], json!(["crm-postgres"]));
    let app = &imported["app"];
    assert_eq!(app["workspace_id"], other.as_str());
    assert_eq!(
        (&app["name"], &app["slug"]),
        (&json!("Customers"), &json!("customers"))
    );
    assert_eq!(app["released"], Value::Null, "an import starts as a draft");
    let queries = app["draft"]["queries"].as_array().unwrap();
    assert!(queries.iter().all(|q| q["datasource"] == "crm-postgres"));
    let mut expected = example();
    for q in expected["queries"].as_array_mut().unwrap() {
        q["datasource"] = json!("crm-postgres");
    }
    assert_eq!(app["draft"], expected);

    // The same document again collides on the slug unless it is given a new one.
    w.admin
        .post(&import, &json!({ "document": doc }))
        .expect_problem(409, "conflict");
    let again = json!({ "document": doc, "name": "Copy", "slug": "customers-copy" });
    let r = w.admin.post(&import, &again);
    r.expect_status(201);
    assert_eq!(r.json()["unresolved_datasources"], json!(["customers-db"]));

    let mut newer = doc.clone();
    newer["formatVersion"] = json!(2);
    let body = json!({ "document": newer, "slug": "newer" });
    let problem = w
        .admin
        .post(&import, &body)
        .expect_problem(422, "validation");
    assert!(problem["detail"].as_str().unwrap().contains("newer Lathe"));

    let actions = w.audit_actions();
    assert!(actions.iter().any(|a| a == "app.export"), "{actions:?}");
    let other_audit = w
        .admin
        .get(&format!(
            "/api/v1/workspaces/{other}/audit?action=app.import"
        ))
        .json();
    assert_eq!(other_audit["items"].as_array().unwrap().len(), 2);
}

#[test]
fn invalid_definitions_are_refused_and_nothing_is_written() {
    let w = world();
    let app = w.create("Orders", "orders", titled("v1"));
    let before = w.admin.get(&w.app(&app)).json();
    let audit_before = w.audit_actions().len();

    let mut duplicate_queries = example();
    let q = duplicate_queries["queries"][0].clone();
    duplicate_queries["queries"].as_array_mut().unwrap().push(q);
    let mut bad_type = titled("x");
    bad_type["pages"][0]["components"][0]["type"] = json!("slider");
    let mut sql_id = titled("x");
    sql_id["pages"][0]["components"][0]["id"] = json!("t'; DROP TABLE apps; --");
    let mut sql_query_name = example();
    sql_query_name["queries"][0]["name"] = json!("x; delete from apps");
    let mut deep = json!("bottom");
    for _ in 0..100 {
        deep = json!({ "d": deep });
    }
    let mut nested = titled("x");
    nested["pages"][0]["components"][0]["props"]["deep"] = deep;
    let mut nul = titled("a\u{0}b");
    nul["pages"][0]["name"] = json!("Main");
    let mut huge = titled("x");
    huge["pages"][0]["components"][0]["props"]["text"] = json!("y".repeat(2 * 1024 * 1024 + 1));
    let mut bad_inputs = example();
    bad_inputs["queries"][0]["inputs"] =
        json!({ "type": "object", "properties": { "a": { "type": 5 } } });

    let cases = [
        (
            "duplicate query names",
            duplicate_queries,
            "/definition/queries/2/name",
        ),
        (
            "bad component type",
            bad_type,
            "/definition/pages/0/components/0/type",
        ),
        (
            "SQL in an id",
            sql_id,
            "/definition/pages/0/components/0/id",
        ),
        (
            "SQL in a query name",
            sql_query_name,
            "/definition/queries/0/name",
        ),
        (
            "deeply nested",
            nested,
            "/definition/pages/0/components/0/props",
        ),
        ("NUL", nul, "/definition/pages/0/components/0/props/text"),
        ("huge", huge, "/definition"),
        ("inputs schema", bad_inputs, "/definition/queries/0/inputs"),
        ("not an app", json!({ "hello": "world" }), "/definition"),
    ];
    for (what, definition, pointer) in cases {
        let create = json!({ "name": "New", "slug": "new", "definition": definition });
        let problem = w
            .admin
            .post(&w.apps(), &create)
            .expect_problem(422, "validation");
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.starts_with(&format!("at {pointer}")),
            "{what}: {detail}"
        );
        let update = json!({ "definition": definition });
        w.admin
            .patch(&w.app(&app), &update)
            .expect_problem(422, "validation");
        let doc = json!({ "format": "lathe.app", "formatVersion": 1, "exportedAt": "",
            "app": { "name": "New", "slug": "new" }, "version": "draft",
            "definition": definition, "datasources": [] });
        let import = format!("{}/import", w.apps());
        w.admin
            .post(&import, &json!({ "document": doc }))
            .expect_problem(422, "validation");
    }

    // Names and slugs: SQL and NUL in a name are only text; in a slug they are refused.
    for slug in [
        "x'; drop table apps; --",
        "a\u{0}b",
        "Upper",
        "import",
        "",
        &"a".repeat(65),
    ] {
        let body = json!({ "name": "New", "slug": slug });
        w.admin
            .post(&w.apps(), &body)
            .expect_problem(422, "validation");
    }
    let nul_name = json!({ "name": "a\u{0}b", "slug": "nul" });
    w.admin
        .post(&w.apps(), &nul_name)
        .expect_problem(422, "validation");

    assert_eq!(w.admin.get(&w.app(&app)).json(), before);
    assert_eq!(w.slugs(&w.admin, ""), ["orders"]);
    assert_eq!(w.audit_actions().len(), audit_before);

    let name = "Robert'); DROP TABLE apps; --";
    w.create(name, "bobby", titled("x"));
    assert_eq!(w.admin.get(&w.app("bobby")).json()["name"], name);
    assert_eq!(w.slugs(&w.admin, "?q=drop%20table"), ["bobby"]);
}

#[test]
fn other_tenants_get_404_for_the_workspace_and_its_apps() {
    let w = world();
    let app = w.create("Orders", "orders", titled("x"));
    w.admin
        .post(&format!("{}/release", w.app(&app)), &json!({}))
        .expect_status(201);

    // A user with no membership here.
    let outsider_email = "outsider@example.com";
    let user = json!({ "email": outsider_email, "password": PASSWORD });
    w.admin.post("/api/v1/users", &user).expect_status(201);
    let mut outsider = w.server.client();
    outsider.login(outsider_email, PASSWORD).expect_status(200);
    outsider.get(&w.apps()).expect_problem(404, "not-found");
    outsider.get(&w.app(&app)).expect_problem(404, "not-found");
    outsider
        .post(&w.apps(), &json!({ "name": "X", "slug": "x" }))
        .expect_problem(404, "not-found");
    outsider
        .delete(&w.app(&app))
        .expect_problem(404, "not-found");

    // An app id from another workspace, through a workspace the caller administers.
    let other = create_workspace(&w.admin, "Other");
    let foreign = |tail: &str| format!("/api/v1/workspaces/{other}/apps/{app}{tail}");
    w.admin.get(&foreign("")).expect_problem(404, "not-found");
    w.admin
        .patch(&foreign(""), &json!({ "name": "Stolen" }))
        .expect_problem(404, "not-found");
    w.admin
        .post(&foreign("/release"), &json!({}))
        .expect_problem(404, "not-found");
    w.admin
        .get(&foreign("/versions/1"))
        .expect_problem(404, "not-found");
    w.admin
        .get(&foreign("/export"))
        .expect_problem(404, "not-found");
    w.admin
        .delete(&foreign(""))
        .expect_problem(404, "not-found");
    assert_eq!(w.admin.get(&w.app(&app)).json()["name"], "Orders");

    // Ids and slugs no app can have reach nothing, on either backend.
    for weird in [
        "%00",
        "a%00b",
        "%27%3B%20drop%20table%20apps%3B--",
        "import",
    ] {
        let r = w.admin.get(&format!("{}/{weird}", w.apps()));
        assert!(
            matches!(r.status, 404 | 405),
            "{weird}: {} {}",
            r.status,
            r.body
        );
    }
    w.admin
        .get("/api/v1/workspaces/a%00b/apps")
        .expect_problem(404, "not-found");
}

#[test]
fn example_app_validates_and_the_schema_is_published() {
    let w = world();
    let r = w.server.client().get("/api/v1/schemas/app-definition");
    r.expect_status(200);
    assert_eq!(r.header("content-type"), Some("application/schema+json"));
    let schema = r.json();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(
        r.body,
        include_str!("../../server/schemas/app-definition.schema.json")
    );

    let id = w.create("Customers", "customers", example());
    let app = w.admin.get(&w.app(&id)).json();
    assert_eq!(app["draft"], example());
}
