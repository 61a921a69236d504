//! Group commit for the audit records of query runs. Every run writes a record before its
//! response is sent; one transaction (and one fsync) per run would cap the run rate at the
//! disk's sync rate. Instead, runs queue their records and wait: one writer takes whatever is
//! queued, up to [`MAX_BATCH`], appends it in one transaction and then answers every waiter.
//! A record is never reported written before it is committed.
//!
//! On SQLite the writer is a thread with a connection of its own whose commits skip the fsync
//! (see `direct.rs`); on PostgreSQL it is a task on the main pool.
//!
//! Gathering (SQLite): a commit costs about the same for one record as for dozens (the WAL
//! frames of the table, index and sequence pages, the locks), and the writer is fast enough
//! that under load each run would otherwise commit alone. So when a record arrives while
//! other runs are still under way ([`AuditQueue::begin`]), the writer waits up to
//! [`GATHER`] for their records to join the batch. A lone run is written at once: with
//! nothing else in flight there is nothing to wait for. Measured in docs/benchmarks.md
//! ("Session 7").

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::{AuditEvent, Store, direct};
use crate::error::{Error, Result};

const MAX_BATCH: usize = 256;
const QUEUE: usize = 4096;
/// The longest the SQLite writer holds a batch open for runs still under way.
const GATHER: Duration = Duration::from_micros(250);
/// How often it looks for their records meanwhile.
const GATHER_STEP: Duration = Duration::from_micros(50);

type Waiter = oneshot::Sender<std::result::Result<(), String>>;
type Queued = (AuditEvent, Waiter);

#[derive(Clone)]
pub struct AuditQueue {
    sender: mpsc::Sender<Queued>,
    /// Runs begun whose record is not queued yet.
    running: Arc<AtomicUsize>,
}

/// A run under way, counted until its record is queued (or the run is dropped).
pub struct Running {
    running: Arc<AtomicUsize>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.running.fetch_sub(1, Ordering::Relaxed);
    }
}

impl AuditQueue {
    /// Starts the writer: a thread on SQLite, a task on the current tokio runtime on
    /// PostgreSQL. It stops when the last clone of the queue is dropped.
    pub fn start(store: Store) -> anyhow::Result<AuditQueue> {
        let (sender, mut receiver) = mpsc::channel::<Queued>(QUEUE);
        let running = Arc::new(AtomicUsize::new(0));
        match store.sqlite_file() {
            Some(file) => {
                let mut writer = direct::AuditWriter::open(&file)?;
                let others = running.clone();
                std::thread::Builder::new()
                    .name("lathe-audit".into())
                    .spawn(move || {
                        while let Some(first) = receiver.blocking_recv() {
                            let (events, waiters) = gather(first, &mut receiver, &others);
                            answer(waiters, writer.append_all(events));
                        }
                    })?;
            }
            None => {
                tokio::spawn(async move {
                    while let Some(first) = receiver.recv().await {
                        let (events, waiters) = batch(first, &mut receiver);
                        answer(waiters, store.audit_append_all(events).await);
                    }
                });
            }
        }
        Ok(AuditQueue { sender, running })
    }

    /// Counts a run as under way until its record is appended, so that the writer can wait
    /// for it to join a batch.
    pub fn begin(&self) -> Running {
        self.running.fetch_add(1, Ordering::Relaxed);
        Running {
            running: self.running.clone(),
        }
    }

    /// Appends `event`, the record of the run `running` counts, and returns once it is
    /// committed. The record is queued before the first await: dropping this future (the
    /// client went away) no longer loses it.
    pub async fn append(&self, running: Running, event: AuditEvent) -> Result<()> {
        let done = self.enqueue(running, event)?;
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

impl AuditQueue {
    /// Queues `event` without waiting, and gives the receiver of its commit's outcome. With
    /// the queue full, a task waits for room in the caller's place, so that a caller that
    /// stops waiting doesn't take the record with it.
    pub fn enqueue(
        &self,
        running: Running,
        event: AuditEvent,
    ) -> Result<oneshot::Receiver<std::result::Result<(), String>>> {
        drop(running);
        let (waiter, done) = oneshot::channel();
        let stopped = || Error::Internal(anyhow::anyhow!("the audit writer has stopped"));
        match self.sender.try_send((event, waiter)) {
            Ok(()) => Ok(done),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(stopped()),
            Err(mpsc::error::TrySendError::Full(queued)) => {
                let sender = self.sender.clone();
                let handle = tokio::runtime::Handle::try_current().map_err(|_| stopped())?;
                handle.spawn(async move {
                    if sender.send(queued).await.is_err() {
                        tracing::error!(
                            event = "audit.record_lost",
                            "the audit writer stopped before a queued record reached it"
                        );
                    }
                });
                Ok(done)
            }
        }
    }
}

/// `first` and whatever else is queued, up to [`MAX_BATCH`].
fn batch(first: Queued, receiver: &mut mpsc::Receiver<Queued>) -> (Vec<AuditEvent>, Vec<Waiter>) {
    let mut batch = vec![first];
    drain(&mut batch, receiver);
    batch.into_iter().unzip()
}

/// Like [`batch`], but while runs counted in `running` have yet to queue their records, waits
/// up to [`GATHER`] for them (see the module's documentation).
fn gather(
    first: Queued,
    receiver: &mut mpsc::Receiver<Queued>,
    running: &AtomicUsize,
) -> (Vec<AuditEvent>, Vec<Waiter>) {
    let mut batch = vec![first];
    let until = Instant::now() + GATHER;
    loop {
        drain(&mut batch, receiver);
        let now = Instant::now();
        if batch.len() >= MAX_BATCH || running.load(Ordering::Relaxed) == 0 || now >= until {
            break;
        }
        std::thread::sleep(GATHER_STEP.min(until - now));
    }
    batch.into_iter().unzip()
}

fn drain(batch: &mut Vec<Queued>, receiver: &mut mpsc::Receiver<Queued>) {
    while batch.len() < MAX_BATCH {
        match receiver.try_recv() {
            Ok(next) => batch.push(next),
            Err(_) => break,
        }
    }
}

/// Tells every waiter of a batch how its commit went.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AuditFilter, sqlite_store};

    /// Concurrent appends all land, each answered only once committed, and the epoch read
    /// beside them sees a commit of another connection at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_sqlite_writer_commits_every_queued_record() {
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
                    ..Default::default()
                };
                queue.append(queue.begin(), event).await
            }));
        }
        for run in runs {
            run.await.unwrap().unwrap();
        }
        let all = AuditFilter {
            limit: 1000,
            ..Default::default()
        };
        let mut targets: Vec<String> = store
            .audit_list(&all)
            .await
            .unwrap()
            .into_iter()
            .filter_map(|r| r.target)
            .collect();
        targets.sort();
        targets.dedup();
        assert_eq!(targets.len(), 300);

        let before = store.cache_epoch().await.unwrap();
        sqlx::query("UPDATE cache_epoch SET epoch = epoch + 1 WHERE id = 1")
            .execute(&store.pool)
            .await
            .unwrap();
        assert_eq!(store.cache_epoch().await.unwrap(), before + 1);
    }

    /// A run counts as under way from `begin` until its record is handed over, or until it is
    /// dropped (a cancelled request): the writer never waits for a run that has gone.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_count_as_under_way_until_their_record_is_handed_over() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(&dir).await;
        let queue = AuditQueue::start(store.clone()).unwrap();
        let under_way = || queue.running.load(Ordering::Relaxed);
        let first = queue.begin();
        let cancelled = queue.begin();
        assert_eq!(under_way(), 2);
        drop(cancelled);
        assert_eq!(under_way(), 1);
        let event = AuditEvent {
            action: "query.run",
            target: Some("counted".into()),
            ..Default::default()
        };
        queue.append(first, event).await.unwrap();
        assert_eq!(under_way(), 0);
    }

    /// With other runs under way and none of their records coming, the writer still commits
    /// the batch it has once the gathering window is over.
    #[test]
    fn gathering_ends_without_the_records_it_waited_for() {
        let (sender, mut receiver) = mpsc::channel::<Queued>(4);
        let record = |target: &str| {
            let (waiter, _) = oneshot::channel();
            let event = AuditEvent {
                action: "query.run",
                target: Some(target.into()),
                ..Default::default()
            };
            (event, waiter)
        };
        sender.try_send(record("queued")).unwrap();
        let running = AtomicUsize::new(3);
        let (events, waiters) = gather(record("first"), &mut receiver, &running);
        let targets: Vec<_> = events.iter().filter_map(|e| e.target.clone()).collect();
        assert_eq!(targets, ["first", "queued"]);
        assert_eq!(waiters.len(), 2);
    }
}
