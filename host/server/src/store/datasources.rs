//! Datasources: a connector and its configuration in one workspace. The non-secret fields are
//! JSON text; the secret fields are one sealed JSON object (see `crate::vault`).

use super::{Change, Store};
use crate::error::Result;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DatasourceRow {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub plugin_id: String,
    /// JSON object of the non-secret fields.
    pub config: String,
    /// The secret fields, sealed; `None` when none is set.
    pub secrets: Option<String>,
    pub key_version: Option<i64>,
    pub max_rows: i64,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Why the datasource refuses to run, when its plugin was removed with `force`.
    pub disabled: Option<String>,
}

/// A concurrent create or rename won the name between the handler's check and the write.
const NAME_TAKEN: &str = "a datasource with this name exists in the workspace";

const COLUMNS: &str = "id, workspace_id, name, plugin_id, config, secrets, key_version, \
                       max_rows, created_by, created_at, updated_at, disabled";

impl Store {
    pub async fn datasources_list(&self, workspace_id: &str) -> Result<Vec<DatasourceRow>> {
        let sql =
            format!("SELECT {COLUMNS} FROM datasources WHERE workspace_id = $1 ORDER BY name");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(workspace_id)
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn datasource_get(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<Option<DatasourceRow>> {
        let sql = format!("SELECT {COLUMNS} FROM datasources WHERE workspace_id = $1 AND id = $2");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(workspace_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn datasource_by_name(
        &self,
        workspace_id: &str,
        name: &str,
    ) -> Result<Option<DatasourceRow>> {
        let sql =
            format!("SELECT {COLUMNS} FROM datasources WHERE workspace_id = $1 AND name = $2");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(workspace_id)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// True when a datasource other than `except` has this name in the workspace.
    pub async fn datasource_name_taken(
        &self,
        workspace_id: &str,
        name: &str,
        except: &str,
    ) -> Result<bool> {
        let found: Option<String> = sqlx::query_scalar(
            "SELECT id FROM datasources WHERE workspace_id = $1 AND name = $2 AND id <> $3",
        )
        .bind(workspace_id)
        .bind(name)
        .bind(except)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }
}

impl Change {
    pub async fn datasource_insert(&mut self, row: &DatasourceRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO datasources (id, workspace_id, name, plugin_id, config, secrets, \
             key_version, max_rows, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&row.id)
        .bind(&row.workspace_id)
        .bind(&row.name)
        .bind(&row.plugin_id)
        .bind(&row.config)
        .bind(&row.secrets)
        .bind(row.key_version)
        .bind(row.max_rows)
        .bind(&row.created_by)
        .bind(row.created_at)
        .bind(row.updated_at)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| super::conflict_on_unique(e, NAME_TAKEN))?;
        Ok(())
    }

    /// Replaces name, configuration, secrets and limits. `false` when the row is gone.
    pub async fn datasource_update(&mut self, row: &DatasourceRow) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE datasources SET name = $3, config = $4, secrets = $5, key_version = $6, \
             max_rows = $7, updated_at = $8 WHERE workspace_id = $1 AND id = $2",
        )
        .bind(&row.workspace_id)
        .bind(&row.id)
        .bind(&row.name)
        .bind(&row.config)
        .bind(&row.secrets)
        .bind(row.key_version)
        .bind(row.max_rows)
        .bind(row.updated_at)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| super::conflict_on_unique(e, NAME_TAKEN))?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn datasource_delete(&mut self, workspace_id: &str, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM datasources WHERE workspace_id = $1 AND id = $2")
            .bind(workspace_id)
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
