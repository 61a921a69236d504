//! A blocking TCP stream over `wasi:sockets`.
//!
//! The host lets a connector resolve only the host names it was granted, answers with the
//! addresses it pinned when the instance opened, and lets it connect only to those addresses
//! on granted ports. Anything else fails with [`Error::Denied`].

use super::Error;
use super::bindings::wasi::clocks::monotonic_clock;
use super::bindings::wasi::io::poll::{Pollable, poll};
use super::bindings::wasi::io::streams::{InputStream, OutputStream, StreamError};
use super::bindings::wasi::sockets::instance_network::instance_network;
use super::bindings::wasi::sockets::ip_name_lookup::resolve_addresses;
use super::bindings::wasi::sockets::network::{
    ErrorCode, IpAddress, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress,
    Network,
};
use super::bindings::wasi::sockets::tcp::{ShutdownType, TcpSocket};
use super::bindings::wasi::sockets::tcp_create_socket::create_tcp_socket;
use std::io;
use std::net::IpAddr;
use std::time::Duration;

/// The most bytes handed to the host in one write.
const WRITE_CHUNK: u64 = 64 * 1024;
/// The most bytes `blocking-write-and-flush` takes in one call.
const BLOCKING_WRITE_MAX: usize = 4096;

/// A connected TCP stream. Reads and writes block; a read timeout can be set.
pub struct TcpStream {
    // Field order is drop order: the streams are children of the socket.
    input: InputStream,
    output: OutputStream,
    socket: TcpSocket,
    read_timeout: Option<Duration>,
    /// Bytes were written without being flushed.
    unflushed: bool,
    peer: String,
}

impl TcpStream {
    /// Resolves `host` and connects to the first address that accepts, within `timeout`
    /// per attempt.
    pub fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, Error> {
        let network = instance_network();
        let addresses = resolve(&network, host)?;
        let mut last = Error::Connection(format!("{host} has no addresses"));
        for ip in addresses {
            match connect_one(&network, ip, port, timeout) {
                Ok((socket, input, output)) => {
                    return Ok(TcpStream {
                        input,
                        output,
                        socket,
                        read_timeout: None,
                        unflushed: false,
                        peer: format!("{host}:{port}"),
                    });
                }
                Err(e @ Error::Denied(_)) => return Err(e),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Reads fail with `TimedOut` when no byte arrives within `timeout`.
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) {
        self.read_timeout = timeout;
    }

    /// `host:port` as given to [`TcpStream::connect`].
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// Whether the peer sent anything, or closed the stream, that nobody has read yet. It
    /// doesn't wait, and what it finds is consumed (WASI streams can't be peeked): ask only
    /// of a connection that should be quiet, and drop it when the answer is yes. A database
    /// connector asks this of its pooled connection before a call: a server that ended an
    /// idle session (a restart, an administrator, an idle timeout) has said so, or closed
    /// the socket, by then.
    pub fn has_unread_input(&mut self) -> bool {
        match self.input.read(1) {
            Ok(bytes) => !bytes.is_empty(),
            Err(_) => true,
        }
    }

    /// Closes the sending half; the peer sees end of stream.
    pub fn shutdown(&self) {
        let _ = self.output.flush();
        let _ = self.socket.shutdown(ShutdownType::Both);
    }
}

// Every call into the host costs about as much as a small query's own work in the
// guest, so the common cases take one call each: without a read timeout a read is one
// `blocking-read` (rather than read, subscribe, block, read again and drop the pollable),
// and a write of up to 4 KiB is one `blocking-write-and-flush`.
impl io::Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let read = match self.read_timeout {
                None => self.input.blocking_read(buf.len() as u64),
                Some(_) => self.input.read(buf.len() as u64),
            };
            match read {
                Ok(bytes) if bytes.is_empty() => {
                    wait(&self.input.subscribe(), self.read_timeout)?;
                }
                Ok(bytes) => {
                    buf[..bytes.len()].copy_from_slice(&bytes);
                    return Ok(bytes.len());
                }
                Err(StreamError::Closed) => return Ok(0),
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::ConnectionReset,
                        e.to_debug_string(),
                    ));
                }
            }
        }
    }
}

impl io::Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if buf.len() <= BLOCKING_WRITE_MAX {
            // Also completes the flush of anything written before.
            self.output
                .blocking_write_and_flush(buf)
                .map_err(stream_error)?;
            self.unflushed = false;
            return Ok(buf.len());
        }
        loop {
            let permitted = self.output.check_write().map_err(stream_error)?;
            if permitted == 0 {
                wait(&self.output.subscribe(), None)?;
                continue;
            }
            let n = (buf.len() as u64).min(permitted).min(WRITE_CHUNK) as usize;
            self.output.write(&buf[..n]).map_err(stream_error)?;
            self.unflushed = true;
            return Ok(n);
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.unflushed {
            return Ok(());
        }
        // The pollable is ready once the requested flush has completed.
        self.output.flush().map_err(stream_error)?;
        wait(&self.output.subscribe(), None)?;
        self.output.check_write().map_err(stream_error)?;
        self.unflushed = false;
        Ok(())
    }
}

fn stream_error(e: StreamError) -> io::Error {
    match e {
        StreamError::Closed => io::Error::new(io::ErrorKind::BrokenPipe, "connection closed"),
        StreamError::LastOperationFailed(e) => {
            io::Error::new(io::ErrorKind::ConnectionReset, e.to_debug_string())
        }
    }
}

/// Blocks until `pollable` is ready or `timeout` passes.
fn wait(pollable: &Pollable, timeout: Option<Duration>) -> io::Result<()> {
    let Some(timeout) = timeout else {
        pollable.block();
        return Ok(());
    };
    let timer = monotonic_clock::subscribe_duration(timeout.as_nanos() as u64);
    let ready = poll(&[pollable, &timer]);
    if ready.contains(&0) {
        Ok(())
    } else {
        Err(io::Error::new(io::ErrorKind::TimedOut, "read timed out"))
    }
}

fn resolve(network: &Network, host: &str) -> Result<Vec<IpAddr>, Error> {
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = literal.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    let stream = resolve_addresses(network, host).map_err(|e| lookup_error(host, e))?;
    let mut out = Vec::new();
    loop {
        match stream.resolve_next_address() {
            Ok(Some(address)) => out.push(from_wasi(address)),
            Ok(None) => return Ok(out),
            Err(ErrorCode::WouldBlock) => stream.subscribe().block(),
            Err(e) => return Err(lookup_error(host, e)),
        }
    }
}

fn lookup_error(host: &str, e: ErrorCode) -> Error {
    match e {
        ErrorCode::AccessDenied => Error::Denied(format!(
            "looking up {host} was refused: the connector may resolve only the hosts of its \
             granted destinations"
        )),
        ErrorCode::NameUnresolvable => Error::Connection(format!("{host} does not resolve")),
        other => Error::Connection(format!("looking up {host} failed: {other:?}")),
    }
}

fn connect_one(
    network: &Network,
    ip: IpAddr,
    port: u16,
    timeout: Duration,
) -> Result<(TcpSocket, InputStream, OutputStream), Error> {
    let family = match ip {
        IpAddr::V4(_) => IpAddressFamily::Ipv4,
        IpAddr::V6(_) => IpAddressFamily::Ipv6,
    };
    let target = to_wasi(ip, port);
    let socket = create_tcp_socket(family).map_err(|e| connect_error(ip, port, e))?;
    socket
        .start_connect(network, target)
        .map_err(|e| connect_error(ip, port, e))?;
    let pollable = socket.subscribe();
    let timer = monotonic_clock::subscribe_duration(timeout.as_nanos() as u64);
    loop {
        match socket.finish_connect() {
            Ok((input, output)) => {
                drop(pollable);
                return Ok((socket, input, output));
            }
            Err(ErrorCode::WouldBlock) => {
                if !poll(&[&pollable, &timer]).contains(&0) {
                    return Err(Error::Timeout(format!(
                        "connecting to {ip}:{port} took longer than {} ms",
                        timeout.as_millis()
                    )));
                }
            }
            Err(e) => return Err(connect_error(ip, port, e)),
        }
    }
}

fn connect_error(ip: IpAddr, port: u16, e: ErrorCode) -> Error {
    match e {
        ErrorCode::AccessDenied => Error::Denied(format!(
            "connecting to {ip}:{port} was refused: it is not a granted destination of this \
             datasource"
        )),
        ErrorCode::ConnectionRefused => {
            Error::Connection(format!("{ip}:{port} refused the connection"))
        }
        ErrorCode::NewSocketLimit => Error::Denied(format!(
            "connecting to {ip}:{port} was refused: this connector already holds as many open \
             sockets as the host allows one instance"
        )),
        ErrorCode::Timeout => Error::Timeout(format!("connecting to {ip}:{port} timed out")),
        other => Error::Connection(format!("connecting to {ip}:{port} failed: {other:?}")),
    }
}

fn to_wasi(ip: IpAddr, port: u16) -> IpSocketAddress {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            IpSocketAddress::Ipv4(Ipv4SocketAddress {
                port,
                address: (a, b, c, d),
            })
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpSocketAddress::Ipv6(Ipv6SocketAddress {
                port,
                flow_info: 0,
                address: (s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]),
                scope_id: 0,
            })
        }
    }
}

fn from_wasi(address: IpAddress) -> IpAddr {
    match address {
        IpAddress::Ipv4((a, b, c, d)) => IpAddr::from([a, b, c, d]),
        IpAddress::Ipv6((a, b, c, d, e, f, g, h)) => IpAddr::from([a, b, c, d, e, f, g, h]),
    }
}
