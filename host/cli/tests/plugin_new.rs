//! `lathe plugin new` makes a crate that passes its own tests, builds as a component and
//! runs under `lathe plugin run`.

mod common;

use common::plugin_cli::{lathe, lathe_with_env};
use common::test_api::TestApi;
use serde_json::json;
use std::path::PathBuf;
use std::process::Command;

fn cargo(dir: &std::path::Path, target: &std::path::Path, args: &[&str]) {
    let status = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .status()
        .expect("running cargo");
    assert!(
        status.success(),
        "cargo {args:?} failed in {}",
        dir.display()
    );
}

#[tokio::test]
async fn scaffolded_connector_builds_tests_and_runs() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("acme-api");
    let dir_text = dir.to_string_lossy().to_string();
    lathe(&["plugin", "new", "acme-api", "--dir", &dir_text])
        .await
        .success_text();
    let manifest = std::fs::read_to_string(dir.join("lathe-plugin.json")).unwrap();
    assert!(manifest.contains("\"id\": \"acme-api\""), "{manifest}");

    // Shared between runs so that the dependencies compile once.
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("plugin-new-target");
    cargo(&dir, &target, &["test", "--quiet"]);
    cargo(
        &dir,
        &target,
        &[
            "build",
            "--quiet",
            "--target",
            "wasm32-wasip2",
            "--profile",
            "wasm",
        ],
    );

    let api = TestApi::start().await;
    let config = json!({"base_url": format!("http://127.0.0.1:{}/v1", api.port)}).to_string();
    let target_text = target.to_string_lossy().to_string();
    let out = lathe_with_env(
        &[
            "plugin",
            "run",
            &dir_text,
            "--config",
            &config,
            "--query",
            r#"{"path":"/items"}"#,
        ],
        &[("CARGO_TARGET_DIR", &target_text)],
    )
    .await
    .success();
    assert_eq!(out["rows"], json!([[1, "bolt"], [2, "nut"]]));
}

#[tokio::test]
async fn invalid_names_and_existing_folders_are_refused() {
    let err = lathe(&["plugin", "new", "Bad Name"]).await.failure();
    assert!(err.contains("not a valid id"), "{err}");
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().to_string_lossy().to_string();
    let err = lathe(&["plugin", "new", "x", "--dir", &dir])
        .await
        .failure();
    assert!(err.contains("already exists"), "{err}");
}
