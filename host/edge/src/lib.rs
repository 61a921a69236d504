//! The connection-level HTTP edge that `lathe serve` and `lathe registry serve` share.
//!
//! hyper answers an HTTP/1 request it can't parse — a request line or header it can't read
//! (400), a URI over 64 KiB (414), a head over its buffer or with too many headers (431) — on
//! its own, with an empty body, and offers no hook to change that. [`ProblemAcceptor`] wraps
//! each connection's byte stream and swaps exactly those automatic responses for the
//! `application/problem+json` documents every other error of the server gets. After such a
//! response hyper closes the connection, so nothing follows the swapped bytes.
//!
//! The same acceptor bounds how long a write may make no progress, so that a client that
//! stops reading a response is disconnected instead of holding the response's memory and
//! the connection, and delaying a shutdown, for ever.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum_server::accept::Accept;
use http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_io_timeout::TimeoutStream;

/// Renders the problem document (the JSON body) a server answers with for one of hyper's
/// automatic errors: 400, 414 or 431. Each server keeps its own problem types.
pub type ProblemBody = fn(StatusCode) -> Vec<u8>;

/// Wraps another acceptor (plain TCP or rustls): the decrypted byte stream of every
/// connection goes through [`ProblemIo`], and a write that makes no progress for
/// `send_timeout` fails.
#[derive(Clone)]
pub struct ProblemAcceptor<A> {
    inner: A,
    send_timeout: Duration,
    body: ProblemBody,
}

impl<A> ProblemAcceptor<A> {
    pub fn new(inner: A, send_timeout: Duration, body: ProblemBody) -> Self {
        ProblemAcceptor {
            inner,
            send_timeout,
            body,
        }
    }
}

impl<A, I, S> Accept<I, S> for ProblemAcceptor<A>
where
    A: Accept<I, S>,
    A::Future: Send + 'static,
    A::Stream: AsyncRead + AsyncWrite,
{
    type Stream = ProblemIo<Pin<Box<TimeoutStream<A::Stream>>>>;
    type Service = A::Service;
    type Future = Pin<Box<dyn Future<Output = io::Result<(Self::Stream, Self::Service)>> + Send>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        let accepted = self.inner.accept(stream, service);
        let (send_timeout, body) = (self.send_timeout, self.body);
        Box::pin(async move {
            let (stream, service) = accepted.await?;
            let mut stream = TimeoutStream::new(stream);
            stream.set_write_timeout(Some(send_timeout));
            Ok((ProblemIo::new(Box::pin(stream), body), service))
        })
    }
}

/// A connection's byte stream: reads pass through; a write that is exactly one of hyper's
/// automatic error heads, and the first write since bytes were last read, is replaced by a
/// problem response.
pub struct ProblemIo<T> {
    inner: T,
    body: ProblemBody,
    /// Bytes were read and nothing written since. hyper writes an automatic error right after
    /// reading what it could not parse; a write later in a response (the end of a body that
    /// happened to look like such a head) is never one and is never touched.
    answering: bool,
    /// The replacement response and how much of it is written, once a swap has happened.
    swapped: Option<(Vec<u8>, usize)>,
}

impl<T> ProblemIo<T> {
    fn new(inner: T, body: ProblemBody) -> Self {
        ProblemIo {
            inner,
            body,
            answering: false,
            swapped: None,
        }
    }
}

impl<T: AsyncWrite + Unpin> ProblemIo<T> {
    /// Writes what is left of the replacement response.
    fn poll_swapped(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some((bytes, written)) = &mut self.swapped else {
            return Poll::Ready(Ok(()));
        };
        while *written < bytes.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ProblemIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let read = ready!(Pin::new(&mut self.inner).poll_read(cx, buf));
        if read.is_ok() && buf.filled().len() > before {
            self.answering = true;
        }
        Poll::Ready(read)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ProblemIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.swapped.is_none() {
            match automatic_error(buf).filter(|_| self.answering) {
                Some(status) => {
                    let response = problem_response(status, &(self.body)(status));
                    self.swapped = Some((response, 0));
                }
                None => {
                    let written = ready!(Pin::new(&mut self.inner).poll_write(cx, buf));
                    if matches!(written, Ok(n) if n > 0) {
                        self.answering = false;
                    }
                    return Poll::Ready(written);
                }
            }
        }
        // hyper's bytes count as written once the replacement is: it retries the same buffer
        // until then, and writes nothing after an automatic error response.
        ready!(self.poll_swapped(cx))?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_swapped(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_swapped(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    // Not vectored, so hyper flattens each response head into one buffer and one write.
}

/// The status of one of hyper's automatic error responses, when `buf` is exactly one: a
/// 400, 414 or 431 head with `content-length: 0` and nothing after it. Handlers never send
/// those (their errors all have a problem body), so no response of theirs is touched.
fn automatic_error(buf: &[u8]) -> Option<StatusCode> {
    let head = std::str::from_utf8(buf).ok()?.strip_suffix("\r\n\r\n")?;
    if head.contains("\r\n\r\n") {
        return None;
    }
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let code = status_line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| status_line.strip_prefix("HTTP/1.0 "))?
        .get(..3)?;
    let status = match code {
        "400" => StatusCode::BAD_REQUEST,
        "414" => StatusCode::URI_TOO_LONG,
        "431" => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        _ => return None,
    };
    let empty = lines.any(|line| line.eq_ignore_ascii_case("content-length: 0"));
    empty.then_some(status)
}

/// A complete HTTP/1.1 response carrying `body`, the problem document for `status`.
fn problem_response(status: StatusCode, body: &[u8]) -> Vec<u8> {
    let head = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/problem+json\r\ncontent-length: {}\r\n\
         cache-control: no-store\r\nx-content-type-options: nosniff\r\nconnection: close\r\n\r\n",
        status.as_str(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    );
    let mut response = head.into_bytes();
    response.extend_from_slice(body);
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn only_empty_400_414_and_431_heads_are_automatic_errors() {
        let head = |status: &str, rest: &str| format!("HTTP/1.1 {status}\r\n{rest}\r\n\r\n");
        let empty = "content-length: 0\r\ndate: Thu, 01 Jan 2026 00:00:00 GMT";
        assert_eq!(
            automatic_error(head("414 URI Too Long", empty).as_bytes()),
            Some(StatusCode::URI_TOO_LONG)
        );
        assert_eq!(
            automatic_error(head("431 Request Header Fields Too Large", empty).as_bytes()),
            Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        );
        assert_eq!(
            automatic_error(head("400 Bad Request", empty).as_bytes()),
            Some(StatusCode::BAD_REQUEST)
        );
        // A handler's response has a body, or another status.
        let with_body = format!("{}{{}}", head("400 Bad Request", "content-length: 2"));
        assert_eq!(automatic_error(with_body.as_bytes()), None);
        assert_eq!(
            automatic_error(head("404 Not Found", empty).as_bytes()),
            None
        );
        assert_eq!(automatic_error(b"HTTP/1.1 414 "), None);
    }

    fn body(status: StatusCode) -> Vec<u8> {
        format!(r#"{{"status":{}}}"#, status.as_u16()).into_bytes()
    }

    #[test]
    fn the_replacement_is_a_complete_problem_response() {
        let text = String::from_utf8(problem_response(
            StatusCode::URI_TOO_LONG,
            &body(StatusCode::URI_TOO_LONG),
        ))
        .unwrap();
        let (head, rest) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{head}");
        assert!(head.contains("content-type: application/problem+json\r\n"));
        assert!(head.contains(&format!("content-length: {}", rest.len())));
        let doc: serde_json::Value = serde_json::from_str(rest).unwrap();
        assert_eq!(doc["status"], 414);
    }

    /// Through the stream: an automatic 431 head written in answer to what was just read goes
    /// out as the server's problem response; any other write passes untouched, including one
    /// that looks like such a head but comes later in a response.
    #[tokio::test]
    async fn the_stream_swaps_automatic_errors_and_passes_the_rest() {
        let automatic =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n";
        let ordinary = b"HTTP/1.1 200 OK\r\ncontent-length: 70\r\n\r\n";
        let (near, mut far) = tokio::io::duplex(4096);
        let mut io = ProblemIo::new(near, body);
        let mut request = [0u8; 64];

        // A response whose body ends with bytes that read like an automatic head.
        far.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        let _ = io.read(&mut request).await.unwrap();
        io.write_all(ordinary).await.unwrap();
        io.write_all(automatic).await.unwrap();
        // The next request can't be parsed: hyper's answer is swapped.
        far.write_all(b"GET / HTTP/1.1\r\nx: \0\r\n\r\n")
            .await
            .unwrap();
        let _ = io.read(&mut request).await.unwrap();
        io.write_all(automatic).await.unwrap();
        io.shutdown().await.unwrap();
        drop(io);

        let mut seen = String::new();
        far.read_to_string(&mut seen).await.unwrap();
        let first = [&ordinary[..], &automatic[..]].concat();
        let swapped = seen
            .strip_prefix(std::str::from_utf8(&first).unwrap())
            .unwrap_or_else(|| panic!("the first response was changed: {seen:?}"));
        assert!(swapped.starts_with("HTTP/1.1 431 "), "{swapped}");
        assert!(swapped.ends_with(r#"{"status":431}"#), "{swapped}");
    }
}
