//! Message framing over a blocking stream, and the errors the wire can produce.
//!
//! Outgoing messages are encoded by `postgres_protocol::message::frontend` into one buffer
//! and written with a single flush, so that a whole extended-query pipeline costs one
//! round trip. Incoming bytes are read in chunks and split into backend messages.

use bytes::BytesMut;
use lathe_plugin_sdk::{Error, RemoteError};
use postgres_protocol::message::backend::{ErrorFields, Message};
use std::io::{self, Read, Write};

/// Bytes asked of the socket per read: large enough that a stream of small rows costs few
/// calls into the host.
const READ_CHUNK: usize = 64 * 1024;

pub struct Wire<S> {
    stream: S,
    incoming: BytesMut,
    outgoing: BytesMut,
}

impl<S: Read + Write> Wire<S> {
    pub fn new(stream: S) -> Self {
        Wire {
            stream,
            incoming: BytesMut::with_capacity(READ_CHUNK),
            outgoing: BytesMut::with_capacity(1024),
        }
    }

    /// The buffer the next messages are encoded into; [`Wire::send`] writes it out.
    pub fn out(&mut self) -> &mut BytesMut {
        &mut self.outgoing
    }

    pub fn send(&mut self) -> Result<(), Error> {
        let result = self
            .stream
            .write_all(&self.outgoing)
            .and_then(|()| self.stream.flush());
        self.outgoing.clear();
        result.map_err(|e| io_error(e, "sending to the server"))
    }

    /// The next backend message, reading from the socket as needed.
    pub fn receive(&mut self) -> Result<Message, Error> {
        loop {
            let parsed = Message::parse(&mut self.incoming)
                .map_err(|e| Error::Connection(format!("the server sent a bad message: {e}")))?;
            if let Some(message) = parsed {
                return Ok(message);
            }
            self.fill()?;
        }
    }

    fn fill(&mut self) -> Result<(), Error> {
        let start = self.incoming.len();
        self.incoming.resize(start + READ_CHUNK, 0);
        let read = self.stream.read(&mut self.incoming[start..]);
        let n = match read {
            Ok(n) => n,
            Err(e) => {
                self.incoming.truncate(start);
                return Err(io_error(e, "reading from the server"));
            }
        };
        self.incoming.truncate(start + n);
        if n == 0 {
            return Err(Error::Connection("the server closed the connection".into()));
        }
        Ok(())
    }

    /// The tag of the next message if any of it has been read already.
    pub fn buffered_tag(&self) -> Option<u8> {
        self.incoming.first().copied()
    }

    pub fn stream(&self) -> &S {
        &self.stream
    }

    pub fn stream_mut(&mut self) -> &mut S {
        &mut self.stream
    }
}

/// An I/O failure while `doing` something, as the typed error the host expects.
pub fn io_error(e: io::Error, doing: &str) -> Error {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
            Error::Timeout(format!("the server did not answer in time while {doing}"))
        }
        io::ErrorKind::UnexpectedEof => {
            Error::Connection(format!("the server closed the connection while {doing}"))
        }
        _ => Error::Connection(format!("{doing} failed: {e}")),
    }
}

/// The SQLSTATE, message, detail and hint of an ErrorResponse.
pub fn server_error(mut fields: ErrorFields<'_>) -> Error {
    use fallible_iterator::FallibleIterator;

    let mut error = RemoteError {
        code: String::new(),
        message: String::new(),
        detail: None,
        hint: None,
    };
    let mut position = None;
    while let Ok(Some(field)) = fields.next() {
        let text = String::from_utf8_lossy(field.value_bytes()).into_owned();
        match field.type_() {
            b'C' => error.code = text,
            b'M' => error.message = text,
            b'D' => error.detail = Some(text),
            b'H' => error.hint = Some(text),
            b'P' => position = Some(text),
            _ => {}
        }
    }
    if let Some(position) = position {
        error.message = format!("{} (at character {position})", error.message);
    }
    if error.code == "42601" && error.message.contains("multiple commands") {
        error.hint.get_or_insert_with(|| {
            "a query runs one SQL statement; put each statement in its own query".into()
        });
    }
    Error::Remote(error)
}

/// The text of a NoticeResponse, `SEVERITY: message`.
pub fn notice_text(mut fields: ErrorFields<'_>) -> String {
    use fallible_iterator::FallibleIterator;

    let (mut severity, mut message) = (String::new(), String::new());
    while let Ok(Some(field)) = fields.next() {
        match field.type_() {
            b'S' => severity = String::from_utf8_lossy(field.value_bytes()).into_owned(),
            b'M' => message = String::from_utf8_lossy(field.value_bytes()).into_owned(),
            _ => {}
        }
    }
    format!("{severity}: {message}")
}
