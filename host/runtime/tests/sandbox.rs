//! Hostile connectors against the real runtime: each misbehaviour ends in a typed error,
//! the server process keeps going, and other connectors keep working.

mod common;

use common::{Canary, engine, hostile};
use lathe_runtime::instance::RunRequest;
use lathe_runtime::{ConnectorError, EgressPolicy, Limits, Pool, PoolConfig, RuntimeError};
use serde_json::json;
use std::time::{Duration, Instant};

fn act(action: serde_json::Value) -> RunRequest {
    RunRequest {
        operation: "act".into(),
        query: action,
        params: Vec::new(),
    }
}

fn settings(timeout_ms: u64) -> PoolConfig {
    PoolConfig {
        max_size: 2,
        limits: Limits {
            call_timeout: Duration::from_millis(timeout_ms),
            ..Limits::default()
        },
        ..PoolConfig::default()
    }
}

/// A pool of the hostile fixture granted `127.0.0.1:port` and `http://127.0.0.1:http_port`.
fn pool(engine: &lathe_runtime::Engine, port: u16, http_port: u16, timeout_ms: u64) -> Pool {
    let config = json!({
        "host": "127.0.0.1",
        "port": port,
        "base_url": format!("http://127.0.0.1:{http_port}/api"),
    });
    Pool::new(
        hostile(engine),
        config,
        EgressPolicy::local_development(),
        settings(timeout_ms),
    )
}

fn denied(result: Result<lathe_runtime::QueryOutput, RuntimeError>) -> String {
    match result {
        Err(RuntimeError::Connector {
            error: ConnectorError::Denied { message },
            ..
        }) => message,
        other => panic!("expected a denial, got {other:?}"),
    }
}

fn first_cell(output: &lathe_runtime::QueryOutput) -> String {
    output.rows[0][0].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn connector_loop_is_killed_at_deadline_and_next_call_succeeds() {
    let (engine, _cache) = engine();
    let pool = pool(&engine, 9, 9, 300);

    let started = Instant::now();
    let err = pool.run(act(json!({"action": "loop"}))).await.unwrap_err();
    assert!(
        matches!(
            err,
            RuntimeError::Deadline {
                operation: "run",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        pool.idle_count(),
        0,
        "a killed instance must not return to the pool"
    );

    let out = pool
        .run(RunRequest {
            params: vec![],
            ..act(json!({"action": "echo"}))
        })
        .await
        .unwrap();
    assert_eq!(out.row_count, 1);
    assert_eq!(pool.idle_count(), 1);
}

#[tokio::test]
async fn connector_waiting_in_the_host_is_stopped_at_deadline() {
    let (engine, _cache) = engine();
    let pool = pool(&engine, 9, 9, 300);
    let started = Instant::now();
    let err = pool.run(act(json!({"action": "hang"}))).await.unwrap_err();
    assert!(matches!(err, RuntimeError::Deadline { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    pool.run(act(json!({"action": "echo"}))).await.unwrap();
}

#[tokio::test]
async fn connector_growing_memory_is_refused_at_the_cap() {
    let (engine, _cache) = engine();
    let pool = pool(&engine, 9, 9, 10_000);
    let err = pool.run(act(json!({"action": "alloc"}))).await.unwrap_err();
    assert!(
        matches!(err, RuntimeError::MemoryLimit { limit_mib: 64, .. }),
        "{err:?}"
    );
    pool.run(act(json!({"action": "echo"}))).await.unwrap();
}

#[tokio::test]
async fn connector_panic_is_a_crash_with_its_message() {
    let (engine, _cache) = engine();
    let pool = pool(&engine, 9, 9, 5_000);
    let err = pool.run(act(json!({"action": "panic"}))).await.unwrap_err();
    match &err {
        RuntimeError::Crashed { detail, .. } => {
            assert!(detail.contains("panics on purpose"), "{detail}")
        }
        other => panic!("expected a crash, got {other:?}"),
    }
    assert!(err.to_string().contains("hostile@0.1.0"), "{err}");
    pool.run(act(json!({"action": "echo"}))).await.unwrap();
}

#[tokio::test]
async fn connect_to_ungranted_loopback_port_is_denied_and_canary_sees_nothing() {
    let (engine, _cache) = engine();
    let granted = Canary::start("127.0.0.1", 0).await;
    let other = Canary::start("127.0.0.1", 0).await;
    let pool = pool(&engine, granted.port, 9, 5_000);

    let out = pool
        .run(act(
            json!({"action": "connect", "host": "127.0.0.1", "port": granted.port}),
        ))
        .await
        .unwrap();
    assert_eq!(first_cell(&out), "connected");

    let message = denied(
        pool.run(act(
            json!({"action": "connect", "host": "127.0.0.1", "port": other.port}),
        ))
        .await,
    );
    assert!(message.contains(&other.port.to_string()), "{message}");
    let message = denied(
        pool.run(act(
            json!({"action": "connect", "host": "169.254.169.254", "port": 80}),
        ))
        .await,
    );
    assert!(message.contains("169.254.169.254"), "{message}");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(other.hits(), 0);
    assert_eq!(granted.hits(), 1);
}

#[tokio::test]
async fn resolving_an_ungranted_name_is_denied() {
    let (engine, _cache) = engine();
    let pool = pool(&engine, 9, 9, 5_000);
    for name in ["example.com", "metadata.google.internal", "localhost"] {
        let message = denied(
            pool.run(act(json!({"action": "resolve", "host": name})))
                .await,
        );
        assert!(message.contains(name), "{message}");
    }
}

#[tokio::test]
async fn files_and_environment_are_not_there() {
    let (engine, _cache) = engine();
    let pool = pool(&engine, 9, 9, 5_000);
    for path in ["/etc/passwd", "/proc/self/environ", "."] {
        let err = pool
            .run(act(json!({"action": "read-file", "path": path})))
            .await
            .unwrap_err();
        assert!(
            matches!(
                &err,
                RuntimeError::Connector {
                    error: ConnectorError::Denied { .. },
                    ..
                }
            ),
            "{path}: {err:?}"
        );
    }
    let out = pool.run(act(json!({"action": "env"}))).await.unwrap();
    assert_eq!(first_cell(&out), "0 variables, 0 arguments");
}

#[tokio::test]
async fn http_reaches_only_the_granted_origin() {
    let (engine, _cache) = engine();
    let granted = common::http_server("[]").await;
    let other = Canary::start("127.0.0.1", 0).await;
    let pool = pool(&engine, 9, granted, 5_000);

    let url = format!("http://127.0.0.1:{granted}/api/items");
    let out = pool
        .run(act(json!({"action": "http", "url": url})))
        .await
        .unwrap();
    assert_eq!(first_cell(&out), "status 200");

    for url in [
        format!("http://127.0.0.1:{}/", other.port),
        format!("https://127.0.0.1:{granted}/"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://localhost/".to_string(),
    ] {
        let message = denied(pool.run(act(json!({"action": "http", "url": url}))).await);
        assert!(message.contains("not a granted destination"), "{message}");
    }
    assert_eq!(other.hits(), 0);
}

#[tokio::test]
async fn other_connectors_keep_working_while_one_loops() {
    let (engine, _cache) = engine();
    let looping = pool(&engine, 9, 9, 1_500);
    let healthy = pool(&engine, 9, 9, 5_000);

    let spin = tokio::spawn(async move { looping.run(act(json!({"action": "loop"}))).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    for _ in 0..20 {
        let started = Instant::now();
        healthy.run(act(json!({"action": "echo"}))).await.unwrap();
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "{:?}",
            started.elapsed()
        );
    }
    assert!(matches!(
        spin.await.unwrap(),
        Err(RuntimeError::Deadline { .. })
    ));
}

#[tokio::test]
async fn datasource_on_a_forbidden_address_fails_to_open() {
    let (engine, _cache) = engine();
    let config = json!({"host": "10.1.2.3", "port": 5432, "base_url": "http://127.0.0.1:9/"});
    let pool = Pool::new(
        hostile(&engine),
        config,
        EgressPolicy::public_only(),
        settings(5_000),
    );
    let err = pool.run(act(json!({"action": "echo"}))).await.unwrap_err();
    match err {
        RuntimeError::EgressDenied {
            grant,
            destination,
            reason,
            plugin,
        } => {
            assert_eq!(plugin, "hostile@0.1.0");
            assert_eq!(grant, "tcp://{host}:{port}");
            assert_eq!(destination, "tcp://10.1.2.3:5432");
            assert!(reason.contains("allow-list"), "{reason}");
        }
        other => panic!("expected an egress denial, got {other:?}"),
    }
}

#[tokio::test]
async fn connector_that_never_finishes_its_result_is_stopped() {
    let (engine, _cache) = engine();
    let pool = pool(&engine, 9, 9, 500);
    let started = Instant::now();
    let err = pool.run(act(json!({"action": "stall"}))).await.unwrap_err();
    assert!(matches!(err, RuntimeError::Deadline { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(pool.idle_count(), 0);
}

#[tokio::test]
async fn malformed_rows_are_refused() {
    let (engine, _cache) = engine();
    let pool = pool(&engine, 9, 9, 5_000);
    let err = pool
        .run(act(json!({"action": "bad-row"})))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "connector-bad-result", "{err:?}");
    assert!(err.to_string().contains("2 values for 1 columns"), "{err}");
    assert_eq!(pool.idle_count(), 0);
}

/// A pool of the hostile fixture whose secret `token` is `token`, its TCP grant on `host`.
fn pool_with_token(engine: &lathe_runtime::Engine, host: &str, token: &str) -> Pool {
    let config = json!({
        "host": host, "port": 5432, "base_url": "http://127.0.0.1:9/", "token": token,
    });
    Pool::new(
        hostile(engine),
        config,
        EgressPolicy::local_development(),
        settings(5_000),
    )
}

#[tokio::test]
async fn secrets_echoed_in_encoded_forms_never_reach_the_error() {
    use base64::Engine as _;
    let (engine, _cache) = engine();
    let token = "tok/en \"s3cret\" ü";
    let pool = pool_with_token(&engine, "127.0.0.1", token);
    let err = pool
        .run(act(json!({"action": "leak", "user": "svc"})))
        .await
        .unwrap_err();
    let text = format!("{err} {err:?}");
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("svc:{token}"));
    for leaked in ["s3cret", "tok%2Fen", &basic[4..basic.len() - 4]] {
        assert!(!text.contains(leaked), "{leaked} in {text}");
    }
    assert!(text.contains("[redacted]"), "{text}");

    // Short secrets are masked where they stand alone.
    let pool = pool_with_token(&engine, "127.0.0.1", "q7");
    let err = pool.run(act(json!({"action": "leak"}))).await.unwrap_err();
    assert!(!err.to_string().contains("raw q7 "), "{err}");
}

#[tokio::test]
async fn a_secret_that_is_part_of_a_granted_host_is_not_in_the_refusal() {
    let (engine, _cache) = engine();
    // A private address the policy refuses without any traffic, used as the secret too.
    let pool = pool_with_token(&engine, "10.77.31.9", "10.77.31.9");
    let err = pool.run(act(json!({"action": "echo"}))).await.unwrap_err();
    assert_eq!(err.kind(), "egress-denied", "{err:?}");
    let text = format!("{err} {err:?}");
    assert!(!text.contains("10.77.31.9"), "{text}");
}
