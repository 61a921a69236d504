//! The WAL-index header of a SQLite connection: a fingerprint of the last commit that any
//! connection, in any process, made to the database.
//!
//! In WAL mode every commit ends by rewriting the 48-byte header at the start of the
//! shared-memory file (`<db>-shm`): its change counter, the WAL's last frame, salts and
//! checksums (<https://sqlite.org/walformat.html>, "The WAL-Index Header"). While the
//! header stays byte-for-byte the same, nothing has been committed, so a value read from the
//! database since is still current. The epoch reader (`direct.rs`) uses that to skip its
//! read transaction, which costs a few microseconds and two file locks, on most requests.
//!
//! The header is read where SQLite itself reads it: from the connection's own mapping of
//! region 0 of the shared memory, obtained through the VFS's documented `xShmMap` method,
//! and the same way: the first copy, a memory barrier, the second copy, and the pair only
//! counts when both agree (a writer writes the second copy first; a reader that sees two
//! different copies has caught a commit half-published).

use std::ffi::c_void;
use std::sync::atomic::{Ordering, fence};

use rusqlite::{Connection, ffi};

/// The size of one copy of the header.
const HEADER: usize = 48;

/// Byte 12 of the header: set once the header has been initialised.
const IS_INIT: usize = 12;

/// The size SQLite maps shared memory in (`WALINDEX_PGSZ`), asked for unchanged.
const REGION: i32 = 32768;

/// One copy of the header, as bytes.
pub type Header = [u8; HEADER];

/// The connection's current WAL-index header, or `None` when there is none to trust: the
/// database isn't in WAL mode, the connection has not mapped its shared memory yet, the VFS
/// has no shared memory, or a commit is publishing the header at this moment.
///
/// Call it only on a connection that has already read the database in WAL mode (so its
/// shared memory is open and mapped) and that nobody else uses during the call.
pub fn header(conn: &Connection) -> Option<Header> {
    // SAFETY: `conn.handle()` is the live handle of `conn`, which the caller holds
    // exclusively. SQLITE_FCNTL_FILE_POINTER writes the main database's `sqlite3_file`
    // pointer (owned by SQLite, valid while the connection is open) into `file`. `xShmMap`
    // for region 0 without extending returns the mapping the connection already holds (or
    // a null pointer); SQLite keeps it mapped until the connection closes, and it is at
    // least `REGION` bytes long. The two copies are read with volatile reads, as SQLite's
    // own readers do: other processes write them concurrently.
    unsafe {
        let mut file: *mut ffi::sqlite3_file = std::ptr::null_mut();
        let status = ffi::sqlite3_file_control(
            conn.handle(),
            c"main".as_ptr(),
            ffi::SQLITE_FCNTL_FILE_POINTER,
            (&raw mut file).cast::<c_void>(),
        );
        if status != ffi::SQLITE_OK || file.is_null() {
            return None;
        }
        let methods = (*file).pMethods;
        if methods.is_null() || (*methods).iVersion < 2 {
            return None;
        }
        let map = (*methods).xShmMap?;
        let mut region: *mut c_void = std::ptr::null_mut();
        if map(file, 0, REGION, 0, &raw mut region) != ffi::SQLITE_OK || region.is_null() {
            return None;
        }
        let first = std::ptr::read_volatile(region.cast::<Header>());
        fence(Ordering::SeqCst);
        let second = std::ptr::read_volatile(region.cast::<u8>().add(HEADER).cast::<Header>());
        (first == second && first[IS_INIT] != 0).then_some(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wal_db(dir: &tempfile::TempDir) -> Connection {
        let conn = Connection::open(dir.path().join("t.db")).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        conn.execute_batch("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1);")
            .unwrap();
        conn
    }

    #[test]
    fn the_header_changes_with_every_commit_of_any_connection_and_only_then() {
        let dir = tempfile::tempdir().unwrap();
        let reader = wal_db(&dir);
        let before = header(&reader).expect("a WAL database has a header");
        // Reads, on this connection or another, change nothing.
        let other = Connection::open(dir.path().join("t.db")).unwrap();
        let _: i64 = other
            .query_row("SELECT v FROM t", [], |r| r.get(0))
            .unwrap();
        let _: i64 = reader
            .query_row("SELECT v FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(header(&reader), Some(before));

        other.execute("UPDATE t SET v = 2", []).unwrap();
        let after = header(&reader).unwrap();
        assert_ne!(after, before);

        // Another table, another kind of change.
        other.execute_batch("CREATE TABLE u (w TEXT)").unwrap();
        let again = header(&reader).unwrap();
        assert_ne!(again, after);

        // A checkpoint that empties the WAL, then a commit that starts it over from the
        // first frame, gives a header never seen before (new salts).
        other
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        other.execute("UPDATE t SET v = 3", []).unwrap();
        let restarted = header(&reader).unwrap();
        assert!(![before, after, again].contains(&restarted));
    }
}
