//! Login sessions. The cookie carries a random id; the store keeps only its SHA-256, so a
//! stolen database yields no usable session.

use std::time::Duration;

use super::{Change, Store, UserRow, now_ms};
use crate::error::Result;

/// The user behind a live session, when the session was last used and when it expires.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionUser {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

impl SessionUser {
    /// Neither expired nor idle for `idle` at `now` (Unix milliseconds).
    pub fn live_at(&self, now: i64, idle: Duration) -> bool {
        let idle_ms = i64::try_from(idle.as_millis()).unwrap_or(i64::MAX / 2);
        self.expires_at > now && self.last_seen_at > now - idle_ms
    }
}

impl Store {
    /// The enabled user behind a session that has neither expired nor been idle for `idle`.
    pub async fn session_user(&self, id_hash: &str, idle: Duration) -> Result<Option<SessionUser>> {
        let now = now_ms();
        let idle_ms = i64::try_from(idle.as_millis()).unwrap_or(i64::MAX / 2);
        Ok(sqlx::query_as(
            "SELECT u.id, u.email, u.password_hash, u.instance_admin, u.disabled_at, u.created_at, \
             s.last_seen_at, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.id_hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3 \
             AND u.disabled_at IS NULL",
        )
        .bind(id_hash)
        .bind(now)
        .bind(now - idle_ms)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Records that a session was just used, which keeps it from going idle.
    pub async fn session_touch(&self, id_hash: &str) -> Result<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1")
            .bind(id_hash)
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
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
            "INSERT INTO sessions (id_hash, user_id, created_at, expires_at, last_seen_at) \
             VALUES ($1, $2, $3, $4, $3)",
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
