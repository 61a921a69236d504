//! Authorization: who may do what, decided by casbin (`model.conf`).
//!
//! A workspace's policy is built from the store (its members' roles, its groups' members and
//! grants) into a casbin enforcer of its own, cached until the store's epoch moves (any change
//! to memberships, groups or grants moves it, see `cache.rs`), so a revoked grant is gone on
//! the very next request of every replica. Decisions are cached inside the policy: the run
//! path asks the same two questions over and over.
//!
//! The default roles:
//! - **admin**: everything in the workspace, always.
//! - **builder** and **viewer**: what the workspace's role grants say. A new workspace gives
//!   builders `view` and `edit` on every app, `use` and `configure` on every datasource, and
//!   `build` (create apps, preview queries, read constants); viewers `view` on every app (its
//!   released version) and `use` on every datasource (running the released queries of apps
//!   they may view). Whoever manages groups may change them.
//!
//! Custom groups add grants on top: on one app or datasource, on all of them, or a workspace
//! action. Instance admins hold the instance actions.
//!
//! Ids reach the enforcer only after the store found them (never straight from a URL), so
//! objects are always `kind:<uuid>`.

use std::collections::HashMap;
use std::sync::Mutex;

use casbin::{CoreApi, DefaultModel, Enforcer, MemoryAdapter, MgmtApi};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{Error, Result};
use crate::store::{GrantRow, PolicyRows};

const MODEL: &str = include_str!("model.conf");

/// The domain of instance-wide actions.
const INSTANCE: &str = "instance";

/// An action on a workspace, one of its apps or one of its datasources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Apps: open the released version and run its released queries.
    View,
    /// Apps: change the draft, release, restore, export, delete.
    Edit,
    /// Datasources: run queries on it (released app queries, previews, connection tests).
    Use,
    /// Datasources: change or delete it (and, on `datasource:*`, create new ones).
    Configure,
    /// Workspace: create and import apps, preview queries, read constants.
    Build,
    /// Workspace: add, change and remove members; invites.
    ManageMembers,
    /// Workspace: create groups, change their members and grants.
    ManageGroups,
    /// Workspace: create, change and delete constants and secrets.
    ManageConstants,
    /// Workspace: rename it.
    ManageWorkspace,
    /// Workspace: read its audit log.
    ReadAudit,
}

impl Action {
    pub const ALL: [Action; 10] = [
        Action::View,
        Action::Edit,
        Action::Use,
        Action::Configure,
        Action::Build,
        Action::ManageMembers,
        Action::ManageGroups,
        Action::ManageConstants,
        Action::ManageWorkspace,
        Action::ReadAudit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::View => "view",
            Action::Edit => "edit",
            Action::Use => "use",
            Action::Configure => "configure",
            Action::Build => "build",
            Action::ManageMembers => "manage_members",
            Action::ManageGroups => "manage_groups",
            Action::ManageConstants => "manage_constants",
            Action::ManageWorkspace => "manage_workspace",
            Action::ReadAudit => "read_audit",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The kind of object the action applies to.
    pub fn kind(self) -> Kind {
        match self {
            Action::View | Action::Edit => Kind::App,
            Action::Use | Action::Configure => Kind::Datasource,
            _ => Kind::Workspace,
        }
    }
}

/// What kind of object a grant is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Workspace,
    App,
    Datasource,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Workspace => "workspace",
            Kind::App => "app",
            Kind::Datasource => "datasource",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        [Kind::Workspace, Kind::App, Kind::Datasource]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// The object of a check: the workspace, or an app or datasource by its stored id (`None`:
/// every one of them, as for creating a new one).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Object {
    Workspace,
    App(Option<String>),
    Datasource(Option<String>),
}

impl Object {
    /// `kind` with `id`, or every object of the kind.
    pub fn of(kind: Kind, id: Option<String>) -> Object {
        match kind {
            Kind::Workspace => Object::Workspace,
            Kind::App => Object::App(id),
            Kind::Datasource => Object::Datasource(id),
        }
    }

    fn casbin(&self) -> String {
        match self {
            Object::Workspace => "workspace".into(),
            Object::App(id) => format!("app:{}", id.as_deref().unwrap_or("*")),
            Object::Datasource(id) => format!("datasource:{}", id.as_deref().unwrap_or("*")),
        }
    }

    fn kind(&self) -> Kind {
        match self {
            Object::Workspace => Kind::Workspace,
            Object::App(_) => Kind::App,
            Object::Datasource(_) => Kind::Datasource,
        }
    }
}

/// An instance-wide action: instance admins only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceAction {
    /// Create, change and disable user accounts.
    ManageUsers,
    /// Create workspaces.
    ManageWorkspaces,
    /// Read the instance-wide audit log.
    ReadAudit,
    /// Install, update, roll back and remove connectors.
    InstallPlugins,
    /// Configure registries and the publisher keys the instance trusts.
    ManageRegistries,
    /// Change instance settings (the egress allow-list).
    ManageSettings,
}

impl InstanceAction {
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceAction::ManageUsers => "manage_users",
            InstanceAction::ManageWorkspaces => "manage_workspaces",
            InstanceAction::ReadAudit => "read_audit",
            InstanceAction::InstallPlugins => "install_plugins",
            InstanceAction::ManageRegistries => "manage_registries",
            InstanceAction::ManageSettings => "manage_settings",
        }
    }
}

/// The admin role's policy, the same in every workspace: everything. The builder's and the
/// viewer's are the workspace's role grants (seeded with `store::DEFAULT_ROLE_GRANTS`).
const ADMIN_POLICY: (&str, &str, &str) = ("role:admin", "*", "*");

/// Builds casbin's request and policy texts, and keeps its engine.
async fn enforcer(policies: Vec<Vec<String>>, groupings: Vec<Vec<String>>) -> Result<Enforcer> {
    let model = DefaultModel::from_str(MODEL)
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("the authorization model: {e}")))?;
    let mut enforcer = Enforcer::new(model, MemoryAdapter::default())
        .await
        .map_err(casbin_error)?;
    if !policies.is_empty() {
        enforcer
            .add_policies(policies)
            .await
            .map_err(casbin_error)?;
    }
    if !groupings.is_empty() {
        enforcer
            .add_grouping_policies(groupings)
            .await
            .map_err(casbin_error)?;
    }
    Ok(enforcer)
}

fn casbin_error(e: casbin::Error) -> Error {
    Error::Internal(anyhow::anyhow!("authorization: {e}"))
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// One workspace's policy.
pub struct Policy {
    workspace_id: String,
    enforcer: Enforcer,
    /// `(user id, object, action)` → allowed.
    decisions: Mutex<HashMap<(String, Object, Action), bool>>,
}

impl Policy {
    /// The policy of workspace `workspace_id` from its stored members, groups and grants.
    pub async fn build(workspace_id: &str, rows: PolicyRows) -> Result<Policy> {
        let (sub, obj, act) = ADMIN_POLICY;
        let mut policies = vec![strings(&[sub, "*", obj, act])];
        let held = rows
            .grants
            .iter()
            .map(|g| (format!("group:{}", g.holder), g))
            .chain(
                rows.role_grants
                    .iter()
                    .map(|g| (format!("role:{}", g.holder), g)),
            );
        for (subject, grant) in held {
            policies.push(vec![
                subject,
                workspace_id.to_string(),
                grant_object(grant).casbin(),
                grant.action.clone(),
            ]);
        }
        let mut groupings = Vec::new();
        for (user_id, role) in &rows.members {
            groupings.push(vec![
                format!("user:{user_id}"),
                format!("role:{}", role.as_str()),
                workspace_id.to_string(),
            ]);
        }
        for (group_id, user_id) in &rows.group_members {
            groupings.push(vec![
                format!("user:{user_id}"),
                format!("group:{group_id}"),
                workspace_id.to_string(),
            ]);
        }
        Ok(Policy {
            workspace_id: workspace_id.to_string(),
            enforcer: enforcer(policies, groupings).await?,
            decisions: Mutex::default(),
        })
    }

    /// Whether the user may do `action` on `object`. An action of another kind than the
    /// object's is never allowed (`edit` on a datasource means nothing).
    pub fn allows(&self, user_id: &str, object: &Object, action: Action) -> Result<bool> {
        if action.kind() != object.kind() {
            return Ok(false);
        }
        let key = (user_id.to_string(), object.clone(), action);
        if let Some(allowed) = self.lock().get(&key) {
            return Ok(*allowed);
        }
        let allowed = self
            .enforcer
            .enforce((
                format!("user:{user_id}"),
                self.workspace_id.as_str(),
                object.casbin(),
                action.as_str(),
            ))
            .map_err(casbin_error)?;
        let mut decisions = self.lock();
        if decisions.len() >= crate::cache::MAX_ENTRIES {
            decisions.clear();
        }
        decisions.insert(key, allowed);
        Ok(allowed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, Object, Action), bool>> {
        self.decisions.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The object a stored grant is on.
pub fn grant_object(grant: &GrantRow) -> Object {
    match Kind::parse(&grant.kind) {
        Some(Kind::App) => Object::App(grant.app_id.clone()),
        Some(Kind::Datasource) => Object::Datasource(grant.datasource_id.clone()),
        // The column's CHECK allows no other kind.
        _ => Object::Workspace,
    }
}

/// The instance-wide policy: instance admins hold every instance action.
pub struct InstancePolicy {
    enforcer: Enforcer,
}

impl InstancePolicy {
    pub async fn build() -> Result<InstancePolicy> {
        let policies = vec![strings(&["role:instance_admin", INSTANCE, INSTANCE, "*"])];
        Ok(InstancePolicy {
            enforcer: enforcer(policies, Vec::new()).await?,
        })
    }

    /// Whether a user may do `action`; instance admins are known from their user row, which
    /// the request's actor carries, so the role is passed in rather than stored here.
    pub fn allows(&self, instance_admin: bool, action: InstanceAction) -> Result<bool> {
        let subject = if instance_admin {
            "role:instance_admin"
        } else {
            "user:anyone"
        };
        // A subject is also a member of itself in casbin's role graph, so the role can be
        // asked about directly.
        self.enforcer
            .enforce((subject, INSTANCE, INSTANCE, action.as_str()))
            .map_err(casbin_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Role;

    fn grant(group: &str, kind: Kind, id: Option<&str>, action: Action) -> GrantRow {
        GrantRow {
            id: format!("grant-{group}-{}", action.as_str()),
            holder: group.into(),
            kind: kind.as_str().into(),
            app_id: (kind == Kind::App).then(|| id.map(String::from)).flatten(),
            datasource_id: (kind == Kind::Datasource)
                .then(|| id.map(String::from))
                .flatten(),
            action: action.as_str().into(),
            created_at: 0,
        }
    }

    fn app(id: &str) -> Object {
        Object::App(Some(id.into()))
    }

    fn datasource(id: &str) -> Object {
        Object::Datasource(Some(id.into()))
    }

    /// The default role grants of a new workspace.
    fn defaults() -> Vec<GrantRow> {
        crate::store::DEFAULT_ROLE_GRANTS
            .iter()
            .map(|(role, kind, action)| GrantRow {
                id: format!("{}-{kind}-{action}", role.as_str()),
                holder: role.as_str().into(),
                kind: kind.to_string(),
                app_id: None,
                datasource_id: None,
                action: action.to_string(),
                created_at: 0,
            })
            .collect()
    }

    async fn policy(mut rows: PolicyRows) -> Policy {
        if rows.role_grants.is_empty() {
            rows.role_grants = defaults();
        }
        Policy::build("ws-1", rows).await.unwrap()
    }

    #[tokio::test]
    async fn the_default_roles_hold_what_the_docs_say() {
        let rows = PolicyRows {
            members: vec![
                ("admin".into(), Role::Admin),
                ("builder".into(), Role::Builder),
                ("viewer".into(), Role::Viewer),
            ],
            ..Default::default()
        };
        let p = policy(rows).await;
        let every_action = |user: &str| -> Vec<(Object, Action)> {
            let mut held = Vec::new();
            for action in Action::ALL {
                for object in [Object::Workspace, app("a1"), datasource("d1")] {
                    if p.allows(user, &object, action).unwrap() {
                        held.push((object, action));
                    }
                }
            }
            held
        };
        assert_eq!(every_action("admin").len(), Action::ALL.len());
        assert_eq!(
            every_action("builder"),
            [
                (app("a1"), Action::View),
                (app("a1"), Action::Edit),
                (datasource("d1"), Action::Use),
                (datasource("d1"), Action::Configure),
                (Object::Workspace, Action::Build),
            ]
        );
        assert_eq!(
            every_action("viewer"),
            [(app("a1"), Action::View), (datasource("d1"), Action::Use)]
        );
        // Not a member: nothing.
        assert!(every_action("stranger").is_empty());
        // Creating a datasource is `configure` on all of them.
        assert!(
            p.allows("builder", &Object::Datasource(None), Action::Configure)
                .unwrap()
        );
        assert!(
            !p.allows("viewer", &Object::Datasource(None), Action::Configure)
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_group_adds_exactly_its_grants_to_its_members() {
        let rows = PolicyRows {
            members: vec![("ann".into(), Role::Viewer), ("bob".into(), Role::Viewer)],
            group_members: vec![("editors".into(), "ann".into())],
            grants: vec![
                grant("editors", Kind::App, Some("a1"), Action::Edit),
                grant("editors", Kind::Datasource, None, Action::Configure),
                grant("editors", Kind::Workspace, None, Action::ReadAudit),
            ],
            role_grants: defaults(),
        };
        let p = policy(rows).await;
        assert!(p.allows("ann", &app("a1"), Action::Edit).unwrap());
        assert!(!p.allows("ann", &app("a2"), Action::Edit).unwrap());
        assert!(
            p.allows("ann", &datasource("d9"), Action::Configure)
                .unwrap()
        );
        assert!(
            p.allows("ann", &Object::Workspace, Action::ReadAudit)
                .unwrap()
        );
        assert!(
            !p.allows("ann", &Object::Workspace, Action::ManageMembers)
                .unwrap()
        );
        // Bob is a viewer outside the group.
        assert!(!p.allows("bob", &app("a1"), Action::Edit).unwrap());
        assert!(
            !p.allows("bob", &Object::Workspace, Action::ReadAudit)
                .unwrap()
        );
        // An action of another kind than the object's means nothing.
        assert!(!p.allows("ann", &datasource("a1"), Action::Edit).unwrap());
    }

    #[tokio::test]
    async fn a_grant_of_one_app_does_not_match_an_id_it_prefixes() {
        let rows = PolicyRows {
            members: vec![("ann".into(), Role::Viewer)],
            group_members: vec![("g".into(), "ann".into())],
            grants: vec![grant("g", Kind::App, Some("a1"), Action::Edit)],
            role_grants: defaults(),
        };
        let p = policy(rows).await;
        assert!(!p.allows("ann", &app("a10"), Action::Edit).unwrap());
        assert!(!p.allows("ann", &Object::App(None), Action::Edit).unwrap());
    }

    #[tokio::test]
    async fn only_instance_admins_hold_instance_actions() {
        let p = InstancePolicy::build().await.unwrap();
        assert!(p.allows(true, InstanceAction::ManageUsers).unwrap());
        assert!(!p.allows(false, InstanceAction::ManageUsers).unwrap());
        assert!(!p.allows(false, InstanceAction::ReadAudit).unwrap());
    }

    #[tokio::test]
    async fn narrowed_role_grants_leave_only_what_remains_and_groups_add_back() {
        // Viewers may use no datasource but `d1`'s group may; apps as before.
        let mut role_grants: Vec<GrantRow> = defaults()
            .into_iter()
            .filter(|g| !(g.holder == "viewer" && g.kind == "datasource"))
            .collect();
        role_grants.push(grant("viewer", Kind::App, Some("a1"), Action::Edit));
        let rows = PolicyRows {
            members: vec![("ann".into(), Role::Viewer), ("bob".into(), Role::Viewer)],
            group_members: vec![("d1-users".into(), "ann".into())],
            grants: vec![grant("d1-users", Kind::Datasource, Some("d1"), Action::Use)],
            role_grants,
        };
        let p = policy(rows).await;
        assert!(!p.allows("bob", &datasource("d1"), Action::Use).unwrap());
        assert!(p.allows("ann", &datasource("d1"), Action::Use).unwrap());
        assert!(!p.allows("ann", &datasource("d2"), Action::Use).unwrap());
        assert!(p.allows("bob", &app("a1"), Action::Edit).unwrap());
        assert!(p.allows("bob", &app("a2"), Action::View).unwrap());
    }
}
