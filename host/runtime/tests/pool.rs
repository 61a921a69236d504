//! The connection pool's life cycle, observed through the fixture's per-instance id.

mod common;

use common::{engine, hostile};
use lathe_runtime::instance::RunRequest;
use lathe_runtime::{EgressPolicy, Engine, Limits, Pool, PoolConfig, RuntimeError};
use serde_json::json;
use std::time::Duration;

fn act(query: serde_json::Value) -> RunRequest {
    RunRequest {
        operation: "act".into(),
        query,
        params: Vec::new(),
    }
}

fn pool(engine: &Engine, settings: PoolConfig) -> Pool {
    let config = json!({"host": "127.0.0.1", "port": 9, "base_url": "http://127.0.0.1:9/"});
    Pool::new(
        hostile(engine),
        config,
        EgressPolicy::local_development(),
        settings,
    )
}

async fn whoami(pool: &Pool) -> i64 {
    let out = pool.run(act(json!({"action": "whoami"}))).await.unwrap();
    out.rows[0][0].as_i64().unwrap()
}

#[tokio::test]
async fn instance_is_reused_between_calls() {
    let (engine, _cache) = engine();
    let pool = pool(&engine, PoolConfig::default());
    let first = whoami(&pool).await;
    assert_eq!(whoami(&pool).await, first);
    assert_eq!(pool.idle_count(), 1);
}

#[tokio::test]
async fn instance_is_recycled_after_max_calls() {
    let (engine, _cache) = engine();
    let pool = pool(
        &engine,
        PoolConfig {
            max_calls: 2,
            ..PoolConfig::default()
        },
    );
    let first = whoami(&pool).await;
    assert_eq!(whoami(&pool).await, first);
    assert_ne!(
        whoami(&pool).await,
        first,
        "a third call must get a fresh instance"
    );
}

#[tokio::test]
async fn idle_instance_is_closed_after_idle_timeout() {
    let (engine, _cache) = engine();
    let pool = pool(
        &engine,
        PoolConfig {
            idle_timeout: Duration::from_millis(100),
            ..PoolConfig::default()
        },
    );
    let first = whoami(&pool).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_ne!(whoami(&pool).await, first);
}

#[tokio::test]
async fn connector_error_keeps_the_instance() {
    let (engine, _cache) = engine();
    let pool = pool(&engine, PoolConfig::default());
    let first = whoami(&pool).await;
    let err = pool
        .run(act(json!({"action": "nonsense"})))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "invalid-query");
    assert_eq!(whoami(&pool).await, first);
}

#[tokio::test]
async fn cancelled_call_drops_the_instance() {
    let (engine, _cache) = engine();
    let pool = pool(&engine, PoolConfig::default());
    let first = whoami(&pool).await;
    let cancelled = tokio::time::timeout(
        Duration::from_millis(100),
        pool.run(act(json!({"action": "hang"}))),
    )
    .await;
    assert!(
        cancelled.is_err(),
        "the hang should still be running when cancelled"
    );
    assert_eq!(pool.idle_count(), 0);
    assert_ne!(whoami(&pool).await, first);
}

#[tokio::test]
async fn results_come_in_batches_and_cut_results_drop_the_instance() {
    let (engine, _cache) = engine();
    let settings = PoolConfig {
        limits: Limits {
            max_rows: 2_500,
            batch_rows: 1_000,
            ..Limits::default()
        },
        ..PoolConfig::default()
    };
    let pool = pool(&engine, settings);
    let first = whoami(&pool).await;

    let out = pool
        .run(act(json!({"action": "rows", "n": 2_500})))
        .await
        .unwrap();
    assert_eq!(out.row_count, 2_500);
    assert!(!out.truncated);
    assert_eq!(out.rows[2_499][0], 2_499);
    assert_eq!(
        whoami(&pool).await,
        first,
        "a complete result keeps the instance"
    );

    let out = pool
        .run(act(json!({"action": "rows", "n": 10_000})))
        .await
        .unwrap();
    assert_eq!(out.row_count, 2_500);
    assert!(out.truncated);
    assert_ne!(
        whoami(&pool).await,
        first,
        "a cut result must not be reused"
    );
}

#[tokio::test]
async fn busy_pool_answers_pool_exhausted() {
    let (engine, _cache) = engine();
    let pool = std::sync::Arc::new(pool(
        &engine,
        PoolConfig {
            max_size: 1,
            acquire_timeout: Duration::from_millis(200),
            limits: Limits {
                call_timeout: Duration::from_millis(1_500),
                ..Limits::default()
            },
            ..PoolConfig::default()
        },
    ));
    let busy = pool.clone();
    let hang = tokio::spawn(async move { busy.run(act(json!({"action": "hang"}))).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let err = pool
        .run(act(json!({"action": "whoami"})))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RuntimeError::PoolExhausted { size: 1, .. }),
        "{err:?}"
    );
    assert!(matches!(
        hang.await.unwrap(),
        Err(RuntimeError::Deadline { .. })
    ));
    whoami(&pool).await;
}
