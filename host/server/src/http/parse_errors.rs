//! The problem documents for the requests hyper refuses before any handler runs (a request
//! line or header it can't read, a URI or head too large). The swap itself is
//! [`lathe_edge::ProblemAcceptor`], shared with the registry server.

use axum::http::StatusCode;

use crate::error::Error;

/// The body `lathe serve` answers one of hyper's automatic 400, 414 and 431 responses with.
pub fn unparsable_request(status: StatusCode) -> Vec<u8> {
    let error = match status {
        StatusCode::URI_TOO_LONG => Error::UriTooLong,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => Error::HeadersTooLarge,
        _ => Error::BadRequest("the request's line or headers could not be parsed".into()),
    };
    serde_json::to_vec(&error.problem()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_automatic_status_has_its_own_problem_type() {
        for (status, kind) in [
            (StatusCode::URI_TOO_LONG, "urn:lathe:problem:uri-too-long"),
            (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "urn:lathe:problem:headers-too-large",
            ),
            (StatusCode::BAD_REQUEST, "urn:lathe:problem:bad-request"),
        ] {
            let doc: serde_json::Value =
                serde_json::from_slice(&unparsable_request(status)).unwrap();
            assert_eq!(
                (doc["type"].as_str(), doc["status"].as_u64()),
                (Some(kind), Some(status.as_u16() as u64))
            );
        }
    }
}
