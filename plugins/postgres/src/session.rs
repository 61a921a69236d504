//! One PostgreSQL session: statements over the extended query protocol, rows streamed.
//!
//! A statement goes out as Parse, Bind, Describe, Execute and Sync in one write: one round
//! trip, parameters bound in text format with unspecified types so the server infers each
//! from its context, and never more than one statement (the server refuses several in a
//! Parse). Rows are then read from the socket only as the caller asks for them; the
//! server blocks on a full socket meanwhile, so a large result is never held here whole.
//!
//! Statements are parsed under a name and kept ([`crate::statements`]): run again, a
//! statement is only bound and executed, and the server skips parsing and planning it.
//! The portal is still described every time, so the columns are always the ones the
//! server produces now, even after a table was changed. When the server refuses a kept
//! statement at Bind (its plan would change the result's type, SQLSTATE 0A000, or the
//! statement is gone, 26000: `DEALLOCATE ALL`, `DISCARD ALL`), the entry is dropped and
//! the statement parsed again, in the same call. Kept statements are used only outside
//! transaction blocks: there a refused Bind would abort the caller's transaction.

mod pipeline;
mod probe;

pub use pipeline::{Piped, PipedResult};

use crate::catalog::{self, Catalog};
use crate::config::Config;
use crate::startup::{self, Greeting, unexpected};
use crate::statements::StatementCache;
use crate::transport::{Socket, Transport, negotiate};
use crate::types::Decoder;
use crate::wire::{Wire, io_error, notice_text, server_error};
use bytes::BufMut;
use lathe_plugin_sdk::{Column, Error, Row};
use postgres_protocol::IsNull;
use postgres_protocol::message::backend::{DATA_ROW_TAG, DataRowBody, Message};
use postgres_protocol::message::frontend;

/// Notices kept per statement; more are counted, not kept.
const MAX_NOTICES: usize = 20;

pub struct Session<S: Socket> {
    wire: Wire<Transport<S>>,
    greeting: Greeting,
    catalog: Catalog,
    state: State,
    /// The transaction status of the last ReadyForQuery: `I` idle, `T` in a transaction
    /// block, `E` in a failed one.
    transaction: u8,
    statements: StatementCache,
    outcome: Outcome,
    /// The configuration without its password, to apply the session settings again.
    config: Config,
    /// A statement may have changed the session's state (settings, role, temporary
    /// objects, …) since it was opened or last reset ([`crate::reset`]).
    changed: bool,
    /// The probe's answer after the last reset ([`probe`]); `None` until it is known.
    baseline: Option<Vec<u8>>,
    /// A probe went out after the current statement; its answer follows the statement's.
    probing: bool,
}

/// ReadyForQuery's status outside a transaction block.
const IDLE: u8 = b'I';

/// Parameter types declared in Parse: none, the server infers them all.
const INFERRED: &[u32] = &[];

/// Why starting a statement failed.
enum Failure {
    /// The server refused a kept statement at Bind; parsing it again may succeed.
    Stale(Error),
    Other(Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Ready for a statement.
    Idle,
    /// A statement was sent; rows or its end are still to be read.
    Running,
    /// The statement ended; only ReadyForQuery is left to read.
    Ending,
    /// An I/O error left the protocol at an unknown point; the session can't be used.
    Broken,
}

/// What is known about the current statement besides its rows.
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    /// The command tag, `SELECT 3`, `INSERT 0 1`; set once the statement has ended.
    pub command: Option<String>,
    /// Rows remained when the row limit stopped the statement.
    pub truncated: bool,
    pub notices: Vec<String>,
    decoders: Vec<Decoder>,
}

/// Rows read by [`Session::rows`]; `done` once the statement has ended.
pub struct Rows {
    pub rows: Vec<Row>,
    pub done: bool,
    /// The rows' data as the server sent it, in bytes.
    pub bytes: usize,
}

impl<S: Socket> Session<S> {
    /// Negotiates TLS, authenticates and waits until the server is ready. The connect
    /// timeout bounds every read until then; afterwards reads wait as long as the
    /// statement runs, which `statement_timeout` and the host's deadline limit.
    pub fn connect(mut socket: S, config: &Config) -> Result<Session<S>, Error> {
        socket
            .set_read_timeout(Some(config.connect_timeout))
            .map_err(|e| io_error(e, "setting the connect timeout"))?;
        let mut wire = Wire::new(negotiate(socket, config)?);
        let greeting = startup::start(&mut wire, config)?;
        wire.stream_mut()
            .set_read_timeout(None)
            .map_err(|e| io_error(e, "clearing the connect timeout"))?;
        let mut session = Session {
            wire,
            greeting,
            catalog: Catalog::default(),
            state: State::Idle,
            transaction: IDLE,
            statements: StatementCache::default(),
            outcome: Outcome::default(),
            config: Config {
                password: None,
                ..config.clone()
            },
            changed: false,
            baseline: None,
            probing: false,
        };
        session.catalog = session.load_catalog()?;
        session.probe_baseline()?;
        Ok(session)
    }

    fn load_catalog(&mut self) -> Result<Catalog, Error> {
        let defined = self
            .query_all(catalog::QUERY)?
            .into_iter()
            .map(Catalog::parse_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Catalog::learn(&defined))
    }

    /// Runs one of the connector's own statements (no parameters, a small result) and
    /// reads every row.
    pub fn query_all(&mut self, sql: &str) -> Result<Vec<Row>, Error> {
        self.execute(sql, &[], 0)?;
        let mut rows = Vec::new();
        loop {
            let batch = self.rows(usize::MAX, usize::MAX)?;
            rows.extend(batch.rows);
            if batch.done {
                return Ok(rows);
            }
        }
    }

    pub fn greeting(&self) -> &Greeting {
        &self.greeting
    }

    pub fn is_tls(&self) -> bool {
        self.wire.stream().is_tls()
    }

    /// Starts `sql` with text parameters (`None` is NULL); at most `row_limit` rows will be
    /// returned (0: all). Returns the result's columns, none for a statement without rows.
    /// Unread rows of the previous statement are read and dropped first.
    pub fn execute(
        &mut self,
        sql: &str,
        params: &[Option<Vec<u8>>],
        row_limit: u32,
    ) -> Result<Vec<Column>, Error> {
        self.finish()?;
        match self.start(sql, params, row_limit) {
            Ok(columns) => Ok(columns),
            Err(Failure::Other(error)) => Err(error),
            // The kept statement is gone from the cache now; this parses it afresh. The
            // failed Bind ran nothing, so nothing runs twice.
            Err(Failure::Stale(_)) => self.start(sql, params, row_limit).map_err(|f| match f {
                Failure::Stale(error) | Failure::Other(error) => error,
            }),
        }
    }

    /// Whether `sql` may use and join the statement cache now.
    fn cacheable(&self, sql: &str) -> bool {
        self.transaction == IDLE && StatementCache::admits(sql)
    }

    /// Writes Close for statements evicted from the cache, to go out with the next
    /// statement. Only outside transaction blocks, where nothing can make them fail.
    fn close_evicted(&mut self) -> Result<(), Error> {
        if self.transaction != IDLE {
            return Ok(());
        }
        for name in self.statements.take_evicted() {
            frontend::close(b'S', &name, self.wire.out()).map_err(too_large)?;
        }
        Ok(())
    }

    fn start(
        &mut self,
        sql: &str,
        params: &[Option<Vec<u8>>],
        row_limit: u32,
    ) -> Result<Vec<Column>, Failure> {
        self.outcome = Outcome::default();
        let cacheable = self.cacheable(sql);
        let cached = cacheable
            .then(|| self.statements.get(sql, INFERRED).map(|p| p.name.clone()))
            .flatten();
        let mut fresh = (cacheable && cached.is_none()).then(|| self.statements.next_name());

        self.close_evicted().map_err(Failure::Other)?;
        let statement = cached.as_deref().or(fresh.as_deref()).unwrap_or("");
        self.encoding(|session| {
            let out = session.wire.out();
            if cached.is_none() {
                frontend::parse(statement, sql, INFERRED.iter().copied(), out)
                    .map_err(too_large)?;
            }
            bind(statement, params, out)?;
            frontend::describe(b'P', "", out).map_err(too_large)?;
            let limit = i32::try_from(row_limit).unwrap_or(i32::MAX);
            frontend::execute("", limit, out).map_err(too_large)?;
            frontend::sync(out);
            session.add_probe()
        })
        .map_err(Failure::Other)?;
        self.send().map_err(Failure::Other)?;
        self.state = State::Running;

        let mut bound = false;
        loop {
            match self.receive().map_err(Failure::Other)? {
                Message::ParseComplete => {
                    if let Some(name) = fresh.take() {
                        self.statements.insert(sql, name, INFERRED.to_vec());
                    }
                }
                Message::BindComplete => bound = true,
                Message::CloseComplete => {}
                Message::RowDescription(body) => {
                    use fallible_iterator::FallibleIterator;
                    let mut columns = Vec::new();
                    let mut fields = body.fields();
                    while let Some(field) =
                        fields.next().map_err(|e| Failure::Other(bad_message(e)))?
                    {
                        let known = self.catalog.describe(field.type_oid());
                        self.outcome.decoders.push(known.decoder);
                        columns.push(Column::new(field.name(), known.column, known.name));
                    }
                    return Ok(columns);
                }
                Message::NoData => return Ok(Vec::new()),
                Message::ErrorResponse(body) => {
                    let error = self.failed(server_error(body.fields()));
                    if cached.is_some() && !bound && self.forget_stale(sql, &error) {
                        return Err(Failure::Stale(error));
                    }
                    return Err(Failure::Other(error));
                }
                other => self
                    .aside(other, "the start of a statement")
                    .map_err(Failure::Other)?,
            }
        }
    }

    /// After a kept statement's Bind failed: drops what the server no longer has or can't
    /// use, and says whether parsing the statement again is worth a try.
    fn forget_stale(&mut self, sql: &str, error: &Error) -> bool {
        let Error::Remote(remote) = error else {
            return false;
        };
        match remote.code.as_str() {
            // The statement's plan would change the result's type.
            "0A000" => self.statements.evict(sql),
            // The statement is gone, and likely every other one too (`DEALLOCATE ALL`,
            // `DISCARD ALL`).
            "26000" => self.statements.forget_all(),
            _ => return false,
        }
        self.state == State::Idle && self.transaction == IDLE
    }

    /// The parameter types the server infers for `sql`, without running it. Kept
    /// statements remember them, so that a statement run again needs no round trip here.
    pub fn parameter_types(&mut self, sql: &str) -> Result<Vec<u32>, Error> {
        self.finish()?;
        self.outcome = Outcome::default();
        let cacheable = self.cacheable(sql);
        if cacheable
            && let Some(types) = self
                .statements
                .get(sql, INFERRED)
                .and_then(|p| p.inferred.clone())
        {
            return Ok(types);
        }
        let mut fresh = cacheable.then(|| self.statements.next_name());
        let name = fresh.clone().unwrap_or_default();

        self.close_evicted()?;
        self.encoding(|session| {
            let out = session.wire.out();
            frontend::parse(&name, sql, INFERRED.iter().copied(), out).map_err(too_large)?;
            frontend::describe(b'S', &name, out).map_err(too_large)?;
            frontend::sync(out);
            Ok(())
        })?;
        self.send()?;
        self.state = State::Running;

        let mut types = Vec::new();
        loop {
            match self.receive()? {
                Message::ParseComplete => {
                    if let Some(name) = fresh.take() {
                        self.statements.insert(sql, name, INFERRED.to_vec());
                    }
                }
                Message::ParameterDescription(body) => {
                    use fallible_iterator::FallibleIterator;
                    types = body.parameters().collect().map_err(bad_message)?;
                }
                Message::RowDescription(_) | Message::NoData => {}
                Message::ReadyForQuery(body) => {
                    self.transaction = body.status();
                    self.state = State::Idle;
                    if cacheable {
                        self.statements.set_inferred(sql, &name, types.clone());
                    }
                    return Ok(types);
                }
                Message::ErrorResponse(body) => {
                    return Err(self.failed(server_error(body.fields())));
                }
                other => self.aside(other, "describing a statement")?,
            }
        }
    }

    /// Statements kept on the server for this session.
    pub fn prepared_count(&self) -> usize {
        self.statements.len()
    }

    /// Reads up to `max_rows` rows, stopping early once they hold `max_bytes` of data.
    pub fn rows(&mut self, max_rows: usize, max_bytes: usize) -> Result<Rows, Error> {
        if self.state == State::Broken {
            return Err(lost());
        }
        let mut rows = Vec::new();
        let mut bytes = 0;
        while self.state == State::Running {
            // A full batch still takes the statement's end if it has already arrived, so
            // that a result which exactly fills its batches needs no empty fetch.
            let full = rows.len() >= max_rows || bytes >= max_bytes;
            if full
                && self
                    .wire
                    .buffered_tag()
                    .is_none_or(|tag| tag == DATA_ROW_TAG)
            {
                break;
            }
            match self.receive()? {
                Message::DataRow(body) => {
                    bytes += body.buffer().len();
                    rows.push(self.decode(&body)?);
                }
                Message::CommandComplete(body) => {
                    self.outcome.command = body.tag().ok().map(str::to_string);
                    self.state = State::Ending;
                }
                Message::EmptyQueryResponse => self.state = State::Ending,
                Message::PortalSuspended => {
                    self.outcome.truncated = true;
                    self.state = State::Ending;
                }
                Message::ErrorResponse(body) => {
                    return Err(self.failed(server_error(body.fields())));
                }
                other => self.aside(other, "a result")?,
            }
        }
        // The statement is done once it ended, even if the connection did not survive the
        // probe after it (`finish` then leaves the session broken).
        let ended = self.state == State::Ending;
        if ended {
            self.finish()?;
        }
        Ok(Rows {
            rows,
            done: ended || self.state == State::Idle,
            bytes,
        })
    }

    /// Whether the session can take no more statements: an I/O error broke it, or, while it
    /// waited between calls, the server sent something unasked or closed the connection. A
    /// server ending a session (a restart, `pg_terminate_backend`, an idle or lifetime
    /// limit) sends a FATAL error and closes; nothing else arrives unasked on a session
    /// between statements that the connector would keep (notifications go with the
    /// listeners a reset drops). Checked only between statements: during one, unread input
    /// is its result.
    pub fn is_gone(&mut self) -> bool {
        match self.state {
            State::Broken => true,
            State::Idle => {
                self.wire.buffered_tag().is_some() || self.wire.stream_mut().has_unread_input()
            }
            State::Running | State::Ending => false,
        }
    }

    /// Whether an I/O or protocol error left the session unusable.
    pub fn is_broken(&self) -> bool {
        self.state == State::Broken
    }

    /// Records that the statement about to run may change the session's state.
    pub fn mark_changed(&mut self) {
        self.changed = true;
    }

    /// Whether the session's state may differ from a fresh session's.
    pub fn is_changed(&self) -> bool {
        self.changed
    }

    /// Puts the session back as it was opened: `DISCARD ALL` (settings, role, session
    /// authorization, temporary tables, prepared statements, cursors, listeners, advisory
    /// locks), then the connector's own settings again, and a fresh seed for `random()`. `DISCARD ALL` drops the kept
    /// statements too, so the cache is emptied with it. Outside a transaction block only.
    pub fn reset(&mut self) -> Result<(), Error> {
        self.finish()?;
        self.statements.forget_all();
        // `DISCARD ALL` keeps `random()`'s seed: a run that called `setseed` would make the
        // next runs' random values predictable. A fresh seed from the host's randomness.
        let mut bytes = [0u8; 8];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
            .map_err(|_| Error::Connection("no randomness to reseed the session".into()))?;
        let seed = u64::from_le_bytes(bytes) as f64 / u64::MAX as f64 * 2.0 - 1.0;
        // Two queries in one write (DISCARD ALL can't share an implicit transaction).
        frontend::query("DISCARD ALL", self.wire.out()).map_err(too_large)?;
        frontend::query(&format!("SELECT setseed({seed})"), self.wire.out()).map_err(too_large)?;
        self.send()?;
        self.state = State::Running;
        let mut failure = None;
        let mut answered = 0;
        loop {
            match self.receive()? {
                Message::ReadyForQuery(body) => {
                    self.transaction = body.status();
                    answered += 1;
                    if answered < 2 {
                        continue;
                    }
                    self.state = State::Idle;
                    break;
                }
                Message::ErrorResponse(body) => failure = Some(server_error(body.fields())),
                Message::CommandComplete(_)
                | Message::RowDescription(_)
                | Message::DataRow(_)
                | Message::ParameterStatus(_)
                | Message::NoticeResponse(_) => {}
                other => self.aside(other, "resetting the session")?,
            }
        }
        if let Some(error) = failure {
            return Err(self.broken(error));
        }
        let version = self.greeting.server_version.clone();
        startup::settle(&mut self.wire, &self.config, &version).map_err(|e| self.broken(e))?;
        // DISCARD ALL dropped the probe's statement too.
        self.probe_baseline()?;
        self.changed = false;
        Ok(())
    }

    /// Whether the last ReadyForQuery said a transaction block is open (or failed).
    pub fn in_transaction(&self) -> bool {
        self.transaction != IDLE
    }

    pub fn outcome(&self) -> &Outcome {
        &self.outcome
    }

    /// Reads and drops what is left of the current statement, up to ReadyForQuery.
    ///
    /// After a statement's end (CommandComplete), an error can still come before
    /// ReadyForQuery: the implicit transaction commits at Sync, and a deferred constraint or
    /// a serialization failure refuses the commit there. Nothing was stored then, so the
    /// error is the statement's answer. The rows and errors of a statement nobody reads any
    /// more (still running when this is called) are dropped.
    pub fn finish(&mut self) -> Result<(), Error> {
        let ended = self.state == State::Ending;
        let mut failure = None;
        while self.state != State::Idle {
            if self.state == State::Broken {
                return Err(lost());
            }
            match self.receive()? {
                Message::ReadyForQuery(body) => {
                    self.transaction = body.status();
                    if self.probing && self.read_probe().is_err() {
                        // The statement's own answer is whole, up to its ReadyForQuery;
                        // only the probe sent after it was lost. The session can take
                        // nothing more (the next call connects again), but the statement's
                        // result stands: failing it would report a committed write as
                        // failed, and a client would run it twice.
                        self.state = State::Broken;
                        return failure.map_or(Ok(()), Err);
                    }
                    self.state = State::Idle;
                }
                Message::ErrorResponse(body) if ended => {
                    failure = Some(server_error(body.fields()));
                }
                Message::CopyInResponse(_) => self.refuse_copy_in()?,
                // A setting changed: the server reports it after the statement's end, just
                // before ReadyForQuery, so this is where it usually arrives.
                Message::ParameterStatus(_) => self.changed = true,
                // Rows and errors of a result nobody reads any more.
                _ => {}
            }
        }
        failure.map_or(Ok(()), Err)
    }

    /// Ends the session politely. Errors don't matter any more: the socket is dropped next.
    pub fn terminate(&mut self) {
        if self.state == State::Broken {
            return;
        }
        frontend::terminate(self.wire.out());
        let _ = self.wire.send();
        self.wire.stream_mut().close();
        self.state = State::Broken;
    }

    fn decode(&mut self, body: &DataRowBody) -> Result<Row, Error> {
        use fallible_iterator::FallibleIterator;
        let buffer = body.buffer();
        let mut row = Vec::with_capacity(self.outcome.decoders.len());
        let mut ranges = body.ranges();
        let mut column = 0;
        while let Some(range) = ranges.next().map_err(bad_message)? {
            let Some(decoder) = self.outcome.decoders.get(column) else {
                let error = Error::Connection("a row has more cells than columns".into());
                return Err(self.broken(error));
            };
            row.push(decoder.decode(range.map(|r| &buffer[r])));
            column += 1;
        }
        Ok(row)
    }

    /// Handles the messages that may come at any point: notices, parameter reports,
    /// notifications, COPY. Anything else is a protocol error.
    fn aside(&mut self, message: Message, during: &str) -> Result<(), Error> {
        match message {
            Message::NoticeResponse(body) => {
                if self.outcome.notices.len() < MAX_NOTICES {
                    self.outcome.notices.push(notice_text(body.fields()));
                }
                Ok(())
            }
            // The server reports a change of the settings it tracks for clients (session
            // authorization, superuser status, time zone, search_path from PostgreSQL 18,
            // …), whatever changed them: a function can, in a plain SELECT.
            Message::ParameterStatus(_) => {
                self.changed = true;
                Ok(())
            }
            Message::NotificationResponse(_) => Ok(()),
            // COPY … TO STDOUT streams data with no columns to map it to.
            Message::CopyOutResponse(_) => Err(self.failed(copy_unsupported("TO STDOUT"))),
            Message::CopyInResponse(_) => {
                self.refuse_copy_in()?;
                Err(self.failed(copy_unsupported("FROM STDIN")))
            }
            _ => Err(self.broken(unexpected(during))),
        }
    }

    /// COPY … FROM STDIN has no data to read here; the server is told so and answers
    /// with an error, which [`Session::failed`] then skips. The server ignores the Sync
    /// sent before it entered COPY mode, hence another one.
    fn refuse_copy_in(&mut self) -> Result<(), Error> {
        frontend::copy_fail("COPY FROM STDIN is not supported by Lathe", self.wire.out())
            .map_err(too_large)?;
        frontend::sync(self.wire.out());
        self.send()
    }

    /// The statement failed: reads to ReadyForQuery so the session can go on. The server's
    /// error is the one to report even when the connection ends with it (a FATAL error, an
    /// administrator's terminate); the session is then broken and says so next time.
    fn failed(&mut self, error: Error) -> Error {
        let _ = self.finish();
        error
    }

    /// Runs `encode`, which appends messages to the outgoing buffer. If it fails, what it
    /// appended is taken back: half a message, or a statement without its Sync, would
    /// otherwise go out in front of the next call's statement and answer for it.
    pub(crate) fn encoding(
        &mut self,
        encode: impl FnOnce(&mut Self) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mark = self.wire.unsent();
        let result = encode(self);
        if result.is_err() {
            self.wire.take_back(mark);
            self.probing = false;
        }
        result
    }

    fn send(&mut self) -> Result<(), Error> {
        if self.state == State::Broken {
            self.wire.take_back(0);
            return Err(lost());
        }
        self.wire.send().map_err(|e| self.broken(e))
    }

    fn receive(&mut self) -> Result<Message, Error> {
        self.wire.receive().map_err(|e| self.broken(e))
    }

    fn broken(&mut self, error: Error) -> Error {
        self.state = State::Broken;
        self.statements.forget_all();
        error
    }
}

/// Writes Bind for the unnamed portal of `statement` with text parameters (`None` is
/// NULL).
fn bind(
    statement: &str,
    params: &[Option<Vec<u8>>],
    out: &mut bytes::BytesMut,
) -> Result<(), Error> {
    frontend::bind(
        "",
        statement,
        std::iter::empty(),
        params,
        |param, buf| match param {
            Some(bytes) => {
                buf.put_slice(bytes);
                Ok(IsNull::No)
            }
            None => Ok(IsNull::Yes),
        },
        std::iter::empty(),
        out,
    )
    .map_err(|_| Error::InvalidQuery("the query has too many parameters".into()))
}

fn lost() -> Error {
    Error::Connection(
        "the connection to the server was lost; the datasource must be reopened".into(),
    )
}

fn too_large(e: std::io::Error) -> Error {
    Error::InvalidQuery(format!("the query can't be sent: {e}"))
}

fn bad_message(e: std::io::Error) -> Error {
    Error::Connection(format!("the server sent a bad message: {e}"))
}

/// COPY with the client as its end has no place in a query's result: refused whole, with
/// the data the server had sent read and dropped.
fn copy_unsupported(direction: &str) -> Error {
    Error::Unsupported(format!(
        "COPY … {direction} is not supported: a query's result is rows, and the connector \
         can't stream COPY data; use SELECT (or INSERT … VALUES) instead"
    ))
}
