//! Workspaces, members, roles and the audit log, through the real binary.

mod common;

use common::{Client, Server};
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
    let r = admin.post("/api/v1/workspaces", &json!({ "name": "Ops" }));
    r.expect_status(201);
    assert_eq!(r.json()["role"], "admin");
    let ws = r.json()["id"].as_str().unwrap().to_string();
    World { server, admin, ws }
}

impl World {
    /// Creates a user and returns (user id, a client logged in as them).
    fn user(&self, email: &str) -> (String, Client) {
        let r = self.admin.post(
            "/api/v1/users",
            &json!({ "email": email, "password": PASSWORD }),
        );
        r.expect_status(201);
        let id = r.json()["id"].as_str().unwrap().to_string();
        let mut c = self.server.client();
        c.login(email, PASSWORD).expect_status(200);
        (id, c)
    }

    fn add(&self, email: &str, role: &str) -> Value {
        let r = self.admin.post(
            &format!("/api/v1/workspaces/{}/members", self.ws),
            &json!({ "email": email, "role": role }),
        );
        r.expect_status(201);
        r.json()
    }

    /// Makes an existing user an admin member, adding them if they aren't a member yet.
    fn add_or_promote(&self, user_id: &str, email: &str) {
        let path = format!("/api/v1/workspaces/{}/members/{user_id}", self.ws);
        if self.admin.patch(&path, &json!({ "role": "admin" })).status == 404 {
            self.add(email, "admin");
        }
    }

    fn members(&self) -> Vec<(String, String)> {
        let r = self
            .admin
            .get(&format!("/api/v1/workspaces/{}/members", self.ws));
        r.expect_status(200);
        r.json()
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["email"].as_str().unwrap().to_string(),
                    m["role"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    fn audit(&self, query: &str) -> Value {
        let r = self
            .admin
            .get(&format!("/api/v1/workspaces/{}/audit{query}", self.ws));
        r.expect_status(200);
        r.json()
    }
}

#[test]
fn workspace_is_created_listed_and_renamed_by_its_admin() {
    let w = world();
    let list = w.admin.get("/api/v1/workspaces").json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "Ops");

    let r = w.admin.patch(
        &format!("/api/v1/workspaces/{}", w.ws),
        &json!({ "name": "  Operations " }),
    );
    r.expect_status(200);
    assert_eq!(r.json()["name"], "Operations");
    assert_eq!(
        w.admin.get(&format!("/api/v1/workspaces/{}", w.ws)).json()["name"],
        "Operations"
    );

    for bad in ["", "   ", &"x".repeat(101), "tab\there"] {
        w.admin
            .patch(
                &format!("/api/v1/workspaces/{}", w.ws),
                &json!({ "name": bad }),
            )
            .expect_problem(422, "validation");
    }
    assert_eq!(
        w.admin.get(&format!("/api/v1/workspaces/{}", w.ws)).json()["name"],
        "Operations"
    );
}

#[test]
fn member_lifecycle_add_change_role_remove() {
    let w = world();
    let (bob_id, bob) = w.user("bob@example.com");
    let added = w.add("Bob@Example.com", "viewer");
    assert_eq!(added["email"], "bob@example.com");
    assert_eq!(added["role"], "viewer");

    // Bob now sees the workspace, with his role.
    let me = bob.get("/api/v1/auth/me").json();
    assert_eq!(me["workspaces"][0]["id"], w.ws.as_str());
    assert_eq!(me["workspaces"][0]["role"], "viewer");

    let path = format!("/api/v1/workspaces/{}/members/{bob_id}", w.ws);
    let r = w.admin.patch(&path, &json!({ "role": "builder" }));
    r.expect_status(200);
    assert_eq!(r.json()["role"], "builder");

    w.admin
        .post(
            &format!("/api/v1/workspaces/{}/members", w.ws),
            &json!({ "email": "bob@example.com", "role": "admin" }),
        )
        .expect_problem(409, "conflict");

    w.admin.delete(&path).expect_status(204);
    assert_eq!(
        w.members(),
        vec![("admin@example.com".to_string(), "admin".to_string())]
    );
    bob.get(&format!("/api/v1/workspaces/{}", w.ws))
        .expect_problem(404, "not-found");
    w.admin.delete(&path).expect_problem(404, "not-found");
}

#[test]
fn non_admins_cannot_manage_members_or_rename() {
    let w = world();
    let (_, viewer) = w.user("viewer@example.com");
    let (_, builder) = w.user("builder@example.com");
    w.add("viewer@example.com", "viewer");
    w.add("builder@example.com", "builder");
    let admin_id = w.admin.get("/api/v1/auth/me").json()["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    for c in [&viewer, &builder] {
        c.get(&format!("/api/v1/workspaces/{}/members", w.ws))
            .expect_status(200);
        c.post(
            &format!("/api/v1/workspaces/{}/members", w.ws),
            &json!({ "email": "x@example.com", "role": "admin" }),
        )
        .expect_problem(403, "forbidden");
        c.patch(
            &format!("/api/v1/workspaces/{}/members/{admin_id}", w.ws),
            &json!({ "role": "viewer" }),
        )
        .expect_problem(403, "forbidden");
        c.delete(&format!("/api/v1/workspaces/{}/members/{admin_id}", w.ws))
            .expect_problem(403, "forbidden");
        c.patch(
            &format!("/api/v1/workspaces/{}", w.ws),
            &json!({ "name": "mine" }),
        )
        .expect_problem(403, "forbidden");
        c.get(&format!("/api/v1/workspaces/{}/audit", w.ws))
            .expect_problem(403, "forbidden");
        c.post("/api/v1/workspaces", &json!({ "name": "mine" }))
            .expect_problem(403, "forbidden");
        c.get("/api/v1/users").expect_problem(403, "forbidden");
    }
    assert_eq!(w.members().len(), 3);
    assert_eq!(
        w.admin.get(&format!("/api/v1/workspaces/{}", w.ws)).json()["name"],
        "Ops"
    );
}

#[test]
fn the_last_admin_can_be_neither_demoted_nor_removed() {
    let w = world();
    let admin_id = w.admin.get("/api/v1/auth/me").json()["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/v1/workspaces/{}/members/{admin_id}", w.ws);
    w.admin
        .patch(&path, &json!({ "role": "viewer" }))
        .expect_problem(409, "conflict");
    w.admin.delete(&path).expect_problem(409, "conflict");

    // With a second admin, the first may step down.
    let (_, _carol) = w.user("carol@example.com");
    w.add("carol@example.com", "admin");
    w.admin
        .patch(&path, &json!({ "role": "viewer" }))
        .expect_status(200);
    assert!(
        w.members()
            .contains(&("admin@example.com".to_string(), "viewer".to_string()))
    );
}

#[test]
fn another_workspaces_ids_are_404_not_403() {
    let w = world();
    let (_, eve) = w.user("eve@example.com");
    // Eve is an admin of her own workspace, and knows Ops' id.
    let admin2 = w.admin.post(
        "/api/v1/users",
        &json!({ "email": "eve2@example.com", "password": PASSWORD }),
    );
    admin2.expect_status(201);
    let ws = &w.ws;
    for path in [
        format!("/api/v1/workspaces/{ws}"),
        format!("/api/v1/workspaces/{ws}/members"),
        format!("/api/v1/workspaces/{ws}/audit"),
        "/api/v1/workspaces/00000000-0000-0000-0000-000000000000".to_string(),
    ] {
        eve.get(&path).expect_problem(404, "not-found");
    }
    eve.patch(
        &format!("/api/v1/workspaces/{ws}"),
        &json!({ "name": "pwned" }),
    )
    .expect_problem(404, "not-found");
    eve.post(
        &format!("/api/v1/workspaces/{ws}/members"),
        &json!({ "email": "eve@example.com", "role": "admin" }),
    )
    .expect_problem(404, "not-found");
    assert_eq!(w.members().len(), 1);
}

#[test]
fn adding_an_unknown_email_is_a_422_and_adds_nothing() {
    let w = world();
    w.admin
        .post(
            &format!("/api/v1/workspaces/{}/members", w.ws),
            &json!({ "email": "ghost@example.com", "role": "viewer" }),
        )
        .expect_problem(422, "validation");
    w.admin
        .post(
            &format!("/api/v1/workspaces/{}/members", w.ws),
            &json!({ "email": "admin@example.com", "role": "owner" }),
        )
        .expect_problem(422, "validation");
    assert_eq!(w.members().len(), 1);
}

#[test]
fn member_changes_are_audited_and_filterable_with_pagination() {
    let w = world();
    let (bob_id, _) = w.user("bob@example.com");
    w.add("bob@example.com", "viewer");
    w.admin
        .patch(
            &format!("/api/v1/workspaces/{}/members/{bob_id}", w.ws),
            &json!({ "role": "builder" }),
        )
        .expect_status(200);
    w.admin
        .delete(&format!("/api/v1/workspaces/{}/members/{bob_id}", w.ws))
        .expect_status(204);

    let all = w.audit("");
    let actions: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec![
            "member.remove",
            "member.role_change",
            "member.add",
            "workspace.create"
        ]
    );
    let change = &all["items"][1];
    assert_eq!(change["actor_email"], "admin@example.com");
    assert_eq!(change["target"], bob_id.as_str());
    assert_eq!(change["detail"]["from"], "viewer");
    assert_eq!(change["detail"]["to"], "builder");
    assert_eq!(change["address"], "127.0.0.1");
    assert!(all["next_cursor"].is_null());

    let only_adds = w.audit("?action=member.add");
    assert_eq!(only_adds["items"].as_array().unwrap().len(), 1);

    let bob_actor = w.audit(&format!("?actor={bob_id}"));
    assert_eq!(bob_actor["items"], json!([]));

    let page1 = w.audit("?limit=3");
    assert_eq!(page1["items"].as_array().unwrap().len(), 3);
    let cursor = page1["next_cursor"].as_str().unwrap();
    let page2 = w.audit(&format!("?limit=3&cursor={cursor}"));
    assert_eq!(page2["items"].as_array().unwrap().len(), 1);
    assert_eq!(page2["items"][0]["action"], "workspace.create");

    let future = w.audit("?since=2999-01-01T00:00:00Z");
    assert_eq!(future["items"], json!([]));
    let past = w.audit("?until=2000-01-01T00:00:00Z");
    assert_eq!(past["items"], json!([]));
    let window = w.audit("?since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00Z");
    assert_eq!(window["items"].as_array().unwrap().len(), 4);

    for bad in [
        "?limit=0",
        "?limit=1000",
        "?cursor=abc",
        "?since=yesterday",
        "?unknown=1",
        "?limit=x",
    ] {
        w.admin
            .get(&format!("/api/v1/workspaces/{}/audit{bad}", w.ws))
            .expect_problem(400, "bad-request");
    }
}

#[test]
fn two_admins_demoting_each_other_at_once_leave_one_admin() {
    let w = world();
    let (carol_id, carol) = w.user("carol@example.com");
    let admin_id = w.admin.get("/api/v1/auth/me").json()["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..5 {
        w.add_or_promote(&carol_id, "carol@example.com");
        let demote = |c: &Client, target: &str| {
            let c = c.clone();
            let path = format!("/api/v1/workspaces/{}/members/{target}", w.ws);
            std::thread::spawn(move || c.patch(&path, &json!({ "role": "viewer" })).status)
        };
        let a = demote(&w.admin, &carol_id);
        let b = demote(&carol, &admin_id);
        let statuses = [a.join().unwrap(), b.join().unwrap()];
        assert!(
            statuses.iter().all(|s| [200, 403, 409].contains(s)),
            "{statuses:?}"
        );

        let admins = w
            .members()
            .iter()
            .filter(|(_, role)| role == "admin")
            .count();
        assert_eq!(admins, 1, "after {statuses:?}");
        // Whoever is still admin makes the other admin again for the next round.
        let survivor = if w
            .members()
            .contains(&("admin@example.com".into(), "admin".into()))
        {
            &w.admin
        } else {
            &carol
        };
        let other = if std::ptr::eq(survivor, &w.admin) {
            &carol_id
        } else {
            &admin_id
        };
        survivor
            .patch(
                &format!("/api/v1/workspaces/{}/members/{other}", w.ws),
                &json!({ "role": "admin" }),
            )
            .expect_status(200);
    }
}

#[test]
fn an_instance_admin_takes_back_a_workspace_its_admins_locked_them_out_of() {
    let w = world();
    let ws = w.ws.clone();
    let (carol_id, carol) = w.user("carol@example.com");
    w.add("carol@example.com", "admin");
    let admin_id = w.admin.get("/api/v1/auth/me").json()["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let admin_member = format!("/api/v1/workspaces/{ws}/members/{admin_id}");

    // Demoted to viewer by Carol, the instance admin raises their own role again.
    carol
        .patch(&admin_member, &json!({ "role": "viewer" }))
        .expect_status(200);
    w.admin
        .patch(&admin_member, &json!({ "role": "admin" }))
        .expect_status(200);

    // Removed by Carol, they can't see the workspace, but can add themselves back.
    carol.delete(&admin_member).expect_status(204);
    w.admin
        .get(&format!("/api/v1/workspaces/{ws}"))
        .expect_problem(404, "not-found");
    w.admin
        .post(
            &format!("/api/v1/workspaces/{ws}/members"),
            &json!({ "email": "admin@example.com", "role": "admin" }),
        )
        .expect_status(201);
    w.admin
        .delete(&format!("/api/v1/workspaces/{ws}/members/{carol_id}"))
        .expect_status(204);
    let added = w.audit("?action=member.add");
    let record = added["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["target"] == admin_id.as_str())
        .unwrap_or_else(|| panic!("{added}"));
    assert_eq!(record["detail"]["asInstanceAdmin"], true, "{record}");

    // Someone who is not an instance admin gets nothing of the kind.
    let (_, eve) = w.user("eve@example.com");
    eve.post(
        &format!("/api/v1/workspaces/{ws}/members"),
        &json!({ "email": "eve@example.com", "role": "admin" }),
    )
    .expect_problem(404, "not-found");
    w.admin
        .post(
            "/api/v1/workspaces/00000000-0000-0000-0000-000000000000/members",
            &json!({ "email": "eve@example.com", "role": "admin" }),
        )
        .expect_problem(404, "not-found");
    w.admin
        .post(
            "/api/v1/workspaces/a%00b/members",
            &json!({ "email": "eve@example.com", "role": "admin" }),
        )
        .expect_problem(404, "not-found");
}
