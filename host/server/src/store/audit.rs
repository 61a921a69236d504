//! The audit log: append-only (triggers refuse UPDATE and DELETE), read newest first with
//! keyset pagination on the id.

use super::{Store, now_ms};
use crate::error::Result;

/// A record to append. Never put a secret in any field.
#[derive(Debug, Default, Clone)]
pub struct AuditEvent {
    pub workspace_id: Option<String>,
    pub actor_id: Option<String>,
    pub actor_email: Option<String>,
    pub action: &'static str,
    pub target: Option<String>,
    pub address: Option<String>,
    /// How the actor authenticated: `session`, `token:<id>`, or the CLI command.
    pub via: Option<String>,
    pub detail: Option<serde_json::Value>,
    /// The detail already encoded, taken instead of `detail` when set: a record built from a
    /// typed detail (a query run's) is serialised once, without a `Value` in between.
    pub encoded_detail: Option<Box<serde_json::value::RawValue>>,
}

impl AuditEvent {
    /// The detail's JSON text, as stored.
    pub fn detail_text(&self) -> Option<String> {
        match (&self.encoded_detail, &self.detail) {
            (Some(encoded), _) => Some(encoded.get().to_string()),
            (None, detail) => detail.as_ref().map(ToString::to_string),
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub workspace_id: Option<String>,
    pub actor_id: Option<String>,
    pub actor_email: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub address: Option<String>,
    pub via: Option<String>,
    pub detail: Option<String>,
    pub created_at: i64,
}

/// Which records to read: all conditions must hold.
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub workspace_id: Option<String>,
    pub action: Option<String>,
    pub actor_id: Option<String>,
    /// Inclusive lower bound, Unix ms.
    pub since: Option<i64>,
    /// Exclusive upper bound, Unix ms.
    pub until: Option<i64>,
    /// Only records with an id below this one (the previous page's cursor).
    pub before_id: Option<i64>,
    pub limit: i64,
}

impl Store {
    /// Records an event that goes with no other write (a failed login, say).
    pub async fn audit_append(&self, event: AuditEvent) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        insert(&mut conn, event).await
    }

    pub async fn audit_list(&self, filter: &AuditFilter) -> Result<Vec<AuditRow>> {
        let mut conditions: Vec<String> = Vec::new();
        let mut text_args: Vec<&str> = Vec::new();
        let mut int_args: Vec<i64> = Vec::new();

        // Text parameters come first ($1..), integers after them, so the numbering is known
        // before binding.
        for (column, value) in [
            ("workspace_id", &filter.workspace_id),
            ("action", &filter.action),
            ("actor_id", &filter.actor_id),
        ] {
            if let Some(v) = value {
                text_args.push(v);
                conditions.push(format!("{column} = ${}", text_args.len()));
            }
        }
        let ints = [
            ("created_at >=", filter.since),
            ("created_at <", filter.until),
            ("id <", filter.before_id),
        ];
        for (op, value) in ints {
            if let Some(v) = value {
                int_args.push(v);
                conditions.push(format!("{op} ${}", text_args.len() + int_args.len()));
            }
        }
        let limit_param = text_args.len() + int_args.len() + 1;

        let where_clause = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let sql = format!(
            "SELECT id, workspace_id, actor_id, actor_email, action, target, address, via, \
             detail, created_at FROM audit_events {where_clause} ORDER BY id DESC LIMIT ${limit_param}"
        );

        // The SQL text holds only fixed column names and placeholders; values are bound.
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
        for v in text_args {
            query = query.bind(v);
        }
        for v in int_args {
            query = query.bind(v);
        }
        Ok(query.bind(filter.limit).fetch_all(&self.pool).await?)
    }
}

/// Appends one record on `conn` (a pooled connection or a change's transaction).
/// The columns an insert fills, in the order their values are bound.
pub(super) const INSERT_COLUMNS: &str =
    "workspace_id, actor_id, actor_email, action, target, address, via, detail, created_at";

pub(super) async fn insert(conn: &mut sqlx::AnyConnection, event: AuditEvent) -> Result<()> {
    let detail = event.detail_text();
    let sql = format!(
        "INSERT INTO audit_events ({INSERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(event.workspace_id)
        .bind(event.actor_id)
        .bind(event.actor_email)
        .bind(event.action)
        .bind(event.target)
        .bind(event.address)
        .bind(event.via)
        .bind(detail)
        .bind(now_ms())
        .execute(&mut *conn)
        .await?;
    Ok(())
}
