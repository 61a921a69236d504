//! API tokens: scoped to one workspace, expiring, revocable, stored as SHA-256 only.

use super::{Change, Store, UserRow, now_ms};
use crate::error::Result;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRow {
    pub id: String,
    pub user_id: String,
    pub workspace_id: String,
    pub name: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

const COLUMNS: &str = "id, user_id, workspace_id, name, created_at, expires_at, revoked_at";

impl Store {
    /// The live token with this hash and its enabled owner.
    pub async fn token_lookup(&self, token_hash: &str) -> Result<Option<(TokenRow, UserRow)>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM api_tokens \
             WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2"
        );
        let token: Option<TokenRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(token_hash)
            .bind(now_ms())
            .fetch_optional(&self.pool)
            .await?;
        let Some(token) = token else { return Ok(None) };
        match self.user_by_id(&token.user_id).await? {
            Some(user) if user.disabled_at.is_none() => Ok(Some((token, user))),
            _ => Ok(None),
        }
    }

    pub async fn tokens_list(&self, user_id: &str) -> Result<Vec<TokenRow>> {
        let sql =
            format!("SELECT {COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY created_at, id");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn token_get(&self, user_id: &str, id: &str) -> Result<Option<TokenRow>> {
        let sql = format!("SELECT {COLUMNS} FROM api_tokens WHERE user_id = $1 AND id = $2");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }
}

impl Change {
    pub async fn token_insert(&mut self, row: &TokenRow, token_hash: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO api_tokens \
             (id, user_id, workspace_id, name, token_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&row.id)
        .bind(&row.user_id)
        .bind(&row.workspace_id)
        .bind(&row.name)
        .bind(token_hash)
        .bind(row.created_at)
        .bind(row.expires_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Marks a token revoked; revoking twice is harmless.
    pub async fn token_revoke(&mut self, user_id: &str, id: &str) -> Result<()> {
        sqlx::query(
            "UPDATE api_tokens SET revoked_at = $3 \
             WHERE user_id = $1 AND id = $2 AND revoked_at IS NULL",
        )
        .bind(user_id)
        .bind(id)
        .bind(now_ms())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}
