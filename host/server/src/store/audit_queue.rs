//! The audit records of query runs. Every run's record is written before its response is
//! sent, and a record is never reported written before it is safe from a crash of Lathe:
//!
//! - on SQLite, the run appends its record to this server's journal itself, one `write`
//!   under a lock, and a thread imports the journal into `audit_events` in large
//!   transactions (see `audit_journal.rs`, and docs/benchmarks.md "Session 12" for why);
//! - on PostgreSQL, runs queue their records and one task inserts whatever is queued, up
//!   to [`MAX_BATCH`], in one statement, then answers every waiter.
//!
//! Readers of the audit log call [`AuditQueue::flush`] first: it returns once every record
//! written before it is in `audit_events`.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::audit_journal::{self, Journal, Row, Shared};
use super::{AuditEvent, Store, direct, now_ms};
use crate::error::{Error, Result};

const MAX_BATCH: usize = 256;
const QUEUE: usize = 4096;

pub(super) type Waiter = oneshot::Sender<std::result::Result<(), String>>;
type Done = oneshot::Receiver<std::result::Result<(), String>>;

// Records are nearly every message: boxing them to shrink the rare flush would cost every
// run an allocation.
#[allow(clippy::large_enum_variant)]
enum Message {
    Record(AuditEvent, Waiter),
    /// Answered once everything queued before it is in `audit_events`.
    Flush(Waiter),
}

#[derive(Clone)]
pub struct AuditQueue {
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    Journal(Arc<Open>),
    Store(mpsc::Sender<Message>),
}

/// The journal, closed (its importer finishing and ending) when the last queue goes.
struct Open(Arc<Shared>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.close();
    }
}

impl AuditQueue {
    /// Starts the writer: on SQLite, first imports what journals of servers no longer
    /// running have left, then opens this server's journal and starts its importer
    /// thread; on PostgreSQL, a task on the current tokio runtime. It stops when the last
    /// clone of the queue is dropped.
    pub fn start(store: Store) -> anyhow::Result<AuditQueue> {
        if let (Some(file), Some(root)) = (store.sqlite_file(), store.audit_journal_root()) {
            let mut importer = direct::AuditWriter::open(&file)?;
            let found = audit_journal::recover(&root, &mut importer)?;
            if found.unlocked > 0 {
                tracing::warn!(
                    event = "audit.journal_unlocked",
                    folders = found.unlocked,
                    root = %root.display(),
                    "audit journal folders without a lock file were left alone; no server \
                     makes such a folder, so look at them by hand"
                );
            }
            found.log();
            let (journal, lock) = Journal::create(&root).map_err(|e| {
                anyhow::anyhow!("creating an audit journal in {}: {e}", root.display())
            })?;
            let (id, dir) = (journal.id().to_string(), journal.dir().to_path_buf());
            let shared = Arc::new(Shared::new(journal));
            let importing = shared.clone();
            std::thread::Builder::new()
                .name("lathe-audit-import".into())
                .spawn(move || audit_journal::import(importing, importer, id, dir, lock))?;
            let kind = Kind::Journal(Arc::new(Open(shared)));
            return Ok(AuditQueue { kind });
        }

        let (sender, mut receiver) = mpsc::channel::<Message>(QUEUE);
        tokio::spawn(async move {
            while let Some(first) = receiver.recv().await {
                let mut events = Vec::new();
                let mut waiters = Vec::new();
                for message in batch(first, &mut receiver) {
                    match message {
                        Message::Record(event, waiter) => {
                            events.push(event);
                            waiters.push(waiter);
                        }
                        // A flush is answered with the records queued before it.
                        Message::Flush(waiter) => waiters.push(waiter),
                    }
                }
                let outcome = if events.is_empty() {
                    Ok(())
                } else {
                    store.audit_append_all(events).await
                };
                answer(waiters, outcome);
            }
        });
        Ok(AuditQueue {
            kind: Kind::Store(sender),
        })
    }

    /// Appends `event`, the record of a run, and returns once it is written. The record is
    /// written or queued before the first await: dropping this future (the client went
    /// away) doesn't lose it.
    pub async fn append(&self, event: AuditEvent) -> Result<()> {
        match self.enqueue(event)? {
            None => Ok(()),
            Some(done) => outcome(done.await),
        }
    }

    /// Whether a run about to start can have its record kept: on SQLite, whether the
    /// journal has room ([`Shared::ready`]). A run is refused before it reaches the
    /// datasource otherwise.
    pub fn ready(&self) -> Result<()> {
        match &self.kind {
            Kind::Journal(open) => open.0.ready().map_err(|e| {
                Error::AuditUnavailable(format!(
                    "the audit log can't keep a record of this run, so it was not started: \
                     the audit journal can't begin a new segment ({e}); an operator should \
                     look at the data directory (free space, its audit-journal folder)"
                ))
            }),
            Kind::Store(_) => Ok(()),
        }
    }

    /// Returns once every record written before the call is in `audit_events`.
    pub async fn flush(&self) -> Result<()> {
        let done = match &self.kind {
            Kind::Journal(open) => open.0.flush(),
            Kind::Store(sender) => {
                let (waiter, done) = oneshot::channel();
                sender
                    .send(Message::Flush(waiter))
                    .await
                    .map_err(|_| stopped())?;
                done
            }
        };
        outcome(done.await)
    }

    /// Writes or queues `event` without waiting: `None` when it is written already,
    /// otherwise the receiver of its write's outcome. With the PostgreSQL queue full, a task
    /// waits for room in the caller's place, so that a caller that stops waiting doesn't
    /// take the record with it.
    pub fn enqueue(&self, event: AuditEvent) -> Result<Option<Done>> {
        let sender = match &self.kind {
            Kind::Journal(open) => return Ok(open.0.append(Row::new(event, now_ms()))),
            Kind::Store(sender) => sender,
        };
        let (waiter, done) = oneshot::channel();
        match sender.try_send(Message::Record(event, waiter)) {
            Ok(()) => Ok(Some(done)),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(stopped()),
            Err(mpsc::error::TrySendError::Full(queued)) => {
                let sender = sender.clone();
                let handle = tokio::runtime::Handle::try_current().map_err(|_| stopped())?;
                handle.spawn(async move {
                    if sender.send(queued).await.is_err() {
                        tracing::error!(
                            event = "audit.record_lost",
                            "the audit writer stopped before a queued record reached it"
                        );
                    }
                });
                Ok(Some(done))
            }
        }
    }
}

fn stopped() -> Error {
    Error::Internal(anyhow::anyhow!("the audit writer has stopped"))
}

fn outcome(
    done: std::result::Result<std::result::Result<(), String>, oneshot::error::RecvError>,
) -> Result<()> {
    match done {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Error::Internal(anyhow::anyhow!(
            "writing audit records: {e}"
        ))),
        Err(_) => Err(stopped()),
    }
}

/// `first` and whatever else is queued, up to [`MAX_BATCH`].
fn batch(first: Message, receiver: &mut mpsc::Receiver<Message>) -> Vec<Message> {
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        match receiver.try_recv() {
            Ok(next) => batch.push(next),
            Err(_) => break,
        }
    }
    batch
}

/// Tells every waiter of a batch how its write went.
fn answer(waiters: Vec<Waiter>, outcome: Result<()>) {
    let outcome = outcome.map_err(|e| e.to_string());
    if let Err(e) = &outcome {
        tracing::error!(event = "audit.batch_failed", error = %e, "audit records were not written");
    }
    for waiter in waiters {
        let _ = waiter.send(outcome.clone());
    }
}

/// Records per `INSERT` statement on PostgreSQL: one statement (one trip to the database) per
/// 64 records instead of one each, well under the limit on bound parameters (64 × 9 = 576).
const ROWS_PER_INSERT: usize = 64;

impl Store {
    /// Appends several records atomically (the PostgreSQL writer): in one `INSERT` statement
    /// (a transaction by itself, one trip to the database) when they fit in one, otherwise in
    /// one transaction.
    pub async fn audit_append_all(&self, events: Vec<AuditEvent>) -> Result<()> {
        if events.len() <= ROWS_PER_INSERT {
            insert_rows(&self.pool, events).await?;
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
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
        let detail = event.detail_text();
        query = query
            .bind(event.workspace_id)
            .bind(event.actor_id)
            .bind(event.actor_email)
            .bind(event.action)
            .bind(event.target)
            .bind(event.address)
            .bind(event.via)
            .bind(detail)
            .bind(now);
    }
    query.execute(executor).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AuditFilter, sqlite_store};

    /// Concurrent appends are each answered once in the journal; a flush then waits until
    /// every one of them is in `audit_events`, so a reader sees them all.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flush_returns_once_every_answered_record_is_readable() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(&dir).await;
        let queue = AuditQueue::start(store.clone()).unwrap();
        let mut runs = Vec::new();
        for i in 0..300 {
            let queue = queue.clone();
            runs.push(tokio::spawn(async move {
                let event = AuditEvent {
                    action: "query.run",
                    target: Some(format!("run-{i}")),
                    detail: Some(serde_json::json!({"outcome": "ok", "n": i})),
                    ..Default::default()
                };
                queue.append(event).await
            }));
        }
        for run in runs {
            run.await.unwrap().unwrap();
        }
        queue.flush().await.unwrap();
        let all = AuditFilter {
            limit: 1000,
            ..Default::default()
        };
        let rows = store.audit_list(&all).await.unwrap();
        let mut targets: Vec<String> = rows.iter().filter_map(|r| r.target.clone()).collect();
        targets.sort();
        targets.dedup();
        assert_eq!(targets.len(), 300);
        assert_eq!(rows.len(), 300, "each record once");
        let detail = rows[0].detail.as_deref().unwrap();
        assert!(detail.starts_with(r#"{"outcome":"ok","n":"#), "{detail}");
    }
}
