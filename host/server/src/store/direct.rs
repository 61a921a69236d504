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
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::audit::INSERT_COLUMNS;
use super::audit_journal::{Position, Row};
use super::wal_index;
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

/// The longest a value read under an unchanged WAL-index header is trusted without reading
/// again. The header changes with every commit, so this only bounds the damage of a case
/// it can't see: someone taking the database out of WAL mode behind the server's back.
const TRUST_HEADER_FOR: Duration = Duration::from_millis(250);

/// Reads `cache_epoch` on the caller's thread.
///
/// A read transaction costs a few microseconds and two file locks, on every request. So when
/// the database is in WAL mode, the reader remembers the WAL-index header it saw before its
/// last read, and while the header is unchanged (no connection, in any process, has
/// committed since) it answers with the value it read then (`wal_index.rs`). The audit
/// importer commits every few milliseconds under load, so that is most requests, not all.
pub struct EpochReader {
    reader: Mutex<Reader>,
}

struct Reader {
    conn: Connection,
    /// Whether the database is in WAL mode, so that it has a header to watch: asked after
    /// the first read, which also maps the shared memory the header is read from.
    wal: Option<bool>,
    /// The header seen before the last read, the value read, and when.
    last: Option<(wal_index::Header, i64, Instant)>,
    /// Read transactions so far (for the tests).
    transactions: u64,
}

impl EpochReader {
    pub fn open(file: &Path) -> anyhow::Result<EpochReader> {
        // Opening does no I/O: the store may be created and migrated by another process
        // right now.
        let conn = open(file)?;
        Ok(EpochReader {
            reader: Mutex::new(Reader {
                conn,
                wal: None,
                last: None,
                transactions: 0,
            }),
        })
    }

    pub fn read(&self) -> Result<i64> {
        let mut reader = self.reader.lock().unwrap_or_else(|e| e.into_inner());
        // Taken before the read: a commit after this point changes the header, so the value
        // read below is current for as long as the header stays this one.
        let header = if reader.wal == Some(true) {
            wal_index::header(&reader.conn)
        } else {
            None
        };
        if let (Some(now), Some((seen, epoch, at))) = (header, reader.last)
            && now == seen
            && at.elapsed() < TRUST_HEADER_FOR
        {
            return Ok(epoch);
        }
        let epoch = read_epoch(&reader.conn).map_err(|e| internal("reading the cache epoch", e))?;
        reader.transactions += 1;
        if reader.wal.is_none() {
            // Unknown after a failure: asked again after the next read.
            reader.wal = reader
                .conn
                .query_row("PRAGMA journal_mode", [], |row| row.get::<_, String>(0))
                .ok()
                .map(|mode| mode.eq_ignore_ascii_case("wal"));
        }
        reader.last = header.map(|header| (header, epoch, Instant::now()));
        Ok(epoch)
    }
}

fn read_epoch(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT epoch FROM cache_epoch WHERE id = 1")
        .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A database with the store's `cache_epoch` table, in `mode`, and a second connection
    /// to it that plays another server.
    fn database(dir: &tempfile::TempDir, mode: &str) -> (std::path::PathBuf, Connection) {
        let file = dir.path().join("lathe.db");
        let other = open(&file).unwrap();
        other
            .query_row(&format!("PRAGMA journal_mode = {mode}"), [], |_| Ok(()))
            .unwrap();
        other
            .execute_batch(
                "CREATE TABLE cache_epoch (id INTEGER PRIMARY KEY, epoch INTEGER NOT NULL);
                 INSERT INTO cache_epoch VALUES (1, 1);",
            )
            .unwrap();
        (file, other)
    }

    fn transactions(reader: &EpochReader) -> u64 {
        reader.reader.lock().unwrap().transactions
    }

    #[test]
    fn epoch_reads_skip_the_transaction_only_while_nothing_was_committed() {
        let dir = tempfile::tempdir().unwrap();
        let (file, other) = database(&dir, "WAL");
        let reader = EpochReader::open(&file).unwrap();
        // The first read finds the database in WAL mode; the second remembers the header.
        assert_eq!(reader.read().unwrap(), 1);
        assert_eq!(reader.read().unwrap(), 1);
        assert_eq!(reader.read().unwrap(), 1);
        assert_eq!(reader.read().unwrap(), 1);
        assert_eq!(transactions(&reader), 2, "unchanged header, no more reads");

        for epoch in 2..50 {
            other
                .execute("UPDATE cache_epoch SET epoch = ?1", [epoch])
                .unwrap();
            assert_eq!(reader.read().unwrap(), epoch);
            assert_eq!(reader.read().unwrap(), epoch);
        }
        // A commit to another table moves the header too: read again, same epoch.
        other.execute_batch("CREATE TABLE t (v INTEGER)").unwrap();
        assert_eq!(reader.read().unwrap(), 49);
        assert_eq!(transactions(&reader), 2 + 48 + 1);

        // Past the trust period the value is read again even under the same header.
        std::thread::sleep(TRUST_HEADER_FOR);
        assert_eq!(reader.read().unwrap(), 49);
        assert_eq!(transactions(&reader), 52);
    }

    #[test]
    fn outside_wal_mode_every_epoch_read_is_a_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let (file, other) = database(&dir, "DELETE");
        let reader = EpochReader::open(&file).unwrap();
        for epoch in 2..10 {
            assert_eq!(reader.read().unwrap(), epoch - 1);
            other
                .execute("UPDATE cache_epoch SET epoch = ?1", [epoch])
                .unwrap();
            assert_eq!(reader.read().unwrap(), epoch);
        }
        assert_eq!(transactions(&reader), 16);
        assert!(!dir.path().join("lathe.db-shm").exists());
    }
}
