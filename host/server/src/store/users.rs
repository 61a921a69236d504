//! Users: one row per person, keyed by a random id, unique by lower-cased email.

use super::{Change, Store, conflict_on_unique, new_id, now_ms};
use crate::error::{Error, Result};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub instance_admin: i64,
    pub disabled_at: Option<i64>,
    pub created_at: i64,
}

impl UserRow {
    pub fn is_instance_admin(&self) -> bool {
        self.instance_admin == 1
    }
}

const COLUMNS: &str = "id, email, password_hash, instance_admin, disabled_at, created_at";

impl Store {
    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>> {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE email = $1");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(email)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn user_by_id(&self, id: &str) -> Result<Option<UserRow>> {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn users_list(&self) -> Result<Vec<UserRow>> {
        let sql = format!("SELECT {COLUMNS} FROM users ORDER BY email");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?)
    }

    /// Whether any instance admin exists: until one does, the server asks for `admin create`.
    pub async fn instance_admin_exists(&self) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE instance_admin = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }
}

impl Change {
    /// Creates a user; an email already taken is a 409.
    pub async fn user_insert(
        &mut self,
        email: &str,
        password_hash: &str,
        instance_admin: bool,
    ) -> Result<UserRow> {
        let row = UserRow {
            id: new_id(),
            email: email.to_string(),
            password_hash: password_hash.to_string(),
            instance_admin: i64::from(instance_admin),
            disabled_at: None,
            created_at: now_ms(),
        };
        sqlx::query(
            "INSERT INTO users (id, email, password_hash, instance_admin, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&row.id)
        .bind(&row.email)
        .bind(&row.password_hash)
        .bind(row.instance_admin)
        .bind(row.created_at)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| conflict_on_unique(e, "a user with this email already exists"))?;
        Ok(row)
    }

    pub async fn user_set_password(&mut self, id: &str, password_hash: &str) -> Result<()> {
        sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
            .bind(id)
            .bind(password_hash)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Disables (with the current time) or re-enables a user.
    /// Makes the user an instance admin or no longer one; a 409 if that would leave the
    /// instance without an enabled instance admin.
    pub async fn user_set_instance_admin(&mut self, id: &str, admin: bool) -> Result<()> {
        lock_instance_admins(self).await?;
        sqlx::query("UPDATE users SET instance_admin = $2 WHERE id = $1")
            .bind(id)
            .bind(i64::from(admin))
            .execute(&mut *self.tx)
            .await?;
        keep_an_instance_admin(self).await
    }

    /// Disables or re-enables the user; a 409 if that would leave the instance without an
    /// enabled instance admin.
    pub async fn user_set_disabled(&mut self, id: &str, disabled: bool) -> Result<()> {
        lock_instance_admins(self).await?;
        let at = disabled.then(now_ms);
        sqlx::query("UPDATE users SET disabled_at = $2 WHERE id = $1")
            .bind(id)
            .bind(at)
            .execute(&mut *self.tx)
            .await?;
        keep_an_instance_admin(self).await
    }
}

/// Locks the instance admins' rows (a write first, which on SQLite takes the database's
/// write lock), so that two instance admins demoting or disabling each other at once are
/// taken one after the other, and the second sees the first's change.
async fn lock_instance_admins(change: &mut Change) -> Result<()> {
    sqlx::query("UPDATE users SET instance_admin = 1 WHERE instance_admin = 1")
        .execute(&mut *change.tx)
        .await?;
    Ok(())
}

async fn keep_an_instance_admin(change: &mut Change) -> Result<()> {
    let left: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM users WHERE instance_admin = 1 AND disabled_at IS NULL",
    )
    .fetch_one(&mut *change.tx)
    .await?;
    if left == 0 {
        return Err(Error::Conflict(
            "the instance must keep at least one enabled instance admin".into(),
        ));
    }
    Ok(())
}
