//! Loading packages: what is refused, and the cache of compiled components.

mod common;

use common::{component, root};
use lathe_runtime::manifest::Manifest;
use lathe_runtime::{Engine, EngineConfig, Plugin, RuntimeError};
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, SystemTime};

fn manifest() -> Manifest {
    Manifest::load(&root().join("tests/fixtures/hostile")).unwrap()
}

fn invalid(result: Result<Plugin, RuntimeError>) -> String {
    match result {
        Err(RuntimeError::InvalidPlugin(message)) => message,
        Err(other) => panic!("expected an invalid plugin, got {other:?}"),
        Ok(_) => panic!("expected an invalid plugin, it loaded"),
    }
}

#[test]
fn bytes_that_are_not_wasm_are_refused() {
    let (engine, _cache) = common::engine();
    let message = invalid(Plugin::new(&engine, manifest(), b"#!/bin/sh\nrm -rf /\n"));
    assert!(message.contains("not a valid component"), "{message}");
}

#[test]
fn a_core_module_is_not_a_component() {
    let (engine, _cache) = common::engine();
    let module = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    let message = invalid(Plugin::new(&engine, manifest(), &module));
    assert!(message.contains("not a valid component"), "{message}");
}

#[test]
fn a_component_without_the_contract_is_refused() {
    let (engine, _cache) = common::engine();
    let empty_component = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
    let message = invalid(Plugin::new(&engine, manifest(), &empty_component));
    assert!(message.contains("does not export"), "{message}");
}

#[test]
fn manifests_with_wildcards_unknown_worlds_or_stray_secrets_are_refused() {
    let (engine, _cache) = common::engine();
    let wasm = component("lathe-fixture-hostile");
    let mut wildcard = manifest();
    wildcard.capabilities = vec!["tcp://*:*".into()];
    assert!(invalid(Plugin::new(&engine, wildcard, &wasm)).contains("wildcards"));

    let mut future = manifest();
    future.wit = "lathe:connector@9.0.0".into();
    assert!(invalid(Plugin::new(&engine, future, &wasm)).contains("does not support"));

    let mut stray = manifest();
    stray.secrets = vec!["nope".into()];
    assert!(invalid(Plugin::new(&engine, stray, &wasm)).contains("nope"));
}

#[test]
fn compiled_components_are_cached_and_a_corrupt_cache_entry_is_replaced() {
    let cache = tempfile::tempdir().unwrap();
    let wasm = component("lathe-fixture-hostile");
    let cached = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(cache.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
            .collect()
    };

    let engine = Engine::new(EngineConfig::new(cache.path())).unwrap();
    let plugin = Plugin::new(&engine, manifest(), &wasm).unwrap();
    let files = cached();
    assert_eq!(files.len(), 1);
    let name = files[0].file_name().unwrap().to_string_lossy().to_string();
    assert!(name.starts_with(&plugin.digest), "{name}");
    let written = std::fs::metadata(&files[0]).unwrap().ino();

    // A new engine (a restarted server) loads the compiled file instead of compiling: a
    // compile would have written a new file in its place.
    let restarted = Engine::new(EngineConfig::new(cache.path())).unwrap();
    let reloaded = Plugin::new(&restarted, manifest(), &wasm).unwrap();
    assert_eq!(std::fs::metadata(&files[0]).unwrap().ino(), written);

    // A damaged entry is discarded and compiled again. (The entries are mapped into memory
    // while in use, so nothing may rewrite one in place: drop the users first, and replace
    // the file rather than truncate it, as the cache itself does.)
    drop((plugin, reloaded, engine, restarted));
    std::fs::remove_file(&files[0]).unwrap();
    std::fs::write(&files[0], b"garbage").unwrap();
    let again = Engine::new(EngineConfig::new(cache.path())).unwrap();
    Plugin::new(&again, manifest(), &wasm).unwrap();
    assert!(std::fs::metadata(&files[0]).unwrap().len() > 1_000);
}

#[test]
fn compiled_components_unused_for_30_days_are_removed_when_an_engine_starts() {
    let cache = tempfile::tempdir().unwrap();
    let wasm = component("lathe-fixture-hostile");
    let age = |path: &std::path::Path| {
        std::fs::metadata(path)
            .unwrap()
            .modified()
            .unwrap()
            .elapsed()
            .unwrap_or_default()
    };
    let set_age = |path: &std::path::Path, days: u64| {
        let when = SystemTime::now() - Duration::from_secs(days * 24 * 3600);
        let file = std::fs::File::options().write(true).open(path).unwrap();
        file.set_modified(when).unwrap();
    };

    let engine = Engine::new(EngineConfig::new(cache.path())).unwrap();
    let plugin = Plugin::new(&engine, manifest(), &wasm).unwrap();
    let in_use = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .unwrap();
    drop((plugin, engine));
    // Another build's file and a removed version's, untouched for 31 days; one of 29 days;
    // and a file that is not a compiled component at all.
    let stale = cache
        .path()
        .join(format!("{}-0000000000000000.cwasm", "a".repeat(64)));
    let recent = cache
        .path()
        .join(format!("{}-0000000000000000.cwasm", "b".repeat(64)));
    let other = cache.path().join("notes.txt");
    for path in [&stale, &recent, &other] {
        std::fs::write(path, b"x").unwrap();
    }
    set_age(&stale, 31);
    set_age(&recent, 29);
    set_age(&other, 31);
    set_age(&in_use, 20);

    let restarted = Engine::new(EngineConfig::new(cache.path())).unwrap();
    assert!(
        !stale.exists(),
        "a compiled file unused for 31 days is removed"
    );
    assert!(recent.exists() && other.exists() && in_use.exists());

    // Loading a compiled file renews it, so what is in use never ages out.
    Plugin::new(&restarted, manifest(), &wasm).unwrap();
    assert!(
        age(&in_use) < Duration::from_secs(3600),
        "{:?}",
        age(&in_use)
    );
}

#[tokio::test]
async fn a_component_on_contract_0_1_runs_and_takes_several_runs_one_by_one() {
    use lathe_runtime::bindings::types::{Param, Value};
    use lathe_runtime::instance::RunRequest;
    use lathe_runtime::{EgressPolicy, Instance, Limits};

    let (engine, _cache) = common::engine();
    let dir = root().join("tests/fixtures/legacy");
    let plugin = Plugin::new(
        &engine,
        Manifest::load(&dir).unwrap(),
        &component("lathe-fixture-legacy"),
    )
    .expect("a 0.1.0 component loads");
    let policy = EgressPolicy::local_development();
    let mut instance = Instance::open(&plugin, &serde_json::json!({}), &policy, &Limits::default())
        .await
        .unwrap();
    assert!(!instance.runs_many());
    let echo = |n: i64| RunRequest {
        operation: "echo".into(),
        query: serde_json::json!({}),
        params: vec![Param {
            name: "inputs.n".into(),
            value: Value::Int(n),
        }],
    };
    let outputs = instance.run_many(vec![echo(1), echo(2), echo(3)]).await;
    for (n, output) in outputs.into_iter().enumerate() {
        let output = output.unwrap();
        assert_eq!(output.rows, vec![vec![serde_json::json!(n + 1)]]);
        // One call per run: the instance counts them.
        assert_eq!(output.metadata, serde_json::json!({"runs": n + 1}));
    }

    // A 0.2.0 manifest on the 0.1.0 component is refused: it lacks run-many.
    let mut claims_more = Manifest::load(&dir).unwrap();
    claims_more.wit = "lathe:connector@0.2.0".into();
    let message = invalid(Plugin::new(
        &engine,
        claims_more,
        &component("lathe-fixture-legacy"),
    ));
    assert!(message.contains("does not export"), "{message}");
}
