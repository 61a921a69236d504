//! Workspace data keys (sealed by a master key) and the rows sealed with them, as the vault
//! and `lathe keys rotate` see them.

use super::Store;
use crate::error::Result;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DataKeyRow {
    pub workspace_id: String,
    pub version: i64,
    pub master_key_id: String,
    pub wrapped: String,
    pub created_at: i64,
}

/// The kinds of rows that hold sealed values. The name is part of the associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedKind {
    Datasource,
    Constant,
}

impl SealedKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SealedKind::Datasource => "datasource",
            SealedKind::Constant => "secret",
        }
    }

    /// The table and its sealed column and key version column.
    fn table(self) -> (&'static str, &'static str) {
        match self {
            SealedKind::Datasource => ("datasources", "secrets"),
            SealedKind::Constant => ("constants", "value"),
        }
    }
}

/// A sealed value as [`crate::vault::rotate`] re-seals it.
#[derive(Debug, Clone)]
pub struct SealedValue {
    pub kind: SealedKind,
    pub id: String,
    pub text: String,
    pub version: i64,
}

const COLUMNS: &str = "workspace_id, version, master_key_id, wrapped, created_at";

impl Store {
    pub async fn data_key(&self, workspace_id: &str, version: i64) -> Result<Option<DataKeyRow>> {
        let sql =
            format!("SELECT {COLUMNS} FROM data_keys WHERE workspace_id = $1 AND version = $2");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(workspace_id)
            .bind(version)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn data_key_newest(&self, workspace_id: &str) -> Result<Option<DataKeyRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM data_keys WHERE workspace_id = $1 ORDER BY version DESC LIMIT 1"
        );
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(workspace_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Inserts a data key unless that version exists already (another server made it first).
    pub async fn data_key_insert(&self, row: &DataKeyRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO data_keys (workspace_id, version, master_key_id, wrapped, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (workspace_id, version) DO NOTHING",
        )
        .bind(&row.workspace_id)
        .bind(row.version)
        .bind(&row.master_key_id)
        .bind(&row.wrapped)
        .bind(row.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every master key id some data key is sealed with.
    pub async fn master_key_ids_in_use(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT master_key_id FROM data_keys ORDER BY master_key_id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn workspaces_with_data_keys(&self) -> Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT DISTINCT workspace_id FROM data_keys ORDER BY workspace_id")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// A transaction re-sealing one workspace's keys and values. Its first statement locks the
    /// workspace's data keys, so two rotations of one workspace run one after the other.
    pub async fn rotation(&self, workspace_id: &str) -> Result<Rotation> {
        let mut tx = self.pool.begin().await?;
        // A write first: SQLite takes its write lock now; PostgreSQL locks these rows.
        sqlx::query("UPDATE data_keys SET version = version WHERE workspace_id = $1")
            .bind(workspace_id)
            .execute(&mut *tx)
            .await?;
        Ok(Rotation {
            tx,
            workspace_id: workspace_id.to_string(),
        })
    }
}

pub struct Rotation {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    workspace_id: String,
}

impl Rotation {
    pub async fn data_keys(&mut self) -> Result<Vec<DataKeyRow>> {
        let sql =
            format!("SELECT {COLUMNS} FROM data_keys WHERE workspace_id = $1 ORDER BY version");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(&self.workspace_id)
            .fetch_all(&mut *self.tx)
            .await?)
    }

    pub async fn data_key_reseal(
        &mut self,
        version: i64,
        master_key_id: &str,
        wrapped: &str,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE data_keys SET master_key_id = $3, wrapped = $4 \
             WHERE workspace_id = $1 AND version = $2",
        )
        .bind(&self.workspace_id)
        .bind(version)
        .bind(master_key_id)
        .bind(wrapped)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn data_key_add(
        &mut self,
        version: i64,
        master_key_id: &str,
        wrapped: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO data_keys (workspace_id, version, master_key_id, wrapped, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&self.workspace_id)
        .bind(version)
        .bind(master_key_id)
        .bind(wrapped)
        .bind(super::now_ms())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Every sealed value of the workspace.
    pub async fn sealed_values(&mut self) -> Result<Vec<SealedValue>> {
        let mut values = Vec::new();
        for kind in [SealedKind::Datasource, SealedKind::Constant] {
            let (table, column) = kind.table();
            let only_secrets = if kind == SealedKind::Constant {
                " AND secret = 1"
            } else {
                ""
            };
            let sql = format!(
                "SELECT id, {column}, key_version FROM {table} \
                 WHERE workspace_id = $1 AND {column} IS NOT NULL AND key_version IS NOT NULL{only_secrets}"
            );
            let rows: Vec<(String, String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(&self.workspace_id)
                .fetch_all(&mut *self.tx)
                .await?;
            values.extend(rows.into_iter().map(|(id, text, version)| SealedValue {
                kind,
                id,
                text,
                version,
            }));
        }
        Ok(values)
    }

    pub async fn sealed_value_update(
        &mut self,
        kind: SealedKind,
        id: &str,
        text: &str,
        version: i64,
    ) -> Result<()> {
        let (table, column) = kind.table();
        let sql = format!(
            "UPDATE {table} SET {column} = $3, key_version = $4 WHERE workspace_id = $1 AND id = $2"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&self.workspace_id)
            .bind(id)
            .bind(text)
            .bind(version)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }
}
