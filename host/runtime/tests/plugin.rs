//! Loading packages: what is refused, and the cache of compiled components.

mod common;

use common::{component, root};
use lathe_runtime::manifest::Manifest;
use lathe_runtime::{Engine, EngineConfig, Plugin, RuntimeError};

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
    let written = std::fs::metadata(&files[0]).unwrap().modified().unwrap();

    // A new engine (a restarted server) loads the compiled file instead of compiling.
    let restarted = Engine::new(EngineConfig::new(cache.path())).unwrap();
    let reloaded = Plugin::new(&restarted, manifest(), &wasm).unwrap();
    assert_eq!(
        std::fs::metadata(&files[0]).unwrap().modified().unwrap(),
        written
    );

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
