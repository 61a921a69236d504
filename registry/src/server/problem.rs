//! The server's one HTTP error edge: each failure becomes an `application/problem+json`
//! document (RFC 9457) with a stable `type`, `urn:lathe:problem:<slug>`. Internal causes
//! (storage) are logged here and answered with a 500 that carries no detail.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::dir::{PublishError, RegistryError};

/// The one HTTP error edge: each failure becomes a problem document (RFC 9457).
#[derive(Debug)]
pub(super) enum ApiError {
    BadRequest(String),
    Unauthenticated(&'static str),
    Forbidden(String),
    NotFound(String),
    MethodNotAllowed,
    Conflict(String),
    TooLarge(u64),
    Timeout(u64),
    Invalid(String),
    /// Logged here; the response says nothing about it.
    Internal(String),
}

#[derive(Serialize)]
struct Problem {
    #[serde(rename = "type")]
    kind: String,
    title: &'static str,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

impl From<RegistryError> for ApiError {
    fn from(error: RegistryError) -> ApiError {
        match error {
            RegistryError::InvalidDigest(_) | RegistryError::PackageNotFound(_) => {
                ApiError::NotFound(error.to_string())
            }
            _ => ApiError::Internal(error.to_string()),
        }
    }
}

impl From<PublishError> for ApiError {
    fn from(error: PublishError) -> ApiError {
        match error {
            PublishError::Invalid(_) => ApiError::Invalid(error.to_string()),
            PublishError::Exists { .. } => ApiError::Conflict(error.to_string()),
            PublishError::NotOwner { .. } => ApiError::Forbidden(error.to_string()),
            PublishError::NotFound { .. } => ApiError::NotFound(error.to_string()),
            PublishError::Registry(error) => error.into(),
        }
    }
}

/// The body the registry answers one of hyper's automatic 400, 414 and 431 responses with
/// (a request line or header it can't read, a URI or head too large); the swap itself is
/// [`lathe_edge::ProblemAcceptor`].
pub(super) fn unparsable_request(status: StatusCode) -> Vec<u8> {
    let (slug, title, detail) = match status {
        StatusCode::URI_TOO_LONG => ("uri-too-long", "Request URI too long", None),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => {
            ("headers-too-large", "Request headers too large", None)
        }
        _ => (
            "bad-request",
            "Bad request",
            Some("the request's line or headers could not be parsed".to_string()),
        ),
    };
    serde_json::to_vec(&Problem::new(status, slug, title, detail)).unwrap_or_default()
}

impl Problem {
    fn new(status: StatusCode, slug: &str, title: &'static str, detail: Option<String>) -> Self {
        Problem {
            kind: format!("urn:lathe:problem:{slug}"),
            title,
            status: status.as_u16(),
            detail,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, slug, title, detail) = match self {
            ApiError::BadRequest(d) => (400, "bad-request", "Bad request", Some(d)),
            ApiError::Unauthenticated(d) => (
                401,
                "unauthenticated",
                "Authentication required",
                Some(d.into()),
            ),
            ApiError::Forbidden(d) => (403, "forbidden", "Forbidden", Some(d)),
            ApiError::NotFound(d) => (404, "not-found", "Not found", Some(d)),
            ApiError::MethodNotAllowed => (405, "method-not-allowed", "Method not allowed", None),
            ApiError::Conflict(d) => (409, "conflict", "Conflict", Some(d)),
            ApiError::Timeout(secs) => (
                408,
                "timeout",
                "The request took too long",
                Some(format!("a request must arrive in full within {secs} s")),
            ),
            ApiError::TooLarge(max) => (
                413,
                "package-too-large",
                "Package too large",
                Some(format!(
                    "this registry accepts packages of at most {max} bytes"
                )),
            ),
            ApiError::Invalid(d) => (422, "invalid-package", "Invalid package", Some(d)),
            ApiError::Internal(d) => {
                tracing::error!(error = d, "registry.internal");
                (500, "internal", "Internal error", None)
            }
        };
        let status = StatusCode::from_u16(status).expect("the statuses above are valid");
        let problem = Problem::new(status, slug, title, detail);
        let mut response = (status, Json(problem)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
