//! The PostgreSQL connector through `lathe plugin run`, against the machine's PostgreSQL
//! (127.0.0.1:5432, trust auth). Each test works in a table of its own, dropped at the end.

mod common;

use common::plugin_cli::lathe_plugin_run;
use serde_json::json;

const CONFIG: &str = r#"{"host":"127.0.0.1","port":5432,"username":"postgres","database":"postgres","ssl_mode":"disable"}"#;

async fn client() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(
        "host=127.0.0.1 port=5432 user=postgres dbname=postgres",
        tokio_postgres::NoTls,
    )
    .await
    .expect("the local PostgreSQL");
    tokio::spawn(connection);
    client
}

#[tokio::test]
async fn bound_input_answers_42() {
    let out = lathe_plugin_run(
        "plugins/postgres",
        CONFIG,
        r#"{"sql":"select {{ inputs.n }}::int + 1 as answer"}"#,
        r#"{"n":41}"#,
    )
    .await
    .success();
    assert_eq!(out["columns"][0]["name"], "answer");
    assert_eq!(out["columns"][0]["type"], "int");
    assert_eq!(out["rows"], json!([[42]]));
}

#[tokio::test]
async fn templates_in_sql_comments_need_no_input() {
    let out = lathe_plugin_run(
        "plugins/postgres",
        CONFIG,
        r#"{"sql":"select {{ inputs.n }}::int as n -- was {{ inputs.old }}\n /* {{ secrets.key }} */"}"#,
        r#"{"n":7}"#,
    )
    .await
    .success();
    assert_eq!(out["rows"], json!([[7]]));
}

#[tokio::test]
async fn injection_attempt_is_a_type_error_and_drops_nothing() {
    let table = format!("lathe_cli_victim_{}", std::process::id());
    let db = client().await;
    db.batch_execute(&format!(
        "create table {table} (id int); insert into {table} values (1)"
    ))
    .await
    .unwrap();

    let inputs = json!({ "n": format!("1; drop table {table}") }).to_string();
    let err = lathe_plugin_run(
        "plugins/postgres",
        CONFIG,
        r#"{"sql":"select {{ inputs.n }}::int + 1 as answer"}"#,
        &inputs,
    )
    .await
    .failure();
    assert!(err.contains("22P02"), "{err}");

    let rows = db
        .query(&format!("select count(*) from {table}"), &[])
        .await;
    db.batch_execute(&format!("drop table if exists {table}"))
        .await
        .unwrap();
    assert_eq!(
        rows.expect("the table must still exist")[0].get::<_, i64>(0),
        1
    );
}

#[tokio::test]
async fn large_results_are_cut_at_max_rows() {
    let out = common::plugin_cli::lathe(&[
        "plugin",
        "run",
        "plugins/postgres",
        "--config",
        CONFIG,
        "--query",
        r#"{"sql":"select g from generate_series(1, 50000) g"}"#,
        "--max-rows",
        "25000",
    ])
    .await
    .success();
    assert_eq!(out["rowCount"], 25_000);
    assert_eq!(out["truncated"], true);
    assert_eq!(out["rows"][24_999], json!([25_000]));

    let out = common::plugin_cli::lathe(&[
        "plugin",
        "run",
        "plugins/postgres",
        "--config",
        CONFIG,
        "--query",
        r#"{"sql":"select g from generate_series(1, 3000) g"}"#,
    ])
    .await
    .success();
    assert_eq!(out["rowCount"], 3_000);
    assert_eq!(out["truncated"], false);
}

#[tokio::test]
async fn test_and_schema_use_the_same_connection_settings() {
    let out = common::plugin_cli::lathe(&[
        "plugin",
        "run",
        "plugins/postgres",
        "--config",
        CONFIG,
        "--test",
    ])
    .await
    .success();
    assert_eq!(out, json!({"ok": true}));

    let table = format!("lathe_cli_schema_{}", std::process::id());
    let db = client().await;
    db.batch_execute(&format!(
        "create table {table} (id int not null, note text)"
    ))
    .await
    .unwrap();
    let out = common::plugin_cli::lathe(&[
        "plugin",
        "run",
        "plugins/postgres",
        "--config",
        CONFIG,
        "--schema",
    ])
    .await
    .success();
    db.batch_execute(&format!("drop table {table}"))
        .await
        .unwrap();
    let tables = out["tables"].as_array().unwrap();
    let ours = tables
        .iter()
        .find(|t| t["name"] == table.as_str())
        .expect("the test's table is listed");
    assert_eq!(ours["columns"][0]["name"], "id");
    assert_eq!(ours["columns"][0]["nullable"], false);
}

#[tokio::test]
async fn ungranted_addresses_never_open() {
    let err = common::plugin_cli::lathe(&[
        "plugin",
        "run",
        "plugins/postgres",
        "--no-loopback",
        "--config",
        CONFIG,
        "--query",
        r#"{"sql":"select 1"}"#,
    ])
    .await
    .failure();
    assert!(
        err.contains("egress to tcp://127.0.0.1:5432 denied"),
        "{err}"
    );
    assert!(err.contains("allow-list"), "{err}");
}

#[tokio::test]
async fn config_and_query_are_checked_against_the_manifest() {
    let config = r#"{"host":"127.0.0.1","username":"postgres","bogus":1}"#;
    let err = lathe_plugin_run("plugins/postgres", config, r#"{"sql":"select 1"}"#, "{}")
        .await
        .failure();
    assert!(
        err.contains("invalid configuration") && err.contains("bogus"),
        "{err}"
    );

    let err = lathe_plugin_run(
        "plugins/postgres",
        CONFIG,
        r#"{"sql":"select 1","x":1}"#,
        "{}",
    )
    .await
    .failure();
    assert!(err.contains("invalid query") && err.contains('x'), "{err}");
}

#[tokio::test]
async fn integers_past_2_pow_53_keep_every_digit() {
    let out = lathe_plugin_run(
        "plugins/postgres",
        CONFIG,
        r#"{"sql":"select 9007199254740993::int8 as i, 9223372036854775807::int8 as max, 123456789012345678901234567890.5::numeric as n, array[9007199254740993]::int8[] as a, '{\"id\": 9007199254740993, \"big\": 123456789012345678901234567890}'::jsonb as j, json_build_object('n', 12345678901234567890123::numeric) as built"}"#,
        "{}",
    )
    .await
    .success_text();
    let compact: String = out.split_whitespace().collect();
    assert!(
        compact.contains(
            r#"[9007199254740993,9223372036854775807,"123456789012345678901234567890.5",[9007199254740993],{"id":9007199254740993,"big":"123456789012345678901234567890"},{"n":"12345678901234567890123"}]"#
        ),
        "{out}"
    );
}

#[tokio::test]
async fn copy_with_the_client_is_an_unsupported_error() {
    let err = lathe_plugin_run(
        "plugins/postgres",
        CONFIG,
        r#"{"sql":"copy (select 1) to stdout"}"#,
        "{}",
    )
    .await
    .failure();
    assert!(err.contains("COPY … TO STDOUT is not supported"), "{err}");
}

/// `lathe plugin run` of `sql` with a call time limit of 3 s.
async fn run_within_3s(config: &str, sql: &str) -> common::plugin_cli::Outcome {
    let query = json!({ "sql": sql }).to_string();
    common::plugin_cli::lathe(&[
        "plugin",
        "run",
        "plugins/postgres",
        "--timeout-ms",
        "3000",
        "--config",
        config,
        "--query",
        &query,
    ])
    .await
}

#[tokio::test]
async fn statement_timeout_follows_the_call_time_limit() {
    let show = "show statement_timeout";
    // Unset: just under the limit (3 s less a tenth).
    let out = run_within_3s(CONFIG, show).await.success();
    assert_eq!(out["rows"], json!([["2700ms"]]));
    // Larger than the limit: lowered; smaller: kept.
    let with_timeout = |ms: u64| {
        let mut config: serde_json::Value = serde_json::from_str(CONFIG).unwrap();
        config["statement_timeout_ms"] = json!(ms);
        config.to_string()
    };
    let out = run_within_3s(&with_timeout(600_000), show).await.success();
    assert_eq!(out["rows"], json!([["2700ms"]]));
    let out = run_within_3s(&with_timeout(250), show).await.success();
    assert_eq!(out["rows"], json!([["250ms"]]));

    // A statement longer than the limit is cancelled by the server, whose error comes back
    // before the host's deadline.
    let started = std::time::Instant::now();
    let err = run_within_3s(CONFIG, "select pg_sleep(20)").await.failure();
    assert!(err.contains("57014"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
}

#[tokio::test]
async fn numeric_inputs_keep_every_digit() {
    let out = lathe_plugin_run(
        "plugins/postgres",
        CONFIG,
        r#"{"sql":"select {{ inputs.a }}::numeric::text as a, {{ inputs.b }}::numeric::text as b"}"#,
        r#"{"a":123456789012345678901234567890.123456789,"b":18446744073709551616}"#,
    )
    .await
    .success();
    assert_eq!(
        out["rows"],
        json!([[
            "123456789012345678901234567890.123456789",
            "18446744073709551616"
        ]])
    );
}
