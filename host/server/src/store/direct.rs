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
//! - audit records, imported from the journal by one thread in large transactions (see
//!   `audit_journal.rs`).

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::audit::INSERT_COLUMNS;
use super::audit_journal::{Position, Row};
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

/// The connection that imports the audit journal. Its commits skip the fsync
/// (`synchronous = NORMAL`), as the journal's writes do: they are safe from a crash of Lathe
/// and reach the disk at the next synced commit of another connection or the next
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

    /// Inserts `rows` of `journal` and records `end`, if given, as how far it is imported,
    /// in one transaction: all of it or none.
    pub fn import(&mut self, journal: &str, rows: &[Row], end: Option<Position>) -> Result<()> {
        self.try_import(journal, rows, end)
            .map_err(|e| internal("importing audit records", e))
    }

    fn try_import(
        &mut self,
        journal: &str,
        rows: &[Row],
        end: Option<Position>,
    ) -> rusqlite::Result<()> {
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
            for row in rows {
                insert.execute(rusqlite::params![
                    row.workspace_id,
                    row.actor_id,
                    row.actor_email,
                    row.action,
                    row.target,
                    row.address,
                    row.via,
                    row.detail.as_deref().map(|d| d.get()),
                    row.created_at,
                ])?;
            }
            if let Some(end) = end {
                tx.prepare_cached(
                    "INSERT INTO audit_journals (journal, segment, last_seq) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (journal) DO UPDATE \
                 SET segment = excluded.segment, last_seq = excluded.last_seq",
                )?
                .execute(rusqlite::params![
                    journal,
                    end.segment as i64,
                    end.seq as i64
                ])?;
            }
        }
        tx.commit()
    }

    /// How far `journal` is imported, if any of it is.
    pub fn position(&self, journal: &str) -> Result<Option<Position>> {
        self.conn
            .query_row(
                "SELECT segment, last_seq FROM audit_journals WHERE journal = ?1",
                [journal],
                |row| {
                    Ok(Position {
                        segment: row.get::<_, i64>(0)? as u64,
                        seq: row.get::<_, i64>(1)? as u64,
                    })
                },
            )
            .optional()
            .map_err(|e| internal("reading an audit journal's position", e))
    }

    /// Every journal with a recorded position.
    pub fn journals(&self) -> Result<Vec<String>> {
        let read = || -> rusqlite::Result<Vec<String>> {
            let mut statement = self.conn.prepare("SELECT journal FROM audit_journals")?;
            statement.query_map([], |row| row.get(0))?.collect()
        };
        read().map_err(|e| internal("listing audit journals", e))
    }

    /// Drops the position of a journal that is gone.
    pub fn forget(&self, journal: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM audit_journals WHERE journal = ?1", [journal])
            .map(drop)
            .map_err(|e| internal("dropping an audit journal's position", e))
    }
}
