//! The crate's one error enum and its one HTTP edge: every failure a handler can meet becomes an
//! `application/problem+json` document (RFC 9457) with a stable `type`. Internal causes (store,
//! I/O) are logged once here and answered with a generic 500 that carries no detail.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The problem document every error response carries.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// Stable identifier of the kind of problem, `urn:lathe:problem:<slug>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short, human-readable summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request, when there is something safe to say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// For an error reported by a datasource: its own code (e.g. a SQLSTATE).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// For an error reported by a datasource: its hint, when it gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// For `approval-required`: every capability the plugin requests, which the install
    /// must approve (`approve_capabilities`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Vec<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("invalid input: {0}")]
    Validation(String),
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("request URI too long")]
    UriTooLong,
    #[error("request headers too large")]
    HeadersTooLarge,
    #[error("authentication required")]
    Unauthenticated,
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("cross-site request refused")]
    CsrfRejected,
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("conflict: {0}")]
    Conflict(String),
    /// A save based on a draft revision that is no longer the current one.
    #[error("draft changed: {0}")]
    DraftChanged(String),
    #[error("email is not configured")]
    MailNotConfigured,
    #[error("no instance admin exists yet")]
    SetupRequired,
    #[error("too many requests")]
    RateLimited { retry_after: Duration },
    #[error("request timed out")]
    Timeout,
    /// The connection ended before the request's body did: nobody is left to answer, and the
    /// request is counted and logged as abandoned (499, nginx's convention), not as a bad
    /// request.
    #[error("the client closed the connection")]
    ClientClosed,
    /// A sealed value that can't be opened: altered, moved, or sealed with another key.
    #[error("unreadable secret: {0}")]
    Unreadable(String),
    /// The audit log can't keep a record of a run (on SQLite, its journal can't grow: a full
    /// disk), so the run was not started.
    #[error("audit log unavailable: {0}")]
    AuditUnavailable(String),
    /// A plugin registry could not be read, or answered something unusable.
    #[error("registry: {0}")]
    Registry(String),
    /// A package failed verification: digest, signature, trust, manifest or component.
    #[error("package refused: {0}")]
    PackageRefused(String),
    /// An install or update requests capabilities the caller has not approved.
    #[error("approval required: {detail}")]
    ApprovalRequired {
        detail: String,
        capabilities: Vec<String>,
    },
    /// A connector run failed; the runtime's error says how.
    #[error(transparent)]
    Connector(#[from] lathe_runtime::RuntimeError),
    #[error("store: {0}")]
    Store(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    fn parts(&self) -> (StatusCode, &'static str, &'static str, Option<String>) {
        use Error::*;
        match self {
            BadRequest(d) => (
                StatusCode::BAD_REQUEST,
                "bad-request",
                "Bad request",
                Some(d.clone()),
            ),
            Validation(d) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "Invalid input",
                Some(d.clone()),
            ),
            UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                Some("send a JSON body with `Content-Type: application/json`".into()),
            ),
            PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Request body too large",
                None,
            ),
            UriTooLong => (
                StatusCode::URI_TOO_LONG,
                "uri-too-long",
                "Request URI too long",
                Some("a request URI has at most 65534 bytes".into()),
            ),
            HeadersTooLarge => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers-too-large",
                "Request headers too large",
                Some("send fewer or smaller headers (at most 100, about 400 KiB in all)".into()),
            ),
            Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
                Some("log in, or send a valid `Authorization: Bearer` token".into()),
            ),
            InvalidCredentials => (
                StatusCode::UNAUTHORIZED,
                "invalid-credentials",
                "Invalid email or password",
                None,
            ),
            Forbidden(d) => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "Forbidden",
                Some(d.clone()),
            ),
            CsrfRejected => (
                StatusCode::FORBIDDEN,
                "csrf",
                "Cross-site request refused",
                Some(
                    "a cookie-authenticated request must carry an Origin matching Lathe's base URL"
                        .into(),
                ),
            ),
            NotFound => (StatusCode::NOT_FOUND, "not-found", "Not found", None),
            MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                None,
            ),
            Conflict(d) => (
                StatusCode::CONFLICT,
                "conflict",
                "Conflict",
                Some(d.clone()),
            ),
            DraftChanged(d) => (
                StatusCode::CONFLICT,
                "draft-changed",
                "The draft was changed since it was opened",
                Some(d.clone()),
            ),
            MailNotConfigured => (
                StatusCode::CONFLICT,
                "mail-not-configured",
                "Email is not configured",
                Some("set LATHE_SMTP_URL to send invites and password resets".into()),
            ),
            SetupRequired => (
                StatusCode::CONFLICT,
                "setup-required",
                "No instance admin exists yet",
                Some(
                    "create one with `lathe admin create --email EMAIL` (password on stdin)".into(),
                ),
            ),
            RateLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
                Some("wait for the time given in Retry-After".into()),
            ),
            ClientClosed => (
                StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
                "client-closed",
                "The client closed the connection",
                Some("the connection ended before the request's body did".into()),
            ),
            Timeout => (
                StatusCode::REQUEST_TIMEOUT,
                "timeout",
                "The request took too long",
                Some("the request was not completed in time; send it again".into()),
            ),
            Unreadable(d) => (
                StatusCode::CONFLICT,
                "secret-unreadable",
                "A stored secret can't be opened",
                Some(d.clone()),
            ),
            // A failed dependency, as a datasource or registry failing is: nothing the
            // caller sent is wrong, and the same request can succeed later.
            AuditUnavailable(d) => (
                StatusCode::FAILED_DEPENDENCY,
                "audit-unavailable",
                "The audit log can't keep records",
                Some(d.clone()),
            ),
            Registry(d) => (
                StatusCode::FAILED_DEPENDENCY,
                "registry-failed",
                "The plugin registry failed",
                Some(d.clone()),
            ),
            PackageRefused(d) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "package-refused",
                "The package was refused",
                Some(d.clone()),
            ),
            ApprovalRequired { detail, .. } => (
                StatusCode::CONFLICT,
                "approval-required",
                "The plugin's capabilities need approval",
                Some(detail.clone()),
            ),
            Connector(e) => connector_parts(e),
            Store(_) | Migrate(_) | Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal server error",
                None,
            ),
        }
    }

    /// The problem document for this error, as sent to the client.
    pub fn problem(&self) -> Problem {
        let (status, slug, title, detail) = self.parts();
        let (code, hint) = match self {
            Error::Connector(lathe_runtime::RuntimeError::Connector {
                error: lathe_runtime::ConnectorError::Remote { code, hint, .. },
                ..
            }) => (Some(code.clone()), hint.clone()),
            _ => (None, None),
        };
        let capabilities = match self {
            Error::ApprovalRequired { capabilities, .. } => Some(capabilities.clone()),
            _ => None,
        };
        Problem {
            kind: format!("urn:lathe:problem:{slug}"),
            title: title.to_string(),
            status: status.as_u16(),
            detail,
            code,
            hint,
            capabilities,
        }
    }
}

/// How a failed connector run is answered. What the caller or the query got wrong is a 422
/// (a remote error included, unless it says the datasource is unavailable);
/// a destination the egress policy refuses, a 403; a datasource that failed, hung or crashed,
/// a 424 (the request depended on it); a full pool, a 429. Only a fault of Lathe itself is a
/// 500. The runtime's messages name the plugin and carry no secret (it scrubs them).
fn connector_parts(
    e: &lathe_runtime::RuntimeError,
) -> (StatusCode, &'static str, &'static str, Option<String>) {
    let kind = e.kind();
    let unavailable = matches!(e, lathe_runtime::RuntimeError::Connector { error, .. }
        if error.datasource_unavailable());
    let (status, title) = match kind {
        // The server refused or ended the session (see `datasource_unavailable`): the
        // request depended on a datasource that failed, and may be tried again.
        "remote" if unavailable => (StatusCode::FAILED_DEPENDENCY, "The datasource failed"),
        "invalid-config" | "invalid-query" | "remote" | "unsupported" => {
            (StatusCode::UNPROCESSABLE_ENTITY, "The query was refused")
        }
        "egress-denied" => (StatusCode::FORBIDDEN, "Destination not allowed"),
        "timeout"
        | "connection"
        | "memory-limit"
        | "resource-limit"
        | "connector-crashed"
        | "connector-bad-result" => (StatusCode::FAILED_DEPENDENCY, "The datasource failed"),
        "pool-exhausted" => (StatusCode::TOO_MANY_REQUESTS, "All connections are busy"),
        _ => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal server error",
                None,
            );
        }
    };
    (status, kind, title, Some(e.to_string()))
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let problem = self.problem();
        let status =
            StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            // The one place an internal cause is recorded; the client sees only a generic body.
            tracing::error!(error = %self, "request failed");
        }

        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Error::RateLimited { retry_after } = &self {
            let secs = retry_after.as_secs().max(1);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if matches!(self, Error::ClientClosed) {
            // 499 has no standard reason phrase; hyper would write `<none>`.
            response
                .extensions_mut()
                .insert(hyper::ext::ReasonPhrase::from_static(
                    b"Client Closed Request",
                ));
        }
        response
    }
}
