//! The connection pool's life cycle, observed through the fixture's per-instance id.

mod common;

use common::{engine, hostile};
use lathe_runtime::bindings::types::{Param, Value};
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

/// A call that grows the instance's memory by `mib` MiB and frees it again.
async fn hoard(pool: &Pool, mib: u64) {
    let out = pool.run(act(json!({"action": "hoard", "mib": mib}))).await;
    assert!(out.is_ok(), "hoarding {mib} MiB failed: {:?}", out.err());
}

#[tokio::test]
async fn instance_whose_memory_grew_is_retired_and_one_that_did_not_is_kept() {
    let (engine, _cache) = engine();
    let pool = pool(&engine, PoolConfig::default());
    let first = whoami(&pool).await;
    // The test engine caps memory at 64 MiB: 8 MiB stays under a quarter of it.
    hoard(&pool, 8).await;
    assert_eq!(
        whoami(&pool).await,
        first,
        "a modest call keeps the instance"
    );
    hoard(&pool, 24).await;
    assert_ne!(
        whoami(&pool).await,
        first,
        "an instance whose memory grew past a quarter of its cap must not be reused"
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

/// Starts a nap of `ms` on the pool's one instance, then `runs` while it is busy, and
/// gives their outcomes in order.
async fn behind_a_nap(
    pool: std::sync::Arc<Pool>,
    ms: u64,
    runs: Vec<RunRequest>,
) -> Vec<Result<lathe_runtime::QueryOutput, RuntimeError>> {
    let napping = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.run(act(json!({"action": "nap", "ms": ms}))).await })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    let mut waiting = Vec::new();
    for run in runs {
        let pool = pool.clone();
        waiting.push(tokio::spawn(async move { pool.run(run).await }));
        // In line in this order.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    napping.await.unwrap().unwrap();
    let mut outcomes = Vec::new();
    for run in waiting {
        outcomes.push(run.await.unwrap());
    }
    outcomes
}

fn one_instance() -> PoolConfig {
    PoolConfig {
        max_size: 1,
        ..PoolConfig::default()
    }
}

#[tokio::test]
async fn runs_waiting_for_a_busy_instance_share_one_call_and_each_gets_its_own_answer() {
    let (engine, _cache) = engine();
    let pool = std::sync::Arc::new(pool(&engine, one_instance()));
    // A run that finds the instance free goes alone.
    let alone = pool.run(act(json!({"action": "whoami"}))).await.unwrap();
    assert_eq!(alone.metadata, json!({}));

    let runs = (0..5)
        .map(|n| RunRequest {
            params: vec![Param {
                name: "inputs.n".into(),
                value: Value::Int(n),
            }],
            ..act(json!({"action": "echo"}))
        })
        .collect::<Vec<_>>();
    for (n, outcome) in behind_a_nap(pool.clone(), 150, runs)
        .await
        .into_iter()
        .enumerate()
    {
        let out = outcome.unwrap();
        assert_eq!(
            out.rows,
            vec![vec![json!(n)]],
            "run {n} got another's answer"
        );
        assert_eq!(out.metadata, json!({"batch": 5}), "run {n}");
    }
    assert_eq!(pool.idle_count(), 1);
}

#[tokio::test]
async fn a_batch_answered_with_the_wrong_count_fails_its_runs_and_the_instance_goes() {
    let (engine, _cache) = engine();
    let pool = std::sync::Arc::new(pool(&engine, one_instance()));
    let before = whoami(&pool).await;
    let runs = ["whoami", "miscount", "whoami"]
        .map(|action| act(json!({ "action": action })))
        .to_vec();
    for outcome in behind_a_nap(pool.clone(), 150, runs).await {
        match outcome {
            Err(RuntimeError::BadResult { detail, .. }) => {
                assert!(detail.contains("3 requests"), "{detail}")
            }
            other => panic!("a miscounted batch fails every run in it, got {other:?}"),
        }
    }
    assert_ne!(whoami(&pool).await, before, "the instance was replaced");
}

#[tokio::test]
async fn a_crash_in_a_batch_fails_the_runs_that_shared_the_call_and_no_others() {
    let (engine, _cache) = engine();
    let pool = std::sync::Arc::new(pool(&engine, one_instance()));
    let runs = ["whoami", "crash"]
        .map(|action| act(json!({ "action": action })))
        .to_vec();
    for outcome in behind_a_nap(pool.clone(), 150, runs).await {
        assert!(
            matches!(outcome, Err(RuntimeError::Crashed { .. })),
            "{outcome:?}"
        );
    }
    let after = pool.run(act(json!({"action": "whoami"}))).await.unwrap();
    assert_eq!(after.metadata, json!({}));
}

#[tokio::test]
async fn a_run_whose_caller_went_away_while_in_line_is_not_run() {
    let (engine, _cache) = engine();
    let pool = std::sync::Arc::new(pool(&engine, one_instance()));
    let napping = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.run(act(json!({"action": "nap"}))).await })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    let gone = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.run(act(json!({"action": "crash"}))).await })
    };
    let kept = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.run(act(json!({"action": "whoami"}))).await })
    };
    tokio::time::sleep(Duration::from_millis(10)).await;
    gone.abort();
    napping.await.unwrap().unwrap();
    // Had the aborted run gone in the batch, its crash would have failed this one too.
    let out = kept.await.unwrap().unwrap();
    assert_eq!(out.metadata, json!({}), "it ran alone");
}

#[tokio::test]
async fn a_run_behind_a_slow_call_takes_a_free_instance_after_a_moment() {
    let (engine, _cache) = engine();
    let pool = std::sync::Arc::new(pool(
        &engine,
        PoolConfig {
            max_size: 2,
            ..PoolConfig::default()
        },
    ));
    let napping = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.run(act(json!({"action": "nap", "ms": 400}))).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    // It waits a moment to join the batch after the nap, then goes alone on the free
    // instance instead of waiting for the nap to end.
    let started = std::time::Instant::now();
    let out = pool.run(act(json!({"action": "whoami"}))).await.unwrap();
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_millis(200),
        "it waited {waited:?} behind a call of 400 ms"
    );
    assert_eq!(out.metadata, json!({}), "it ran alone");
    assert!(
        !napping.is_finished(),
        "the nap still holds the other instance"
    );
    napping.await.unwrap().unwrap();
    assert_eq!(pool.idle_count(), 2);
}

#[tokio::test]
async fn a_batch_may_take_the_call_limit_once_for_each_of_its_runs() {
    let (engine, _cache) = engine();
    let settings = PoolConfig {
        limits: Limits {
            call_timeout: Duration::from_millis(500),
            ..Limits::default()
        },
        ..one_instance()
    };
    let pool = std::sync::Arc::new(pool(&engine, settings));
    // Two naps of 300 ms in one call: 600 ms, past one call's limit but within theirs.
    let nap = || act(json!({"action": "nap", "ms": 300}));
    let runs = vec![nap(), nap()];
    for outcome in behind_a_nap(pool.clone(), 150, runs).await {
        let out = outcome.unwrap();
        assert_eq!(out.metadata, json!({"batch": 2}));
    }
}

#[tokio::test]
async fn runs_behind_slow_calls_go_one_by_one() {
    let (engine, _cache) = engine();
    let pool = std::sync::Arc::new(pool(&engine, one_instance()));
    // Calls slower than SLOW_CALL per run: the slow runs waiting behind them are not
    // batched, so that none waits for the others' slow queries too.
    let runs = (0..3)
        .map(|_| act(json!({"action": "nap", "ms": 300})))
        .collect();
    for outcome in behind_a_nap(pool.clone(), 400, runs).await {
        assert_eq!(outcome.unwrap().metadata, json!({}), "it ran alone");
    }
    // Once calls are quick again, waiting runs share them again.
    let runs = ["whoami", "whoami"]
        .map(|action| act(json!({ "action": action })))
        .to_vec();
    for outcome in behind_a_nap(pool.clone(), 150, runs).await {
        assert_eq!(outcome.unwrap().metadata, json!({"batch": 2}));
    }
}
