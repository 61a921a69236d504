//! The permission matrix: every operation of the OpenAPI document, called by every kind of
//! caller, gets the status this file's one table says. The table lists what each operation
//! needs; the expected status follows from what each caller holds (its role's defaults and
//! its group's grant, written out here independently of the server's model). An operation
//! missing from the table fails the test, so a new route can't be forgotten. Callers outside
//! the workspace change nothing in it.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering};

use common::connectors::{PgFixture, plugin_args};
use common::smtp::SmtpSink;
use common::{ADMIN_EMAIL, ADMIN_PASSWORD, Client, Server, create_workspace};
use serde_json::{Value, json};

const PASSWORD: &str = "member password 1";

/// What an operation needs of its caller.
#[derive(Clone, Copy, Debug)]
enum Need {
    /// Anyone; the answer doesn't depend on who asks.
    Public,
    /// Any signed-in caller.
    SignedIn,
    /// Any caller on a login session (not an API token).
    Session,
    /// A login session (not an API token) of a member of the workspace named in the body.
    SessionMember,
    /// An instance admin on a session.
    Instance,
    /// A member of the workspace with the admin role (or its token).
    AdminRole,
    /// A member of the workspace holding every listed action (none: membership alone).
    Holds(&'static [&'static str]),
    /// As `Holds`, or an instance admin on a session, member or not (managing members).
    HoldsOrInstance(&'static [&'static str]),
}

/// The workspace actions that can be granted to a group, each given to one caller.
const GRANTABLE: &[&str] = &[
    "edit",
    "configure",
    "build",
    "manage_members",
    "manage_groups",
    "manage_constants",
    "manage_workspace",
    "read_audit",
];

/// What a default role holds on every object (apps, datasources, the workspace).
fn role_holds(role: &str) -> &'static [&'static str] {
    match role {
        "admin" => &[
            "view",
            "edit",
            "use",
            "configure",
            "build",
            "manage_members",
            "manage_groups",
            "manage_constants",
            "manage_workspace",
            "read_audit",
        ],
        "builder" => &["view", "edit", "use", "configure", "build"],
        "viewer" => &["view", "use"],
        other => panic!("no role {other}"),
    }
}

struct Caller {
    name: String,
    client: Client,
    /// The member's role in the workspace; `None` outside it (or anonymous).
    role: Option<&'static str>,
    /// The action a group grants the caller.
    granted: Option<&'static str>,
    anonymous: bool,
    token: bool,
    instance_admin: bool,
    /// The same user on a session, for fixtures the caller must own (its tokens).
    owner: Option<Client>,
}

impl Caller {
    fn holds(&self, action: &str) -> bool {
        self.role.is_some_and(|r| role_holds(r).contains(&action)) || self.granted == Some(action)
    }

    fn expected(&self, need: Need) -> Expect {
        if self.anonymous {
            return match need {
                Need::Public => Expect::SameForAll,
                _ => Expect::Status(401),
            };
        }
        match need {
            Need::Public => Expect::SameForAll,
            Need::SignedIn => Expect::Allowed,
            Need::Session if self.token => Expect::Status(403),
            Need::Session => Expect::Allowed,
            Need::SessionMember if self.token => Expect::Status(403),
            Need::SessionMember if self.role.is_none() => Expect::Status(404),
            Need::SessionMember => Expect::Allowed,
            Need::Instance if self.instance_admin && !self.token => Expect::Allowed,
            Need::Instance => Expect::Status(403),
            Need::AdminRole if self.role.is_none() => Expect::Status(404),
            Need::AdminRole if self.role == Some("admin") => Expect::Allowed,
            Need::AdminRole => Expect::Status(403),
            Need::Holds(_) if self.role.is_none() => Expect::Status(404),
            Need::Holds(actions) if actions.iter().all(|a| self.holds(a)) => Expect::Allowed,
            Need::Holds(_) => Expect::Status(403),
            Need::HoldsOrInstance(_) if self.instance_admin && !self.token => Expect::Allowed,
            Need::HoldsOrInstance(actions) => self.expected(Need::Holds(actions)),
        }
    }
}

#[derive(Debug, PartialEq)]
enum Expect {
    Status(u16),
    /// Past authorization: no 401, 403 or 404, and no server error.
    Allowed,
    SameForAll,
}

struct Fx {
    server: Server,
    /// The workspace's admin (the instance admin left the workspace after making it).
    admin: Client,
    ws: String,
    app_id: String,
    datasource_id: String,
    group_id: String,
    constant_id: String,
    export: Value,
    _pg: PgFixture,
    _smtp: SmtpSink,
}

fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}{}", N.fetch_add(1, Ordering::Relaxed))
}

impl Fx {
    fn path(&self, rest: &str) -> String {
        format!("/api/v1/workspaces/{}{rest}", self.ws)
    }

    /// A new user, returned with its id; added to the workspace when `role` is given.
    fn user(&self, root: &Client, role: Option<&str>) -> (String, String) {
        let email = format!("{}@example.com", unique("user"));
        let r = root.post(
            "/api/v1/users",
            &json!({ "email": email, "password": PASSWORD }),
        );
        r.expect_status(201);
        let id = r.json()["id"].as_str().unwrap().to_string();
        if let Some(role) = role {
            self.admin
                .post(
                    &self.path("/members"),
                    &json!({ "email": email, "role": role }),
                )
                .expect_status(201);
        }
        (email, id)
    }

    fn login(&self, email: &str) -> Client {
        let mut c = self.server.client();
        c.login(email, PASSWORD).expect_status(200);
        c
    }

    fn created_id(&self, path: &str, body: Value) -> String {
        let r = self.admin.post(&self.path(path), &body);
        r.expect_status(201);
        r.json()["id"].as_str().unwrap().to_string()
    }

    fn throwaway_group(&self) -> String {
        self.created_id("/groups", json!({ "name": unique("group") }))
    }
}

/// A registry made by the instance admin `root`, returned by id.
fn registry(root: &Client) -> String {
    let body = json!({ "name": unique("reg"), "url": "/nonexistent/registry" });
    let r = root.post("/api/v1/registries", &body);
    r.expect_status(201);
    r.json()["id"].as_str().unwrap().to_string()
}

/// Makes an operation's path and body for one caller, with any fixture the call needs.
type Make = Box<dyn Fn(&Fx, &Caller) -> (String, Option<Value>)>;

/// One operation: method, the path (made fresh for each call where the call destroys what
/// it names), the body, and what it needs.
struct Op {
    method: &'static str,
    template: &'static str,
    need: Need,
    make: Make,
}

fn op(
    method: &'static str,
    template: &'static str,
    need: Need,
    make: impl Fn(&Fx, &Caller) -> (String, Option<Value>) + 'static,
) -> Op {
    Op {
        method,
        template,
        need,
        make: Box::new(make),
    }
}

/// The table. Paths are the OpenAPI document's.
fn table(root: Client) -> Vec<Op> {
    use Need::*;
    let root = std::rc::Rc::new(root);
    let r1 = root.clone();
    let r2 = root.clone();
    let r3 = root.clone();
    let r4 = root.clone();
    let r5 = root.clone();
    let r6 = root.clone();
    let r7 = root.clone();
    let r8 = root.clone();
    let r9 = root.clone();
    let r10 = root.clone();
    let r11 = root.clone();
    vec![
        op("get", "/api/v1/openapi.json", Public, |_, _| {
            ("/api/v1/openapi.json".into(), None)
        }),
        op("get", "/api/v1/schemas/app-definition", Public, |_, _| {
            ("/api/v1/schemas/app-definition".into(), None)
        }),
        op("post", "/api/v1/auth/login", Public, |_, _| {
            let body = json!({ "email": "nobody@example.com", "password": "wrong password" });
            ("/api/v1/auth/login".into(), Some(body))
        }),
        op("get", "/api/v1/auth/me", SignedIn, |_, _| {
            ("/api/v1/auth/me".into(), None)
        }),
        op("post", "/api/v1/auth/reset", Public, |_, _| {
            let body = json!({ "email": format!("{}@example.com", unique("nobody")) });
            ("/api/v1/auth/reset".into(), Some(body))
        }),
        op("post", "/api/v1/auth/reset/confirm", Public, |_, _| {
            let body = json!({ "token": "not-a-token", "password": "a new password 1" });
            ("/api/v1/auth/reset/confirm".into(), Some(body))
        }),
        op("post", "/api/v1/invites/accept", Public, |_, _| {
            let body = json!({ "token": "not-a-token", "password": "a new password 1" });
            ("/api/v1/invites/accept".into(), Some(body))
        }),
        op(
            "get",
            "/api/v1/public/workspaces/{ws}/apps/{app}",
            Public,
            |fx, _| {
                (
                    format!("/api/v1/public/workspaces/{}/apps/{}", fx.ws, fx.app_id),
                    None,
                )
            },
        ),
        op(
            "post",
            "/api/v1/public/workspaces/{ws}/apps/{app}/queries/{name}/run",
            Public,
            |fx, _| {
                let path = format!(
                    "/api/v1/public/workspaces/{}/apps/{}/queries/names/run",
                    fx.ws, fx.app_id
                );
                (path, Some(json!({ "inputs": {} })))
            },
        ),
        op("get", "/api/v1/users", Instance, |_, _| {
            ("/api/v1/users".into(), None)
        }),
        op("post", "/api/v1/users", Instance, |_, _| {
            let body =
                json!({ "email": format!("{}@example.com", unique("new")), "password": PASSWORD });
            ("/api/v1/users".into(), Some(body))
        }),
        op("patch", "/api/v1/users/{id}", Instance, move |fx, _| {
            let (_, id) = fx.user(&r1, None);
            (
                format!("/api/v1/users/{id}"),
                Some(json!({ "disabled": false })),
            )
        }),
        op("get", "/api/v1/tokens", SignedIn, |_, _| {
            ("/api/v1/tokens".into(), None)
        }),
        op("post", "/api/v1/tokens", SessionMember, |fx, _| {
            let body = json!({ "name": "t", "workspace_id": fx.ws, "expires_in_days": 1 });
            ("/api/v1/tokens".into(), Some(body))
        }),
        op("delete", "/api/v1/tokens/{id}", SignedIn, |fx, caller| {
            // One of the caller's own tokens, made on its session.
            let id = match &caller.owner {
                Some(owner) => {
                    let workspaces = owner.get("/api/v1/workspaces").json();
                    let ws = workspaces[0]["id"].as_str().unwrap_or(&fx.ws).to_string();
                    let body = json!({ "name": "t", "workspace_id": ws, "expires_in_days": 1 });
                    let r = owner.post("/api/v1/tokens", &body);
                    r.expect_status(201);
                    r.json()["id"].as_str().unwrap().to_string()
                }
                None => "no-such-token".into(),
            };
            (format!("/api/v1/tokens/{id}"), None)
        }),
        op("get", "/api/v1/audit", Instance, |_, _| {
            ("/api/v1/audit".into(), None)
        }),
        op("get", "/api/v1/plugins", SignedIn, |_, _| {
            ("/api/v1/plugins".into(), None)
        }),
        // No registry is configured: an allowed install is a 422 that says so.
        op("post", "/api/v1/plugins", Instance, |_, _| {
            ("/api/v1/plugins".into(), Some(json!({ "id": "postgres" })))
        }),
        // The matrix server's plugins are bundled: removing one is an allowed 409.
        op("delete", "/api/v1/plugins/{id}", Instance, |_, _| {
            ("/api/v1/plugins/postgres".into(), None)
        }),
        op("post", "/api/v1/plugins/{id}/rollback", Instance, |_, _| {
            ("/api/v1/plugins/postgres/rollback".into(), None)
        }),
        op("get", "/api/v1/registries", Instance, |_, _| {
            ("/api/v1/registries".into(), None)
        }),
        op("post", "/api/v1/registries", Instance, |_, _| {
            let body = json!({ "name": unique("reg"), "url": "/nonexistent/registry" });
            ("/api/v1/registries".into(), Some(body))
        }),
        op("patch", "/api/v1/registries/{id}", Instance, move |_, _| {
            let id = registry(&r8);
            (
                format!("/api/v1/registries/{id}"),
                Some(json!({ "allow_unsigned": true })),
            )
        }),
        op(
            "delete",
            "/api/v1/registries/{id}",
            Instance,
            move |_, _| (format!("/api/v1/registries/{}", registry(&r9)), None),
        ),
        // The registry's directory does not exist: an allowed browse is a 424.
        op(
            "get",
            "/api/v1/registries/{id}/packages",
            Instance,
            move |_, _| {
                (
                    format!("/api/v1/registries/{}/packages", registry(&r10)),
                    None,
                )
            },
        ),
        op("get", "/api/v1/trusted-keys", Instance, |_, _| {
            ("/api/v1/trusted-keys".into(), None)
        }),
        op("post", "/api/v1/trusted-keys", Instance, |_, _| {
            let key = lathe_registry::keys::SigningKey::generate()
                .public()
                .to_string();
            let body = json!({ "name": "publisher", "public_key": key });
            ("/api/v1/trusted-keys".into(), Some(body))
        }),
        op(
            "delete",
            "/api/v1/trusted-keys/{id}",
            Instance,
            move |_, _| {
                let key = lathe_registry::keys::SigningKey::generate()
                    .public()
                    .to_string();
                let r = r11.post(
                    "/api/v1/trusted-keys",
                    &json!({ "name": "publisher", "public_key": key }),
                );
                r.expect_status(201);
                let id = r.json()["id"].as_str().unwrap().to_string();
                (format!("/api/v1/trusted-keys/{id}"), None)
            },
        ),
        op("get", "/api/v1/settings/egress", Instance, |_, _| {
            ("/api/v1/settings/egress".into(), None)
        }),
        op("put", "/api/v1/settings/egress", Instance, |_, _| {
            let body = json!({ "allow": ["127.0.0.1"] });
            ("/api/v1/settings/egress".into(), Some(body))
        }),
        op("get", "/api/v1/workspaces", SignedIn, |_, _| {
            ("/api/v1/workspaces".into(), None)
        }),
        op("post", "/api/v1/workspaces", Instance, |_, _| {
            (
                "/api/v1/workspaces".into(),
                Some(json!({ "name": unique("ws") })),
            )
        }),
        op("get", "/api/v1/workspaces/{ws}", Holds(&[]), |fx, _| {
            (fx.path(""), None)
        }),
        op(
            "patch",
            "/api/v1/workspaces/{ws}",
            Holds(&["manage_workspace"]),
            |fx, _| (fx.path(""), Some(json!({ "name": "Matrix" }))),
        ),
        op(
            "get",
            "/api/v1/workspaces/{ws}/members",
            Holds(&[]),
            |fx, _| (fx.path("/members"), None),
        ),
        op(
            "post",
            "/api/v1/workspaces/{ws}/members",
            HoldsOrInstance(&["manage_members"]),
            move |fx, _| {
                let (email, _) = fx.user(&r2, None);
                (
                    fx.path("/members"),
                    Some(json!({ "email": email, "role": "viewer" })),
                )
            },
        ),
        op(
            "patch",
            "/api/v1/workspaces/{ws}/members/{user_id}",
            HoldsOrInstance(&["manage_members"]),
            move |fx, _| {
                let (_, id) = fx.user(&r3, Some("viewer"));
                (
                    fx.path(&format!("/members/{id}")),
                    Some(json!({ "role": "viewer" })),
                )
            },
        ),
        op(
            "delete",
            "/api/v1/workspaces/{ws}/members/{user_id}",
            HoldsOrInstance(&["manage_members"]),
            move |fx, _| {
                let (_, id) = fx.user(&r4, Some("viewer"));
                (fx.path(&format!("/members/{id}")), None)
            },
        ),
        op(
            "get",
            "/api/v1/workspaces/{ws}/invites",
            Holds(&["manage_members"]),
            |fx, _| (fx.path("/invites"), None),
        ),
        op(
            "post",
            "/api/v1/workspaces/{ws}/invites",
            Holds(&["manage_members"]),
            |fx, _| {
                let body = json!({ "email": format!("{}@example.com", unique("invitee")), "role": "viewer" });
                (fx.path("/invites"), Some(body))
            },
        ),
        op(
            "delete",
            "/api/v1/workspaces/{ws}/invites/{id}",
            Holds(&["manage_members"]),
            |fx, _| {
                let email = format!("{}@example.com", unique("invitee"));
                fx.admin
                    .post(
                        &fx.path("/invites"),
                        &json!({ "email": email, "role": "viewer" }),
                    )
                    .expect_status(202);
                let invites = fx.admin.get(&fx.path("/invites")).json();
                let id = invites
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|i| i["email"] == email.as_str())
                    .unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_string();
                (fx.path(&format!("/invites/{id}")), None)
            },
        ),
        op(
            "get",
            "/api/v1/workspaces/{ws}/groups",
            Holds(&[]),
            |fx, _| (fx.path("/groups"), None),
        ),
        op(
            "post",
            "/api/v1/workspaces/{ws}/groups",
            Holds(&["manage_groups"]),
            |fx, _| (fx.path("/groups"), Some(json!({ "name": unique("group") }))),
        ),
        op(
            "get",
            "/api/v1/workspaces/{ws}/groups/{group}",
            Holds(&[]),
            |fx, _| (fx.path(&format!("/groups/{}", fx.group_id)), None),
        ),
        op(
            "patch",
            "/api/v1/workspaces/{ws}/groups/{group}",
            Holds(&["manage_groups"]),
            |fx, _| {
                let id = fx.throwaway_group();
                (
                    fx.path(&format!("/groups/{id}")),
                    Some(json!({ "name": unique("group") })),
                )
            },
        ),
        op(
            "delete",
            "/api/v1/workspaces/{ws}/groups/{group}",
            Holds(&["manage_groups"]),
            |fx, _| {
                let id = fx.throwaway_group();
                (fx.path(&format!("/groups/{id}")), None)
            },
        ),
        op(
            "get",
            "/api/v1/workspaces/{ws}/groups/{group}/members",
            Holds(&[]),
            |fx, _| (fx.path(&format!("/groups/{}/members", fx.group_id)), None),
        ),
        op(
            "post",
            "/api/v1/workspaces/{ws}/groups/{group}/members",
            Holds(&["manage_groups"]),
            move |fx, _| {
                let id = fx.throwaway_group();
                let (_, user) = fx.user(&r5, Some("viewer"));
                (
                    fx.path(&format!("/groups/{id}/members")),
                    Some(json!({ "user_id": user })),
                )
            },
        ),
        op(
            "delete",
            "/api/v1/workspaces/{ws}/groups/{group}/members/{user_id}",
            Holds(&["manage_groups"]),
            move |fx, _| {
                let id = fx.throwaway_group();
                let (_, user) = fx.user(&r6, Some("viewer"));
                fx.admin
                    .post(
                        &fx.path(&format!("/groups/{id}/members")),
                        &json!({ "user_id": user }),
                    )
                    .expect_status(201);
                (fx.path(&format!("/groups/{id}/members/{user}")), None)
            },
        ),
        op(
            "get",
            "/api/v1/workspaces/{ws}/groups/{group}/grants",
            Holds(&[]),
            |fx, _| (fx.path(&format!("/groups/{}/grants", fx.group_id)), None),
        ),
        op(
            "post",
            "/api/v1/workspaces/{ws}/groups/{group}/grants",
            Holds(&["manage_groups"]),
            |fx, _| {
                let id = fx.throwaway_group();
                (
                    fx.path(&format!("/groups/{id}/grants")),
                    Some(json!({ "action": "view" })),
                )
            },
        ),
        op(
            "delete",
            "/api/v1/workspaces/{ws}/groups/{group}/grants/{grant}",
            Holds(&["manage_groups"]),
            |fx, _| {
                let id = fx.throwaway_group();
                let grant =
                    fx.created_id(&format!("/groups/{id}/grants"), json!({ "action": "view" }));
                (fx.path(&format!("/groups/{id}/grants/{grant}")), None)
            },
        ),
        op(
            "get",
            "/api/v1/workspaces/{ws}/roles/{role}/grants",
            Holds(&[]),
            |fx, _| (fx.path("/roles/viewer/grants"), None),
        ),
        // Builders already hold `view` on every app: an allowed call is a 409 that changes
        // nothing the rest of the matrix relies on. (The builder role, because nobody widens
        // their own role, and the callers here who manage groups are viewers.)
        op(
            "post",
            "/api/v1/workspaces/{ws}/roles/{role}/grants",
            AdminRole,
            |fx, _| {
                (
                    fx.path("/roles/builder/grants"),
                    Some(json!({ "action": "view" })),
                )
            },
        ),
        op(
            "delete",
            "/api/v1/workspaces/{ws}/roles/{role}/grants/{grant}",
            AdminRole,
            |fx, _| {
                // A grant that adds nothing: `view` on a fresh app, which builders view anyway.
                let slug = unique("app");
                let app = fx.created_id("/apps", json!({ "name": slug, "slug": slug }));
                let grant = fx.created_id(
                    "/roles/builder/grants",
                    json!({ "action": "view", "app_id": app }),
                );
                (fx.path(&format!("/roles/builder/grants/{grant}")), None)
            },
        ),
        op(
            "get",
            "/api/v1/workspaces/{ws}/permissions/me",
            Holds(&[]),
            |fx, _| (fx.path("/permissions/me"), None),
        ),
        op(
            "get",
            "/api/v1/workspaces/{ws}/audit",
            Holds(&["read_audit"]),
            |fx, _| (fx.path("/audit"), None),
        ),
        op(
            "get",
            "/api/v1/workspaces/{ws}/datasources",
            Holds(&["build"]),
            |fx, _| (fx.path("/datasources"), None),
        ),
        op(
            "post",
            "/api/v1/workspaces/{ws}/datasources",
            Holds(&["build", "configure"]),
            |fx, _| {
                let body = json!({ "name": unique("rest"), "plugin": "rest", "config": { "base_url": "https://example.com" } });
                (fx.path("/datasources"), Some(body))
            },
        ),
        op(
            "get",
            "/api/v1/workspaces/{ws}/datasources/{id}",
            Holds(&["build"]),
            |fx, _| (fx.path(&format!("/datasources/{}", fx.datasource_id)), None),
        ),
        op(
            "patch",
            "/api/v1/workspaces/{ws}/datasources/{id}",
            Holds(&["build", "configure"]),
            |fx, _| {
                (
                    fx.path(&format!("/datasources/{}", fx.datasource_id)),
                    Some(json!({ "max_rows": 100 })),
                )
            },
        ),
        op(
            "delete",
            "/api/v1/workspaces/{ws}/datasources/{id}",
            Holds(&["build", "configure"]),
            |fx, _| {
                let body = json!({ "name": unique("rest"), "plugin": "rest", "config": { "base_url": "https://example.com" } });
                let id = fx.created_id("/datasources", body);
                (fx.path(&format!("/datasources/{id}")), None)
            },
        ),
        op(
            "post",
            "/api/v1/workspaces/{ws}/datasources/{id}/test",
            Holds(&["build", "use"]),
            |fx, _| {
                (
                    fx.path(&format!("/datasources/{}/test", fx.datasource_id)),
                    None,
                )
            },
        ),
        op(
            "get",
            "/api/v1/workspaces/{ws}/datasources/{id}/schema",
            Holds(&["build", "use"]),
            |fx, _| {
                (
                    fx.path(&format!("/datasources/{}/schema", fx.datasource_id)),
                    None,
                )
            },
        ),
        op(
            "post",
            "/api/v1/workspaces/{ws}/datasources/{id}/run",
            Holds(&["build", "use"]),
            |fx, _| {
                let body = json!({ "operation": "sql", "query": { "sql": "select 1 as one" } });
                (
                    fx.path(&format!("/datasources/{}/run", fx.datasource_id)),
                    Some(body),
                )
            },
        ),
        op(
            "get",
            "/api/v1/workspaces/{ws}/constants",
            Holds(&["build"]),
            |fx, _| (fx.path("/constants"), None),
        ),
        op(
            "post",
            "/api/v1/workspaces/{ws}/constants",
            Holds(&["manage_constants"]),
            |fx, _| {
                (
                    fx.path("/constants"),
                    Some(json!({ "name": unique("c"), "value": "v" })),
                )
            },
        ),
        op(
            "patch",
            "/api/v1/workspaces/{ws}/constants/{id}",
            Holds(&["manage_constants"]),
            |fx, _| {
                (
                    fx.path(&format!("/constants/{}", fx.constant_id)),
                    Some(json!({ "value": "v" })),
                )
            },
        ),
        op(
            "delete",
            "/api/v1/workspaces/{ws}/constants/{id}",
            Holds(&["manage_constants"]),
            |fx, _| {
                let id = fx.created_id("/constants", json!({ "name": unique("c"), "value": "v" }));
                (fx.path(&format!("/constants/{id}")), None)
            },
        ),
        op(
            "get",
            "/api/v1/workspaces/{ws}/apps",
            Holds(&[]),
            |fx, _| (fx.path("/apps"), None),
        ),
        op(
            "post",
            "/api/v1/workspaces/{ws}/apps",
            Holds(&["build"]),
            |fx, _| {
                let slug = unique("app");
                (
                    fx.path("/apps"),
                    Some(json!({ "name": slug, "slug": slug })),
                )
            },
        ),
        op(
            "post",
            "/api/v1/workspaces/{ws}/apps/import",
            Holds(&["build", "use"]),
            |fx, _| {
                let body = json!({ "document": fx.export, "slug": unique("imported") });
                (fx.path("/apps/import"), Some(body))
            },
        ),
        op(
            "get",
            "/api/v1/workspaces/{ws}/apps/{app}",
            Holds(&["view"]),
            |fx, _| (fx.path(&format!("/apps/{}", fx.app_id)), None),
        ),
        op(
            "patch",
            "/api/v1/workspaces/{ws}/apps/{app}",
            Holds(&["edit"]),
            |fx, _| {
                (
                    fx.path(&format!("/apps/{}", fx.app_id)),
                    Some(json!({ "name": "CRM" })),
                )
            },
        ),
        op(
            "delete",
            "/api/v1/workspaces/{ws}/apps/{app}",
            Holds(&["edit"]),
            |fx, _| {
                let slug = unique("app");
                let id = fx.created_id("/apps", json!({ "name": slug, "slug": slug }));
                // Released, so that callers who may not edit it can see it exists (403);
                // a never-released app is a 404 to them.
                fx.admin
                    .post(&fx.path(&format!("/apps/{id}/release")), &json!({}))
                    .expect_status(201);
                (fx.path(&format!("/apps/{id}")), None)
            },
        ),
        op(
            "post",
            "/api/v1/workspaces/{ws}/apps/{app}/release",
            Holds(&["edit", "build"]),
            |fx, _| {
                (
                    fx.path(&format!("/apps/{}/release", fx.app_id)),
                    Some(json!({})),
                )
            },
        ),
        op(
            "get",
            "/api/v1/workspaces/{ws}/apps/{app}/versions",
            Holds(&["edit"]),
            |fx, _| (fx.path(&format!("/apps/{}/versions", fx.app_id)), None),
        ),
        op(
            "get",
            "/api/v1/workspaces/{ws}/apps/{app}/versions/{n}",
            Holds(&["edit"]),
            |fx, _| (fx.path(&format!("/apps/{}/versions/1", fx.app_id)), None),
        ),
        op(
            "post",
            "/api/v1/workspaces/{ws}/apps/{app}/versions/{n}/restore",
            Holds(&["edit", "use"]),
            |fx, _| {
                (
                    fx.path(&format!("/apps/{}/versions/1/restore", fx.app_id)),
                    None,
                )
            },
        ),
        op(
            "get",
            "/api/v1/workspaces/{ws}/apps/{app}/export",
            Holds(&["edit"]),
            |fx, _| (fx.path(&format!("/apps/{}/export", fx.app_id)), None),
        ),
        op(
            "post",
            "/api/v1/workspaces/{ws}/apps/{app}/queries/{name}/run",
            Holds(&["view", "use"]),
            |fx, _| {
                (
                    fx.path(&format!("/apps/{}/queries/names/run", fx.app_id)),
                    Some(json!({ "inputs": {} })),
                )
            },
        ),
        // Near the end: it ends the user's other sessions, which fixtures use.
        op("post", "/api/v1/auth/password", Session, |_, _| {
            let body = json!({ "current_password": PASSWORD, "new_password": PASSWORD });
            ("/api/v1/auth/password".into(), Some(body))
        }),
        // Last: it ends the caller's session.
        op("post", "/api/v1/auth/logout", SignedIn, move |_, _| {
            let _ = &r7;
            ("/api/v1/auth/logout".into(), None)
        }),
    ]
}

fn setup() -> (Fx, Client) {
    let smtp = SmtpSink::start();
    let mut args = plugin_args(true);
    // Some forty callers sign in from one address, and the matrix's own failed logins come
    // from it too: the per-address login limit is tested elsewhere (auth.rs).
    args.extend([
        "--smtp-url".to_string(),
        smtp.url(),
        "--login-address-limit".to_string(),
        "100000".to_string(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start_with(&args);
    let out = server.store.admin_create(ADMIN_EMAIL, ADMIN_PASSWORD);
    assert!(out.status.success());
    let root = server.admin();
    let ws = create_workspace(&root, "Matrix");
    create_workspace(&root, "Else");

    // The workspace gets its own admin; the instance admin then leaves it.
    let email = format!("{}@example.com", unique("wsadmin"));
    root.post(
        "/api/v1/users",
        &json!({ "email": email, "password": PASSWORD }),
    )
    .expect_status(201);
    root.post(
        &format!("/api/v1/workspaces/{ws}/members"),
        &json!({ "email": email, "role": "admin" }),
    )
    .expect_status(201);
    let root_id = root.get("/api/v1/auth/me").json()["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut admin = server.client();
    admin.login(&email, PASSWORD).expect_status(200);
    admin
        .delete(&format!("/api/v1/workspaces/{ws}/members/{root_id}"))
        .expect_status(204);

    let pg = PgFixture::new();
    let datasource = admin.post(
        &format!("/api/v1/workspaces/{ws}/datasources"),
        &json!({ "name": "db", "plugin": "postgres", "config": pg.config() }),
    );
    datasource.expect_status(201);
    let datasource_id = datasource.json()["id"].as_str().unwrap().to_string();
    let names = json!({
        "name": "names", "datasource": "db", "operation": "sql",
        "query": { "sql": format!("select name from {} order by id", pg.table) }
    });
    let definition = json!({ "pages": [{ "id": "home", "name": "Home", "components": [] }], "queries": [names] });
    let app = admin.post(
        &format!("/api/v1/workspaces/{ws}/apps"),
        &json!({ "name": "CRM", "slug": "crm", "definition": definition }),
    );
    app.expect_status(201);
    let app_id = app.json()["id"].as_str().unwrap().to_string();
    admin
        .post(
            &format!("/api/v1/workspaces/{ws}/apps/crm/release"),
            &json!({}),
        )
        .expect_status(201);
    let export = admin
        .get(&format!("/api/v1/workspaces/{ws}/apps/crm/export"))
        .json();
    let group = admin.post(
        &format!("/api/v1/workspaces/{ws}/groups"),
        &json!({ "name": "fixture" }),
    );
    let group_id = group.json()["id"].as_str().unwrap().to_string();
    let constant = admin.post(
        &format!("/api/v1/workspaces/{ws}/constants"),
        &json!({ "name": "region", "value": "eu" }),
    );
    let constant_id = constant.json()["id"].as_str().unwrap().to_string();
    let fx = Fx {
        server,
        admin,
        ws,
        app_id,
        datasource_id,
        group_id,
        constant_id,
        export,
        _pg: pg,
        _smtp: smtp,
    };
    (fx, root)
}

/// Every kind of caller: anonymous, each role, a member of another workspace, the instance
/// admin (not a member), a group member without a grant and one with each grant, and an
/// API token of each role.
fn callers(fx: &Fx, root: &Client) -> Vec<Caller> {
    let caller = |name: &str, client: Client, role: Option<&'static str>| Caller {
        name: name.into(),
        client,
        role,
        granted: None,
        anonymous: false,
        token: false,
        instance_admin: false,
        owner: None,
    };
    let mut all = vec![Caller {
        anonymous: true,
        ..caller("anonymous", fx.server.client(), None)
    }];

    // A member of another workspace only.
    let (email, _) = fx.user(root, None);
    let other = root.get("/api/v1/workspaces").json();
    let else_id = other
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "Else")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    root.post(
        &format!("/api/v1/workspaces/{else_id}/members"),
        &json!({ "email": email, "role": "admin" }),
    )
    .expect_status(201);
    all.push(Caller {
        owner: Some(fx.login(&email)),
        ..caller("other workspace's admin", fx.login(&email), None)
    });
    // An instance admin of its own (not a member of the workspace), so that its password change
    // ends none of the sessions the fixtures use.
    let email = format!("{}@example.com", unique("root"));
    let out = fx.server.store.admin_create(&email, PASSWORD);
    assert!(out.status.success());
    // A member of the other workspace, so that it has tokens to revoke.
    root.post(
        &format!("/api/v1/workspaces/{else_id}/members"),
        &json!({ "email": email, "role": "viewer" }),
    )
    .expect_status(201);
    all.push(Caller {
        instance_admin: true,
        owner: Some(fx.login(&email)),
        ..caller("instance admin", fx.login(&email), None)
    });

    for role in ["admin", "builder", "viewer"] {
        let (email, _) = fx.user(root, Some(role));
        let session = fx.login(&email);
        let token = session.post(
            "/api/v1/tokens",
            &json!({ "name": "matrix", "workspace_id": fx.ws, "expires_in_days": 1 }),
        );
        token.expect_status(201);
        let bearer = fx
            .server
            .client()
            .with_bearer(token.json()["token"].as_str().unwrap());
        all.push(Caller {
            owner: Some(fx.login(&email)),
            ..caller(role, session, Some(role))
        });
        all.push(Caller {
            token: true,
            owner: Some(fx.login(&email)),
            ..caller(&format!("{role}'s token"), bearer, Some(role))
        });
    }

    // Viewers in a group: one with no grant, one per grantable action.
    let mut grants: Vec<Option<&'static str>> = vec![None];
    grants.extend(GRANTABLE.iter().map(|a| Some(*a)));
    for grant in grants {
        let (email, user) = fx.user(root, Some("viewer"));
        let group = fx.throwaway_group();
        fx.admin
            .post(
                &fx.path(&format!("/groups/{group}/members")),
                &json!({ "user_id": user }),
            )
            .expect_status(201);
        if let Some(action) = grant {
            fx.admin
                .post(
                    &fx.path(&format!("/groups/{group}/grants")),
                    &json!({ "action": action }),
                )
                .expect_status(201);
        }
        let name = match grant {
            Some(action) => format!("viewer in a group granted {action}"),
            None => "viewer in a group without grants".to_string(),
        };
        all.push(Caller {
            granted: grant,
            owner: Some(fx.login(&email)),
            ..caller(&name, fx.login(&email), Some("viewer"))
        });
    }
    all
}

/// What the workspace holds, as its admin sees it, for the before-and-after comparison.
fn snapshot(fx: &Fx) -> Value {
    let mut state = serde_json::Map::new();
    for part in [
        "",
        "/members",
        "/groups",
        "/apps",
        "/datasources",
        "/constants",
        "/invites",
    ] {
        let r = fx.admin.get(&fx.path(part));
        r.expect_status(200);
        state.insert(part.to_string(), r.json());
    }
    Value::Object(state)
}

#[test]
fn every_operation_answers_every_caller_as_the_table_says() {
    let (fx, root) = setup();
    let callers = callers(&fx, &root);
    let ops = table(fx.server.admin());

    // The table covers exactly the documented operations.
    let doc = fx.admin.get("/api/v1/openapi.json").json();
    // The document itself is served but not described in it.
    let mut documented: BTreeSet<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| format!("{method} {path}"))
        })
        .collect();
    documented.insert("get /api/v1/openapi.json".into());
    let listed: BTreeSet<String> = ops
        .iter()
        .map(|o| format!("{} {}", o.method, o.template))
        .collect();
    assert_eq!(
        listed, documented,
        "the matrix and the OpenAPI document differ"
    );

    // Callers outside the workspace first: each of their calls must change nothing in it
    // (compared around the call itself, after its fixtures are made), unless the matrix lets
    // them in (an instance admin managing members).
    let mut failures = Vec::new();
    let mut public_answers: std::collections::BTreeMap<String, BTreeSet<u16>> = Default::default();
    let outside: Vec<&Caller> = callers.iter().filter(|c| c.role.is_none()).collect();
    let inside: Vec<&Caller> = callers.iter().filter(|c| c.role.is_some()).collect();
    for (pass, group) in [("outside", outside), ("inside", inside)] {
        for op in &ops {
            for caller in &group {
                let (path, body) = (op.make)(&fx, caller);
                let refused = caller.expected(op.need) != Expect::Allowed;
                let before = (pass == "outside" && refused).then(|| snapshot(&fx));
                let r = caller
                    .client
                    .send(&op.method.to_uppercase(), &path, body.as_ref());
                if let Some(before) = before
                    && before != snapshot(&fx)
                {
                    failures.push(format!(
                        "{} {} as {} changed the workspace",
                        op.method, path, caller.name
                    ));
                }
                let expected = caller.expected(op.need);
                let ok = match &expected {
                    Expect::Status(s) => r.status == *s,
                    Expect::Allowed => ![401, 403, 404].contains(&r.status) && r.status < 500,
                    Expect::SameForAll if r.status == 429 => true,
                    Expect::SameForAll => {
                        public_answers
                            .entry(format!("{} {}", op.method, op.template))
                            .or_default()
                            .insert(r.status);
                        r.status < 500
                    }
                };
                if !ok {
                    failures.push(format!(
                        "{} {} as {}: {} (expected {:?}) {}",
                        op.method,
                        path,
                        caller.name,
                        r.status,
                        expected,
                        r.body.chars().take(160).collect::<String>()
                    ));
                }
            }
        }
    }
    for (op, statuses) in public_answers {
        if statuses.len() != 1 {
            failures.push(format!("{op} answered differently by caller: {statuses:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
