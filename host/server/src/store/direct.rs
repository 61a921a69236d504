//! The two SQLite statements of every query run, driven directly instead of through sqlx.
//!
//! sqlx runs each SQLite connection on a thread of its own and hands it every statement over a
//! channel: a wake-up and a context switch each way, which under load cost several times the
//! statement itself (docs/benchmarks.md). A query run has two store statements: the cache
//! epoch read (`cache.rs`) and its audit record. On SQLite they run here, on rusqlite
//! connections to the same file (rusqlite links the same libsqlite3 as sqlx):
//!
//! - the epoch read on the calling thread: a read in WAL mode takes microseconds and never
//!   waits for a writer (only a crash recovery in another process can make it wait, up to
//!   the busy timeout);
//! - audit records on one writer thread, a batch per transaction (see `audit_queue.rs`).

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use super::audit::INSERT_COLUMNS;
use super::{AuditEvent, now_ms};
use crate::error::{Error, Result};

/// How long a statement waits for a lock another connection holds (as the sqlx pools do).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection to the store's SQLite file with the settings of every other one: WAL (a
/// property of the file, set by the first pool) and the busy timeout.
fn open(file: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(file)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

fn internal(what: &str, e: rusqlite::Error) -> Error {
    Error::Internal(anyhow::anyhow!("{what}: {e}"))
}

/// Reads `cache_epoch` on the caller's thread.
pub struct EpochReader {
    conn: Mutex<Connection>,
}

impl EpochReader {
    pub fn open(file: &Path) -> anyhow::Result<EpochReader> {
        let conn = open(file)?;
        Ok(EpochReader {
            conn: Mutex::new(conn),
        })
    }

    pub fn read(&self) -> Result<i64> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        conn.prepare_cached("SELECT epoch FROM cache_epoch WHERE id = 1")
            .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
            .map_err(|e| internal("reading the cache epoch", e))
    }
}

/// The audit writer's connection. Its commits skip the fsync (`synchronous = NORMAL`): they
/// are in the WAL, visible to every reader and safe from a crash of Lathe, before a run is
/// answered, and reach the disk at the next synced commit of another connection or the next
/// checkpoint. Only an operating-system crash or power loss in between can lose them.
pub struct AuditWriter {
    conn: Connection,
}

impl AuditWriter {
    pub fn open(file: &Path) -> anyhow::Result<AuditWriter> {
        let conn = open(file)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(AuditWriter { conn })
    }

    /// Appends `events` in one transaction: all of them or none.
    pub fn append_all(&mut self, events: Vec<AuditEvent>) -> Result<()> {
        self.try_append_all(events)
            .map_err(|e| internal("writing audit records", e))
    }

    fn try_append_all(&mut self, events: Vec<AuditEvent>) -> rusqlite::Result<()> {
        // IMMEDIATE takes the write lock at once, waiting for another writer if need be,
        // instead of failing to upgrade a read lock halfway.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut insert = tx.prepare_cached(&format!(
                "INSERT INTO audit_events ({INSERT_COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ))?;
            let now = now_ms();
            for event in events {
                insert.execute(rusqlite::params![
                    event.workspace_id,
                    event.actor_id,
                    event.actor_email,
                    event.action,
                    event.target,
                    event.address,
                    event.via,
                    event.detail.map(|d| d.to_string()),
                    now,
                ])?;
            }
        }
        tx.commit()
    }
}
