//! Several kept statements in one round trip (the host's `run-many`).
//!
//! Each statement goes out as Bind, Describe, Execute and its own Sync, all of them in one
//! write; the answers are read back in order. The Sync after each statement ends its
//! implicit transaction, so an error in one leaves the next unaffected: the server skips
//! to that Sync, answers ReadyForQuery and carries on with the next statement.
//!
//! Only statements that are already kept (parsed under a name) and can't change the
//! session (see [`crate::reset`]) go this way, so none needs a round trip of its own
//! before it runs and none can leave state for the next: the connection stays as each
//! statement would find it if it ran alone. What [`crate::reset`] can't see, a function
//! that changes a reported setting from inside a plain statement, is still seen here, but
//! only once the statements sent with it have run; the session is reset before the next
//! call, as it would be after a lone run.

use super::{IDLE, INFERRED, Outcome, Session, State, bad_message, bind, too_large};
use crate::transport::Socket;
use crate::wire::server_error;
use lathe_plugin_sdk::{Column, Error, Row};
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;

/// A kept statement to run in a pipeline, with its text parameters (`None` is NULL).
pub struct Piped<'a> {
    pub sql: &'a str,
    pub params: &'a [Option<Vec<u8>>],
    /// The most rows the server produces (0: all).
    pub row_limit: u32,
    /// The most row data kept; the rest is read and dropped, and the result marked cut.
    pub max_bytes: usize,
}

/// A pipelined statement's answer.
pub enum PipedResult {
    Done {
        columns: Vec<Column>,
        rows: Vec<Row>,
        outcome: Outcome,
        /// Rows were dropped at `max_bytes`.
        cut: bool,
        /// Row data kept.
        bytes: usize,
    },
    Failed(Error),
    /// The server refused the kept statement at Bind (it is gone, or its result type
    /// changed): nothing ran, and running it alone parses it afresh.
    Stale,
}

impl<S: Socket> Session<S> {
    /// Whether `sql` is a kept statement that can run without a round trip of its own
    /// first (and, with `typed`, whose parameter types are known too).
    pub fn is_kept(&mut self, sql: &str, typed: bool) -> bool {
        self.state == State::Idle
            && self.cacheable(sql)
            && self
                .statements
                .get(sql, INFERRED)
                .is_some_and(|p| !typed || p.inferred.is_some())
    }

    /// Runs `statements`, every one kept ([`Session::is_kept`]), in one round trip, and
    /// answers one result per statement in order. The results keep `total_bytes` of row
    /// data between them at most (each its own `max_bytes` too); rows past either are read
    /// and dropped, and their result is marked cut. An I/O failure fails the ones not yet
    /// read.
    pub fn pipeline(&mut self, statements: &[Piped<'_>], total_bytes: usize) -> Vec<PipedResult> {
        match self.send_pipeline(statements) {
            Ok(()) => {}
            Err(error) => {
                return statements
                    .iter()
                    .map(|_| PipedResult::Failed(error.clone()))
                    .collect();
            }
        }
        let mut results = Vec::with_capacity(statements.len());
        let mut room = total_bytes;
        for statement in statements {
            if self.state == State::Broken {
                results.push(PipedResult::Failed(super::lost()));
                continue;
            }
            self.state = State::Running;
            let result = self.read_piped(statement, statement.max_bytes.min(room));
            if let PipedResult::Done { bytes, .. } = &result {
                room = room.saturating_sub(*bytes);
            }
            results.push(result);
        }
        // One probe after the whole pipeline ([`super::probe`]).
        if self.probing && self.state == State::Idle && self.read_probe().is_err() {
            self.state = State::Broken;
        }
        results
    }

    fn send_pipeline(&mut self, statements: &[Piped<'_>]) -> Result<(), Error> {
        self.finish()?;
        if self.transaction != IDLE {
            return Err(Error::Connection(
                "the session is inside a transaction block; statements can't be pipelined".into(),
            ));
        }
        self.close_evicted()?;
        self.encoding(|session| {
            for statement in statements {
                let name = session
                    .statements
                    .get(statement.sql, INFERRED)
                    .map(|p| p.name.clone())
                    .ok_or_else(|| {
                        Error::InvalidQuery("a pipelined statement is not kept".into())
                    })?;
                let out = session.wire.out();
                bind(&name, statement.params, out)?;
                frontend::describe(b'P', "", out).map_err(too_large)?;
                let limit = i32::try_from(statement.row_limit).unwrap_or(i32::MAX);
                frontend::execute("", limit, out).map_err(too_large)?;
                frontend::sync(out);
            }
            session.add_probe()
        })?;
        self.send()
    }

    /// Reads one statement's answer, up to and including its ReadyForQuery, keeping
    /// `max_bytes` of its rows at most.
    fn read_piped(&mut self, statement: &Piped<'_>, max_bytes: usize) -> PipedResult {
        self.outcome = Outcome::default();
        let (mut columns, mut rows, mut bytes) = (Vec::new(), Vec::new(), 0);
        let (mut bound, mut cut, mut failure) = (false, false, None);
        loop {
            let message = match self.receive() {
                Ok(message) => message,
                Err(error) => return PipedResult::Failed(error),
            };
            match message {
                Message::BindComplete => bound = true,
                Message::CloseComplete => {}
                Message::RowDescription(body) => {
                    use fallible_iterator::FallibleIterator;
                    let mut fields = body.fields();
                    loop {
                        match fields.next() {
                            Ok(Some(field)) => {
                                let known = self.catalog.describe(field.type_oid());
                                self.outcome.decoders.push(known.decoder);
                                columns.push(Column::new(field.name(), known.column, known.name));
                            }
                            Ok(None) => break,
                            Err(e) => return PipedResult::Failed(self.broken(bad_message(e))),
                        }
                    }
                }
                Message::NoData => {}
                Message::DataRow(body) if failure.is_none() => {
                    // Once a row is dropped, the ones after it are too: a cut result is
                    // the rows before the cut.
                    if cut || bytes + body.buffer().len() > max_bytes {
                        cut = true;
                        continue;
                    }
                    bytes += body.buffer().len();
                    match self.decode(&body) {
                        Ok(row) => rows.push(row),
                        Err(error) => return PipedResult::Failed(error),
                    }
                }
                Message::CommandComplete(body) => {
                    self.outcome.command = body.tag().ok().map(str::to_string);
                }
                Message::EmptyQueryResponse => {}
                Message::PortalSuspended => self.outcome.truncated = true,
                Message::ErrorResponse(body) => {
                    let error = server_error(body.fields());
                    // Only a refused Bind can be stale: then nothing of the statement ran.
                    let stale = !bound
                        && matches!(&error, Error::Remote(r) if matches!(r.code.as_str(), "0A000" | "26000"));
                    if stale {
                        self.forget_stale(statement.sql, &error);
                    }
                    failure = Some(if stale { None } else { Some(error) });
                }
                Message::ReadyForQuery(body) => {
                    self.transaction = body.status();
                    self.state = State::Idle;
                    break;
                }
                other => {
                    // COPY is refused with its statement read to the end; anything else
                    // breaks the session.
                    if let Err(error) = self.aside(other, "a pipelined result") {
                        return PipedResult::Failed(error);
                    }
                }
            }
        }
        match failure {
            Some(Some(error)) => PipedResult::Failed(error),
            Some(None) => PipedResult::Stale,
            None => PipedResult::Done {
                columns,
                rows,
                outcome: std::mem::take(&mut self.outcome),
                cut,
                bytes,
            },
        }
    }
}
