//! Message framing over a blocking stream, and the errors the wire can produce.
//!
//! Outgoing messages are encoded by `postgres_protocol::message::frontend` into one buffer
//! and written with a single flush, so that a whole extended-query pipeline costs one
//! round trip. Incoming bytes are read in chunks and split into backend messages.

use bytes::BytesMut;
use lathe_plugin_sdk::{Error, RemoteError};
use postgres_protocol::message::backend::{DATA_ROW_TAG, ErrorFields, Message};
use std::io::{self, Read, Write};

/// The most bytes asked of the socket per read: large enough that a stream of small rows
/// costs few calls into the host.
const READ_CHUNK: usize = 64 * 1024;
/// The fewest. The size asked for follows what reads return, between the two: the host
/// allocates (and zeroes) a buffer of the size asked for on every read, which for the
/// hundred bytes that answer a small query cost more than the query's own work.
const MIN_READ: usize = 1024;
/// The longest row (DataRow message) the connector buffers. A message is read whole before
/// it is parsed, so its length, as the server announces it, decides the allocation: a
/// broken or hostile server announcing 2 GB would otherwise exhaust the connector's memory
/// instead of failing as a connection error. 64 MiB is the host's default limit for a whole
/// result; a single row past it could not be shown anyway.
pub const MAX_ROW_MESSAGE: usize = 64 << 20;
/// The longest other message: errors, notices, row descriptions and parameter reports are
/// small (a row description of 1,600 columns with 63-byte names is under 150 kB).
pub const MAX_MESSAGE: usize = 1 << 20;

pub struct Wire<S> {
    stream: S,
    incoming: BytesMut,
    outgoing: BytesMut,
    /// Reads land here first; it is zeroed once, where reading straight into `incoming`
    /// would zero the space on every read.
    scratch: Vec<u8>,
    /// The size the next read asks for.
    read_size: usize,
}

impl<S: Read + Write> Wire<S> {
    pub fn new(stream: S) -> Self {
        Wire {
            stream,
            incoming: BytesMut::with_capacity(READ_CHUNK),
            outgoing: BytesMut::with_capacity(1024),
            scratch: vec![0; READ_CHUNK],
            read_size: MIN_READ,
        }
    }

    /// The buffer the next messages are encoded into; [`Wire::send`] writes it out.
    pub fn out(&mut self) -> &mut BytesMut {
        &mut self.outgoing
    }

    /// How much is encoded and not sent yet: a mark for [`Wire::take_back`].
    pub fn unsent(&self) -> usize {
        self.outgoing.len()
    }

    /// Drops what was encoded after `mark`: messages whose encoding failed halfway must
    /// not go out in front of the next statement.
    pub fn take_back(&mut self, mark: usize) {
        self.outgoing.truncate(mark);
    }

    pub fn send(&mut self) -> Result<(), Error> {
        let result = self
            .stream
            .write_all(&self.outgoing)
            .and_then(|()| self.stream.flush());
        self.outgoing.clear();
        result.map_err(|e| io_error(e, "sending to the server"))
    }

    /// The next backend message, reading from the socket as needed. A message announcing
    /// more than [`MAX_ROW_MESSAGE`] (a row) or [`MAX_MESSAGE`] (anything else) bytes is a
    /// connection error, before anything is allocated for it.
    pub fn receive(&mut self) -> Result<Message, Error> {
        loop {
            check_length(&self.incoming)?;
            let parsed = Message::parse(&mut self.incoming)
                .map_err(|e| Error::Connection(format!("the server sent a bad message: {e}")))?;
            if let Some(message) = parsed {
                return Ok(message);
            }
            self.fill()?;
        }
    }

    fn fill(&mut self) -> Result<(), Error> {
        let buffer = &mut self.scratch[..self.read_size];
        let n = self
            .stream
            .read(buffer)
            .map_err(|e| io_error(e, "reading from the server"))?;
        if n == 0 {
            return Err(Error::Connection("the server closed the connection".into()));
        }
        self.incoming.extend_from_slice(&buffer[..n]);
        self.read_size = next_read_size(self.read_size, n);
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

/// Refuses a message whose header (tag and length, the first five bytes) announces more
/// than the connector buffers.
fn check_length(incoming: &[u8]) -> Result<(), Error> {
    let Some(header) = incoming.get(..5) else {
        return Ok(());
    };
    let length = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if header[0] == DATA_ROW_TAG && length > MAX_ROW_MESSAGE {
        // A real server sends one for a large enough value: say what to change. The rest
        // of the row is still on the wire, so the connection can't go on either way.
        return Err(Error::Connection(format!(
            "a row of the result is {length} bytes, and the connector reads rows of at most \
             {} MiB; select less of it (fewer columns, a substring of a long value). The \
             connection was closed",
            MAX_ROW_MESSAGE >> 20
        )));
    }
    if header[0] != DATA_ROW_TAG && length > MAX_MESSAGE {
        return Err(Error::Connection(format!(
            "the server announced a message of {length} bytes; the connector reads at most \
             {MAX_MESSAGE} bytes (is this really a PostgreSQL server?)"
        )));
    }
    Ok(())
}

/// Doubles the read size after a read that filled it (more is waiting, likely a large
/// result), halves it after one that used less than an eighth.
fn next_read_size(asked: usize, got: usize) -> usize {
    if got == asked {
        (asked * 2).min(READ_CHUNK)
    } else if got < asked / 8 {
        (asked / 2).max(MIN_READ)
    } else {
        asked
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announced_lengths_past_the_caps_are_refused() {
        let header = |tag: u8, length: u32| {
            let mut bytes = vec![tag];
            bytes.extend_from_slice(&length.to_be_bytes());
            bytes
        };
        assert!(check_length(&header(b'R', 0x7fff_ffff)).is_err());
        assert!(check_length(&header(b'E', MAX_MESSAGE as u32 + 1)).is_err());
        assert!(check_length(&header(b'E', MAX_MESSAGE as u32)).is_ok());
        assert!(check_length(&header(DATA_ROW_TAG, MAX_ROW_MESSAGE as u32)).is_ok());
        assert!(check_length(&header(DATA_ROW_TAG, MAX_ROW_MESSAGE as u32 + 1)).is_err());
        assert!(check_length(b"D\0\0").is_ok());
    }

    #[test]
    fn the_read_size_grows_with_full_reads_and_shrinks_with_small_ones() {
        let mut size = MIN_READ;
        for _ in 0..10 {
            size = next_read_size(size, size);
        }
        assert_eq!(size, READ_CHUNK);
        assert_eq!(next_read_size(READ_CHUNK, READ_CHUNK / 2), READ_CHUNK);
        for _ in 0..10 {
            size = next_read_size(size, 100);
        }
        assert_eq!(size, MIN_READ);
    }
}
