//! A hostile connector against the host's own memory and file descriptors: results that
//! undercount what they cost, header maps hoarded on the host's side, sockets opened without
//! end. Each is cut or refused at its limit, the host's memory stays bounded, and other
//! connectors keep working.

mod common;

use common::{Canary, engine, hostile, http_server};
use lathe_runtime::instance::RunRequest;
use lathe_runtime::{ConnectorError, EgressPolicy, Limits, Pool, PoolConfig, RuntimeError};
use serde_json::json;
use std::time::Duration;

/// Tests that measure the process's memory run one at a time (under `cargo test` they share
/// a process; `cargo nextest` gives each its own anyway).
static MEASURED: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn act(action: serde_json::Value) -> RunRequest {
    RunRequest {
        operation: "act".into(),
        query: action,
        params: Vec::new(),
    }
}

fn pool(engine: &lathe_runtime::Engine, port: u16, limits: Limits) -> Pool {
    pool_with_http(engine, port, 9, limits)
}

fn pool_with_http(
    engine: &lathe_runtime::Engine,
    port: u16,
    http_port: u16,
    limits: Limits,
) -> Pool {
    let base_url = format!("http://127.0.0.1:{http_port}/");
    let config = json!({"host": "127.0.0.1", "port": port, "base_url": base_url});
    let settings = PoolConfig {
        max_size: 2,
        limits,
        ..PoolConfig::default()
    };
    Pool::new(
        hostile(engine),
        config,
        EgressPolicy::local_development(),
        settings,
    )
}

/// The process's resident memory, in bytes.
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// What the kept rows occupy at the least: each row's vector and each cell's slot.
fn occupied(rows: &[Vec<serde_json::Value>]) -> usize {
    rows.iter()
        .map(|r| std::mem::size_of::<Vec<serde_json::Value>>() + r.len() * SLOT)
        .sum()
}

const MAX_BYTES: usize = 8 << 20;
/// A kept value's place in its row.
const SLOT: usize = std::mem::size_of::<serde_json::Value>();

fn result_limits() -> Limits {
    Limits {
        max_rows: 10_000_000,
        max_bytes: MAX_BYTES,
        batch_rows: 4096,
        ..Limits::default()
    }
}

/// Runs `action` on a warmed-up pool and returns the output with the growth of resident
/// memory while it is held.
async fn measured(action: serde_json::Value) -> (lathe_runtime::QueryOutput, usize) {
    let (engine, _cache) = engine();
    let pool = pool(&engine, 9, result_limits());
    pool.run(act(json!({"action": "echo"}))).await.unwrap();
    let before = rss();
    let out = pool.run(act(action)).await.unwrap();
    let grown = rss().saturating_sub(before);
    (out, grown)
}

#[tokio::test]
async fn millions_of_null_cells_are_cut_at_the_byte_limit() {
    let _one = MEASURED.lock().await;
    let (out, grown) = measured(json!({
        "action": "cells", "kind": "null", "rows": 2_000_000, "columns": 16
    }))
    .await;
    assert!(out.truncated);
    assert!(out.row_count > 0);
    assert!(
        occupied(&out.rows) <= MAX_BYTES,
        "{} rows of 16 nulls kept: more than {MAX_BYTES} bytes of host memory",
        out.row_count
    );
    assert!(serde_json::to_vec(&out).unwrap().len() <= MAX_BYTES);
    // The guest's own memory (64 MiB at most) grows too; the kept result is bounded.
    assert!(grown < 4 * MAX_BYTES + (64 << 20), "grew {grown} bytes");
}

#[tokio::test]
async fn json_cells_that_expand_when_parsed_are_cut_at_the_byte_limit() {
    let _one = MEASURED.lock().await;
    // 20 kB of text per cell that parses into 10,000 values.
    let (out, grown) = measured(json!({
        "action": "cells", "kind": "json", "width": 10_000, "rows": 2_000, "batch": 64
    }))
    .await;
    assert!(out.truncated);
    assert!(out.row_count > 0);
    let values: usize = out
        .rows
        .iter()
        .map(|r| r[0].as_array().map_or(0, Vec::len))
        .sum();
    assert!(
        values * SLOT <= MAX_BYTES,
        "{} rows kept: {values} JSON values",
        out.row_count
    );
    assert!(grown < 4 * MAX_BYTES + (64 << 20), "grew {grown} bytes");
}

#[tokio::test]
async fn header_maps_hoarded_on_the_host_stop_the_instance_and_are_freed() {
    let _one = MEASURED.lock().await;
    let (engine, _cache) = engine();
    let pool = pool(&engine, 9, Limits::default());
    pool.run(act(json!({"action": "echo"}))).await.unwrap();

    let before = rss();
    // 2,000 header maps of 60 kB each: 120 MB on the host if nothing stops them.
    let err = pool
        .run(act(
            json!({"action": "fields", "count": 2_000, "bytes": 60_000}),
        ))
        .await
        .unwrap_err();
    let grown = rss().saturating_sub(before);
    assert_eq!(err.kind(), "resource-limit", "{err:?}");
    assert!(
        err.to_string().contains("more than 256 host resources"),
        "{err}"
    );
    assert!(grown < 48 << 20, "grew {grown} bytes");
    assert_eq!(
        pool.idle_count(),
        0,
        "the instance and its maps are dropped"
    );

    // One map larger than a map may be stops the instance too.
    let err = pool
        .run(act(
            json!({"action": "fields", "count": 1, "bytes": 1 << 20}),
        ))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("header map larger than 65536 bytes"),
        "{err}"
    );
    assert_eq!(pool.idle_count(), 0);
    pool.run(act(json!({"action": "echo"}))).await.unwrap();
}

#[tokio::test]
async fn an_instance_that_keeps_many_host_resources_is_not_pooled_again() {
    let (engine, _cache) = engine();
    let pool = pool(&engine, 9, Limits::default());
    let out = pool
        .run(act(json!({"action": "fields", "count": 100, "bytes": 100})))
        .await
        .unwrap();
    assert_eq!(out.rows[0][0], json!("made 100"));
    assert_eq!(
        pool.idle_count(),
        0,
        "its 100 header maps are freed with it"
    );
    pool.run(act(json!({"action": "echo"}))).await.unwrap();
    assert_eq!(pool.idle_count(), 1);
}

#[tokio::test]
async fn a_connector_hits_its_socket_cap_and_another_keeps_working() {
    let canary = Canary::start("127.0.0.1", 0).await;
    let (engine, _cache) = engine();
    let limits = Limits {
        max_sockets: 4,
        call_timeout: Duration::from_secs(10),
        ..Limits::default()
    };
    let greedy = pool(&engine, canary.port, limits.clone());
    let sockets = |count: u32| {
        act(json!({"action": "sockets", "host": "127.0.0.1", "port": canary.port, "count": count}))
    };

    let err = greedy.run(sockets(50)).await.unwrap_err();
    match &err {
        RuntimeError::Connector {
            error: ConnectorError::Denied { message },
            ..
        } => assert!(message.contains("open sockets"), "{message}"),
        other => panic!("expected a denial, got {other:?}"),
    }
    // The instance keeps its four sockets, and still may not open a fifth.
    assert!(greedy.run(sockets(1)).await.is_err());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(canary.hits(), 4);

    // Another datasource's instance has its own cap.
    let other = pool(&engine, canary.port, limits);
    let out = other.run(sockets(2)).await.unwrap();
    assert_eq!(out.rows[0][0], json!("holding 2"));
    other.run(act(json!({"action": "echo"}))).await.unwrap();
}

#[tokio::test]
async fn http_connections_count_against_the_same_socket_cap() {
    let canary = Canary::start("127.0.0.1", 0).await;
    let http_port = http_server("{}").await;
    let (engine, _cache) = engine();
    let limits = Limits {
        max_sockets: 1,
        ..Limits::default()
    };
    let pool = pool_with_http(&engine, canary.port, http_port, limits);
    let url = format!("http://127.0.0.1:{http_port}/x");

    // With its one socket free, a request goes out.
    let out = pool
        .run(act(json!({"action": "http", "url": url})))
        .await
        .unwrap();
    assert_eq!(out.rows[0][0], json!("status 200"));

    // Holding a TCP socket, it may not open an HTTP connection too.
    let sockets =
        json!({"action": "sockets", "host": "127.0.0.1", "port": canary.port, "count": 1});
    pool.run(act(sockets)).await.unwrap();
    let err = pool
        .run(act(json!({"action": "http", "url": url})))
        .await
        .unwrap_err();
    match &err {
        RuntimeError::Connector {
            error: ConnectorError::Denied { message },
            ..
        } => assert!(message.contains("open connections"), "{message}"),
        other => panic!("expected a denial, got {other:?}"),
    }
}
