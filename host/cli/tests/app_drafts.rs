//! Concurrent edits of an app's draft, through the real binary: a save that sends the
//! `draft_revision` it was based on is refused when the draft moved since, and nothing is
//! written; a save without it overwrites as before.

mod common;

use std::sync::Barrier;

use common::{Client, Server, create_workspace};
use serde_json::{Value, json};

const BUILDER_EMAIL: &str = "builder@example.com";
const PASSWORD: &str = "builder password 1";

struct World {
    server: Server,
    admin: Client,
    builder: Client,
    ws: String,
    app: String,
}

/// A workspace with an admin and a builder, and one app the admin created.
fn world() -> World {
    let server = Server::with_admin();
    let admin = server.admin();
    let ws = create_workspace(&admin, "Ops");
    let user = json!({ "email": BUILDER_EMAIL, "password": PASSWORD });
    admin.post("/api/v1/users", &user).expect_status(201);
    let member = json!({ "email": BUILDER_EMAIL, "role": "builder" });
    admin
        .post(&format!("/api/v1/workspaces/{ws}/members"), &member)
        .expect_status(201);
    let mut builder = server.client();
    builder.login(BUILDER_EMAIL, PASSWORD).expect_status(200);

    let apps = format!("/api/v1/workspaces/{ws}/apps");
    let body = json!({ "name": "Orders", "slug": "orders", "definition": with(&["title"]) });
    admin.post(&apps, &body).expect_status(201);
    World {
        server,
        admin,
        builder,
        app: format!("{apps}/orders"),
        ws,
    }
}

/// A one-page app with a text component for each id, one under the other.
fn with(ids: &[&str]) -> Value {
    let components: Vec<Value> = ids
        .iter()
        .zip(0..)
        .map(|(id, y)| {
            json!({ "id": id, "type": "text", "props": { "text": id },
                    "layout": { "x": 0, "y": y, "w": 24, "h": 1 } })
        })
        .collect();
    json!({ "pages": [{ "id": "main", "name": "Main", "components": components }] })
}

fn revision(view: &Value) -> i64 {
    view["draft_revision"]
        .as_i64()
        .unwrap_or_else(|| panic!("no draft_revision: {view}"))
}

fn save(client: &Client, app: &str, definition: Value, base: i64) -> common::client::Resp {
    client.patch(
        app,
        &json!({ "definition": definition, "base_revision": base }),
    )
}

#[test]
fn stale_save_is_refused_and_the_draft_is_unchanged() {
    let w = world();
    let opened = w.admin.get(&w.app).json();
    let base = revision(&opened);
    assert_eq!(w.builder.get(&w.app).json()["draft_revision"], base);

    let r = save(&w.admin, &w.app, with(&["title", "chart"]), base);
    r.expect_status(200);
    let after_admin = revision(&r.json());
    assert_eq!(
        after_admin,
        base + 1,
        "a saved definition moves the revision"
    );

    // The builder's tab still holds the draft as it was opened.
    let doc = save(&w.builder, &w.app, with(&["title", "image"]), base)
        .expect_problem(409, "draft-changed");
    let detail = doc["detail"].as_str().unwrap();
    assert!(detail.contains("admin@example.com"), "{detail}");
    assert!(detail.contains("after you opened it"), "{detail}");
    let now = w.admin.get(&w.app).json();
    assert_eq!(
        now["draft"],
        with(&["title", "chart"]),
        "nothing was written"
    );
    assert_eq!(revision(&now), after_admin);
    assert_eq!(now["updated_by"], opened["updated_by"]);

    // Based on the current revision, the same save goes through.
    let r = save(
        &w.builder,
        &w.app,
        with(&["title", "chart", "image"]),
        after_admin,
    );
    r.expect_status(200);
    assert_eq!(revision(&r.json()), after_admin + 1);
    assert_eq!(r.json()["draft"], with(&["title", "chart", "image"]));
}

#[test]
fn a_refused_save_changes_nothing_else_in_the_request() {
    let w = world();
    let base = revision(&w.admin.get(&w.app).json());
    save(&w.admin, &w.app, with(&["title", "chart"]), base).expect_status(200);

    let stale = json!({ "name": "Renamed", "definition": with(&["image"]), "base_revision": base });
    w.builder
        .patch(&w.app, &stale)
        .expect_problem(409, "draft-changed");
    let now = w.admin.get(&w.app).json();
    assert_eq!(now["name"], "Orders");
    assert_eq!(now["draft"], with(&["title", "chart"]));

    // A rename leaves the draft, and its revision, alone.
    let r = w.admin.patch(&w.app, &json!({ "name": "Renamed" }));
    r.expect_status(200);
    assert_eq!(revision(&r.json()), base + 1);
    assert_eq!(r.json()["draft"], with(&["title", "chart"]));
}

#[test]
fn of_two_concurrent_saves_from_one_base_exactly_one_wins() {
    let w = world();
    const SAVERS: usize = 6;
    for round in 0..3 {
        let base = revision(&w.admin.get(&w.app).json());
        let barrier = Barrier::new(SAVERS);
        let statuses: Vec<(u16, String)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..SAVERS)
                .map(|i| {
                    let client = if i % 2 == 0 { &w.admin } else { &w.builder };
                    let (app, barrier) = (&w.app, &barrier);
                    s.spawn(move || {
                        let id = format!("saver_{i}");
                        barrier.wait();
                        let r = save(client, app, with(&[&id]), base);
                        (r.status, id)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });

        let winners: Vec<&String> = statuses
            .iter()
            .filter(|(status, _)| *status == 200)
            .map(|(_, id)| id)
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {statuses:?}");
        assert!(
            statuses.iter().all(|(s, _)| *s == 200 || *s == 409),
            "round {round}: {statuses:?}"
        );
        let now = w.admin.get(&w.app).json();
        assert_eq!(now["draft"], with(&[winners[0].as_str()]), "round {round}");
        assert_eq!(revision(&now), base + 1, "round {round}");
    }
}

#[test]
fn restoring_a_version_moves_the_revision_so_a_stale_tab_is_refused() {
    let w = world();
    w.admin
        .post(&format!("{}/release", w.app), &json!({}))
        .expect_status(201);
    let base = revision(&w.admin.get(&w.app).json());
    let r = save(&w.admin, &w.app, with(&["title", "chart"]), base);
    r.expect_status(200);
    let open_in_tab = revision(&r.json());

    let r = w
        .admin
        .post(&format!("{}/versions/1/restore", w.app), &json!({}));
    r.expect_status(200);
    assert_eq!(revision(&r.json()), open_in_tab + 1);

    save(&w.builder, &w.app, with(&["image"]), open_in_tab).expect_problem(409, "draft-changed");
    assert_eq!(w.admin.get(&w.app).json()["draft"], with(&["title"]));
}

#[test]
fn a_save_without_a_base_revision_overwrites_as_before() {
    let w = world();
    let base = revision(&w.admin.get(&w.app).json());
    save(&w.admin, &w.app, with(&["title", "chart"]), base).expect_status(200);

    let r = w
        .builder
        .patch(&w.app, &json!({ "definition": with(&["image"]) }));
    r.expect_status(200);
    assert_eq!(r.json()["draft"], with(&["image"]));
    assert_eq!(revision(&r.json()), base + 2);

    for bad in [json!(0), json!(-1), json!("1"), json!(1.5)] {
        let body = json!({ "definition": with(&["x"]), "base_revision": bad });
        let status = w.builder.patch(&w.app, &body).status;
        assert!(status == 400 || status == 422, "{bad}: {status}");
    }
    assert_eq!(w.admin.get(&w.app).json()["draft"], with(&["image"]));
}

#[test]
fn only_those_who_may_edit_see_the_draft_revision() {
    let w = world();
    w.admin
        .post(&format!("{}/release", w.app), &json!({}))
        .expect_status(201);
    assert!(w.builder.get(&w.app).json()["draft_revision"].is_i64());

    let viewer = json!({ "email": "viewer@example.com", "password": PASSWORD });
    w.admin.post("/api/v1/users", &viewer).expect_status(201);
    let member = json!({ "email": "viewer@example.com", "role": "viewer" });
    w.admin
        .post(&format!("/api/v1/workspaces/{}/members", w.ws), &member)
        .expect_status(201);
    let mut viewer = w.server.client();
    viewer
        .login("viewer@example.com", PASSWORD)
        .expect_status(200);
    let seen = viewer.get(&w.app);
    seen.expect_status(200);
    assert!(seen.json().get("draft_revision").is_none(), "{}", seen.body);
}

#[test]
fn a_draft_run_for_a_revision_the_draft_has_left_is_refused() {
    let w = world();
    let mut definition = with(&["title"]);
    // The query's datasource doesn't exist: a run that gets past the revision check stops
    // there with a 422, which tells it apart from the 409 of a moved draft.
    definition["queries"] = json!([{ "name": "q", "datasource": "nowhere", "operation": "sql",
                                     "query": { "sql": "select 1" } }]);
    let base = revision(&w.admin.get(&w.app).json());
    save(&w.admin, &w.app, definition.clone(), base).expect_status(200);
    let seen = revision(&w.admin.get(&w.app).json());
    let run = |rev: i64| {
        w.admin.post(
            &format!("{}/queries/q/run?version=draft&revision={rev}", w.app),
            &json!({}),
        )
    };
    run(seen).expect_status(422);

    // The builder saves: the admin's run of the revision it had is refused, not run.
    definition["queries"][0]["query"]["sql"] = json!("select 2");
    save(&w.builder, &w.app, definition, seen).expect_status(200);
    let refused = run(seen).expect_status(409).json();
    assert_eq!(refused["type"], "urn:lathe:problem:draft-changed");
    assert!(
        refused["detail"].as_str().unwrap().contains("reload"),
        "{refused}"
    );
    run(seen + 1).expect_status(422);

    // A revision only means something for the draft.
    w.admin
        .post(
            &format!("{}/queries/q/run?revision={seen}", w.app),
            &json!({}),
        )
        .expect_status(400);
}

/// Saving a draft leaves every server's caches alone; what they depend on (a release, a new
/// slug) still moves the cache epoch.
#[test]
fn draft_saves_leave_the_cache_epoch_and_releases_and_slugs_move_it() {
    let w = world();
    let epoch = || {
        w.server
            .store
            .count("SELECT epoch FROM cache_epoch WHERE id = 1")
    };
    let before = epoch();
    let base = revision(&w.admin.get(&w.app).json());
    save(&w.admin, &w.app, with(&["title", "more"]), base).expect_status(200);
    let renamed = json!({ "name": "Orders (all)" });
    w.admin.patch(&w.app, &renamed).expect_status(200);
    assert_eq!(
        epoch(),
        before,
        "a draft save or a new name moved the epoch"
    );

    w.admin
        .post(&format!("{}/release", w.app), &json!({}))
        .expect_status(201);
    let released = epoch();
    assert!(released > before, "a release left the epoch at {released}");

    let moved = json!({ "slug": "all-orders" });
    w.admin.patch(&w.app, &moved).expect_status(200);
    assert!(epoch() > released, "a new slug left the epoch");
}
