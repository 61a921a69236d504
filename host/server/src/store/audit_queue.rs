//! Group commit for the audit records of query runs. Every run writes a record before its
//! response is sent; one transaction (and one fsync) per run would cap the run rate at the
//! disk's sync rate. Instead, runs queue their records and wait: one writer task takes
//! whatever is queued, up to [`MAX_BATCH`], appends it in one transaction and then answers
//! every waiter. Under no load a batch is one record, written at once; under load many runs
//! share one commit. A record is never reported written before it is committed. On SQLite the
//! writer has a connection of its own whose commits skip the fsync (see `Store::open`): they
//! are in the WAL, safe from a crash of Lathe, and on disk at the next synced commit.

use tokio::sync::{mpsc, oneshot};

use super::{AuditEvent, Store};
use crate::error::{Error, Result};

const MAX_BATCH: usize = 256;
const QUEUE: usize = 4096;

type Waiter = oneshot::Sender<std::result::Result<(), String>>;

#[derive(Clone)]
pub struct AuditQueue {
    sender: mpsc::Sender<(AuditEvent, Waiter)>,
}

impl AuditQueue {
    /// Starts the writer task on the current tokio runtime.
    pub fn start(store: Store) -> AuditQueue {
        let (sender, mut receiver) = mpsc::channel::<(AuditEvent, Waiter)>(QUEUE);
        tokio::spawn(async move {
            while let Some(first) = receiver.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match receiver.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                let (events, waiters): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
                let outcome = store
                    .audit_append_all(events)
                    .await
                    .map_err(|e| e.to_string());
                if let Err(e) = &outcome {
                    tracing::error!(event = "audit.batch_failed", error = %e, "audit records were not written");
                }
                for waiter in waiters {
                    let _ = waiter.send(outcome.clone());
                }
            }
        });
        AuditQueue { sender }
    }

    /// Appends `event` and returns once it is committed.
    pub async fn append(&self, event: AuditEvent) -> Result<()> {
        let (waiter, done) = oneshot::channel();
        self.sender
            .send((event, waiter))
            .await
            .map_err(|_| Error::Internal(anyhow::anyhow!("the audit writer has stopped")))?;
        match done.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::Internal(anyhow::anyhow!(
                "writing audit records: {e}"
            ))),
            Err(_) => Err(Error::Internal(anyhow::anyhow!(
                "the audit writer has stopped"
            ))),
        }
    }
}

/// Records per `INSERT` statement: one statement (one trip to the database) per 64 records
/// instead of one each, well under SQLite's and PostgreSQL's limits on bound parameters
/// (64 × 9 = 576).
const ROWS_PER_INSERT: usize = 64;

impl Store {
    /// Appends several records atomically: in one `INSERT` statement (a transaction by
    /// itself, one trip to the database) when they fit in one, otherwise in one transaction.
    pub async fn audit_append_all(&self, events: Vec<AuditEvent>) -> Result<()> {
        if events.len() <= ROWS_PER_INSERT {
            insert_rows(&self.audit_pool, events).await?;
            return Ok(());
        }
        let mut tx = self.audit_pool.begin().await?;
        let mut events = events.into_iter().peekable();
        while events.peek().is_some() {
            let chunk: Vec<AuditEvent> = events.by_ref().take(ROWS_PER_INSERT).collect();
            insert_rows(&mut *tx, chunk).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// One multi-row `INSERT` of `events` (at most [`ROWS_PER_INSERT`]).
async fn insert_rows<'c>(
    executor: impl sqlx::Executor<'c, Database = sqlx::Any>,
    events: Vec<AuditEvent>,
) -> Result<()> {
    let rows: Vec<String> = (0..events.len())
        .map(|i| {
            let params: Vec<String> = (1..=9).map(|k| format!("${}", i * 9 + k)).collect();
            format!("({})", params.join(", "))
        })
        .collect();
    let sql = format!(
        "INSERT INTO audit_events ({}) VALUES {}",
        super::audit::INSERT_COLUMNS,
        rows.join(", ")
    );
    let now = super::now_ms();
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for event in events {
        query = query
            .bind(event.workspace_id)
            .bind(event.actor_id)
            .bind(event.actor_email)
            .bind(event.action)
            .bind(event.target)
            .bind(event.address)
            .bind(event.via)
            .bind(event.detail.map(|d| d.to_string()))
            .bind(now);
    }
    query.execute(executor).await?;
    Ok(())
}
