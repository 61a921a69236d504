//! Single-use email tokens (password resets, invites): claimed atomically, so a token works at
//! most once even under concurrent use.

use super::{Change, Role, Store, new_id, now_ms};
use crate::error::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailTokenKind {
    Reset,
    Invite,
}

impl EmailTokenKind {
    fn as_str(self) -> &'static str {
        match self {
            EmailTokenKind::Reset => "reset",
            EmailTokenKind::Invite => "invite",
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EmailTokenRow {
    pub email: String,
    pub workspace_id: Option<String>,
    pub role: Option<String>,
    pub created_by: Option<String>,
}

/// A pending invite as workspace admins see it: never the token.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InviteRow {
    pub id: String,
    pub email: String,
    pub role: Option<String>,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

pub struct NewEmailToken<'a> {
    pub kind: EmailTokenKind,
    pub email: &'a str,
    pub workspace_id: Option<&'a str>,
    pub role: Option<Role>,
    pub created_by: Option<&'a str>,
    pub expires_at: i64,
}

impl Store {
    /// The unused, unexpired token of `kind` with this hash, without using it up.
    pub async fn email_token_peek(
        &self,
        id_hash: &str,
        kind: EmailTokenKind,
    ) -> Result<Option<EmailTokenRow>> {
        Ok(sqlx::query_as(
            "SELECT email, workspace_id, role, created_by FROM email_tokens \
             WHERE id_hash = $1 AND kind = $2 AND used_at IS NULL AND expires_at > $3",
        )
        .bind(id_hash)
        .bind(kind.as_str())
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The workspace's invites that can still be accepted, oldest first.
    pub async fn invites_pending(&self, workspace_id: &str) -> Result<Vec<InviteRow>> {
        Ok(sqlx::query_as(
            "SELECT id, email, role, created_by, created_at, expires_at FROM email_tokens \
             WHERE workspace_id = $1 AND kind = 'invite' AND used_at IS NULL AND expires_at > $2 \
             ORDER BY created_at, id",
        )
        .bind(workspace_id)
        .bind(now_ms())
        .fetch_all(&self.pool)
        .await?)
    }
}

impl Change {
    pub async fn email_token_insert(
        &mut self,
        token: NewEmailToken<'_>,
        id_hash: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO email_tokens \
             (id, id_hash, kind, email, workspace_id, role, created_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(new_id())
        .bind(id_hash)
        .bind(token.kind.as_str())
        .bind(token.email)
        .bind(token.workspace_id)
        .bind(token.role.map(Role::as_str))
        .bind(token.created_by)
        .bind(now_ms())
        .bind(token.expires_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Marks an unused, unexpired token of `kind` used and returns it; `None` when there is no
    /// such token (unknown, expired, already used, or of the other kind).
    pub async fn email_token_claim(
        &mut self,
        id_hash: &str,
        kind: EmailTokenKind,
    ) -> Result<Option<EmailTokenRow>> {
        let now = now_ms();
        Ok(sqlx::query_as(
            "UPDATE email_tokens SET used_at = $3 \
             WHERE id_hash = $1 AND kind = $2 AND used_at IS NULL AND expires_at > $3 \
             RETURNING email, workspace_id, role, created_by",
        )
        .bind(id_hash)
        .bind(kind.as_str())
        .bind(now)
        .fetch_optional(&mut *self.tx)
        .await?)
    }

    /// Marks every outstanding token of `kind` for `email` used: once a password is reset or
    /// changed, older reset links must not set it again.
    pub async fn email_tokens_void(&mut self, email: &str, kind: EmailTokenKind) -> Result<()> {
        sqlx::query(
            "UPDATE email_tokens SET used_at = $3 \
             WHERE email = $1 AND kind = $2 AND used_at IS NULL",
        )
        .bind(email)
        .bind(kind.as_str())
        .bind(now_ms())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Deletes a pending invite of the workspace, so its link stops working; `None` when the
    /// workspace has no pending invite with this id (unknown, accepted, expired, revoked).
    pub async fn invite_revoke(
        &mut self,
        workspace_id: &str,
        id: &str,
    ) -> Result<Option<InviteRow>> {
        Ok(sqlx::query_as(
            "DELETE FROM email_tokens \
             WHERE id = $1 AND workspace_id = $2 AND kind = 'invite' AND used_at IS NULL \
             AND expires_at > $3 \
             RETURNING id, email, role, created_by, created_at, expires_at",
        )
        .bind(id)
        .bind(workspace_id)
        .bind(now_ms())
        .fetch_optional(&mut *self.tx)
        .await?)
    }

    /// Adds a member unless they already are one (accepting an invite twice is harmless).
    pub async fn member_add_if_absent(
        &mut self,
        workspace_id: &str,
        user_id: &str,
        role: Role,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO members (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (workspace_id, user_id) DO NOTHING",
        )
        .bind(workspace_id)
        .bind(user_id)
        .bind(role.as_str())
        .bind(now_ms())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}
