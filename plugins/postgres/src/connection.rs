//! The connector's operations over one session, independent of the socket type, so that
//! native tests drive exactly the code the component runs.

use crate::config::Config;
use crate::params;
use crate::reset;
use crate::schema;
use crate::session::{Outcome, Piped, PipedResult, Session};
use crate::transport::Socket;
use lathe_plugin_sdk::sql::{Dialect, Statement, render};
use lathe_plugin_sdk::{Batch, Error, Request, ResultHead, Schema};
use serde_json::json;

/// Rows in the first batch at most, whatever the host's overall limit: the head should
/// come back quickly and small; the host fetches the rest at its own pace.
pub const FIRST_BATCH_ROWS: u32 = 1000;
/// A batch closes once its rows hold this much data, so that wide rows can't make one
/// batch (one copy across the component boundary) arbitrarily large.
pub const BATCH_BYTES: usize = 8 * 1024 * 1024;
/// The row data all the results of one pipeline keep between them (each one also at most
/// [`BATCH_BYTES`]): they all cross to the host in one call, so this bounds the copy and
/// the component's memory. A large result leaves room for those after it.
pub const PIPELINE_BYTES: usize = 2 * BATCH_BYTES;

/// The most parameters a statement can have: Bind counts them in 16 bits.
pub const MAX_PARAMS: usize = u16::MAX as usize;
/// The most block comments a statement may hold. PostgreSQL's scanner takes time that grows
/// with the square of their number (or of their nesting), and can't be cancelled while it
/// reads them: 200,000 `/**/` kept a backend busy for minutes after the statement timeout,
/// the call's deadline and `pg_terminate_backend`. A thousand take milliseconds.
pub const MAX_BLOCK_COMMENTS: usize = 1000;

/// `text` with its templates bound ([`render`]), if PostgreSQL can take it as one
/// statement. Checked before anything is encoded, so that a refused statement writes
/// nothing.
fn bound(text: &str, params: &[lathe_plugin_sdk::Param]) -> Result<Statement, Error> {
    let statement = render(text, params, Dialect::Dollar)?;
    if statement.params.len() > MAX_PARAMS {
        return Err(Error::InvalidQuery(format!(
            "the statement has {} distinct templates; PostgreSQL takes at most {MAX_PARAMS} \
             parameters in one statement",
            statement.params.len()
        )));
    }
    Ok(statement)
}

/// What the connector needs to know of a statement's text before it sends it, read once per
/// text: an app runs the same few statements over and over, and each read lexes the whole
/// text.
#[derive(Clone, Copy)]
struct Reading {
    block_comments: usize,
    reads_session_state: bool,
    may_change_session: bool,
}

impl Reading {
    fn of(text: &str) -> Reading {
        Reading {
            block_comments: lathe_plugin_sdk::sql_lex::block_comments(text),
            reads_session_state: reset::reads_session_state(text),
            may_change_session: reset::may_change_session(text),
        }
    }

    /// Refuses a statement whose comments would stall PostgreSQL's parser.
    fn check(self) -> Result<Reading, Error> {
        if self.block_comments > MAX_BLOCK_COMMENTS {
            return Err(Error::InvalidQuery(format!(
                "the statement has {} block comments (`/* */`); at most \
                 {MAX_BLOCK_COMMENTS} are sent, since PostgreSQL's parser slows down with the \
                 square of their number and can't be stopped while it reads them",
                self.block_comments
            )));
        }
        Ok(self)
    }
}

/// Texts read at most: as many as the session keeps statements, and only texts short enough
/// to be kept there; the readings are dropped together when full.
const READINGS: usize = crate::statements::CAPACITY;

/// Parameters in text format, `None` for NULL, as [`params::encode`] makes them.
type TextParams = Vec<Option<Vec<u8>>>;

pub struct Connection<S: Socket> {
    session: Session<S>,
    readings: std::collections::HashMap<String, Reading>,
}

impl<S: Socket> Connection<S> {
    /// Opens a session over `socket`, already connected to `config.host`.
    pub fn open(config: &Config, socket: S) -> Result<Connection<S>, Error> {
        Ok(Connection {
            session: Session::connect(socket, config)?,
            readings: std::collections::HashMap::new(),
        })
    }

    pub fn session(&mut self) -> &mut Session<S> {
        &mut self.session
    }

    /// Whether the session is over and a new connection is needed ([`Session::is_gone`]).
    pub fn is_gone(&mut self) -> bool {
        self.session.is_gone()
    }

    /// Runs `select 1` to the end.
    pub fn test(&mut self) -> Result<(), Error> {
        self.end_transaction()?;
        self.session.query_all("select 1").map(drop)
    }

    /// Starts the `sql` operation: `{"sql": "…"}` with `{{ }}` templates bound as `$n`.
    /// At most `request.max_rows` rows are produced (0: no limit); the head carries the
    /// first [`FIRST_BATCH_ROWS`] of them.
    pub fn run(&mut self, request: &Request) -> Result<ResultHead, Error> {
        self.start(request, BATCH_BYTES).map(|(head, _)| head)
    }

    /// [`Connection::run`] with the first batch closed at `max_bytes` of row data; also
    /// says how much it holds.
    fn start(&mut self, request: &Request, max_bytes: usize) -> Result<(ResultHead, usize), Error> {
        if request.operation != "sql" {
            return Err(Error::Unsupported(format!(
                "the postgres connector has no operation `{}`; it has `sql`",
                request.operation
            )));
        }
        let Some(text) = request.query.get("sql").and_then(|v| v.as_str()) else {
            return Err(Error::InvalidQuery(
                "the query needs `sql`, the statement to run, as a string".into(),
            ));
        };
        if text.trim().is_empty() {
            return Err(Error::InvalidQuery("the SQL statement is empty".into()));
        }
        // A failed statement can leave a failed transaction block behind it.
        self.end_transaction()?;
        let statement = bound(text, &request.params)?;
        let reading = self.read(&statement.text).check()?;
        if reading.reads_session_state {
            self.session.mark_changed();
            self.end_transaction()?;
        }
        if reading.may_change_session {
            self.session.mark_changed();
        }
        let types = if params::needs_types(&statement.params) {
            Some(self.session.parameter_types(&statement.text)?)
        } else {
            None
        };
        let params = params::encode(&statement.params, types.as_deref());

        let columns = self
            .session
            .execute(&statement.text, &params, request.max_rows)?;
        let rows = self
            .session
            .rows(first_batch(request.max_rows) as usize, max_bytes)?;
        let metadata = self.metadata(rows.done).to_string();
        if rows.done {
            self.end_transaction()?;
        }
        let head = ResultHead {
            columns,
            metadata,
            first: Batch {
                rows: rows.rows,
                done: rows.done,
            },
        };
        Ok((head, rows.bytes))
    }

    /// Runs several requests, one whole result per request in order (the host's
    /// `run-many`). Those whose statement is kept and plain go out together in one round
    /// trip ([`crate::session::Session::pipeline`]); the rest, and any the server refused as
    /// stale, run one after another as they would alone. All the results keep
    /// [`PIPELINE_BYTES`] of row data between them, since they cross to the host together.
    pub fn run_many(&mut self, requests: &[Request]) -> Vec<Result<ResultHead, Error>> {
        let mut answers: Vec<Option<Result<ResultHead, Error>>> =
            requests.iter().map(|_| None).collect();
        let mut room = PIPELINE_BYTES;
        if self.end_transaction().is_ok() {
            let prepared: Vec<(usize, String, TextParams)> = requests
                .iter()
                .enumerate()
                .filter_map(|(at, request)| {
                    let (text, params) = self.pipelinable(request)?;
                    Some((at, text, params))
                })
                .collect();
            if prepared.len() > 1 {
                let piped: Vec<Piped<'_>> = prepared
                    .iter()
                    .map(|(at, text, params)| Piped {
                        sql: text,
                        params,
                        row_limit: requests[*at].max_rows,
                        max_bytes: BATCH_BYTES,
                    })
                    .collect();
                let results = self.session.pipeline(&piped, PIPELINE_BYTES);
                for ((at, _, _), result) in prepared.iter().zip(results) {
                    answers[*at] = match result {
                        PipedResult::Done {
                            columns,
                            rows,
                            outcome,
                            cut,
                            bytes,
                        } => {
                            room = room.saturating_sub(bytes);
                            Some(Ok(ResultHead {
                                columns,
                                metadata: metadata(&outcome, true).to_string(),
                                // A result cut short here is not done: the host reports it
                                // truncated.
                                first: Batch { rows, done: !cut },
                            }))
                        }
                        PipedResult::Failed(error) => Some(Err(error)),
                        PipedResult::Stale => None,
                    };
                }
            }
        }
        requests
            .iter()
            .zip(answers)
            .map(|(request, answer)| answer.unwrap_or_else(|| self.run_whole(request, &mut room)))
            .collect()
    }

    /// The bound statement and its encoded parameters, if `request` can go in a pipeline:
    /// a valid `sql` request whose statement is plain and already kept, so it needs no
    /// round trip before it runs and leaves nothing behind.
    fn pipelinable(&mut self, request: &Request) -> Option<(String, TextParams)> {
        if request.operation != "sql" {
            return None;
        }
        let text = request.query.get("sql")?.as_str()?;
        let statement = bound(text, &request.params).ok()?;
        let reading = self.read(&statement.text).check().ok()?;
        if statement.text.trim().is_empty()
            || reading.may_change_session
            || reading.reads_session_state
        {
            return None;
        }
        let typed = params::needs_types(&statement.params);
        if !self.session.is_kept(&statement.text, typed) {
            return None;
        }
        let types = if typed {
            Some(self.session.parameter_types(&statement.text).ok()?)
        } else {
            None
        };
        let params = params::encode(&statement.params, types.as_deref());
        Some((statement.text, params))
    }

    /// What `text` holds that matters before it is sent, read once while it is kept.
    fn read(&mut self, text: &str) -> Reading {
        if let Some(reading) = self.readings.get(text) {
            return *reading;
        }
        let reading = Reading::of(text);
        if crate::statements::StatementCache::admits(text) {
            if self.readings.len() >= READINGS {
                self.readings.clear();
            }
            self.readings.insert(text.to_string(), reading);
        }
        reading
    }

    /// [`Connection::run`], then fetches until the result ends, reaches `max_rows`, or
    /// holds `room` bytes of row data (then it is cut: not done). `room` is what the batch
    /// has left, and shrinks by what this result keeps.
    fn run_whole(&mut self, request: &Request, room: &mut usize) -> Result<ResultHead, Error> {
        let max_rows = request.max_rows as usize;
        // With no room left, a row still may come through: the statement runs anyway, and
        // `0` would stop before its end (a command without rows would read as cut).
        let (mut head, bytes) = self.start(request, BATCH_BYTES.min(*room).max(1))?;
        *room = room.saturating_sub(bytes);
        while !head.first.done && (max_rows == 0 || head.first.rows.len() < max_rows) {
            if *room == 0 {
                // Cut: the rest is read and dropped before the next statement.
                return Ok(head);
            }
            let wanted = if max_rows == 0 {
                FIRST_BATCH_ROWS
            } else {
                (max_rows - head.first.rows.len()) as u32
            };
            let (batch, bytes) = self.fetch_within(wanted, BATCH_BYTES.min(*room).max(1))?;
            *room = room.saturating_sub(bytes);
            head.first.rows.extend(batch.rows);
            head.first.done = batch.done;
        }
        head.first.done = true;
        Ok(head)
    }

    /// Each run is its own unit of work: the connection is pooled and the next run may be
    /// another user's, so a transaction block a statement opened (`BEGIN`) is rolled back as
    /// soon as the statement ends, and its locks with it; and a statement that may have
    /// changed the session (`SET ROLE`, `SET search_path`, …) is followed by a reset
    /// ([`crate::reset`]).
    fn end_transaction(&mut self) -> Result<(), Error> {
        // A broken session has nothing to end or reset: the connection is gone, and the
        // next call connects again. (A statement that ended before the connection broke
        // keeps its result; one that starts on it fails when it is sent.)
        if self.session.is_broken() {
            return Ok(());
        }
        self.session.finish()?;
        if self.session.is_broken() {
            return Ok(());
        }
        if self.session.in_transaction() {
            self.session.execute("ROLLBACK", &[], 0)?;
            self.session.finish()?;
        }
        if self.session.is_changed() {
            self.session.reset()?;
        }
        Ok(())
    }

    /// Reads up to `max_rows` more rows of the current result.
    pub fn fetch(&mut self, max_rows: u32) -> Result<Batch, Error> {
        self.fetch_within(max_rows, BATCH_BYTES)
            .map(|(batch, _)| batch)
    }

    /// [`Connection::fetch`], closing the batch at `max_bytes` of row data; also says how
    /// much it holds.
    fn fetch_within(&mut self, max_rows: u32, max_bytes: usize) -> Result<(Batch, usize), Error> {
        let rows = self.session.rows(max_rows as usize, max_bytes)?;
        if rows.done {
            self.end_transaction()?;
        }
        let batch = Batch {
            rows: rows.rows,
            done: rows.done,
        };
        Ok((batch, rows.bytes))
    }

    pub fn schema(&mut self) -> Result<Schema, Error> {
        self.end_transaction()?;
        schema::load(&mut self.session)
    }

    pub fn close(&mut self) {
        self.session.terminate();
    }

    fn metadata(&self, ended: bool) -> serde_json::Value {
        metadata(self.session.outcome(), ended)
    }
}

/// The command tag and row count once the statement has ended, and its notices.
fn metadata(outcome: &Outcome, ended: bool) -> serde_json::Value {
    let mut metadata = json!({});
    if ended && let Some(command) = &outcome.command {
        metadata["command"] = json!(command);
        if let Some(count) = rows_affected(command) {
            metadata["rows_affected"] = json!(count);
        }
    }
    if outcome.truncated {
        metadata["truncated"] = json!(true);
    }
    if !outcome.notices.is_empty() {
        metadata["notices"] = json!(outcome.notices);
    }
    metadata
}

fn first_batch(max_rows: u32) -> u32 {
    if max_rows == 0 {
        FIRST_BATCH_ROWS
    } else {
        max_rows.min(FIRST_BATCH_ROWS)
    }
}

/// The count at the end of a command tag: `INSERT 0 5` → 5, `SELECT 3` → 3.
fn rows_affected(tag: &str) -> Option<u64> {
    let (verb, rest) = tag.split_once(' ')?;
    let counted = [
        "INSERT", "UPDATE", "DELETE", "SELECT", "MERGE", "COPY", "FETCH", "MOVE",
    ];
    if !counted.contains(&verb) {
        return None;
    }
    rest.rsplit(' ').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_counts_come_from_counted_command_tags() {
        assert_eq!(rows_affected("INSERT 0 5"), Some(5));
        assert_eq!(rows_affected("SELECT 3"), Some(3));
        assert_eq!(rows_affected("CREATE TABLE"), None);
        assert_eq!(rows_affected("BEGIN"), None);
    }

    #[test]
    fn first_batch_is_bounded_by_both_limits() {
        assert_eq!(first_batch(0), FIRST_BATCH_ROWS);
        assert_eq!(first_batch(10), 10);
        assert_eq!(first_batch(1_000_000), FIRST_BATCH_ROWS);
    }
}
