//! Request extractors whose rejections are problem documents, and the small validation and
//! formatting helpers the handlers share.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{Error, Result};

/// A JSON body: wrong content type is 415, malformed JSON 400, a body that doesn't fit the
/// schema (unknown fields, wrong types) 422, an oversized body 413.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self> {
        if !is_json(req.headers()) {
            return Err(Error::UnsupportedMediaType);
        }
        let bytes = match Bytes::from_request(req, state).await {
            Ok(bytes) => bytes,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(Error::PayloadTooLarge);
            }
            Err(e) if connection_ended(&e) => return Err(Error::ClientClosed),
            Err(e) => return Err(Error::BadRequest(e.body_text())),
        };
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| Error::BadRequest("the body is not UTF-8 text".into()))?;
        // A number serde_json would round (an integer beyond 64 bits, more digits than an
        // f64 holds) arrives as a string of its exact text, the way results leave: such a
        // number in `inputs` is never silently bound as a nearby one. A schema that wants a
        // number there then refuses it, rather than the wrong row being read.
        // Every body the API takes is an object; serde would also fill a struct from an
        // array of its fields in order (`["email", "password"]`), which no client means.
        if text.trim_start().starts_with('[') {
            return Err(Error::Validation(
                "the body must be a JSON object, not an array".into(),
            ));
        }
        let text = lathe_plugin_sdk::exact_json::exact_text(text);
        match serde_json::from_str::<T>(&text) {
            Ok(value) => Ok(ApiJson(value)),
            Err(e) if e.classify() == serde_json::error::Category::Data => Err(Error::Validation(
                format!("Failed to deserialize the JSON body into the target type: {e}"),
            )),
            Err(e) => Err(Error::BadRequest(format!(
                "Failed to parse the request body as JSON: {e}"
            ))),
        }
    }
}

/// Whether reading the body failed because the connection ended under it (the client
/// closed or reset it), as opposed to a body that was malformed.
fn connection_ended(rejection: &BytesRejection) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(rejection);
    while let Some(error) = cause {
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::UnexpectedEof
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
            );
        }
        if error
            .downcast_ref::<hyper::Error>()
            .is_some_and(|e| e.is_incomplete_message())
        {
            return true;
        }
        cause = error.source();
    }
    false
}

/// `application/json` or any `application/…+json`, parameters (`charset`) aside.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Query parameters: anything that doesn't parse is a 400.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        // No parameter has a use for NUL, and PostgreSQL refuses it in text: refuse it here,
        // percent-encoded or not, before any value reaches the store.
        let raw = parts.uri.query().unwrap_or_default();
        if raw.contains('\0') || raw.to_ascii_lowercase().contains("%00") {
            return Err(Error::BadRequest(
                "query parameters can't contain NUL characters".into(),
            ));
        }
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(ApiQuery(value)),
            Err(e @ QueryRejection::FailedToDeserializeQueryString(_)) => {
                Err(Error::BadRequest(e.body_text()))
            }
            Err(e) => Err(Error::BadRequest(e.body_text())),
        }
    }
}

/// RFC 3339 text for a Unix-millisecond timestamp.
pub fn rfc3339(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// Unix milliseconds from RFC 3339 text; a 400 naming the parameter otherwise.
pub fn parse_rfc3339(name: &str, text: &str) -> Result<i64> {
    let t = OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|_| Error::BadRequest(format!("`{name}` must be an RFC 3339 timestamp")))?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| Error::BadRequest(format!("`{name}` is out of range")))
}

/// A normalised email address: trimmed, lower-cased, one `@` with text on both sides, no
/// whitespace or control characters, at most 254 bytes.
pub fn normalize_email(email: &str) -> Result<String> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(email.split_once('@'), Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@'));
    if valid {
        Ok(email)
    } else {
        Err(Error::Validation("not a valid email address".into()))
    }
}

/// A display name: trimmed, 1–100 characters, no control characters.
pub fn validate_name(field: &str, name: &str) -> Result<String> {
    let name = name.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > 100 || name.chars().any(char::is_control) {
        return Err(Error::Validation(format!(
            "`{field}` must be 1 to 100 characters with no control characters"
        )));
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_or_refused() {
        assert_eq!(
            normalize_email(" Ada@Example.COM ").unwrap(),
            "ada@example.com"
        );
        for bad in ["", "ada", "@x", "ada@", "a@b@c", "a b@c", "a\n@c"] {
            assert!(normalize_email(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn timestamps_round_trip_through_rfc3339() {
        let ms = 1_780_000_000_123;
        assert_eq!(parse_rfc3339("t", &rfc3339(ms)).unwrap(), ms);
        assert!(parse_rfc3339("t", "yesterday").is_err());
    }
}
