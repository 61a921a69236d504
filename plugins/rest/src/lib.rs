//! The REST API connector: HTTP requests to one configured base URL.
//!
//! - [`config`]: base URL, authentication, default headers, limits.
//! - [`request`]: a query and its parameters as an HTTP request (values encoded, never
//!   spliced).
//! - [`response`]: the answer as columns and rows.
//!
//! Requests stay on the base URL's origin. Redirects are followed (at most
//! [`MAX_REDIRECTS`]) only while they stay on it; the host checks each one again.

mod config;
mod request;
mod response;

use config::Config;
use lathe_plugin_sdk::{
    Batch, Connector, Error, RemoteError, Request, ResultHead, export_connector, http,
    results::Buffered,
};
use std::time::Duration;

/// The most redirects followed for one request.
pub const MAX_REDIRECTS: usize = 5;

struct Rest {
    config: Config,
    rows: Buffered,
}

impl Connector for Rest {
    fn open(config: serde_json::Value) -> Result<Self, Error> {
        Ok(Rest {
            config: Config::parse(&config)?,
            rows: Buffered::default(),
        })
    }

    fn test(&mut self) -> Result<(), Error> {
        // Any HTTP answer proves the API is reachable; only transport failures fail the test.
        let base = request::Outgoing {
            method: "HEAD".into(),
            url: self.config.base.clone(),
            headers: self.config.headers.clone(),
            body: None,
        };
        self.send(base).map(|_| ())
    }

    fn run(&mut self, request: Request) -> Result<ResultHead, Error> {
        let outgoing = request::build(&self.config, &request.query, &request.params)?;
        let answer = self.send(outgoing)?;
        if answer.status >= 400 {
            return Err(status_error(&answer));
        }
        let table = response::to_table(&answer);
        let (rest, head) =
            Buffered::start(table.columns, table.rows, &table.metadata, request.max_rows);
        self.rows = rest;
        Ok(head)
    }

    fn fetch(&mut self, max_rows: u32) -> Result<Batch, Error> {
        Ok(self.rows.next(max_rows))
    }
}

impl Rest {
    /// Sends `outgoing`, following same-origin redirects.
    fn send(&self, mut outgoing: request::Outgoing) -> Result<http::Response, Error> {
        for _ in 0..=MAX_REDIRECTS {
            let answer = http::send(
                &http::Request {
                    method: outgoing.method.clone(),
                    url: outgoing.url.to_string(),
                    headers: outgoing.headers.clone(),
                    body: outgoing.body.clone(),
                    timeout: Duration::from_millis(self.config.timeout_ms),
                },
                self.config.max_response_bytes,
            )
            .map_err(|e| without_query(e, &outgoing.url))?;
            if !matches!(answer.status, 301 | 302 | 303 | 307 | 308) {
                return Ok(answer);
            }
            let location = answer.header("location").ok_or_else(|| {
                Error::remote(answer.status.to_string(), "a redirect without a Location")
            })?;
            let next = outgoing.url.join(location).map_err(|e| {
                Error::remote(
                    answer.status.to_string(),
                    format!("an invalid redirect: {e}"),
                )
            })?;
            if next.origin() != self.config.origin() {
                return Err(Error::Denied(format!(
                    "the API redirected to {}, off the base URL's origin {}; requests stay on \
                     the configured origin",
                    next.origin().ascii_serialization(),
                    self.config.origin().ascii_serialization()
                )));
            }
            // 303, and 301/302 after a POST, turn into a GET without a body, as browsers do.
            if answer.status == 303
                || (matches!(answer.status, 301 | 302) && outgoing.method == "POST")
            {
                outgoing.method = "GET".into();
                outgoing.body = None;
                outgoing
                    .headers
                    .retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
            }
            outgoing.url = next;
        }
        Err(Error::remote(
            "too-many-redirects",
            format!("more than {MAX_REDIRECTS} redirects"),
        ))
    }
}

/// Errors name the URL without its query, which may carry an API key.
fn without_query(error: Error, url: &url::Url) -> Error {
    let full = url.as_str();
    let mut shown = url.clone();
    shown.set_query(None);
    let scrub = |m: String| m.replace(full, shown.as_str());
    match error {
        Error::Connection(m) => Error::Connection(scrub(m)),
        Error::Denied(m) => Error::Denied(scrub(m)),
        Error::Timeout(m) => Error::Timeout(scrub(m)),
        Error::InvalidQuery(m) => Error::InvalidQuery(scrub(m)),
        other => other,
    }
}

fn status_error(answer: &http::Response) -> Error {
    let body = String::from_utf8_lossy(&answer.body);
    let detail: String = body.chars().take(2000).collect();
    Error::Remote(RemoteError {
        code: answer.status.to_string(),
        message: format!("the API answered HTTP {}", answer.status),
        detail: (!detail.trim().is_empty()).then_some(detail),
        hint: None,
    })
}

export_connector!(Rest);
