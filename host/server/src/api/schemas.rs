//! `/api/v1/schemas/…`: the published JSON Schemas of Lathe's documents, public so that
//! editors and CI can fetch them without an account.

use axum::http::header;
use axum::response::IntoResponse;

/// The JSON Schema (2020-12) of an app definition.
#[utoipa::path(get, path = "/api/v1/schemas/app-definition", tag = "apps",
    security(()),
    responses(
        (status = 200, description = "The schema", body = Object,
            content_type = "application/schema+json"),
    ))]
pub async fn schemas_app_definition() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/schema+json")],
        crate::definition::SCHEMA_TEXT,
    )
}
