//! Workspaces: the unit of tenancy. Every lookup that a member makes is scoped by workspace.

use super::{Change, Role, Store, new_id, now_ms};
use crate::error::Result;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WorkspaceRow {
    pub id: String,
    pub name: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WorkspaceWithRole {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub role: String,
}

impl Store {
    /// The workspaces a user belongs to, with their role in each.
    pub async fn workspaces_for_user(&self, user_id: &str) -> Result<Vec<WorkspaceWithRole>> {
        Ok(sqlx::query_as(
            "SELECT w.id, w.name, w.created_at, m.role FROM workspaces w \
             JOIN members m ON m.workspace_id = w.id \
             WHERE m.user_id = $1 ORDER BY w.name, w.id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn workspace_get(&self, id: &str) -> Result<Option<WorkspaceRow>> {
        Ok(
            sqlx::query_as("SELECT id, name, created_at FROM workspaces WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }
}

impl Change {
    /// Creates a workspace with its creator as its first admin.
    pub async fn workspace_create(&mut self, name: &str, creator_id: &str) -> Result<WorkspaceRow> {
        let row = WorkspaceRow {
            id: new_id(),
            name: name.to_string(),
            created_at: now_ms(),
        };

        sqlx::query("INSERT INTO workspaces (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(&row.id)
            .bind(&row.name)
            .bind(row.created_at)
            .execute(&mut *self.tx)
            .await?;
        sqlx::query(
            "INSERT INTO members (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&row.id)
        .bind(creator_id)
        .bind(Role::Admin.as_str())
        .bind(row.created_at)
        .execute(&mut *self.tx)
        .await?;
        self.role_grants_seed(&row.id, creator_id).await?;

        Ok(row)
    }

    pub async fn workspace_rename(&mut self, id: &str, name: &str) -> Result<()> {
        sqlx::query("UPDATE workspaces SET name = $2 WHERE id = $1")
            .bind(id)
            .bind(name)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }
}
