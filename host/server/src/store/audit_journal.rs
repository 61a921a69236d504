//! The journal of run records on the embedded store (SQLite).
//!
//! A run is answered once its audit record is safe from a crash of Lathe. A SQLite commit of
//! a few records rewrites whole pages (the table's last leaf, its index, the sequence) in the
//! WAL however little it adds, so the writer used to gather records for a while before each
//! commit, and every run waited for the gathering and the commit: about half a millisecond
//! under load, a quarter of a run's time (docs/benchmarks.md, "Session 12"). Instead:
//!
//! - each run appends its record to this journal itself, one JSON line copied under a lock
//!   into a shared mapping of the current segment ([`Shared::append`], [`Segment`]). The
//!   bytes are then in the kernel's page cache, where they outlive the process as a
//!   commit's WAL frames without an fsync did, and the run is answered. (A writer thread
//!   taking batches cost more in wake-ups than the writes it saved, and a `write` per
//!   record cost a tenth of the throughput: docs/benchmarks.md, "Session 14".)
//! - a thread imports the journal into `audit_events` in large transactions, and records in
//!   the same transaction how far it has read (`audit_journals`), so that each record is
//!   imported exactly once;
//! - reading the audit log first waits for the journal to be imported
//!   (`AuditQueue::flush`): a record answered before a read is in its result.
//!
//! Each server process writes a journal of its own, `audit-journal/<id>/` in the data
//! directory, in numbered segments, and holds a lock on it for as long as it runs: servers
//! sharing a data directory never touch each other's. At start a server imports what a
//! journal whose owner is gone has left (a crash, a kill) and deletes it ([`recover`]).
//!
//! Durability is as before: an operating-system crash or a power loss can lose the last
//! records (nothing is fsynced until SQLite takes them); a crash of Lathe can't. A line cut
//! short (a crash halfway through a copy, a power loss) is dropped and counted, never
//! imported in part.
//!
//! A segment is allocated in full when it is made, so a full disk refuses a new segment
//! (and its records go to SQLite directly) rather than faulting on a page the disk has no
//! room for. The one way the mapping can fault is a segment file shortened by something
//! else while the server runs: the server then dies of `SIGBUS` at its next record, as
//! SQLite would with its own `-shm` file, and the next start imports what the journal
//! holds. The journal folder is Lathe's alone.
//!
//! Order: a run's record gets its `audit_events` id when it is imported, up to
//! [`IMPORT_DELAY`] after other events written directly (a login, a change), so ids order
//! the records of one kind exactly and the two kinds to within that delay; `created_at` is
//! the time the run ended in both cases.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io;
#[cfg(not(target_os = "linux"))]
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use memmap2::MmapMut;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use tokio::sync::oneshot;

use super::AuditEvent;
use super::audit_queue::Waiter;
use super::direct::AuditWriter;

/// The journal folder in the data directory.
pub const FOLDER: &str = "audit-journal";
/// A segment is closed and the next begun once it is past this size. Imported segments are
/// deleted, so a journal takes a few segments at most.
const SEGMENT_BYTES: u64 = 8 << 20;
/// Room a segment keeps for records whose runs have started: the next segment is begun once
/// less is left ([`Journal::prepare`]).
const RESERVE: usize = 64 << 10;
/// The lock file each journal's owner holds.
const LOCK: &str = "lock";
/// How long the importer lets records collect before it takes them. A reader's flush that
/// arrives meanwhile waits for the rest of it.
pub const IMPORT_DELAY: Duration = Duration::from_millis(20);
/// The most records one import transaction takes.
const IMPORT_ROWS: usize = 4096;
/// How long the importer waits before trying a failed import again.
const RETRY: Duration = Duration::from_secs(1);
/// How often the importer looks for journals left by servers that have stopped (besides
/// before every read of the audit log), so that a replica that died and never comes back
/// doesn't keep its last records from the log.
const SWEEP: Duration = Duration::from_secs(30);

/// How far a journal is written or imported: the last record's number (`seq`, counted from
/// 1 in each journal) and the segment it is in. Positions count records, not bytes, so
/// bytes that are not Lathe's in a segment shift nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    pub segment: u64,
    pub seq: u64,
}

/// A record as the journal holds it and the importer inserts it: the event, and the time it
/// was written, which is its `created_at`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Row {
    /// The record's number in its journal, given when it is appended; 0 for a record the
    /// journal refused, which is in no segment.
    #[serde(default)]
    pub seq: u64,
    /// The segment the record is in: with `seq`, how far an import that ends with it has
    /// read the journal. Not in the line: its file says it.
    #[serde(skip)]
    pub segment: u64,
    pub created_at: i64,
    pub workspace_id: Option<String>,
    pub actor_id: Option<String>,
    pub actor_email: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub address: Option<String>,
    pub via: Option<String>,
    /// The detail's JSON text, serialised once for the journal line and the insert alike.
    pub detail: Option<Box<RawValue>>,
}

impl Row {
    pub fn new(event: AuditEvent, created_at: i64) -> Row {
        Row {
            seq: 0,
            segment: 0,
            created_at,
            workspace_id: event.workspace_id,
            actor_id: event.actor_id,
            actor_email: event.actor_email,
            action: event.action.to_string(),
            target: event.target,
            address: event.address,
            via: event.via,
            // A `Value` always serialises; `ok()` only spares an unreachable panic.
            detail: event.encoded_detail.or_else(|| {
                event
                    .detail
                    .and_then(|d| serde_json::value::to_raw_value(&d).ok())
            }),
        }
    }

    /// Appends the row's journal line to `buf`. The line starts with a line break as well
    /// as ending with one: stray bytes before it (a write cut short, anything else's) end
    /// there instead of spoiling it.
    pub fn encode(&self, buf: &mut Vec<u8>) {
        buf.push(b'\n');
        // Writing into a Vec fails only on a serialiser error, which these fields can't give.
        if serde_json::to_writer(&mut *buf, self).is_ok() {
            buf.push(b'\n');
        }
    }
}

/// The journal and what it holds that is not imported yet, shared by the runs that append
/// (each on its own task, under the lock: a run's line is written and handed over in one
/// step, so the importer never records a position past a line it hasn't got) and the
/// importer thread.
pub struct Shared {
    state: Mutex<State>,
    /// Wakes the importer: the first row after an import, a reader, a refused write, the
    /// end.
    wake: Condvar,
    /// The journal could not begin its next segment: runs are refused before they start
    /// ([`Shared::ready`]) until it can.
    stuck: AtomicBool,
}

struct State {
    journal: Journal,
    rows: Vec<Row>,
    /// Readers waiting for everything appended so far, and runs whose rows the journal
    /// refused; answered by the next import.
    waiters: Vec<Waiter>,
    /// A waiter is there: import without letting records collect.
    urgent: bool,
    /// The server is stopping: import what is left and end.
    closed: bool,
}

impl Shared {
    pub fn new(journal: Journal) -> Shared {
        Shared {
            state: Mutex::new(State {
                journal,
                rows: Vec::new(),
                waiters: Vec::new(),
                urgent: false,
                closed: false,
            }),
            wake: Condvar::new(),
            stuck: AtomicBool::new(false),
        }
    }

    /// Whether the journal can take the record of a run about to start. A run whose record
    /// can't be kept must not reach a datasource: on a full disk it would change data and
    /// leave no record that survives a crash. The next segment is begun ahead of time, so
    /// the answer is known before the run rather than after it; while it can't be, this
    /// tries again at every call.
    pub fn ready(&self) -> io::Result<()> {
        if !self.stuck.load(Ordering::Relaxed) {
            return Ok(());
        }
        let mut state = self.lock();
        state.journal.prepare()?;
        self.stuck.store(false, Ordering::Relaxed);
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends `row`'s line to the journal. `None` when it is written; when the journal
    /// refuses it (a full disk, a read-only file), the row goes to SQLite with the next
    /// import, and the receiver says when it is there: a run that may have changed data
    /// doesn't lose its record to a failed write.
    pub fn append(
        &self,
        mut row: Row,
    ) -> Option<oneshot::Receiver<std::result::Result<(), String>>> {
        let mut state = self.lock();
        // Numbered and written under the lock: lines are in the order of their numbers, so
        // an imported position covers every line before it.
        match state.journal.append(&mut row) {
            Ok(()) => {
                if state.rows.is_empty() || state.rows.len() + 1 == IMPORT_ROWS {
                    self.wake.notify_one();
                }
                state.rows.push(row);
                if let Err(e) = state.journal.prepare() {
                    self.note_stuck(&state.journal, &e);
                }
                None
            }
            Err(e) => {
                tracing::error!(
                    event = "audit.journal_write_failed",
                    journal = %state.journal.id,
                    error = %e,
                    "the audit journal refused a write; the record goes to the store directly"
                );
                self.stuck.store(true, Ordering::Relaxed);
                state.rows.push(row);
                Some(self.wait_for_import(state))
            }
        }
    }

    fn note_stuck(&self, journal: &Journal, error: &io::Error) {
        if !self.stuck.swap(true, Ordering::Relaxed) {
            tracing::error!(
                event = "audit.journal_full",
                journal = %journal.id,
                error = %error,
                "the audit journal can't begin its next segment (see the error: most often \
                 a full disk); query runs are refused until it can"
            );
        }
    }

    /// Returns a receiver told when everything appended so far is in `audit_events`.
    pub fn flush(&self) -> oneshot::Receiver<std::result::Result<(), String>> {
        let state = self.lock();
        self.wait_for_import(state)
    }

    fn wait_for_import(
        &self,
        mut state: MutexGuard<'_, State>,
    ) -> oneshot::Receiver<std::result::Result<(), String>> {
        let (waiter, done) = oneshot::channel();
        state.waiters.push(waiter);
        state.urgent = true;
        self.wake.notify_one();
        done
    }

    /// Marks the server as stopping: the importer imports what is left and ends.
    pub fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_one();
    }

    /// The next rows to import and the waiters answered by importing them, once there is
    /// something to do: at once for a waiter, a full batch or the end, otherwise after
    /// letting records collect for [`IMPORT_DELAY`]. `None` once closed and empty.
    fn next(&self) -> Option<(Vec<Row>, Vec<Waiter>)> {
        let mut state = self.lock();
        loop {
            if state.rows.is_empty() && state.waiters.is_empty() {
                if state.closed {
                    return None;
                }
                // Idle: wake at the first row, or at the sweep's time.
                state = self
                    .wake
                    .wait_timeout(state, SWEEP)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
                if state.rows.is_empty() && state.waiters.is_empty() {
                    return Some((Vec::new(), Vec::new()));
                }
                continue;
            }
            if !state.urgent && !state.closed && state.rows.len() < IMPORT_ROWS {
                state = self
                    .wake
                    .wait_timeout_while(state, IMPORT_DELAY, |s| {
                        !s.urgent && !s.closed && s.rows.len() < IMPORT_ROWS
                    })
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            let count = state.rows.len().min(IMPORT_ROWS);
            let rows: Vec<Row> = state.rows.drain(..count).collect();
            // More than one import's worth: the waiters wait for the last of them.
            let waiters = if state.rows.is_empty() {
                state.urgent = false;
                std::mem::take(&mut state.waiters)
            } else {
                Vec::new()
            };
            return Some((rows, waiters));
        }
    }

    /// Puts back rows whose import failed, ahead of any appended since.
    fn put_back(&self, rows: Vec<Row>) {
        let mut state = self.lock();
        let newer = std::mem::replace(&mut state.rows, rows);
        state.rows.extend(newer);
    }
}

/// The lock that marks a journal's owner as alive. The importer holds it, as the last to
/// finish with the journal.
pub struct Lock(#[allow(dead_code)] File);

/// The journal of this server process.
pub struct Journal {
    id: String,
    dir: PathBuf,
    /// The segment being written.
    segment: Segment,
    /// The last record written and its segment.
    end: Position,
    segment_bytes: u64,
    /// The line being appended, kept to spare an allocation per record.
    line: Vec<u8>,
    /// Tests make the journal refuse writes, as a full disk would.
    #[cfg(test)]
    pub refuse: bool,
}

impl Journal {
    /// Starts a new journal under `root`, locked for this process. It is made under a
    /// hidden name and renamed once locked, so that [`recover`] never sees a journal whose
    /// owner has yet to lock it.
    pub fn create(root: &Path) -> io::Result<(Journal, Lock)> {
        // A server starting beside this one recovers what stopped servers left, and can take
        // this journal's folder, in the instant between its lock file's creation and its
        // locking, for one whose server died there, and delete it. A new attempt (a new id)
        // then goes through.
        let mut attempts = 1;
        loop {
            match Journal::create_with(root, SEGMENT_BYTES) {
                Err(e)
                    if attempts < 5
                        && matches!(
                            e.kind(),
                            io::ErrorKind::NotFound | io::ErrorKind::WouldBlock
                        ) =>
                {
                    attempts += 1;
                }
                made => return made,
            }
        }
    }

    /// A journal whose segments hold `segment_bytes`; tests make them small to see several.
    fn create_with(root: &Path, segment_bytes: u64) -> io::Result<(Journal, Lock)> {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).map_err(io::Error::other)?;
        let id = hex::encode(bytes);
        let making = root.join(format!(".{id}"));
        private_folder().recursive(true).create(&making)?;
        let lock = private_file()
            .write(true)
            .create(true)
            .open(making.join(LOCK))?;
        lock.try_lock().map_err(|e| match e {
            TryLockError::Error(e) => e,
            TryLockError::WouldBlock => {
                io::Error::new(io::ErrorKind::WouldBlock, "a new journal's lock is taken")
            }
        })?;
        let dir = root.join(&id);
        fs::rename(&making, &dir)?;
        let segment = Segment::create(&dir, 0, segment_bytes)?;
        let journal = Journal {
            id,
            dir,
            segment,
            end: Position::default(),
            segment_bytes,
            line: Vec::with_capacity(1024),
            #[cfg(test)]
            refuse: false,
        };
        Ok((journal, Lock(lock)))
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Numbers `row`, copies its line into the segment and notes in `row` where it is.
    /// A line that doesn't fit goes whole into a new segment; if one can't be made, the
    /// line is not written at all, and `row` keeps no number.
    pub fn append(&mut self, row: &mut Row) -> io::Result<()> {
        row.seq = self.end.seq + 1;
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        row.encode(&mut line);
        let written = self.write(&line);
        self.line = line;
        if let Err(e) = written {
            row.seq = 0;
            return Err(e);
        }
        self.end.seq = row.seq;
        row.segment = self.end.segment;
        Ok(())
    }

    /// Begins the next segment now if this one is nearly full, so that whether there is room
    /// for the next records is known before the runs they belong to start.
    pub fn prepare(&mut self) -> io::Result<()> {
        #[cfg(test)]
        if self.refuse {
            return Err(io::Error::other("refused by the test"));
        }
        let reserve = (self.segment_bytes / 16).min(RESERVE as u64) as usize;
        if self.segment.room() < reserve {
            self.next_segment(0)?;
        }
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        #[cfg(test)]
        if self.refuse {
            return Err(io::Error::other("refused by the test"));
        }
        if self.segment.room() < bytes.len() {
            self.next_segment(bytes.len())?;
        }
        self.segment.put(bytes);
        Ok(())
    }

    /// Closes the segment and begins the next, large enough for a line of `line` bytes.
    fn next_segment(&mut self, line: usize) -> io::Result<()> {
        let next = self.end.segment + 1;
        let bytes = self.segment_bytes.max(line as u64);
        self.segment = Segment::create(&self.dir, next, bytes)?;
        self.end.segment = next;
        Ok(())
    }
}

/// A segment of the journal, mapped whole into memory. A record is appended by copying its
/// line into the mapping: no system call, and the bytes are in the page cache, as a `write`
/// would leave them, the moment they are copied, so they outlive a crash of the process.
///
/// The file is allocated in full when it is made, so a full disk refuses a new segment
/// instead of faulting on a page of a sparse file. Until it is closed, it ends in zeros
/// past its last line, which [`import_left`] skips.
struct Segment {
    file: File,
    map: MmapMut,
    /// Bytes written.
    len: usize,
}

impl Segment {
    fn create(dir: &Path, number: u64, bytes: u64) -> io::Result<Segment> {
        let path = segment_path(dir, number);
        // Anything already under this number holds none of this journal's records: a
        // segment is only made after the one before it, so it is an earlier try at this
        // one that failed before a record went in, or something else's (a link, a FIFO).
        // It is unlinked, never opened, and the segment made anew: never through a link,
        // and if anything takes the name meanwhile, this fails instead.
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut options = private_file();
        options.read(true).write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
        let file = options.open(&path)?;
        allocate(&file, bytes)?;
        // SAFETY: the mapping is of a file in this server's own journal, locked for it;
        // nothing else writes or shortens it while the server runs (docs/server.md, "Audit
        // log", says what a file cut short under a running server does). The mapping is
        // only written through `put`, within its length.
        let map = unsafe { MmapMut::map_mut(&file)? };
        Ok(Segment { file, map, len: 0 })
    }

    fn room(&self) -> usize {
        self.map.len() - self.len
    }

    /// Copies `bytes` after the last line; the caller made sure they fit.
    fn put(&mut self, bytes: &[u8]) {
        self.map[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }
}

impl Drop for Segment {
    /// A segment closed by a running server is cut to its lines, so that its file reads as
    /// plain JSON lines. (Nothing touches the mapping past its length after this.)
    fn drop(&mut self) {
        let _ = self.file.set_len(self.len as u64);
    }
}

/// Gives `file` `bytes` of allocated zeros.
#[cfg(target_os = "linux")]
fn allocate(file: &File, bytes: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let length = libc::off_t::try_from(bytes).map_err(io::Error::other)?;
    loop {
        // SAFETY: the descriptor is open for as long as `file` is borrowed.
        match unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, length) } {
            0 => return Ok(()),
            libc::EINTR => continue,
            code => return Err(io::Error::from_raw_os_error(code)),
        }
    }
}

/// Gives `file` `bytes` of allocated zeros, by writing them where `posix_fallocate` isn't
/// available.
#[cfg(not(target_os = "linux"))]
fn allocate(mut file: &File, bytes: u64) -> io::Result<()> {
    let zeros = [0u8; 64 << 10];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        file.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    Ok(())
}

/// The journal holds what the audit log holds (emails, addresses, inputs), so its folders
/// and files are the server's user's alone, as the database is.
fn private_folder() -> fs::DirBuilder {
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
}

fn private_file() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

fn segment_path(dir: &Path, segment: u64) -> PathBuf {
    dir.join(format!("{segment:016}.jsonl"))
}

/// The numbers of the segments in `dir`, in order, whatever their files are.
fn segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut numbers: Vec<u64> = fs::read_dir(dir)?
        .filter_map(|entry| {
            let name = entry.ok()?.file_name();
            name.to_str()?.strip_suffix(".jsonl")?.parse().ok()
        })
        .collect();
    numbers.sort_unstable();
    Ok(numbers)
}

/// Deletes the segments of `dir` before `segment`: all their records are imported.
fn remove_before(dir: &Path, segment: u64) {
    for number in segments(dir).unwrap_or_default() {
        if number < segment {
            let _ = fs::remove_file(segment_path(dir, number));
        }
    }
}

/// The importer thread: takes rows as runs append them and inserts them in large
/// transactions, each with the journal's new position. It ends when the server stops and
/// everything is imported, and then deletes the journal: nothing is left to recover.
pub fn import(
    shared: Arc<Shared>,
    mut writer: AuditWriter,
    journal: String,
    dir: PathBuf,
    lock: Lock,
) {
    let mut removed_below = 0;
    let mut swept = Instant::now();
    // Journals the last sweep failed on, so that each failure is logged once.
    let mut failed = Vec::new();
    let mut clean = true;
    while let Some((rows, waiters)) = shared.next() {
        if !waiters.is_empty() || swept.elapsed() >= SWEEP {
            sweep(&dir, &mut writer, &mut failed);
            swept = Instant::now();
        }
        if rows.is_empty() {
            answer(waiters, Ok(()));
            continue;
        }
        // Every import records how far it has read, in its own transaction: a crash
        // halfway through a backlog (a lock held on the database, a full disk) leaves
        // the next start only what is not imported yet.
        let end = last_position(&rows);
        match writer.import(&journal, &rows, end) {
            Ok(()) => {
                answer(waiters, Ok(()));
                if let Some(position) = end
                    && position.segment > removed_below
                {
                    remove_before(&dir, position.segment);
                    removed_below = position.segment;
                }
                clean = true;
            }
            Err(e) => {
                // The rows are safe in the journal: they are kept and tried again, and if
                // the server stops first, the next start imports them.
                tracing::error!(
                    event = "audit.import_failed",
                    journal = %journal,
                    records = rows.len(),
                    error = %e,
                    "audit records wait in the journal; the import is tried again"
                );
                answer(waiters, Err(e.to_string()));
                shared.put_back(rows);
                clean = false;
                std::thread::sleep(RETRY);
            }
        }
    }
    if clean {
        // Everything is in `audit_events`: the journal goes, then its position.
        if fs::remove_dir_all(&dir).is_ok() {
            let _ = writer.forget(&journal);
        }
    }
    drop(lock);
}

/// Where the last of `rows` that is in the journal is; `None` if the journal refused them
/// all.
fn last_position(rows: &[Row]) -> Option<Position> {
    rows.iter()
        .rev()
        .find(|row| row.seq > 0)
        .map(|row| Position {
            segment: row.segment,
            seq: row.seq,
        })
}

/// Imports what the journals of other servers that have stopped left (see [`recover`]).
fn sweep(own: &Path, writer: &mut AuditWriter, failed: &mut Vec<(String, String)>) {
    let Some(root) = own.parent() else {
        return;
    };
    match recover(root, writer) {
        Ok(mut found) => {
            found.log_failures(failed);
            found.log_imported();
            *failed = std::mem::take(&mut found.failed);
        }
        Err(e) => tracing::error!(
            event = "audit.journal_recovery_failed",
            error = %e,
            "the audit journals could not be looked through; tried again at the next read or sweep"
        ),
    }
}

fn answer(waiters: Vec<Waiter>, outcome: std::result::Result<(), String>) {
    for waiter in waiters {
        let _ = waiter.send(outcome.clone());
    }
}

/// What [`recover`] found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    pub journals: usize,
    pub records: usize,
    /// Lines cut short, unreadable or repeated, dropped.
    pub damaged: usize,
    /// Records the journals' numbering shows were written but are gone (a segment cut
    /// short or deleted by something else).
    pub missing: u64,
    /// Journal folders without a lock file: no server makes one, so they were changed by
    /// hand, and are left for an operator to look at.
    pub unlocked: usize,
    /// Journals that could not be imported or deleted, and why; tried again later.
    pub failed: Vec<(String, String)>,
}

impl Recovered {
    /// One error line per journal that failed, unless it failed the same way in `before`
    /// (the last sweep): a journal that stays unreadable is named once, not at every read
    /// of the audit log.
    fn log_failures(&self, before: &[(String, String)]) {
        for failure @ (journal, error) in &self.failed {
            if !before.contains(failure) {
                tracing::error!(
                    event = "audit.journal_recovery_failed",
                    journal = %journal,
                    error = %error,
                    "a stopped server's audit journal could not be imported or deleted; it \
                     is tried again at every read of the audit log, sweep and start, and \
                     logged again if it fails otherwise"
                );
            }
        }
    }

    /// One log line when a stopped server's journal held anything: records it hadn't
    /// imported, or damage. (A journal left with everything imported, by a server that was
    /// killed while idle, says nothing worth a line.)
    pub fn log(&self) {
        self.log_failures(&[]);
        self.log_imported();
    }

    fn log_imported(&self) {
        if self.records > 0 || self.damaged > 0 || self.missing > 0 {
            tracing::warn!(
                event = "audit.journal_recovered",
                journals = self.journals,
                records = self.records,
                damaged = self.damaged,
                missing = self.missing,
                "imported the audit records a stopped server left in its journal"
            );
        }
    }
}

/// Imports what the journals under `root` whose owners are gone have left, and deletes them.
/// A journal whose lock is held belongs to a running server and is left alone.
pub fn recover(root: &Path, writer: &mut AuditWriter) -> anyhow::Result<Recovered> {
    let mut found = Recovered::default();
    let entries = match fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(anyhow::anyhow!("reading {}: {e}", root.display())),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let dir = entry.path();
        if !dir.is_dir() {
            continue;
        }
        let Ok(lock) = File::open(dir.join(LOCK)) else {
            // A `.id` folder without its lock file yet is being made by a server starting now.
            if !name.starts_with('.') {
                found.unlocked += 1;
            }
            continue;
        };
        if lock.try_lock().is_err() {
            continue;
        }
        if let Some(id) = name.strip_prefix('.') {
            // Made by a server that died before it locked and named it: it holds nothing.
            let _ = fs::remove_dir_all(&dir);
            let _ = writer.forget(id);
            continue;
        }
        let recovered = import_left(&dir, &name, writer).and_then(|counts| {
            fs::remove_dir_all(&dir)
                .map_err(|e| anyhow::anyhow!("deleting the imported {}: {e}", dir.display()))?;
            writer.forget(&name)?;
            Ok(counts)
        });
        match recovered {
            Ok(counts) => {
                found.journals += 1;
                found.records += counts.records;
                found.damaged += counts.damaged;
                found.missing += counts.missing;
            }
            // One journal that can't be read or deleted stops neither the others nor the
            // server; what it imported stays imported, and it is tried again later.
            Err(e) => found.failed.push((name, e.to_string())),
        }
    }
    // Positions of journals deleted before their row was (a crash in between). A journal
    // exists before its first import, so a position without one is no running server's.
    for id in writer.journals()? {
        if !root.join(&id).exists() {
            writer.forget(&id)?;
        }
    }
    Ok(found)
}

/// What reading a stopped server's journal found.
#[derive(Debug, Default)]
struct Counts {
    records: usize,
    damaged: usize,
    missing: u64,
}

/// Imports the records of the journal in `dir` numbered past its recorded position, each
/// number once and in order: a line whose number is not past the last one read (a copy, a
/// segment duplicated by hand) is dropped as damaged, and numbers skipped (a segment cut
/// short or deleted) are counted as missing.
fn import_left(dir: &Path, id: &str, writer: &mut AuditWriter) -> anyhow::Result<Counts> {
    let start = writer.position(id)?.unwrap_or_default();
    let mut counts = Counts::default();
    let mut last = start.seq;
    let mut rows = Vec::new();
    for segment in segments(dir)? {
        if segment < start.segment {
            continue;
        }
        let path = segment_path(dir, segment);
        if let Some(reason) = not_a_segment(&path) {
            tracing::warn!(
                event = "audit.journal_file_skipped",
                path = %path.display(),
                reason,
                "a file under a journal segment's name is not one a server wrote; it was \
                 not read, and is deleted with the journal"
            );
            continue;
        }
        let read = open_to_read(&path)
            .map_err(anyhow::Error::from)
            .and_then(|file| {
                each_line(file, MAX_LINE, |line| {
                    let Ok(mut row) = serde_json::from_slice::<Row>(line) else {
                        counts.damaged += 1;
                        return Ok(());
                    };
                    if row.seq <= start.seq {
                        // Imported before the owner stopped.
                        return Ok(());
                    }
                    if row.seq <= last {
                        counts.damaged += 1;
                        return Ok(());
                    }
                    counts.missing += row.seq - last - 1;
                    last = row.seq;
                    row.segment = segment;
                    rows.push(row);
                    if rows.len() == IMPORT_ROWS {
                        writer.import(id, &rows, last_position(&rows))?;
                        counts.records += rows.len();
                        rows.clear();
                    }
                    Ok(())
                })
            });
        read.map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
        if !rows.is_empty() {
            writer.import(id, &rows, last_position(&rows))?;
            counts.records += rows.len();
            rows.clear();
        }
    }
    Ok(counts)
}

/// The longest line recovery reads. A record is as large as the request it keeps, far
/// below this; a longer line is dropped as damaged without being held in memory.
const MAX_LINE: usize = 256 << 20;

/// The largest file recovery takes for a segment: a segment is [`SEGMENT_BYTES`] unless one
/// record needed more, and no record is over [`MAX_LINE`].
const MAX_SEGMENT: u64 = SEGMENT_BYTES + MAX_LINE as u64;

/// Why the file at `path` can't be a segment a server wrote, if it can't: a link, a FIFO
/// or a device (reading could block or never end), or a file larger than any segment (a
/// sparse one would take minutes to read through). A folder is left to fail when it is
/// read, as a segment that can't be read.
fn not_a_segment(path: &Path) -> Option<&'static str> {
    let metadata = fs::symlink_metadata(path).ok()?;
    if metadata.is_dir() {
        None
    } else if !metadata.is_file() {
        Some("not a regular file")
    } else if metadata.len() > MAX_SEGMENT {
        Some("larger than any segment")
    } else {
        None
    }
}

/// Opens a segment to read, if it is a regular file: never through a link, and without
/// waiting for a FIFO's writer.
fn open_to_read(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    Ok(file)
}

/// Calls `line` with every line of `file`, one at a time. A record's line holds no zero
/// byte (JSON escapes it), so zeros end lines too: they are the unwritten rest of a segment
/// its server never closed, or pages a power loss didn't write. A line cut short is a
/// prefix of a JSON object, which never parses. Lines over `max` bytes are given as empty
/// (damaged), and empty lines are skipped.
fn each_line(
    file: File,
    max: usize,
    mut line: impl FnMut(&[u8]) -> crate::error::Result<()>,
) -> anyhow::Result<()> {
    let mut reader = io::BufReader::with_capacity(1 << 16, file);
    let mut current = Vec::new();
    let mut overlong = false;
    let mut end = |current: &mut Vec<u8>, overlong: &mut bool| {
        let result = if *overlong {
            line(b"")
        } else if current.is_empty() {
            Ok(())
        } else {
            line(current)
        };
        current.clear();
        *overlong = false;
        result
    };
    loop {
        let buffer = io::BufRead::fill_buf(&mut reader)?;
        if buffer.is_empty() {
            end(&mut current, &mut overlong)?;
            return Ok(());
        }
        let (taken, ends) = match buffer.iter().position(|b| *b == b'\n' || *b == 0) {
            Some(at) => (at, true),
            None => (buffer.len(), false),
        };
        if current.len() + taken > max {
            overlong = true;
            current.clear();
        } else if !overlong {
            current.extend_from_slice(&buffer[..taken]);
        }
        io::BufRead::consume(&mut reader, taken + usize::from(ends));
        if ends {
            end(&mut current, &mut overlong)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AuditFilter, Store, sqlite_store};

    fn row(n: usize) -> Row {
        let event = AuditEvent {
            action: "query.run",
            target: Some(format!("run-{n}")),
            detail: Some(serde_json::json!({"n": n})),
            ..Default::default()
        };
        Row::new(event, 1_700_000_000_000 + n as i64)
    }

    /// Appends rows `range` to `journal`, one write each, and gives where it ends.
    fn append(journal: &mut Journal, range: std::ops::Range<usize>) -> Position {
        let mut end = Position::default();
        for n in range {
            let mut row = row(n);
            journal.append(&mut row).unwrap();
            end = last_position(&[row]).unwrap();
        }
        end
    }

    async fn targets(store: &Store) -> Vec<String> {
        let all = AuditFilter {
            limit: 10_000,
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
        targets
    }

    /// A migrated store in a fresh data directory, its journal root and an importer's
    /// connection.
    async fn setup() -> (tempfile::TempDir, Store, PathBuf, AuditWriter) {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(&dir).await;
        let root = dir.path().join(FOLDER);
        let writer = AuditWriter::open(&dir.path().join("lathe.db")).unwrap();
        (dir, store, root, writer)
    }

    fn expected(range: std::ops::Range<usize>) -> Vec<String> {
        let mut all: Vec<String> = range.map(|n| format!("run-{n}")).collect();
        all.sort();
        all
    }

    /// A server killed after importing part of its journal, over several segments: the next
    /// start imports the rest, each record once, and deletes the journal; a second start
    /// finds nothing more to do.
    #[tokio::test]
    async fn a_stopped_servers_journal_is_imported_once_at_the_next_start() {
        let (_dir, store, root, mut writer) = setup().await;

        let (mut journal, lock) = Journal::create_with(&root, 600).unwrap();
        let first = append(&mut journal, 0..10);
        let rows: Vec<Row> = (0..10).map(row).collect();
        writer.import(journal.id(), &rows, Some(first)).unwrap();
        let end = append(&mut journal, 10..40);
        assert!(end.segment >= 3, "several segments: {end:?}");
        let journal_dir = journal.dir().to_path_buf();
        drop((journal, lock));
        // A stopped server closed its segments: each is cut to its last line.
        for segment in segments(&journal_dir).unwrap() {
            let bytes = fs::read(segment_path(&journal_dir, segment)).unwrap();
            assert!(bytes.ends_with(b"}\n") && !bytes.contains(&0), "{segment}");
        }

        let found = recover(&root, &mut writer).unwrap();
        assert_eq!(
            found,
            Recovered {
                journals: 1,
                records: 30,
                ..Recovered::default()
            }
        );
        assert_eq!(targets(&store).await, expected(0..40));
        assert!(!journal_dir.exists());
        assert!(writer.journals().unwrap().is_empty());

        assert_eq!(recover(&root, &mut writer).unwrap(), Recovered::default());
        assert_eq!(targets(&store).await.len(), 40);
    }

    /// A killed server never closes its segments: they end in the zeros they were
    /// allocated with, the last after a line cut short. Its records are imported all the
    /// same; a record too large for a segment went whole into one of its own.
    #[tokio::test]
    async fn a_killed_servers_unclosed_segments_are_imported() {
        let (_dir, store, root, mut writer) = setup().await;

        let (mut journal, lock) = Journal::create_with(&root, 600).unwrap();
        append(&mut journal, 0..5);
        let mut large = row(5);
        large.detail = Some(
            serde_json::value::to_raw_value(&serde_json::json!({"text": "x".repeat(5000)}))
                .unwrap(),
        );
        journal.append(&mut large).unwrap();
        let big = last_position(&[large]).unwrap();
        let end = append(&mut journal, 6..12);
        assert!(
            end.segment > big.segment,
            "the record after it is in the next"
        );
        let mut cut = Vec::new();
        row(12).encode(&mut cut);
        journal.write(&cut[..cut.len() / 2]).unwrap();
        let journal_dir = journal.dir().to_path_buf();
        let last = *segments(&journal_dir).unwrap().last().unwrap();
        let last = segment_path(&journal_dir, last);
        // As a killed process leaves it: the mappings are never unmapped nor the segments
        // cut, and only the lock goes.
        std::mem::forget(journal);
        drop(lock);
        assert_eq!(fs::metadata(&last).unwrap().len(), 600, "not cut");
        assert!(fs::read(&last).unwrap().ends_with(&[0; 16]), "a zero tail");
        let large_segment = fs::metadata(segment_path(&journal_dir, big.segment)).unwrap();
        assert!(large_segment.len() > 5000, "{}", large_segment.len());

        let found = recover(&root, &mut writer).unwrap();
        assert_eq!((found.records, found.damaged), (12, 1));
        assert_eq!(targets(&store).await, expected(0..12));
    }

    /// A server killed halfway through importing a backlog larger than one import (the
    /// database was locked for a while): each import recorded how far it read, so the next
    /// start imports only the rest. A record the journal refused moves no position.
    #[tokio::test]
    async fn a_crash_during_a_backlog_leaves_only_the_rest_to_import() {
        let (_dir, store, root, mut writer) = setup().await;
        let (journal, lock) = Journal::create(&root).unwrap();
        let id = journal.id().to_string();
        let shared = Shared::new(journal);
        let total = IMPORT_ROWS + 900;
        for n in 0..total {
            assert!(shared.append(row(n)).is_none());
        }
        let (first, _) = shared.next().unwrap();
        assert_eq!(first.len(), IMPORT_ROWS);
        writer.import(&id, &first, last_position(&first)).unwrap();
        // Killed before the second import.
        drop((shared, lock));

        let found = recover(&root, &mut writer).unwrap();
        assert_eq!(found.records, 900, "only what the first import left");
        assert_eq!(targets(&store).await, expected(0..total));

        let mut refused = row(0);
        refused.seq = 0;
        let mut kept = row(1);
        kept.seq = 7;
        kept.segment = 2;
        assert_eq!(
            last_position(&[kept, refused]),
            Some(Position { segment: 2, seq: 7 })
        );
    }

    /// Lines repeated or copied into another segment are imported once, and counted as
    /// damaged; records in a segment deleted by hand are counted as missing. A FIFO and a
    /// link to an endless device under segments' names are not read at all.
    #[tokio::test]
    async fn repeated_lines_are_imported_once_and_gone_ones_counted() {
        let (_dir, store, root, mut writer) = setup().await;
        let (journal, lock) = Journal::create_with(&root, 600).unwrap();
        let mut journal = journal;
        let end = append(&mut journal, 0..20);
        let dir = journal.dir().to_path_buf();
        drop((journal, lock));
        let numbers = segments(&dir).unwrap();
        assert!(numbers.len() >= 5, "{numbers:?}");
        // The first segment's lines again at the end of the second, and the second copied
        // under a later number.
        let first = fs::read(segment_path(&dir, numbers[0])).unwrap();
        let mut second = fs::OpenOptions::new()
            .append(true)
            .open(segment_path(&dir, numbers[1]))
            .unwrap();
        io::Write::write_all(&mut second, &first).unwrap();
        fs::copy(
            segment_path(&dir, numbers[1]),
            segment_path(&dir, end.segment + 1),
        )
        .unwrap();
        // A segment in the middle deleted.
        let deleted = fs::read(segment_path(&dir, numbers[2])).unwrap();
        let gone = deleted
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count();
        fs::remove_file(segment_path(&dir, numbers[2])).unwrap();
        #[cfg(unix)]
        {
            let fifo =
                std::ffi::CString::new(segment_path(&dir, end.segment + 2).to_str().unwrap())
                    .unwrap();
            // SAFETY: a valid C string naming a path in the test's own folder.
            assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
            std::os::unix::fs::symlink("/dev/zero", segment_path(&dir, end.segment + 3)).unwrap();
        }

        let found = recover(&root, &mut writer).unwrap();
        assert_eq!(found.records, 20 - gone);
        assert_eq!(found.missing, gone as u64);
        let first_lines = first
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count();
        assert!(found.damaged >= first_lines, "{found:?}");
        let mut all = targets(&store).await;
        let count = all.len();
        all.dedup();
        assert_eq!(all.len(), count, "no record twice");
        assert!(!dir.exists());
    }

    /// Something planted under the name of the segment a running server begins next (a
    /// link to a file elsewhere, a FIFO) is unlinked, never written through; the link's
    /// target is untouched. A stopped journal's file larger than any segment is not read.
    #[cfg(unix)]
    #[tokio::test]
    async fn a_planted_file_at_the_next_segment_is_replaced_not_followed() {
        let (dir, store, root, mut writer) = setup().await;
        let (mut journal, lock) = Journal::create_with(&root, 600).unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "not the journal's").unwrap();
        std::os::unix::fs::symlink(&victim, segment_path(journal.dir(), 1)).unwrap();
        let fifo =
            std::ffi::CString::new(segment_path(journal.dir(), 2).to_str().unwrap()).unwrap();
        // SAFETY: a valid C string naming a path in the test's own folder.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let end = append(&mut journal, 0..12);
        assert!(end.segment >= 3, "{end:?}");
        assert_eq!(fs::read_to_string(&victim).unwrap(), "not the journal's");
        for number in [1, 2] {
            let kind = fs::symlink_metadata(segment_path(journal.dir(), number)).unwrap();
            assert!(kind.is_file(), "segment {number} is the journal's own file");
        }
        // A sparse file of 2 GiB after the last segment, as if planted, ending in a line
        // that would be imported if the file were read.
        let mut planted = row(99);
        planted.seq = end.seq + 1;
        let mut line = Vec::new();
        planted.encode(&mut line);
        let sparse = File::create(segment_path(journal.dir(), end.segment + 1)).unwrap();
        sparse.set_len(2 << 30).unwrap();
        std::os::unix::fs::FileExt::write_at(&sparse, &line, (2 << 30) - 4096).unwrap();
        drop((journal, lock));

        let found = recover(&root, &mut writer).unwrap();
        assert_eq!(
            (found.records, found.missing),
            (12, 0),
            "the large file not read"
        );
        assert_eq!(targets(&store).await, expected(0..12));
    }

    /// The journal's folders and files are private to the server's user.
    #[cfg(unix)]
    #[test]
    fn the_journal_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join(FOLDER);
        let (journal, _lock) = Journal::create(&root).unwrap();
        let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(journal.dir()), 0o700);
        assert_eq!(mode(&journal.dir().join(LOCK)), 0o600);
        assert_eq!(mode(&segment_path(journal.dir(), 0)), 0o600);
    }

    /// A line longer than the reader's limit is dropped without being held; the lines
    /// around it are read.
    #[test]
    fn an_overlong_line_is_dropped_and_the_next_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("segment");
        let mut text = b"short\n".to_vec();
        text.extend(std::iter::repeat_n(b'x', 100_000));
        text.extend(b"\nnext\0\0\0");
        fs::write(&path, &text).unwrap();
        let mut lines = Vec::new();
        each_line(File::open(&path).unwrap(), 1000, |line| {
            lines.push(String::from_utf8_lossy(line).into_owned());
            Ok(())
        })
        .unwrap();
        assert_eq!(lines, ["short", "", "next"]);
    }

    /// A line cut short at the end, a line that isn't a record and junk glued before a
    /// record are dropped and counted; the records around them are imported, and none twice,
    /// however the junk shifts the bytes.
    #[tokio::test]
    async fn a_cut_short_or_unreadable_line_is_dropped_and_counted() {
        let (_dir, store, root, mut writer) = setup().await;

        let (mut journal, lock) = Journal::create(&root).unwrap();
        let first = append(&mut journal, 0..2);
        writer
            .import(journal.id(), &[row(0), row(1)], Some(first))
            .unwrap();
        // Bytes that are not Lathe's: a line that isn't a record, and junk without a line
        // break, right before a record.
        journal
            .write(b"{\"created_at\": \"not a record\"}\n")
            .unwrap();
        append(&mut journal, 2..3);
        journal.write(&[0xde, 0xad, 0xbe, 0xef]).unwrap();
        append(&mut journal, 3..4);
        let mut cut = Vec::new();
        row(4).encode(&mut cut);
        journal.write(&cut[..cut.len() / 2]).unwrap();
        drop((journal, lock));

        let found = recover(&root, &mut writer).unwrap();
        assert_eq!(
            (found.records, found.damaged),
            (2, 3),
            "each record once, by its number"
        );
        assert_eq!(targets(&store).await, expected(0..4));
    }

    /// The journal of a server still running (its lock held) is not touched, nor is its
    /// position; a position whose journal is gone is dropped.
    #[tokio::test]
    async fn a_running_servers_journal_is_left_alone() {
        let (_dir, store, root, mut writer) = setup().await;

        let (mut journal, _lock) = Journal::create(&root).unwrap();
        let end = append(&mut journal, 0..3);
        writer.import(journal.id(), &[row(0)], Some(end)).unwrap();
        writer.import("gone", &[], Some(end)).unwrap();

        assert_eq!(recover(&root, &mut writer).unwrap(), Recovered::default());
        assert!(journal.dir().exists());
        assert_eq!(writer.journals().unwrap(), [journal.id().to_string()]);
        assert_eq!(targets(&store).await, expected(0..1));
    }

    /// Starts an importer for `journal`, as the server does.
    fn running(
        journal: Journal,
        lock: Lock,
        writer: AuditWriter,
    ) -> (Arc<Shared>, std::thread::JoinHandle<()>) {
        let (id, dir) = (journal.id().to_string(), journal.dir().to_path_buf());
        let shared = Arc::new(Shared::new(journal));
        let importing = shared.clone();
        let importer = std::thread::spawn(move || import(importing, writer, id, dir, lock));
        (shared, importer)
    }

    /// Rows the importer can't write stay and are written once the store takes them again;
    /// a reader waiting meanwhile hears of the failure. An importer that ends with all
    /// imported deletes its journal.
    #[tokio::test]
    async fn a_failed_import_is_tried_again() {
        let (dir, store, root, writer) = setup().await;
        // Another connection holds the write lock past the importer's busy timeout.
        let blocker = rusqlite::Connection::open(dir.path().join("lathe.db")).unwrap();
        blocker.execute_batch("BEGIN IMMEDIATE").unwrap();

        let (journal, lock) = Journal::create(&root).unwrap();
        let journal_dir = journal.dir().to_path_buf();
        let (shared, importer) = running(journal, lock, writer);
        assert!(shared.append(row(0)).is_none(), "written to the journal");
        assert!(shared.append(row(1)).is_none());
        let failed = shared.flush().await.unwrap();
        assert!(failed.is_err(), "the reader hears of the failure");

        blocker.execute_batch("ROLLBACK").unwrap();
        assert_eq!(shared.flush().await.unwrap(), Ok(()));
        assert_eq!(targets(&store).await, expected(0..2));
        shared.close();
        importer.join().unwrap();
        assert!(!journal_dir.exists());
    }

    /// A write the journal refuses goes to SQLite directly, and its run is answered once it
    /// is there: a run that may have changed data still gets its record. Later runs are
    /// refused before they start until the journal takes records again.
    #[tokio::test]
    async fn a_record_the_journal_refuses_goes_to_the_store_directly() {
        let (_dir, store, root, writer) = setup().await;
        let (mut journal, lock) = Journal::create(&root).unwrap();
        journal.refuse = true;
        let (shared, importer) = running(journal, lock, writer);
        assert!(shared.ready().is_ok(), "nothing refused yet");
        let written = shared
            .append(row(7))
            .expect("a refused write waits for the import");
        assert_eq!(written.await.unwrap(), Ok(()));
        assert_eq!(targets(&store).await, expected(7..8));
        // Runs are refused before they start while the journal can't take more, and
        // accepted again once it can.
        assert!(shared.ready().is_err());
        assert!(shared.ready().is_err(), "asked again at every run");
        shared.lock().journal.refuse = false;
        assert!(shared.ready().is_ok());
        assert!(
            shared.append(row(8)).is_none(),
            "written to the journal again"
        );
        shared.close();
        importer.join().unwrap();
    }

    /// A running server's importer takes over the journal of another that stopped (a
    /// replica that died and never comes back) before the next read of the log.
    #[tokio::test]
    async fn a_read_imports_what_a_stopped_replica_left() {
        let (_dir, store, root, writer) = setup().await;
        let (mut dead, dead_lock) = Journal::create(&root).unwrap();
        append(&mut dead, 0..5);
        let dead_dir = dead.dir().to_path_buf();
        drop((dead, dead_lock));

        let (live, lock) = Journal::create(&root).unwrap();
        let live_dir = live.dir().to_path_buf();
        let (shared, importer) = running(live, lock, writer);
        assert_eq!(shared.flush().await.unwrap(), Ok(()));

        assert_eq!(targets(&store).await, expected(0..5));
        assert!(!dead_dir.exists());
        assert!(live_dir.exists(), "the live journal stays");
        shared.close();
        importer.join().unwrap();
    }

    /// A stopped server's journal that can't be read stops neither the import of the others
    /// nor the start: it is logged and left for the next try.
    #[tokio::test]
    async fn a_journal_that_cannot_be_read_is_left_and_the_rest_imported() {
        let (_dir, store, root, mut writer) = setup().await;
        let (mut broken, broken_lock) = Journal::create(&root).unwrap();
        append(&mut broken, 0..2);
        let broken_dir = broken.dir().to_path_buf();
        drop((broken, broken_lock));
        // A segment that is a folder can't be read.
        fs::create_dir(segment_path(&broken_dir, 1)).unwrap();
        let (mut stopped, stopped_lock) = Journal::create(&root).unwrap();
        append(&mut stopped, 2..5);
        drop((stopped, stopped_lock));

        let found = recover(&root, &mut writer).unwrap();
        assert_eq!((found.journals, found.records), (1, 3));
        assert_eq!(
            found.failed.len(),
            1,
            "named with its error: {:?}",
            found.failed
        );
        assert_eq!(
            found.failed[0].0,
            broken_dir.file_name().unwrap().to_str().unwrap()
        );
        assert!(broken_dir.exists(), "left for the next try");
        // Its readable segment came before the failure and is imported; nothing is lost.
        assert_eq!(targets(&store).await, expected(0..5));
    }
}
