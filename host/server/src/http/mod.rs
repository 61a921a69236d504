//! The HTTP edge: the middleware stack (request id, tracing, metrics, timeout, body limit,
//! panic guard, security headers), health and metrics endpoints, the builder's static files,
//! and serving over plain HTTP or rustls with graceful shutdown.

mod around;
pub mod metrics;
mod parse_errors;
mod serve;

pub use around::{Around, Step};
pub use serve::serve;

use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::task::Poll;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_http::services::{ServeDir, ServeFile};
use tracing::Instrument;

use crate::error::Error;
use crate::state::SharedState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole application: API, health, metrics, builder assets, and the middleware around them.
pub fn app(
    state: SharedState,
    builder_dir: Option<&std::path::Path>,
    body_limit: usize,
    request_timeout: Duration,
    access_log: AccessLog,
) -> Router {
    let mut router = crate::api::router(&state)
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_get));

    router = match builder_dir {
        Some(dir) => {
            // A path the builder routes in the browser (`/apps/ws/app`) gets its index.html;
            // a missing file (`/assets/x.js`), anything under `/assets/` or the API stays a
            // 404, and a method other than GET or HEAD on a page or file gets a 405 problem
            // document.
            let index = ServeFile::new(dir.join("index.html"));
            let pages = tower::service_fn(move |req: Request| {
                let index = index.clone();
                async move {
                    let path = req.uri().path();
                    if under_api(path) {
                        Ok(Error::NotFound.into_response())
                    } else if !matches!(*req.method(), Method::GET | Method::HEAD) {
                        let mut refused = Error::MethodNotAllowed.into_response();
                        refused
                            .headers_mut()
                            .insert(header::ALLOW, HeaderValue::from_static("GET,HEAD"));
                        Ok(refused)
                    } else if is_client_route(path) {
                        index.oneshot(req).await.map(IntoResponse::into_response)
                    } else {
                        Ok(Error::NotFound.into_response())
                    }
                }
            });
            let files = ServeDir::new(dir)
                .call_fallback_on_method_not_allowed(true)
                .fallback(pages);
            router.fallback_service(files)
        }
        None => router.fallback(not_found),
    };

    // One layer, written out rather than stacked from tower-http's: each stacked layer
    // wrapped the request's future and the answer's body once more, which every query run
    // paid for at every poll (docs/benchmarks.md, session 16).
    let edge = Edge {
        state: state.clone(),
        request_timeout,
        body_limit,
        access_log,
    };
    router
        .method_not_allowed_fallback(method_not_allowed)
        .layer(
            ServiceBuilder::new()
                .layer(Around(edge))
                .layer(DefaultBodyLimit::max(body_limit)),
        )
        .with_state(state)
}

/// Whether `path` is the API's or looks like it (`/api`, `/API/v1/…`): such a path never
/// gets the builder's index page, so a mistyped API call is a 404 problem document rather
/// than a 200 with HTML.
fn under_api(path: &str) -> bool {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    first.eq_ignore_ascii_case("api")
}

/// Whether `path` is one of the builder's own pages rather than a file: not under the API or
/// the built assets, no `.` or `..` segments, and a last segment without an extension.
fn is_client_route(path: &str) -> bool {
    let segments: Vec<&str> = path.split('/').collect();
    !under_api(path)
        && !path.starts_with("/assets/")
        && !segments.iter().any(|s| *s == "." || *s == "..")
        && !segments.last().is_some_and(|last| last.contains('.'))
}

/// The request's id: the caller's `x-request-id` if it is short and plain (letters, digits,
/// `-`, `_`, `.`), a fresh UUID otherwise, so that no caller can write into the log lines
/// that carry it.
fn request_id(req: &Request) -> HeaderValue {
    match req.headers().get(REQUEST_ID) {
        Some(value) if plain_request_id(value.as_bytes()) => value.clone(),
        _ => {
            let mut text = uuid::Uuid::encode_buffer();
            let fresh = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text);
            HeaderValue::from_str(fresh).expect("a UUID is a valid header value")
        }
    }
}

fn plain_request_id(bytes: &[u8]) -> bool {
    !bytes.is_empty()
        && bytes.len() <= 64
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(b))
}

/// A request slower than this is logged even when answered with success.
const SLOW_REQUEST: Duration = Duration::from_secs(1);

/// Which requests get a log line (`http.response`, inside the request's span).
///
/// By default only those an operator would look into: refused, failed or abandoned by the
/// client (status 400 and up; 499 for abandoned), or slower than [`SLOW_REQUEST`]. A line for every request is opt-in
/// (`--access-log`), as in Grafana and most servers of its kind: the audit log already
/// records every query run and every change, and under load a line per request costs about
/// a twentieth of the server's CPU (docs/benchmarks.md, session 13).
#[derive(Clone, Copy, Debug)]
pub struct AccessLog {
    pub every_request: bool,
}

impl AccessLog {
    /// Writes the `http.response` line of a request that ended with `status` (499: the
    /// client went away first) after `latency`, if it is one to log.
    fn note(self, status: u16, latency: Duration) {
        if self.every_request || status >= 400 || latency >= SLOW_REQUEST {
            let latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
            if status == CLIENT_CLOSED {
                tracing::info!(
                    event = "http.response",
                    status,
                    latency_ms,
                    "the client went away before the answer"
                );
            } else {
                tracing::info!(
                    event = "http.response",
                    status,
                    latency_ms,
                    "request answered"
                );
            }
        }
    }
}

async fn not_found() -> Error {
    Error::NotFound
}

async fn method_not_allowed() -> Error {
    Error::MethodNotAllowed
}

async fn livez() -> &'static str {
    "ok\n"
}

/// Ready when the store answers and every migration is applied.
async fn readyz(State(state): State<SharedState>) -> Response {
    match state.store.ready().await {
        Ok(true) => (StatusCode::OK, "ready\n").into_response(),
        Ok(false) => (StatusCode::SERVICE_UNAVAILABLE, "migrations pending\n").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "store unreachable\n").into_response()
        }
    }
}

async fn metrics_get(State(state): State<SharedState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// The edge: what every request and its answer go through, around every route (and the
/// fallback) once the router has matched it: [`Edge::around`].
#[derive(Clone)]
struct Edge {
    state: SharedState,
    request_timeout: Duration,
    body_limit: usize,
    access_log: AccessLog,
}

impl Step for Edge {
    /// The request's id and its `http.request` span (method, path, never the query), in which
    /// everything the request does is logged; then [`edge_checks`].
    fn around<S>(
        self,
        request: Request,
        inner: S,
    ) -> impl Future<Output = Result<Response, Infallible>> + Send
    where
        S: Service<Request, Response = Response, Error = Infallible> + Send + 'static,
        S::Future: Send + 'static,
    {
        let id = request_id(&request);
        let span = tracing::info_span!(
            "http.request",
            method = %request.method(),
            path = %request.uri().path(),
            request_id = id.to_str().unwrap_or_default(),
        );
        edge_checks(self, inner, request, id).instrument(span)
    }
}

/// What a response is for, which decides its caching and security headers.
#[derive(Clone, Copy, PartialEq)]
enum Destination {
    Api,
    /// A built asset under `/assets/`, named by its content hash.
    Asset,
    /// The builder's pages and anything else outside the API.
    Page,
}

/// The per-request checks and headers, in one step:
/// - a path with `%00` in it, or starting with `//`, names nothing (no id, slug or name contains NUL, and PostgreSQL
///   refuses one in a text parameter), on either store, and never reaches a handler;
/// - 413 at once for a request whose declared body is over the limit;
/// - 408 when the request (reading its body included) isn't done in time;
/// - a handler that panics is a 500 problem document, and the server goes on;
/// - `x-request-id`, security and caching headers on every response;
/// - `connection: close` on a refusal of a request that carried a body ([`unread_body`]);
/// - the request counted in the metrics under its route template, and logged if it is one
///   to log ([`AccessLog`]), answered or abandoned.
async fn edge_checks<S>(
    edge: Edge,
    inner: S,
    req: Request,
    id: HeaderValue,
) -> Result<Response, Infallible>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    let mut counted = Counted {
        state: edge.state,
        method: metrics::method_label(req.method()),
        route: req.extensions().get::<MatchedPath>().cloned(),
        started: Instant::now(),
        status: None,
        access_log: edge.access_log,
    };
    let has_body = carries_body(&req);
    let path = req.uri().path();
    let destination = if under_api(path) {
        Destination::Api
    } else if path.starts_with("/assets/") {
        Destination::Asset
    } else {
        Destination::Page
    };
    // Nor does a path that starts with an empty segment (`//assets`): the static files would
    // answer it with a redirect to `//assets/`, which a browser reads as another host.
    let mut response = if path.contains("%00") || path.starts_with("//") {
        Error::NotFound.into_response()
    } else if declared_length(&req).is_some_and(|length| {
        let route = counted.route.as_ref().map(MatchedPath::as_str);
        length > crate::api::body_limit(route, edge.body_limit) as u64
    }) {
        // Refused at once: the handler would otherwise wait for a body it then refuses,
        // as long as the client cared to keep the connection open.
        Error::PayloadTooLarge.into_response()
    } else {
        match tokio::time::timeout(edge.request_timeout, unless_it_panics(inner.oneshot(req))).await
        {
            Ok(response) => response,
            Err(_) => Error::Timeout.into_response(),
        }
    };
    security_headers(&mut response, destination);
    let close = has_body && unread_body(response.status());
    let headers = response.headers_mut();
    headers.insert(REQUEST_ID, id);
    if close {
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    counted.status = Some(response.status().as_u16());
    Ok(response)
}

/// The answer of `handling`, or a 500 problem document if it panics: the panic is then
/// logged by the runtime's hook, and the connection and the server go on.
async fn unless_it_panics<F>(handling: F) -> Response
where
    F: Future<Output = Result<Response, Infallible>>,
{
    let mut handling = std::pin::pin!(handling);
    std::future::poll_fn(|cx| {
        match std::panic::catch_unwind(AssertUnwindSafe(|| handling.as_mut().poll(cx))) {
            Ok(Poll::Ready(Ok(response))) => Poll::Ready(response),
            Ok(Poll::Ready(Err(never))) => match never {},
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => {
                Poll::Ready(Error::Internal(anyhow::anyhow!("a handler panicked")).into_response())
            }
        }
    })
    .await
}

/// The body length the request declares (`content-length`), if it declares one.
fn declared_length(req: &Request) -> Option<u64> {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|length| length.to_str().ok())
        .and_then(|length| length.trim().parse().ok())
}

/// Whether the request says a body follows its head.
fn carries_body(req: &Request) -> bool {
    let headers = req.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|length| length.as_bytes() != b"0")
}

/// Whether a response with this status usually refuses a request before its body is read
/// (no session, a CSRF or role refusal, another tenant's id, a body too large, too slow).
/// hyper then ends the keep-alive connection without telling the client, whose next
/// request on it fails with no answer; `connection: close` tells it to open a new one.
fn unread_body(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::UNAUTHORIZED
            | StatusCode::FORBIDDEN
            | StatusCode::NOT_FOUND
            | StatusCode::METHOD_NOT_ALLOWED
            | StatusCode::REQUEST_TIMEOUT
            | StatusCode::PAYLOAD_TOO_LARGE
    )
}

/// Status recorded for a request whose client went away before it was answered (nginx's
/// convention).
const CLIENT_CLOSED: u16 = 499;

/// Counts a request in the metrics and logs it when dropped: with its answer's status, or
/// as [`CLIENT_CLOSED`] when it was dropped before there was one.
struct Counted {
    state: SharedState,
    method: &'static str,
    route: Option<MatchedPath>,
    started: Instant,
    status: Option<u16>,
    access_log: AccessLog,
}

impl Drop for Counted {
    fn drop(&mut self) {
        let status = self.status.unwrap_or(CLIENT_CLOSED);
        let latency = self.started.elapsed();
        self.state.metrics.record(
            self.method,
            self.route.as_ref().map_or("unmatched", MatchedPath::as_str),
            status,
            latency,
        );
        // Inside the request's span, also when the request is dropped unanswered: the
        // instrumented future enters it to drop what it holds.
        self.access_log.note(status, latency);
    }
}

/// API responses are never cached and never sniffed into another content type.
fn security_headers(response: &mut Response, destination: Destination) {
    // A 304 revalidates what the browser holds: it keeps the same caching as the 200.
    let succeeded = response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if destination == Destination::Api {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return;
    }
    // The builder's pages: its own scripts and styles only (the build has no inline script),
    // no framing, no plugins. Images may come from anywhere over https, as app builders
    // expect of an image component; everything the builder fetches is this server's API.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; img-src 'self' data: https:; \
             object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    // Built assets carry a content hash in their names; pages must be asked for again so a
    // new release of the builder is picked up.
    let cache = if destination == Destination::Asset && succeeded {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_extensionless_pages_outside_the_api_are_client_routes() {
        for page in ["/", "/login", "/apps/ws/customers", "/apps/ws/customers/"] {
            assert!(is_client_route(page), "{page}");
        }
        for path in [
            "/api/v1/nope",
            "/assets/app.js",
            "/assets/",
            "/assets/missing",
            "/favicon.ico",
            "/a/../b",
            "/./x",
            "/api",
            "/API/v1/workspaces",
            "//api/v1",
        ] {
            assert!(!is_client_route(path), "{path}");
        }
    }

    fn with_id(id: &str) -> Request {
        Request::builder()
            .header(REQUEST_ID, id)
            .body(axum::body::Body::empty())
            .unwrap()
    }

    #[test]
    fn plain_request_ids_are_kept_and_others_replaced() {
        assert_eq!(request_id(&with_id("abc-123_x.y")), "abc-123_x.y");
        for bad in ["abc} ERROR fake log status=500", &"a".repeat(65), ""] {
            let fresh = request_id(&with_id(bad));
            let fresh = fresh.to_str().unwrap();
            assert!(uuid::Uuid::parse_str(fresh).is_ok(), "{bad}: {fresh}");
        }
        let none = Request::new(axum::body::Body::empty());
        assert_ne!(request_id(&none), request_id(&none));
    }

    #[tokio::test]
    async fn a_handler_that_panics_is_answered_with_a_problem_document() {
        let panicking = async {
            tokio::task::yield_now().await;
            panic!("a bug in a handler");
        };
        let response = unless_it_panics(panicking).await;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );

        let fine = async { Ok(StatusCode::NO_CONTENT.into_response()) };
        assert_eq!(
            unless_it_panics(fine).await.status(),
            StatusCode::NO_CONTENT
        );
    }
}
