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
/// automatic error heads, made between two responses, is replaced by a problem response.
pub struct ProblemIo<T> {
    inner: T,
    body: ProblemBody,
    /// The next write starts a response: bytes were read since the last write, or the last
    /// write was a whole response (head and its full `content-length` body, as hyper writes
    /// every response whose length it knows). hyper writes an automatic error at such a
    /// point; a write inside a response (the end of a streamed body that happens to look like
    /// such a head) is never one and is never touched.
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
                    if let Ok(n) = written
                        && n > 0
                    {
                        self.answering = n == buf.len() && whole_response(buf);
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
    // Every response passes here: the cheap tests come first. A bodiless 4xx head is short.
    if buf.len() > 512 || !buf.starts_with(b"HTTP/1.") || !buf.ends_with(b"\r\n\r\n") {
        return None;
    }
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

/// Whether `buf` is one whole response: a status line, headers, and exactly as many body
/// bytes as its `content-length` says.
fn whole_response(buf: &[u8]) -> bool {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let Ok(head) = std::str::from_utf8(&buf[..end]) else {
        return false;
    };
    if !head.starts_with("HTTP/1.") {
        return false;
    }
    let length = head.split("\r\n").skip(1).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())?
    });
    length == Some(buf.len() - end - 4)
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

    /// Writes `writes` through a [`ProblemIo`] after it has read a request, and returns what
    /// reached the other end.
    async fn through_the_stream(writes: &[&[u8]]) -> String {
        let (near, mut far) = tokio::io::duplex(4096);
        let mut io = ProblemIo::new(near, body);
        far.write_all(b"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nx: \0\r\n\r\n")
            .await
            .unwrap();
        let mut request = [0u8; 128];
        let _ = io.read(&mut request).await.unwrap();
        for bytes in writes {
            io.write_all(bytes).await.unwrap();
        }
        io.shutdown().await.unwrap();
        drop(io);
        let mut seen = String::new();
        far.read_to_string(&mut seen).await.unwrap();
        seen
    }

    const AUTOMATIC: &[u8] =
        b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n";

    /// An automatic 431 head written in answer to what was read, or right after a whole
    /// response (two requests read at once, the second unparsable), goes out as the server's
    /// problem response.
    #[tokio::test]
    async fn automatic_errors_between_responses_are_swapped() {
        let status = StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE;
        let swapped = String::from_utf8(problem_response(status, &body(status))).unwrap();
        assert_eq!(through_the_stream(&[AUTOMATIC]).await, swapped);
        let whole = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
        let seen = through_the_stream(&[whole.as_bytes(), AUTOMATIC]).await;
        assert_eq!(seen, format!("{whole}{swapped}"));
    }

    /// Inside a response (the end of a streamed body that reads like an automatic head),
    /// nothing is touched.
    #[tokio::test]
    async fn writes_inside_a_response_pass_untouched() {
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 68\r\n\r\n";
        let seen = through_the_stream(&[head, AUTOMATIC]).await;
        let expected = [&head[..], AUTOMATIC].concat();
        assert_eq!(seen.as_bytes(), expected.as_slice());
    }

    #[test]
    fn a_whole_response_is_told_from_part_of_one() {
        assert!(whole_response(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        ));
        assert!(whole_response(
            b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n"
        ));
        assert!(!whole_response(
            b"HTTP/1.1 200 OK\r\ncontent-length: 70\r\n\r\n"
        ));
        assert!(!whole_response(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
        ));
        assert!(!whole_response(b"the end of a body"));
    }
}
