//! A blocking HTTP client over `wasi:http/outgoing-handler`.
//!
//! Every request passes the host's egress check: only origins the connector was granted are
//! reachable, each resolved address is checked, and redirects are not followed here (a
//! connector that follows one sends a new request, which is checked again).

use super::Error;
use super::bindings::wasi::http::outgoing_handler::handle;
use super::bindings::wasi::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use super::bindings::wasi::io::streams::StreamError;
use std::time::Duration;

/// An HTTP request to send.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// An absolute `http://` or `https://` URL.
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub timeout: Duration,
}

/// An HTTP response, its body read in full (up to the caller's limit).
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name`, compared without case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `request` and reads a response body of at most `max_body` bytes.
pub fn send(request: &Request, max_body: usize) -> Result<Response, Error> {
    let url = url_parts(&request.url)?;
    let headers = Fields::new();
    for (name, value) in &request.headers {
        headers
            .append(name, value.as_bytes())
            .map_err(|e| Error::InvalidQuery(format!("header {name} is not allowed: {e:?}")))?;
    }
    let outgoing = OutgoingRequest::new(headers);
    let invalid = |what: &str| Error::InvalidQuery(format!("invalid {what} in {}", request.url));
    outgoing
        .set_method(&method(&request.method))
        .map_err(|()| invalid("method"))?;
    outgoing
        .set_scheme(Some(&url.scheme))
        .map_err(|()| invalid("scheme"))?;
    outgoing
        .set_authority(Some(&url.authority))
        .map_err(|()| invalid("host"))?;
    outgoing
        .set_path_with_query(Some(&url.path_and_query))
        .map_err(|()| invalid("path"))?;
    let body = outgoing.body().map_err(|()| invalid("body"))?;

    let options = RequestOptions::new();
    let nanos = request.timeout.as_nanos() as u64;
    // The host may not support every timeout; the call deadline bounds the rest.
    let _ = options.set_connect_timeout(Some(nanos));
    let _ = options.set_first_byte_timeout(Some(nanos));
    let _ = options.set_between_bytes_timeout(Some(nanos));

    let pending = handle(outgoing, Some(options)).map_err(|e| http_error(&request.url, e))?;
    write_body(body, request.body.as_deref())?;

    let incoming = loop {
        match pending.get() {
            Some(Ok(Ok(response))) => break response,
            Some(Ok(Err(e))) => return Err(http_error(&request.url, e)),
            Some(Err(())) => return Err(Error::Connection("response already taken".into())),
            None => pending.subscribe().block(),
        }
    };
    let status = incoming.status();
    let headers = incoming
        .headers()
        .entries()
        .into_iter()
        .map(|(n, v)| (n, String::from_utf8_lossy(&v).into_owned()))
        .collect();
    let body = incoming
        .consume()
        .map_err(|()| Error::Connection("the response body was already read".into()))?;
    let bytes = read_body(&body, max_body)?;
    drop(body);
    Ok(Response {
        status,
        headers,
        body: bytes,
    })
}

fn write_body(body: OutgoingBody, bytes: Option<&[u8]>) -> Result<(), Error> {
    if let Some(bytes) = bytes {
        let stream = body
            .write()
            .map_err(|()| Error::Connection("the request body could not be opened".into()))?;
        for chunk in bytes.chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| Error::Connection(format!("sending the request body: {e:?}")))?;
        }
        drop(stream);
    }
    OutgoingBody::finish(body, None).map_err(|e| Error::Connection(format!("{e:?}")))
}

fn read_body(body: &IncomingBody, max_body: usize) -> Result<Vec<u8>, Error> {
    let stream = body
        .stream()
        .map_err(|()| Error::Connection("the response body could not be opened".into()))?;
    let mut out = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => {
                if out.len() + chunk.len() > max_body {
                    return Err(Error::Remote(super::RemoteError {
                        code: "response-too-large".into(),
                        message: format!("the response body is larger than {max_body} bytes"),
                        detail: None,
                        hint: Some("ask for less data, e.g. with paging parameters".into()),
                    }));
                }
                out.extend_from_slice(&chunk);
            }
            Err(StreamError::Closed) => return Ok(out),
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(Error::Connection(format!(
                    "reading the response: {}",
                    e.to_debug_string()
                )));
            }
        }
    }
}

fn method(name: &str) -> Method {
    match name.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "CONNECT" => Method::Connect,
        "OPTIONS" => Method::Options,
        "TRACE" => Method::Trace,
        "PATCH" => Method::Patch,
        other => Method::Other(other.to_string()),
    }
}

fn http_error(url: &str, e: ErrorCode) -> Error {
    match e {
        ErrorCode::HttpRequestDenied | ErrorCode::DestinationIpProhibited => Error::Denied(
            format!("the host refused the request to {url}: it is not a granted destination"),
        ),
        ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::HttpResponseTimeout => {
            Error::Timeout(format!("the request to {url} timed out"))
        }
        ErrorCode::DnsError(_) | ErrorCode::DestinationNotFound => {
            Error::Connection(format!("the host of {url} does not resolve"))
        }
        ErrorCode::ConnectionRefused => Error::Connection(format!("{url} refused the connection")),
        ErrorCode::ConnectionLimitReached => Error::Denied(format!(
            "the host refused the request to {url}: this connector already holds as many open \
             connections as the host allows one instance"
        )),
        ErrorCode::TlsCertificateError => {
            Error::Connection(format!("the TLS certificate of {url} is not valid"))
        }
        other => Error::Connection(format!("the request to {url} failed: {other:?}")),
    }
}

struct UrlParts {
    scheme: Scheme,
    authority: String,
    path_and_query: String,
}

fn url_parts(url: &str) -> Result<UrlParts, Error> {
    let invalid = || Error::InvalidQuery(format!("`{url}` is not an absolute http(s) URL"));
    let (scheme, rest) = url.split_once("://").ok_or_else(invalid)?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        _ => return Err(invalid()),
    };
    let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..split];
    if authority.is_empty() || authority.contains('@') {
        return Err(invalid());
    }
    let mut path_and_query = rest[split..].split('#').next().unwrap_or("").to_string();
    if !path_and_query.starts_with('/') {
        path_and_query.insert(0, '/');
    }
    Ok(UrlParts {
        scheme,
        authority: authority.to_string(),
        path_and_query,
    })
}
