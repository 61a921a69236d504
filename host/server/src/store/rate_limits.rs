//! Windowed counters for rate limits, shared by every replica on the store. A counter is one
//! row: its count and the end of its fixed window. Adding to a counter whose window has ended
//! starts a new window, in the same atomic upsert, so concurrent replicas never lose a count.

use super::{Store, now_ms};
use crate::error::Result;

impl Store {
    /// The count in `key`'s open window and when that window ends (Unix ms), if one is open.
    pub async fn rate_count(&self, key: &str) -> Result<Option<(i64, i64)>> {
        Ok(sqlx::query_as(
            "SELECT count, expires_at FROM rate_limits WHERE key = $1 AND expires_at > $2",
        )
        .bind(key)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Adds one to `key`, opening a window of `window_ms` when none is open; returns the new
    /// count and the end of its window.
    pub async fn rate_add(&self, key: &str, window_ms: i64) -> Result<(i64, i64)> {
        let now = now_ms();
        Ok(sqlx::query_as(
            "INSERT INTO rate_limits (key, count, expires_at) VALUES ($1, 1, $3) \
             ON CONFLICT (key) DO UPDATE SET \
             count = CASE WHEN rate_limits.expires_at <= $2 THEN 1 \
                     ELSE rate_limits.count + 1 END, \
             expires_at = CASE WHEN rate_limits.expires_at <= $2 THEN $3 \
                          ELSE rate_limits.expires_at END \
             RETURNING count, expires_at",
        )
        .bind(key)
        .bind(now)
        .bind(now.saturating_add(window_ms))
        .fetch_one(&self.pool)
        .await?)
    }

    /// Forgets `key`'s counter.
    pub async fn rate_clear(&self, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM rate_limits WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes every counter whose window has ended.
    pub async fn rate_delete_expired(&self) -> Result<()> {
        sqlx::query("DELETE FROM rate_limits WHERE expires_at <= $1")
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
