//! A check, after each plain statement, that the session is still as the last reset left
//! it. [`crate::reset`] decides from a statement's words and from the settings the server
//! reports; neither sees a user-defined function, view or rule that sets the role, the
//! `search_path` (reported only from PostgreSQL 18) or a time limit. So every statement
//! that is not reset anyway goes out with a kept probe of those settings, in the same write,
//! and the session is marked changed (reset before the next run) when the probe's answer
//! differs from the one recorded after the last reset. It costs the server a small query
//! per statement, and no round trip.

use super::{Session, State, too_large};
use crate::startup::unexpected;
use crate::transport::Socket;
use crate::wire::server_error;
use lathe_plugin_sdk::Error;
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;

/// The probe's statement name: outside the statement cache's names (`__lathe_…`).
const PROBE: &str = "lathe_probe";

/// What the probe reads: who the session acts as, where it looks names up, its time
/// limits, its transactions' defaults, the output formats the connector decodes, and the
/// channels it listens on. Every function is named with its schema: a `search_path` put
/// before `pg_catalog` must not get to answer the probe (`current_user` and
/// `session_user` are keywords, not functions).
const PROBE_SQL: &str = "select current_user, session_user, \
     pg_catalog.current_setting('role'), pg_catalog.current_setting('search_path'), \
     pg_catalog.current_setting('statement_timeout'), pg_catalog.current_setting('lock_timeout'), \
     pg_catalog.current_setting('idle_in_transaction_session_timeout'), \
     pg_catalog.current_setting('idle_session_timeout', true), \
     pg_catalog.current_setting('default_transaction_isolation'), \
     pg_catalog.current_setting('synchronous_commit'), pg_catalog.current_setting('work_mem'), \
     pg_catalog.current_setting('bytea_output'), pg_catalog.current_setting('extra_float_digits'), \
     (select pg_catalog.count(*) from pg_catalog.pg_listening_channels())";

impl<S: Socket> Session<S> {
    /// Prepares the probe and records its answer for the session as it is now.
    pub(super) fn probe_baseline(&mut self) -> Result<(), Error> {
        self.finish()?;
        self.probing = false;
        let out = self.wire.out();
        frontend::parse(PROBE, PROBE_SQL, std::iter::empty(), out).map_err(too_large)?;
        write_probe(out)?;
        self.send()?;
        self.state = State::Running;
        let mut answer = None;
        loop {
            match self.receive()? {
                Message::ParseComplete | Message::BindComplete | Message::CommandComplete(_) => {}
                Message::DataRow(body) => answer = Some(body.buffer().to_vec()),
                Message::ErrorResponse(body) => {
                    let error = server_error(body.fields());
                    let _ = self.finish();
                    return Err(self.broken(error));
                }
                Message::ReadyForQuery(body) => {
                    self.transaction = body.status();
                    self.state = State::Idle;
                    break;
                }
                other => self.aside(other, "checking the session")?,
            }
        }
        self.baseline = answer;
        Ok(())
    }

    /// Writes the probe after the statement being written, unless the session is to be
    /// reset anyway.
    pub(super) fn add_probe(&mut self) -> Result<(), Error> {
        if self.baseline.is_none() || self.changed {
            return Ok(());
        }
        write_probe(self.wire.out())?;
        self.probing = true;
        Ok(())
    }

    /// Reads the probe's answer, which follows the probed statement's ReadyForQuery, and
    /// marks the session changed if it differs from the baseline.
    pub(super) fn read_probe(&mut self) -> Result<(), Error> {
        self.probing = false;
        loop {
            match self.receive()? {
                Message::BindComplete | Message::CommandComplete(_) => {}
                Message::DataRow(body) => {
                    if self.baseline.as_deref() != Some(body.buffer()) {
                        self.changed = true;
                    }
                }
                Message::ErrorResponse(_) | Message::ParameterStatus(_) => self.changed = true,
                Message::NoticeResponse(_) | Message::NotificationResponse(_) => {}
                Message::ReadyForQuery(body) => {
                    self.transaction = body.status();
                    return Ok(());
                }
                _ => return Err(self.broken(unexpected("checking the session"))),
            }
        }
    }
}

fn write_probe(out: &mut bytes::BytesMut) -> Result<(), Error> {
    super::bind(PROBE, &[], out)?;
    frontend::execute("", 0, out).map_err(too_large)?;
    frontend::sync(out);
    Ok(())
}
