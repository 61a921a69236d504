//! The REST connector through `lathe plugin run`, against an HTTP server the test starts on
//! loopback.

mod common;

use common::plugin_cli::lathe_plugin_run;
use common::test_api::TestApi;
use serde_json::{Value, json};

fn config(api: &TestApi, extra: Value) -> String {
    let mut config = json!({"base_url": format!("http://127.0.0.1:{}/v1", api.port)});
    config
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    config.to_string()
}

#[tokio::test]
async fn array_of_objects_becomes_rows() {
    let api = TestApi::start().await;
    let out = lathe_plugin_run(
        "plugins/rest",
        &config(&api, json!({})),
        r#"{"path":"/items"}"#,
        "{}",
    )
    .await
    .success();
    assert_eq!(
        out["columns"][0],
        json!({"name": "id", "type": "int", "sourceType": "integer"})
    );
    assert_eq!(out["rows"], json!([[1, "bolt"], [2, "nut"]]));
    assert_eq!(out["metadata"]["status"], 200);
}

#[tokio::test]
async fn inputs_are_encoded_into_path_query_and_typed_body() {
    let api = TestApi::start().await;
    let query = json!({
        "method": "POST",
        "path": "/echo/{{ inputs.id }}",
        "query": {"q": "{{ inputs.q }}"},
        "body_type": "json",
        "body": {"n": "{{ inputs.n }}", "note": "id={{ inputs.id }}"}
    });
    let inputs = json!({"id": "../admin", "q": "a&b=c", "n": 41});
    let out = lathe_plugin_run(
        "plugins/rest",
        &config(&api, json!({"auth_type": "bearer", "token": "s3cret"})),
        &query.to_string(),
        &inputs.to_string(),
    )
    .await
    .success();
    let seen = &out["rows"][0][0];
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["path"], "/v1/echo/..%2Fadmin");
    assert_eq!(seen["query"], "q=a%26b%3Dc");
    assert_eq!(seen["authorization"], "Bearer s3cret");
    assert_eq!(seen["body"], json!({"n": 41, "note": "id=../admin"}));
}

#[tokio::test]
async fn same_origin_redirects_are_followed_and_others_refused() {
    let api = TestApi::start().await;
    let out = lathe_plugin_run(
        "plugins/rest",
        &config(&api, json!({})),
        r#"{"path":"/redirect-in"}"#,
        "{}",
    )
    .await
    .success();
    assert_eq!(out["rowCount"], 2);

    let err = lathe_plugin_run(
        "plugins/rest",
        &config(&api, json!({})),
        r#"{"path":"/redirect-out"}"#,
        "{}",
    )
    .await
    .failure();
    assert!(err.contains("off the base URL's origin"), "{err}");
    assert_eq!(
        api.canary_hits(),
        0,
        "the redirect target must never be contacted"
    );
}

#[tokio::test]
async fn http_errors_come_back_with_status_and_body() {
    let api = TestApi::start().await;
    let err = lathe_plugin_run(
        "plugins/rest",
        &config(&api, json!({})),
        r#"{"path":"/missing"}"#,
        "{}",
    )
    .await
    .failure();
    assert!(err.contains("HTTP 404"), "{err}");
}

#[tokio::test]
async fn api_key_in_query_never_shows_in_errors() {
    let api = TestApi::start().await;
    let config = json!({
        // Nothing listens on port 9: the request fails and the error names the URL.
        "base_url": "http://127.0.0.1:9/v1",
        "auth_type": "api_key", "api_key_name": "key", "api_key": "TOPSECRET",
        "api_key_location": "query"
    });
    let err = lathe_plugin_run(
        "plugins/rest",
        &config.to_string(),
        r#"{"path":"/x"}"#,
        "{}",
    )
    .await
    .failure();
    assert!(err.contains("http://127.0.0.1:9/v1/x refused"), "{err}");
    assert!(!err.contains("TOPSECRET"), "{err}");
    drop(api);
}

#[tokio::test]
async fn secrets_reflected_by_the_api_are_redacted_from_errors() {
    let api = TestApi::start().await;
    let err = lathe_plugin_run(
        "plugins/rest",
        &config(
            &api,
            json!({"auth_type": "bearer", "token": "TOPSECRET-TOKEN"}),
        ),
        r#"{"path":"/reflect-error"}"#,
        "{}",
    )
    .await
    .failure();
    assert!(err.contains("HTTP 500"), "{err}");
    assert!(err.contains("[redacted]"), "{err}");
    assert!(!err.contains("TOPSECRET-TOKEN"), "{err}");
}
