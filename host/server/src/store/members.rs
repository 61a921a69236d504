//! Workspace members and their roles. A workspace always keeps at least one admin: changes
//! that would remove the last one are refused inside a change that first write-locks the
//! workspace row, so two concurrent demotions can't both pass the check.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Change, Store, now_ms};
use crate::error::{Error, Result};

/// A member's role in a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Builder,
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Builder => "builder",
            Role::Viewer => "viewer",
        }
    }

    /// Parses a role as stored; the column's CHECK constraint allows no other value.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "builder" => Some(Role::Builder),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRow {
    pub user_id: String,
    pub email: String,
    pub role: String,
    pub created_at: i64,
}

const LAST_ADMIN: &str = "a workspace must keep at least one admin";

impl Store {
    /// The role of a user in a workspace, or `None` when they aren't a member (or either
    /// doesn't exist).
    pub async fn member_role(&self, workspace_id: &str, user_id: &str) -> Result<Option<Role>> {
        let role: Option<String> =
            sqlx::query_scalar("SELECT role FROM members WHERE workspace_id = $1 AND user_id = $2")
                .bind(workspace_id)
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(role.as_deref().and_then(Role::parse))
    }

    pub async fn members_list(&self, workspace_id: &str) -> Result<Vec<MemberRow>> {
        Ok(sqlx::query_as(
            "SELECT m.user_id, u.email, m.role, m.created_at FROM members m \
             JOIN users u ON u.id = m.user_id WHERE m.workspace_id = $1 ORDER BY u.email",
        )
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn member_get(&self, workspace_id: &str, user_id: &str) -> Result<Option<MemberRow>> {
        Ok(sqlx::query_as(
            "SELECT m.user_id, u.email, m.role, m.created_at FROM members m \
             JOIN users u ON u.id = m.user_id WHERE m.workspace_id = $1 AND m.user_id = $2",
        )
        .bind(workspace_id)
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?)
    }
}

/// Makes the change's first statement a write to the workspace row: PostgreSQL then holds a
/// row lock and SQLite the database write lock until commit. A 404 when there's no workspace.
pub(super) async fn lock_workspace(change: &mut Change, workspace_id: &str) -> Result<()> {
    let locked = sqlx::query("UPDATE workspaces SET name = name WHERE id = $1")
        .bind(workspace_id)
        .execute(&mut *change.tx)
        .await?;
    if locked.rows_affected() == 0 {
        return Err(Error::NotFound);
    }
    Ok(())
}

async fn current_role(change: &mut Change, workspace_id: &str, user_id: &str) -> Result<Role> {
    let role: Option<String> =
        sqlx::query_scalar("SELECT role FROM members WHERE workspace_id = $1 AND user_id = $2")
            .bind(workspace_id)
            .bind(user_id)
            .fetch_optional(&mut *change.tx)
            .await?;
    role.as_deref().and_then(Role::parse).ok_or(Error::NotFound)
}

/// A 409 when the member's role is no longer the one the caller's right to change it was
/// checked against (someone changed it meanwhile).
fn check_unchanged(current: Role, expected: Role) -> Result<()> {
    if current == expected {
        return Ok(());
    }
    Err(Error::Conflict(format!(
        "the member's role changed to {} meanwhile; reload and try again",
        current.as_str()
    )))
}

async fn admin_count(change: &mut Change, workspace_id: &str) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM members WHERE workspace_id = $1 AND role = 'admin'",
    )
    .bind(workspace_id)
    .fetch_one(&mut *change.tx)
    .await?)
}

impl Change {
    /// Adds a user to a workspace; an existing member is a 409.
    pub async fn member_add(
        &mut self,
        workspace_id: &str,
        user_id: &str,
        role: Role,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO members (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(workspace_id)
        .bind(user_id)
        .bind(role.as_str())
        .bind(now_ms())
        .execute(&mut *self.tx)
        .await
        .map_err(|e| super::conflict_on_unique(e, "this user is already a member"))?;
        Ok(())
    }

    /// Changes a member's role; demoting the last admin is a 409, an unknown member a 404.
    pub async fn member_set_role(
        &mut self,
        workspace_id: &str,
        user_id: &str,
        expected: Role,
        role: Role,
    ) -> Result<()> {
        lock_workspace(self, workspace_id).await?;
        let current = current_role(self, workspace_id, user_id).await?;
        check_unchanged(current, expected)?;
        if current == Role::Admin
            && role != Role::Admin
            && admin_count(self, workspace_id).await? <= 1
        {
            return Err(Error::Conflict(LAST_ADMIN.into()));
        }
        sqlx::query("UPDATE members SET role = $3 WHERE workspace_id = $1 AND user_id = $2")
            .bind(workspace_id)
            .bind(user_id)
            .bind(role.as_str())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Removes a member; removing the last admin is a 409, an unknown member a 404.
    pub async fn member_remove(
        &mut self,
        workspace_id: &str,
        user_id: &str,
        expected: Role,
    ) -> Result<()> {
        lock_workspace(self, workspace_id).await?;
        let current = current_role(self, workspace_id, user_id).await?;
        check_unchanged(current, expected)?;
        if current == Role::Admin && admin_count(self, workspace_id).await? <= 1 {
            return Err(Error::Conflict(LAST_ADMIN.into()));
        }
        sqlx::query("DELETE FROM members WHERE workspace_id = $1 AND user_id = $2")
            .bind(workspace_id)
            .bind(user_id)
            .execute(&mut *self.tx)
            .await?;
        // The member's tokens for this workspace die with the membership.
        sqlx::query(
            "UPDATE api_tokens SET revoked_at = $3 \
             WHERE workspace_id = $1 AND user_id = $2 AND revoked_at IS NULL",
        )
        .bind(workspace_id)
        .bind(user_id)
        .bind(now_ms())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}
