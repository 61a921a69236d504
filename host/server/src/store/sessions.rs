//! Login sessions. The cookie carries a random id; the store keeps only its SHA-256, so a
//! stolen database yields no usable session.

use super::{Change, Store, UserRow, now_ms};
use crate::error::Result;

impl Store {
    /// The enabled user behind an unexpired session.
    pub async fn session_user(&self, id_hash: &str) -> Result<Option<UserRow>> {
        Ok(sqlx::query_as(
            "SELECT u.id, u.email, u.password_hash, u.instance_admin, u.disabled_at, u.created_at \
             FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.id_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL",
        )
        .bind(id_hash)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Drops expired sessions; called on login so the table doesn't grow without bound.
    pub async fn sessions_delete_expired(&self) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

impl Change {
    pub async fn session_insert(
        &mut self,
        id_hash: &str,
        user_id: &str,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id_hash)
        .bind(user_id)
        .bind(now_ms())
        .bind(expires_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn session_delete(&mut self, id_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Ends every session of a user except `keep` (the caller's own, when given).
    pub async fn sessions_delete_for_user(
        &mut self,
        user_id: &str,
        keep: Option<&str>,
    ) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2")
            .bind(user_id)
            .bind(keep.unwrap_or(""))
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }
}
