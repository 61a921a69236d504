//! Custom groups, their members and their grants (see `authz`). Every statement names the
//! workspace, so an id from another workspace finds nothing.

use super::{Change, Role, Store, new_id, now_ms};
use crate::error::{Error, Result};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GroupRow {
    pub id: String,
    pub name: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GroupMemberRow {
    pub user_id: String,
    pub email: String,
    pub created_at: i64,
}

/// Who holds a grant: a custom group, or a default role (builder or viewer: admins hold
/// everything and have no grants).
#[derive(Debug, Clone, Copy)]
pub enum Holder<'a> {
    Group(&'a str),
    Role(Role),
}

impl Holder<'_> {
    /// The table holding this kind of holder's grants, and its holder column (fixed names,
    /// never input).
    fn table(&self) -> (&'static str, &'static str) {
        match self {
            Holder::Group(_) => ("grants", "group_id"),
            Holder::Role(_) => ("role_grants", "role"),
        }
    }

    fn key(&self) -> &str {
        match self {
            Holder::Group(id) => id,
            Holder::Role(role) => role.as_str(),
        }
    }
}

/// What the builder and viewer roles hold in a new workspace: `(role, kind, action)` on
/// every object of the kind. The migration that added role grants gave existing workspaces
/// the same.
pub const DEFAULT_ROLE_GRANTS: &[(Role, &str, &str)] = &[
    (Role::Builder, "app", "view"),
    (Role::Builder, "app", "edit"),
    (Role::Builder, "datasource", "use"),
    (Role::Builder, "datasource", "configure"),
    (Role::Builder, "workspace", "build"),
    (Role::Viewer, "app", "view"),
    (Role::Viewer, "datasource", "use"),
];

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GrantRow {
    pub id: String,
    /// The group's id, or the role's name for a role grant.
    pub holder: String,
    /// `workspace`, `app` or `datasource`.
    pub kind: String,
    /// The app of an `app` grant; `None` for every app.
    pub app_id: Option<String>,
    /// The datasource of a `datasource` grant; `None` for every datasource.
    pub datasource_id: Option<String>,
    pub action: String,
    pub created_at: i64,
}

/// What a workspace's policy is built from.
#[derive(Debug, Default)]
pub struct PolicyRows {
    /// `(user id, role)`.
    pub members: Vec<(String, Role)>,
    /// `(group id, user id)`.
    pub group_members: Vec<(String, String)>,
    /// The groups' grants.
    pub grants: Vec<GrantRow>,
    /// The builder and viewer roles' grants.
    pub role_grants: Vec<GrantRow>,
}

/// A new grant.
pub struct NewGrant<'a> {
    pub kind: &'a str,
    pub app_id: Option<&'a str>,
    pub datasource_id: Option<&'a str>,
    pub action: &'a str,
    pub created_by: &'a str,
}

const GRANT_COLUMNS: &str = "id, kind, app_id, datasource_id, action, created_at";

impl Store {
    pub async fn policy_rows(&self, workspace_id: &str) -> Result<PolicyRows> {
        let members: Vec<(String, String)> =
            sqlx::query_as("SELECT user_id, role FROM members WHERE workspace_id = $1")
                .bind(workspace_id)
                .fetch_all(&self.pool)
                .await?;
        let group_members: Vec<(String, String)> =
            sqlx::query_as("SELECT group_id, user_id FROM group_members WHERE workspace_id = $1")
                .bind(workspace_id)
                .fetch_all(&self.pool)
                .await?;
        let grants = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT group_id AS holder, {GRANT_COLUMNS} FROM grants WHERE workspace_id = $1"
        )))
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await?;
        let role_grants = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT role AS holder, {GRANT_COLUMNS} FROM role_grants WHERE workspace_id = $1"
        )))
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(PolicyRows {
            members: members
                .into_iter()
                .filter_map(|(user, role)| Some((user, Role::parse(&role)?)))
                .collect(),
            group_members,
            grants,
            role_grants,
        })
    }

    pub async fn groups_list(&self, workspace_id: &str) -> Result<Vec<GroupRow>> {
        Ok(sqlx::query_as(
            "SELECT id, name, created_at FROM member_groups WHERE workspace_id = $1 ORDER BY name",
        )
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn group_get(&self, workspace_id: &str, id: &str) -> Result<Option<GroupRow>> {
        Ok(sqlx::query_as(
            "SELECT id, name, created_at FROM member_groups WHERE workspace_id = $1 AND id = $2",
        )
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The groups of the workspace that `user_id` belongs to.
    pub async fn groups_of(&self, workspace_id: &str, user_id: &str) -> Result<Vec<GroupRow>> {
        Ok(sqlx::query_as(GROUPS_OF)
            .bind(workspace_id)
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn group_members(
        &self,
        workspace_id: &str,
        group_id: &str,
    ) -> Result<Vec<GroupMemberRow>> {
        Ok(sqlx::query_as(
            "SELECT m.user_id, u.email, m.created_at FROM group_members m \
             JOIN users u ON u.id = m.user_id \
             WHERE m.workspace_id = $1 AND m.group_id = $2 ORDER BY u.email",
        )
        .bind(workspace_id)
        .bind(group_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The grants of a group or role of the workspace.
    pub async fn grants_of(&self, workspace_id: &str, holder: Holder<'_>) -> Result<Vec<GrantRow>> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(grants_of(holder)))
            .bind(workspace_id)
            .bind(holder.key())
            .fetch_all(&self.pool)
            .await?)
    }
}

/// The groups a member is in, by name: `$1` workspace, `$2` user.
const GROUPS_OF: &str = "SELECT g.id, g.name, g.created_at FROM member_groups g \
     JOIN group_members m ON m.group_id = g.id \
     WHERE g.workspace_id = $1 AND m.user_id = $2 ORDER BY g.name";

/// The grants of `holder`, oldest first: `$1` workspace, `$2` the holder's key.
fn grants_of(holder: Holder<'_>) -> String {
    let (table, column) = holder.table();
    format!(
        "SELECT {column} AS holder, {GRANT_COLUMNS} FROM {table} \
         WHERE workspace_id = $1 AND {column} = $2 ORDER BY created_at, id"
    )
}

impl Change {
    /// Holds the workspace's write lock until the change commits: group, grant and member
    /// changes that check who may make them take it first, so that what they checked can't
    /// change under them (a grant added to a group while it is being deleted).
    pub async fn workspace_lock(&mut self, workspace_id: &str) -> Result<()> {
        super::members::lock_workspace(self, workspace_id).await
    }

    /// [`Store::grants_of`], read inside this change.
    pub async fn grants_of(
        &mut self,
        workspace_id: &str,
        holder: Holder<'_>,
    ) -> Result<Vec<GrantRow>> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(grants_of(holder)))
            .bind(workspace_id)
            .bind(holder.key())
            .fetch_all(&mut *self.tx)
            .await?)
    }

    /// [`Store::groups_of`], read inside this change.
    pub async fn groups_of(&mut self, workspace_id: &str, user_id: &str) -> Result<Vec<GroupRow>> {
        Ok(sqlx::query_as(GROUPS_OF)
            .bind(workspace_id)
            .bind(user_id)
            .fetch_all(&mut *self.tx)
            .await?)
    }

    /// A new group; a name already taken in the workspace is a 409.
    pub async fn group_insert(&mut self, workspace_id: &str, name: &str) -> Result<String> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO member_groups (id, workspace_id, name, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(workspace_id)
        .bind(name)
        .bind(now_ms())
        .execute(&mut *self.tx)
        .await
        .map_err(|e| super::conflict_on_unique(e, "a group with this name already exists"))?;
        Ok(id)
    }

    /// Renames a group; false when the workspace has no such group.
    pub async fn group_rename(&mut self, workspace_id: &str, id: &str, name: &str) -> Result<bool> {
        let done =
            sqlx::query("UPDATE member_groups SET name = $3 WHERE workspace_id = $1 AND id = $2")
                .bind(workspace_id)
                .bind(id)
                .bind(name)
                .execute(&mut *self.tx)
                .await
                .map_err(|e| {
                    super::conflict_on_unique(e, "a group with this name already exists")
                })?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes a group with its memberships and grants; false when there is no such group.
    pub async fn group_delete(&mut self, workspace_id: &str, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM member_groups WHERE workspace_id = $1 AND id = $2")
            .bind(workspace_id)
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Adds a workspace member to a group: a 409 when already in it, a 422 when the user is
    /// not a member of the workspace.
    pub async fn group_member_add(
        &mut self,
        workspace_id: &str,
        group_id: &str,
        user_id: &str,
    ) -> Result<()> {
        // One statement, a write first (see `Change`): the row goes in only for a member of
        // the workspace.
        let added = sqlx::query(
            "INSERT INTO group_members (workspace_id, group_id, user_id, created_at) \
             SELECT $1, $2, $3, $4 WHERE EXISTS \
             (SELECT 1 FROM members WHERE workspace_id = $1 AND user_id = $3)",
        )
        .bind(workspace_id)
        .bind(group_id)
        .bind(user_id)
        .bind(now_ms())
        .execute(&mut *self.tx)
        .await
        .map_err(|e| {
            super::conflict_on_constraint(
                e,
                "this user is already in the group",
                "the group or the member was removed meanwhile",
            )
        })?;
        if added.rows_affected() == 0 {
            return Err(Error::Validation(
                "`user_id` is not a member of this workspace".into(),
            ));
        }
        Ok(())
    }

    /// Takes a user out of a group; false when they were not in it.
    pub async fn group_member_remove(
        &mut self,
        workspace_id: &str,
        group_id: &str,
        user_id: &str,
    ) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM group_members WHERE workspace_id = $1 AND group_id = $2 AND user_id = $3",
        )
        .bind(workspace_id)
        .bind(group_id)
        .bind(user_id)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A new grant for a group or role of the workspace; the same grant twice is a 409.
    pub async fn grant_insert(
        &mut self,
        workspace_id: &str,
        holder: Holder<'_>,
        grant: NewGrant<'_>,
    ) -> Result<String> {
        self.workspace_lock(workspace_id).await?;
        let id = new_id();
        let (table, column) = holder.table();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {table} (id, workspace_id, {column}, kind, app_id, datasource_id, \
             action, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        )))
        .bind(&id)
        .bind(workspace_id)
        .bind(holder.key())
        .bind(grant.kind)
        .bind(grant.app_id)
        .bind(grant.datasource_id)
        .bind(grant.action)
        .bind(grant.created_by)
        .bind(now_ms())
        .execute(&mut *self.tx)
        .await
        .map_err(|e| {
            super::conflict_on_constraint(
                e,
                "this grant is already given",
                "the group, app or datasource was removed meanwhile",
            )
        })?;
        Ok(id)
    }

    /// Removes a grant of a group or role; false when there is no such grant.
    pub async fn grant_delete(
        &mut self,
        workspace_id: &str,
        holder: Holder<'_>,
        id: &str,
    ) -> Result<bool> {
        let (table, column) = holder.table();
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE workspace_id = $1 AND {column} = $2 AND id = $3"
        )))
        .bind(workspace_id)
        .bind(holder.key())
        .bind(id)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives a new workspace's builder and viewer roles their default grants.
    pub async fn role_grants_seed(&mut self, workspace_id: &str, created_by: &str) -> Result<()> {
        for (role, kind, action) in DEFAULT_ROLE_GRANTS {
            let grant = NewGrant {
                kind,
                app_id: None,
                datasource_id: None,
                action,
                created_by,
            };
            self.grant_insert(workspace_id, Holder::Role(*role), grant)
                .await?;
        }
        Ok(())
    }
}
