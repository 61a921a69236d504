//! Custom groups and grants through the real binary: what a grant adds, that revoking it
//! counts on the very next request, and the escalation attempts that must fail.

mod common;

use common::{Client, Server, create_workspace};
use serde_json::{Value, json};

const PASSWORD: &str = "member password 1";

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
    /// A new user with `role` in the workspace, logged in, and their user id.
    fn member(&self, email: &str, role: &str) -> (Client, String) {
        let user = json!({ "email": email, "password": PASSWORD });
        let r = self.admin.post("/api/v1/users", &user);
        r.expect_status(201);
        let id = r.json()["id"].as_str().unwrap().to_string();
        let member = json!({ "email": email, "role": role });
        self.admin
            .post(&self.path("members"), &member)
            .expect_status(201);
        let mut c = self.server.client();
        c.login(email, PASSWORD).expect_status(200);
        (c, id)
    }

    fn path(&self, rest: &str) -> String {
        format!("/api/v1/workspaces/{}/{rest}", self.ws)
    }

    /// Creates and releases an app as the admin and returns its id.
    fn app(&self, slug: &str) -> String {
        let body = json!({ "name": slug, "slug": slug });
        let r = self.admin.post(&self.path("apps"), &body);
        r.expect_status(201);
        self.admin
            .post(&self.path(&format!("apps/{slug}/release")), &json!({}))
            .expect_status(201);
        r.json()["id"].as_str().unwrap().to_string()
    }

    /// A group with `members` and `grants`, made by the admin; returns its id.
    fn group(&self, name: &str, members: &[&str], grants: &[Value]) -> String {
        let r = self
            .admin
            .post(&self.path("groups"), &json!({ "name": name }));
        r.expect_status(201);
        let id = r.json()["id"].as_str().unwrap().to_string();
        for user in members {
            self.admin
                .post(
                    &self.path(&format!("groups/{id}/members")),
                    &json!({ "user_id": user }),
                )
                .expect_status(201);
        }
        for grant in grants {
            self.admin
                .post(&self.path(&format!("groups/{id}/grants")), grant)
                .expect_status(201);
        }
        id
    }

    fn rename(&self, client: &Client, slug: &str) -> u16 {
        client
            .patch(
                &self.path(&format!("apps/{slug}")),
                &json!({ "name": "renamed" }),
            )
            .status
    }
}

#[test]
fn a_grant_adds_exactly_what_it_names_and_revoking_it_counts_on_the_next_request() {
    let w = world();
    let (viewer, viewer_id) = w.member("viewer@example.com", "viewer");
    let crm = w.app("crm");
    w.app("hr");
    assert_eq!(w.rename(&viewer, "crm"), 403);

    let group = w.group(
        "crm-editors",
        &[&viewer_id],
        &[json!({ "action": "edit", "app_id": crm })],
    );
    assert_eq!(w.rename(&viewer, "crm"), 200);
    // Editing is not releasing: putting query text in front of every viewer needs `build`.
    viewer
        .post(&w.path("apps/crm/release"), &json!({}))
        .expect_problem(403, "forbidden");
    // A never-released app is a 404 to a viewer, its draft's query names included.
    w.admin
        .post(
            &w.path("apps"),
            &json!({ "name": "hidden", "slug": "hidden", "definition": {
                "pages": [{ "id": "home", "name": "Home", "components": [] }],
                "queries": [{ "name": "q1", "datasource": "none", "operation": "sql",
                              "query": { "sql": "select 1" } }] } }),
        )
        .expect_status(201);
    for query in ["q1", "nope"] {
        viewer
            .post(
                &w.path(&format!("apps/hidden/queries/{query}/run?version=draft")),
                &json!({}),
            )
            .expect_problem(404, "not-found");
    }
    // Only that app, and nothing else the builder role has.
    assert_eq!(w.rename(&viewer, "hr"), 403);
    viewer
        .post(&w.path("apps"), &json!({ "name": "x", "slug": "x" }))
        .expect_problem(403, "forbidden");

    let me = viewer.get(&w.path("permissions/me"));
    me.expect_status(200);
    let me = me.json();
    assert_eq!(me["role"], "viewer");
    assert_eq!(me["groups"][0]["name"], "crm-editors");
    assert_eq!(me["apps"]["all"], json!(["view"]));
    assert_eq!(me["apps"]["by_id"][&crm], json!(["view", "edit"]));
    assert_eq!(me["datasources"]["all"], json!(["use"]));
    assert_eq!(me["workspace"], json!([]));

    let grants = w.admin.get(&w.path(&format!("groups/{group}/grants")));
    let grant = grants.json()[0]["id"].as_str().unwrap().to_string();
    w.admin
        .delete(&w.path(&format!("groups/{group}/grants/{grant}")))
        .expect_status(204);
    assert_eq!(w.rename(&viewer, "crm"), 403);

    // Membership too: back in with the grant, then out of the group.
    w.admin
        .post(
            &w.path(&format!("groups/{group}/grants")),
            &json!({ "action": "edit", "app_id": "crm" }),
        )
        .expect_status(201);
    assert_eq!(w.rename(&viewer, "crm"), 200);
    w.admin
        .delete(&w.path(&format!("groups/{group}/members/{viewer_id}")))
        .expect_status(204);
    assert_eq!(w.rename(&viewer, "crm"), 403);
    // A renamed group's record keeps the name it had.
    w.admin
        .patch(
            &w.path(&format!("groups/{group}")),
            &json!({ "name": "editors-renamed" }),
        )
        .expect_status(200);
    let renamed = w.admin.get(&w.path("audit?action=group.rename")).json();
    let detail = &renamed["items"][0]["detail"];
    assert_eq!(detail["name"], "editors-renamed", "{renamed}");
    assert!(detail["from"].is_string(), "{renamed}");
    assert_ne!(detail["from"], "editors-renamed", "{renamed}");

    let actions: Vec<String> = w.admin.get(&w.path("audit?limit=100")).json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap().to_string())
        .collect();
    for action in [
        "group.create",
        "group.member_add",
        "group.grant",
        "group.revoke",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
}

#[test]
fn nobody_reaches_past_what_they_hold() {
    let w = world();
    let (builder, builder_id) = w.member("builder@example.com", "builder");
    let (_viewer, viewer_id) = w.member("viewer@example.com", "viewer");
    w.group(
        "people",
        &[&builder_id],
        &[
            json!({ "action": "manage_members" }),
            json!({ "action": "manage_groups" }),
        ],
    );
    let audit_group = w.group(
        "auditors",
        &[&viewer_id],
        &[json!({ "action": "read_audit" })],
    );

    // Managing members, but only up to its own role, and never itself upwards.
    builder
        .patch(
            &w.path(&format!("members/{builder_id}")),
            &json!({ "role": "admin" }),
        )
        .expect_problem(403, "forbidden");
    builder
        .patch(
            &w.path(&format!("members/{viewer_id}")),
            &json!({ "role": "admin" }),
        )
        .expect_problem(403, "forbidden");
    builder
        .patch(
            &w.path(&format!("members/{viewer_id}")),
            &json!({ "role": "builder" }),
        )
        .expect_status(200);
    let admin_id = w.admin.get("/api/v1/auth/me").json()["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    builder
        .delete(&w.path(&format!("members/{admin_id}")))
        .expect_problem(403, "forbidden");

    // Managing groups, but granting only what it holds, and joining no group that holds more.
    let own = builder.post(&w.path("groups"), &json!({ "name": "mine" }));
    own.expect_status(201);
    let own = own.json()["id"].as_str().unwrap().to_string();
    builder
        .post(
            &w.path(&format!("groups/{own}/grants")),
            &json!({ "action": "read_audit" }),
        )
        .expect_problem(403, "forbidden");
    builder
        .post(
            &w.path(&format!("groups/{own}/grants")),
            &json!({ "action": "edit" }),
        )
        .expect_status(201);
    builder
        .post(
            &w.path(&format!("groups/{audit_group}/members")),
            &json!({ "user_id": builder_id }),
        )
        .expect_problem(403, "forbidden");
    builder
        .get(&w.path("audit"))
        .expect_problem(403, "forbidden");
    // Nor taking away what it could not give back: the auditors keep `read_audit`.
    let audit_grants = w.path(&format!("groups/{audit_group}/grants"));
    let read_audit = w.admin.get(&audit_grants).json()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    builder
        .delete(&format!("{audit_grants}/{read_audit}"))
        .expect_problem(403, "forbidden");
    assert_eq!(
        w.admin.get(&audit_grants).json()[0]["id"],
        read_audit.as_str()
    );
    // Nor by taking its members out, or deleting the group, which take the grant away too.
    builder
        .delete(&w.path(&format!("groups/{audit_group}/members/{viewer_id}")))
        .expect_problem(403, "forbidden");
    builder
        .delete(&w.path(&format!("groups/{audit_group}")))
        .expect_problem(403, "forbidden");
    let members = w
        .admin
        .get(&w.path(&format!("groups/{audit_group}/members")));
    assert_eq!(members.json()[0]["user_id"], viewer_id.as_str());
    // Nor by taking the member out of the workspace, which takes them out of its groups.
    builder
        .delete(&w.path(&format!("members/{viewer_id}")))
        .expect_problem(403, "forbidden");
    let members = w
        .admin
        .get(&w.path(&format!("groups/{audit_group}/members")));
    assert_eq!(members.json()[0]["user_id"], viewer_id.as_str());
    // What it holds, it may take away again.
    let own_grants = w.path(&format!("groups/{own}/grants"));
    let edit = w.admin.get(&own_grants).json()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    builder
        .delete(&format!("{own_grants}/{edit}"))
        .expect_status(204);
    // The record says what was taken away, not only the grant's id.
    let revoked = w.admin.get(&w.path("audit?action=group.revoke")).json();
    let detail = &revoked["items"][0]["detail"];
    assert_eq!(
        (&detail["grant"], &detail["action"], &detail["kind"]),
        (&json!(edit), &json!("edit"), &json!("app")),
        "{revoked}"
    );

    // Nobody keeps rights in a group of their own: not by joining it, not by widening a
    // group they are in, not by widening their own role.
    builder
        .post(
            &w.path(&format!("groups/{own}/members")),
            &json!({ "user_id": builder_id }),
        )
        .expect_problem(403, "forbidden");
    let people = w.admin.get(&w.path("groups")).json();
    let people = people
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "people")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    builder
        .post(
            &w.path(&format!("groups/{people}/grants")),
            &json!({ "action": "edit" }),
        )
        .expect_problem(403, "forbidden");
    builder
        .post(
            &w.path("roles/builder/grants"),
            &json!({ "action": "manage_members" }),
        )
        .expect_problem(403, "forbidden");
    // Nor the role it could be demoted to: roles are changed by admins only.
    builder
        .post(&w.path("roles/viewer/grants"), &json!({ "action": "edit" }))
        .expect_problem(403, "forbidden");
    // Ids with NUL name nothing: a 422, on either store.
    builder
        .post(
            &w.path(&format!("groups/{own}/members")),
            &json!({ "user_id": "a\0b" }),
        )
        .expect_problem(422, "validation");
    builder
        .post(
            &w.path(&format!("groups/{own}/grants")),
            &json!({ "action": "use", "datasource_id": "a\0b" }),
        )
        .expect_problem(422, "validation");
    w.admin
        .get(&w.path("audit?action=a%00b"))
        .expect_problem(400, "bad-request");
}

#[test]
fn another_workspace_is_out_of_reach_and_left_unchanged() {
    let w = world();
    let other = create_workspace(&w.admin, "Other");
    let other_group = w
        .admin
        .post(
            &format!("/api/v1/workspaces/{other}/groups"),
            &json!({ "name": "theirs" }),
        )
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (builder, builder_id) = w.member("builder@example.com", "builder");
    w.group(
        "managers",
        &[&builder_id],
        &[json!({ "action": "manage_groups" })],
    );

    let before = w
        .admin
        .get(&format!("/api/v1/workspaces/{other}/groups"))
        .json();
    // The other workspace's group, through this workspace's path: not found.
    builder
        .patch(
            &w.path(&format!("groups/{other_group}")),
            &json!({ "name": "mine now" }),
        )
        .expect_problem(404, "not-found");
    builder
        .delete(&w.path(&format!("groups/{other_group}")))
        .expect_problem(404, "not-found");
    // And through its own path: not a member there.
    builder
        .get(&format!("/api/v1/workspaces/{other}/groups"))
        .expect_problem(404, "not-found");
    builder
        .post(
            &format!("/api/v1/workspaces/{other}/groups"),
            &json!({ "name": "x" }),
        )
        .expect_problem(404, "not-found");
    // A grant can't name another workspace's app.
    let their_app = w
        .admin
        .post(
            &format!("/api/v1/workspaces/{other}/apps"),
            &json!({ "name": "t", "slug": "t" }),
        )
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mine = w.group("mine", &[], &[]);
    w.admin
        .post(
            &w.path(&format!("groups/{mine}/grants")),
            &json!({ "action": "edit", "app_id": their_app }),
        )
        .expect_problem(422, "validation");
    let after = w
        .admin
        .get(&format!("/api/v1/workspaces/{other}/groups"))
        .json();
    assert_eq!(before, after);

    // A token scoped to this workspace doesn't reach the other, even for its admin.
    let token = w.admin.post(
        "/api/v1/tokens",
        &json!({ "name": "t", "workspace_id": w.ws, "expires_in_days": 1 }),
    );
    token.expect_status(201);
    let bearer = w
        .server
        .client()
        .with_bearer(token.json()["token"].as_str().unwrap());
    bearer.get(&w.path("groups")).expect_status(200);
    bearer
        .get(&format!("/api/v1/workspaces/{other}/groups"))
        .expect_problem(404, "not-found");
    // Nor the same user's tokens for the other workspace.
    let theirs = w.admin.post(
        "/api/v1/tokens",
        &json!({ "name": "o", "workspace_id": other, "expires_in_days": 1 }),
    );
    let theirs = theirs.json()["id"].as_str().unwrap().to_string();
    let listed = bearer.get("/api/v1/tokens").json();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["workspace_id"] == w.ws.as_str()),
        "{listed}"
    );
    bearer
        .delete(&format!("/api/v1/tokens/{theirs}"))
        .expect_problem(404, "not-found");
}

/// Group changes made at once by several admins all land (each change's first statement
/// is a write, so SQLite never has to upgrade a read lock and give up).
#[test]
fn concurrent_group_changes_all_land() {
    let w = world();
    let mut work = Vec::new();
    for i in 0..8 {
        let (_, user) = w.member(&format!("m{i}@example.com"), "viewer");
        let group = w.group(&format!("g{i}"), &[], &[]);
        work.push((group, user));
    }
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = work
            .iter()
            .map(|(group, user)| {
                let admin = &w.admin;
                let path = w.path(&format!("groups/{group}/members"));
                scope.spawn(move || admin.post(&path, &json!({ "user_id": user })).status)
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
}

/// The holder check and the change it allows happen under one lock: a group can't be
/// deleted by someone who doesn't hold a grant added to it at the same moment, and a member
/// promoted at the moment a builder removes them is not removed.
#[test]
fn checks_and_changes_race_with_nothing() {
    let w = world();
    let (builder, builder_id) = w.member("builder@example.com", "builder");
    w.group(
        "managers",
        &[&builder_id],
        &[
            json!({ "action": "manage_groups" }),
            json!({ "action": "manage_members" }),
        ],
    );
    for round in 0..15 {
        let group = w.group(&format!("g{round}"), &[], &[json!({ "action": "build" })]);
        let (_, target) = w.member(&format!("t{round}@example.com"), "viewer");
        let grants = w.path(&format!("groups/{group}/grants"));
        let group_path = w.path(&format!("groups/{group}"));
        let member = w.path(&format!("members/{target}"));
        let (admin, builder) = (&w.admin, &builder);
        let (grant, delete, promote, remove) = std::thread::scope(|scope| {
            let grant = scope.spawn(|| {
                admin
                    .post(&grants, &json!({ "action": "read_audit" }))
                    .status
            });
            let delete = scope.spawn(|| builder.delete(&group_path).status);
            let promote = scope.spawn(|| admin.patch(&member, &json!({ "role": "admin" })).status);
            let remove = scope.spawn(|| builder.delete(&member).status);
            (
                grant.join().unwrap(),
                delete.join().unwrap(),
                promote.join().unwrap(),
                remove.join().unwrap(),
            )
        });
        assert!(
            !(grant == 201 && delete == 204),
            "round {round}: a group was deleted with a grant its deleter doesn't hold"
        );
        assert!(
            !(promote == 200 && remove == 204),
            "round {round}: a builder removed a member promoted to admin"
        );
        for status in [grant, delete, promote, remove] {
            assert!(status < 500, "round {round}: {status}");
        }
    }
}

#[test]
fn grants_are_checked_for_shape() {
    let w = world();
    let group = w.group("g", &[], &[]);
    let grants = w.path(&format!("groups/{group}/grants"));
    for bad in [
        json!({ "action": "edit", "datasource_id": "x" }),
        json!({ "action": "use", "app_id": "x" }),
        json!({ "action": "read_audit", "app_id": "x" }),
        json!({ "action": "use", "datasource_id": "no-such-datasource" }),
    ] {
        w.admin
            .post(&grants, &bad)
            .expect_problem(422, "validation");
    }
    w.admin
        .post(&grants, &json!({ "action": "fly" }))
        .expect_status(422);
    w.admin
        .post(&grants, &json!({ "action": "read_audit" }))
        .expect_status(201);
    w.admin
        .post(&grants, &json!({ "action": "read_audit" }))
        .expect_problem(409, "conflict");
    w.admin
        .post(&w.path("groups"), &json!({ "name": "g" }))
        .expect_problem(409, "conflict");
    w.admin
        .post(&w.path("groups"), &json!({ "name": "" }))
        .expect_problem(422, "validation");
}

/// A run needs `use` on the query's datasource as well as `view` on the app: with the
/// viewer role narrowed to no datasource, only a group granted the datasource can run.
#[test]
fn a_run_needs_use_on_the_datasource_not_only_view_on_the_app() {
    let server = common::connectors::start(true);
    let admin = server.admin();
    let ws = create_workspace(&admin, "Ops");
    let w = World { server, admin, ws };
    let pg = common::connectors::PgFixture::new();
    let ds = w.admin.post(
        &w.path("datasources"),
        &json!({ "name": "db", "plugin": "postgres", "config": pg.config() }),
    );
    ds.expect_status(201);
    let ds = ds.json()["id"].as_str().unwrap().to_string();
    let names = json!({
        "name": "names", "datasource": "db", "operation": "sql",
        "query": { "sql": format!("select name from {} order by id", pg.table) }
    });
    let definition = json!({ "pages": [{ "id": "home", "name": "Home", "components": [] }], "queries": [names] });
    w.admin
        .post(
            &w.path("apps"),
            &json!({ "name": "CRM", "slug": "crm", "definition": definition }),
        )
        .expect_status(201);
    w.admin
        .post(&w.path("apps/crm/release"), &json!({}))
        .expect_status(201);
    let (outside, _) = w.member("outside@example.com", "viewer");
    let (inside, inside_id) = w.member("inside@example.com", "viewer");
    let run = |c: &Client| {
        c.post(&w.path("apps/crm/queries/names/run"), &json!({}))
            .status
    };
    assert_eq!((run(&outside), run(&inside)), (200, 200));

    // The viewer role's defaults, and the one that lets viewers use every datasource.
    let grants = w.admin.get(&w.path("roles/viewer/grants")).json();
    let grants = grants.as_array().unwrap();
    let mut actions: Vec<&str> = grants
        .iter()
        .map(|g| g["action"].as_str().unwrap())
        .collect();
    actions.sort();
    assert_eq!(actions, ["use", "view"]);
    let id_of = |action: &str| {
        grants.iter().find(|g| g["action"] == action).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let use_all = id_of("use");
    w.admin
        .delete(&w.path(&format!("roles/viewer/grants/{use_all}")))
        .expect_status(204);
    w.group(
        "db-users",
        &[&inside_id],
        &[json!({ "action": "use", "datasource_id": ds })],
    );
    assert_eq!((run(&outside), run(&inside)), (403, 200));
    let me = outside.get(&w.path("permissions/me")).json();
    assert_eq!(me["datasources"]["all"], json!([]));
    // Still allowed to open the app.
    outside.get(&w.path("apps/crm")).expect_status(200);

    // Without `view` on every app, a viewer sees only the apps a group grants it.
    let view_all = id_of("view");
    w.admin
        .delete(&w.path(&format!("roles/viewer/grants/{view_all}")))
        .expect_status(204);
    let listed = |c: &Client| {
        c.get(&w.path("apps")).json()["items"]
            .as_array()
            .unwrap()
            .len()
    };
    outside
        .get(&w.path("apps/crm"))
        .expect_problem(404, "not-found");
    assert_eq!(listed(&outside), 0);
    w.group(
        "crm-viewers",
        &[&inside_id],
        &[json!({ "action": "view", "app_id": "crm" })],
    );
    assert_eq!(listed(&inside), 1);
    assert_eq!((run(&outside), run(&inside)), (403, 200));

    // The admin role has no grants to change.
    w.admin
        .get(&w.path("roles/admin/grants"))
        .expect_problem(422, "validation");
    w.admin
        .get(&w.path("roles/owner/grants"))
        .expect_problem(404, "not-found");
    // A viewer managing groups can't give its role what it doesn't hold.
    let (manager, manager_id) = w.member("manager@example.com", "viewer");
    w.group(
        "managers",
        &[&manager_id],
        &[json!({ "action": "manage_groups" })],
    );
    manager
        .post(&w.path("roles/viewer/grants"), &json!({ "action": "edit" }))
        .expect_problem(403, "forbidden");
}
