//! Workspace constants (`{{ constants.name }}`) and secrets (`{{ secrets.name }}`): one table,
//! with the value of a secret sealed (see `crate::vault`).

use super::{Change, Store};
use crate::error::Result;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConstantRow {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub secret: i64,
    /// The value, or for a secret its sealed form.
    pub value: String,
    pub key_version: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ConstantRow {
    pub fn is_secret(&self) -> bool {
        self.secret != 0
    }
}

const COLUMNS: &str = "id, workspace_id, name, secret, value, key_version, created_at, updated_at";

impl Store {
    pub async fn constants_list(&self, workspace_id: &str) -> Result<Vec<ConstantRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM constants WHERE workspace_id = $1 ORDER BY secret, name"
        );
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(workspace_id)
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn constant_get(&self, workspace_id: &str, id: &str) -> Result<Option<ConstantRow>> {
        let sql = format!("SELECT {COLUMNS} FROM constants WHERE workspace_id = $1 AND id = $2");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(workspace_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }
}

impl Change {
    pub async fn constant_insert(&mut self, row: &ConstantRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO constants (id, workspace_id, name, secret, value, key_version, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&row.id)
        .bind(&row.workspace_id)
        .bind(&row.name)
        .bind(row.secret)
        .bind(&row.value)
        .bind(row.key_version)
        .bind(row.created_at)
        .bind(row.updated_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn constant_update(&mut self, row: &ConstantRow) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE constants SET value = $3, key_version = $4, updated_at = $5 \
             WHERE workspace_id = $1 AND id = $2",
        )
        .bind(&row.workspace_id)
        .bind(&row.id)
        .bind(&row.value)
        .bind(row.key_version)
        .bind(row.updated_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn constant_delete(&mut self, workspace_id: &str, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM constants WHERE workspace_id = $1 AND id = $2")
            .bind(workspace_id)
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
