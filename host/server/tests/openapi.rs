//! The OpenAPI document is checked into the repository so that a diff shows every API change.
//! This test fails when the checked-in copy no longer matches the code; regenerate it with
//! `LATHE_BLESS=1 cargo nextest run -p lathe-server openapi` and commit the result.

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");

#[test]
fn checked_in_openapi_document_matches_the_code() {
    let current = lathe_server::openapi_json();
    if std::env::var_os("LATHE_BLESS").is_some() {
        std::fs::write(PATH, &current).expect("writing openapi.json");
    }
    let checked_in = std::fs::read_to_string(PATH).unwrap_or_default();
    assert!(
        checked_in == current,
        "host/server/openapi.json is stale: run `LATHE_BLESS=1 cargo nextest run -p lathe-server openapi` and commit it"
    );
}

#[test]
fn openapi_document_is_version_3_1_and_describes_problem_errors() {
    let doc: serde_json::Value = serde_json::from_str(&lathe_server::openapi_json()).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    let login = &doc["paths"]["/api/v1/auth/login"]["post"]["responses"]["401"];
    assert!(
        login["content"]["application/problem+json"].is_object(),
        "{login}"
    );
}
