//! The registry's HTTP API over a [`DirRegistry`], what `lathe registry serve --dir DIR`
//! runs. Reading uses the directory's own layout (`/index.json`, `/packages/sha256-….lpkg`),
//! so a static file server over a registry directory is a read-only registry too; the
//! `/v1/` routes add search, publish and yank.
//!
//! Every error is an `application/problem+json` document; bad input is always a 4xx.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_server::accept::DefaultAcceptor;
use http_body_util::BodyExt;
use lathe_edge::ProblemAcceptor;
use serde::{Deserialize, Serialize};

use crate::dir::{DirRegistry, RegistryError};
use crate::index::SearchResult;
use crate::package::{Package, check_id, digest_hex};

mod problem;

use problem::ApiError;

pub const DEFAULT_MAX_PACKAGE_BYTES: u64 = 64 * 1024 * 1024;
/// Longer search text is no search anyone types; refusing it bounds the work per request.
const MAX_QUERY_LEN: usize = 256;

pub struct ServeConfig {
    pub dir: PathBuf,
    pub listen: SocketAddr,
    pub max_package_bytes: u64,
    /// The longest a client may take to send a request's headers, the first request's
    /// included (counted from the connection): one that trickles them is disconnected, so
    /// that idle or slow connections can't hold the server's sockets.
    pub header_timeout: Duration,
    /// The longest a client may take no bytes of a response (a package download) before it
    /// is disconnected, so that one that stops reading holds neither the response's memory
    /// nor the connection, nor delays a shutdown, for ever.
    pub send_timeout: Duration,
}

/// The default of [`ServeConfig::header_timeout`].
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// The default of [`ServeConfig::send_timeout`].
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// How long requests in flight get to finish once a shutdown begins.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

impl ServeConfig {
    pub fn new(dir: PathBuf, listen: SocketAddr) -> ServeConfig {
        ServeConfig {
            dir,
            listen,
            max_package_bytes: DEFAULT_MAX_PACKAGE_BYTES,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            send_timeout: DEFAULT_SEND_TIMEOUT,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("listening on {address}: {source}")]
    Bind {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("serving: {0}")]
    Serve(#[source] std::io::Error),
}

/// A registry server bound to its address but not yet serving, so a caller that asked for
/// port 0 can learn the port before the first request.
pub struct Server {
    listener: tokio::net::TcpListener,
    router: Router,
    header_timeout: Duration,
    send_timeout: Duration,
}

impl Server {
    pub async fn bind(config: ServeConfig) -> Result<Server, ServeError> {
        let registry = Arc::new(DirRegistry::open(&config.dir)?);
        let bind = |source| ServeError::Bind {
            address: config.listen,
            source,
        };
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(bind)?;
        let address = listener.local_addr().map_err(bind)?;
        tracing::info!(%address, dir = %config.dir.display(), "registry.listening");
        Ok(Server {
            listener,
            router: router(registry, config.max_package_bytes),
            header_timeout: config.header_timeout,
            send_timeout: config.send_timeout,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until `shutdown` completes, then lets requests in flight finish.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let handle: axum_server::Handle<SocketAddr> = axum_server::Handle::new();
        let stopping = handle.clone();
        tokio::spawn(async move {
            shutdown.await;
            stopping.graceful_shutdown(Some(SHUTDOWN_GRACE));
        });
        // HTTP/1.1 only: after a first request, hyper's HTTP/2 server would let a connection
        // idle, or trickle its next request's headers, without limit.
        let mut server = axum_server::Server::from_listener(self.listener)
            .handle(handle)
            .first_request_timeout(self.header_timeout)
            .http1_only()
            .acceptor(ProblemAcceptor::new(
                DefaultAcceptor,
                self.send_timeout,
                problem::unparsable_request,
            ));
        server
            .http_builder()
            .http1()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(self.header_timeout);
        server
            .serve(self.router.into_make_service())
            .await
            .map_err(ServeError::Serve)
    }
}

/// Opens the registry in `config.dir`, listens, logs the bound address and serves until
/// `shutdown` completes.
pub async fn serve(
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    Server::bind(config).await?.run(shutdown).await
}

#[derive(Clone)]
struct AppState {
    registry: Arc<DirRegistry>,
    max_package_bytes: u64,
}

pub fn router(registry: Arc<DirRegistry>, max_package_bytes: u64) -> Router {
    let state = AppState {
        registry,
        max_package_bytes,
    };
    Router::new()
        .route("/index.json", get(index_get))
        .route("/packages/{file}", get(package_get))
        .route("/v1/search", get(search_get))
        .route("/v1/packages", post(packages_publish))
        .route("/v1/packages/{id}/{version}/yank", post(version_yank))
        .route("/v1/packages/{id}/{version}/unyank", post(version_unyank))
        .fallback(|| async { ApiError::NotFound("there is nothing here".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(axum::middleware::from_fn(time_limit))
        .with_state(state)
}

/// The longest a request may take, its body included: a publisher that trickles an upload
/// (or never finishes it) is cut off instead of holding a connection and a task forever.
/// Headers have a limit of their own ([`ServeConfig::header_timeout`]).
const REQUEST_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(120);

async fn time_limit(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    match tokio::time::timeout(REQUEST_TIME_LIMIT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout(REQUEST_TIME_LIMIT.as_secs()).into_response(),
    }
}

async fn index_get(State(state): State<AppState>) -> Result<Response, ApiError> {
    let registry = state.registry.clone();
    let bytes = blocking(move || registry.index_bytes()).await??;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            // The index changes with every publish: clients revalidate.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        bytes,
    )
        .into_response())
}

async fn package_get(
    State(state): State<AppState>,
    file: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::NotFound("no such package file".into());
    let Path(file) = file.map_err(|_| not_found())?;
    let digest = file
        .strip_prefix("sha256-")
        .and_then(|rest| rest.strip_suffix(".lpkg"))
        .map(|hex| format!("sha256:{hex}"))
        .filter(|digest| digest_hex(digest).is_some())
        .ok_or_else(not_found)?;

    let registry = state.registry.clone();
    let bytes = blocking(move || registry.read_package(&digest)).await??;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            // Content-addressed: the bytes behind a name never change.
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

#[derive(Serialize)]
struct SearchResponse {
    packages: Vec<SearchResult>,
}

async fn search_get(
    State(state): State<AppState>,
    query: Result<Query<SearchQuery>, QueryRejection>,
) -> Result<Json<SearchResponse>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    if query.q.len() > MAX_QUERY_LEN {
        return Err(ApiError::BadRequest(format!(
            "the search text is longer than {MAX_QUERY_LEN} bytes"
        )));
    }
    let registry = state.registry.clone();
    let index = blocking(move || registry.index()).await??;
    Ok(Json(SearchResponse {
        packages: index.search(&query.q),
    }))
}

async fn packages_publish(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let owner = authenticate(&state, &headers).await?;
    let max = state.max_package_bytes;
    // Refused before a byte of the body is read when the client says how much it sends...
    if let Some(length) = headers.get(header::CONTENT_LENGTH) {
        let length: u64 = length
            .to_str()
            .ok()
            .and_then(|l| l.parse().ok())
            .ok_or_else(|| ApiError::BadRequest("invalid Content-Length".into()))?;
        if length > max {
            return Err(ApiError::TooLarge(max));
        }
    }
    // ...and counted as it arrives otherwise; nothing reaches the disk before the end.
    let bytes = read_limited(body, max).await?;

    let registry = state.registry.clone();
    let publisher = owner.clone();
    let (label, result) = blocking(move || match Package::from_bytes(&bytes) {
        Ok(package) => (
            Some(package.head().label()),
            registry.publish_package(&package, &publisher),
        ),
        Err(error) => (None, Err(error.into())),
    })
    .await?;
    let package = label.as_deref().unwrap_or("(unreadable)");
    match &result {
        Ok(entry) => tracing::info!(
            owner,
            package,
            digest = entry.digest,
            signed_by = entry.publisher.map(|k| k.fingerprint()),
            outcome = "published",
            "registry.publish"
        ),
        Err(error) => tracing::info!(owner, package, outcome = %error, "registry.publish"),
    }
    let entry = result?;
    Ok((StatusCode::CREATED, Json(entry)).into_response())
}

async fn version_yank(
    state: State<AppState>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    set_yanked(state, headers, path, true).await
}

async fn version_unyank(
    state: State<AppState>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    set_yanked(state, headers, path, false).await
}

async fn set_yanked(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    yanked: bool,
) -> Result<Response, ApiError> {
    let owner = authenticate(&state, &headers).await?;
    let Path((id, version)) = path.map_err(|_| ApiError::NotFound("no such package".into()))?;
    check_id(&id).map_err(ApiError::NotFound)?;
    let version = semver::Version::parse(&version)
        .map_err(|e| ApiError::BadRequest(format!("`{version}` is not a semantic version: {e}")))?;

    let registry = state.registry.clone();
    let publisher = owner.clone();
    let target = (id.clone(), version.clone());
    let result =
        blocking(move || registry.set_yanked(&target.0, &target.1, &publisher, yanked)).await?;
    match &result {
        Ok(_) => tracing::info!(owner, id, %version, yanked, outcome = "done", "registry.yank"),
        Err(error) => {
            tracing::info!(owner, id, %version, yanked, outcome = %error, "registry.yank")
        }
    }
    Ok(Json(result?).into_response())
}

/// The publisher name of the request's bearer token.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<String, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(ApiError::Unauthenticated(
            "a publisher token is required: send `Authorization: Bearer <token>`",
        ))?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned())
        .ok_or(ApiError::Unauthenticated(
            "the Authorization header must be `Bearer <token>`",
        ))?;
    let registry = state.registry.clone();
    blocking(move || registry.check_token(&token))
        .await?
        .ok_or(ApiError::Unauthenticated(
            "the publisher token is not valid",
        ))
}

async fn read_limited(body: Body, max: u64) -> Result<Vec<u8>, ApiError> {
    let mut body = body;
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| ApiError::BadRequest(format!("reading the request body: {e}")))?;
        if let Ok(data) = frame.into_data() {
            if bytes.len() as u64 + data.len() as u64 > max {
                return Err(ApiError::TooLarge(max));
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(bytes)
}

/// Runs file-system work off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::Internal(format!("a registry task failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::fixtures;
    use axum::http::Request;
    use tower::ServiceExt;

    /// Room for the test packages (a few tar blocks), not much more.
    const LIMIT: u64 = 4096;

    struct Fixture {
        _dir: tempfile::TempDir,
        registry: Arc<DirRegistry>,
        token: String,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let registry = Arc::new(DirRegistry::create(dir.path()).unwrap());
        let token = registry.add_token("alice").unwrap();
        Fixture {
            _dir: dir,
            registry,
            token,
        }
    }

    async fn send(f: &Fixture, request: Request<Body>) -> (StatusCode, HeaderMap, Vec<u8>) {
        let response = router(f.registry.clone(), LIMIT)
            .oneshot(request)
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, headers, body.to_vec())
    }

    fn publish(token: Option<&str>, body: Body) -> Request<Body> {
        let mut request = Request::post("/v1/packages");
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        request.body(body).unwrap()
    }

    fn detail(body: &[u8]) -> String {
        let problem: serde_json::Value = serde_json::from_slice(body).unwrap();
        problem["detail"].as_str().unwrap_or_default().to_owned()
    }

    fn blobs(f: &Fixture) -> usize {
        std::fs::read_dir(f.registry.dir().join("packages"))
            .unwrap()
            .count()
    }

    #[tokio::test]
    async fn publishing_needs_a_valid_token() {
        let f = fixture();
        let bytes = fixtures::package("pg", "1.0.0").to_bytes();
        let (status, headers, body) = send(&f, publish(None, Body::from(bytes.clone()))).await;
        assert_eq!(status, 401);
        assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
        assert!(detail(&body).contains("Bearer"));

        let request = publish(Some("lathe-registry-00"), Body::from(bytes.clone()));
        assert_eq!(send(&f, request).await.0, 401);
        let request = Request::post("/v1/packages")
            .header(header::AUTHORIZATION, format!("Basic {}", f.token))
            .body(Body::from(bytes.clone()))
            .unwrap();
        assert_eq!(send(&f, request).await.0, 401);

        let (status, _, body) = send(&f, publish(Some(&f.token), Body::from(bytes))).await;
        assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    }

    #[tokio::test]
    async fn oversized_uploads_are_refused_by_length_and_by_count() {
        let f = fixture();
        let request = Request::post("/v1/packages")
            .header(header::AUTHORIZATION, format!("Bearer {}", f.token))
            .header(header::CONTENT_LENGTH, "4097")
            .body(Body::from(vec![0u8; 4097]))
            .unwrap();
        assert_eq!(send(&f, request).await.0, 413);

        // No Content-Length header: the body is counted as it is read.
        let body = Body::from(vec![0u8; 4097]);
        let (status, _, body) = send(&f, publish(Some(&f.token), body)).await;
        assert_eq!(status, 413);
        assert!(detail(&body).contains("4096 bytes"));
        assert_eq!(blobs(&f), 0);
    }

    #[tokio::test]
    async fn invalid_packages_are_422_with_the_reason() {
        let f = fixture();
        let request = publish(Some(&f.token), Body::from("not a package"));
        let (status, _, body) = send(&f, request).await;
        assert_eq!(status, 422);
        assert!(
            detail(&body).contains("not a valid .lpkg archive"),
            "{}",
            detail(&body)
        );
        assert_eq!(blobs(&f), 0);
    }

    #[tokio::test]
    async fn package_files_are_named_strictly() {
        let f = fixture();
        let digest = crate::package::digest(b"x");
        let hex = &digest[7..];
        for path in [
            format!("/packages/sha256-{hex}.lpkg"),
            format!("/packages/sha256-{}.lpkg", hex.to_uppercase()),
            format!("/packages/sha256-{hex}"),
            "/packages/..%2Findex.json".to_owned(),
            "/packages/index.json".to_owned(),
            "/packages/".to_owned(),
        ] {
            let request = Request::get(&path).body(Body::empty()).unwrap();
            let (status, headers, _) = send(&f, request).await;
            assert_eq!(status, 404, "{path}");
            assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
        }
    }

    #[tokio::test]
    async fn unknown_routes_and_methods_are_problems() {
        let f = fixture();
        let request = Request::get("/v1/nothing").body(Body::empty()).unwrap();
        assert_eq!(send(&f, request).await.0, 404);
        let request = Request::delete("/index.json").body(Body::empty()).unwrap();
        let (status, headers, _) = send(&f, request).await;
        assert_eq!(status, 405);
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
        let long = "a".repeat(MAX_QUERY_LEN + 1);
        let request = Request::get(format!("/v1/search?q={long}"))
            .body(Body::empty())
            .unwrap();
        assert_eq!(send(&f, request).await.0, 400);
    }

    #[tokio::test]
    async fn yanking_checks_the_token_before_the_path() {
        let f = fixture();
        let request = Request::post("/v1/packages/pg/1.0.0/yank")
            .body(Body::empty())
            .unwrap();
        assert_eq!(send(&f, request).await.0, 401);
        for (path, expected) in [
            ("/v1/packages/pg/1.0/yank", 400),
            ("/v1/packages/PG/1.0.0/yank", 404),
        ] {
            let request = Request::post(path)
                .header(header::AUTHORIZATION, format!("Bearer {}", f.token))
                .body(Body::empty())
                .unwrap();
            assert_eq!(send(&f, request).await.0, expected, "{path}");
        }
    }
}
