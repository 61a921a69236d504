//! Several runs in one call (`run-many`) against the machine's PostgreSQL: kept plain
//! statements go out together, and every answer is the one the run would get alone, with
//! an error, a cut result, a statement not kept yet, one that changes the session and one
//! the server refuses as stale among them.

mod common;

use common::{TestDb, query, request, scalar};
use lathe_plugin_sdk::{Request, ResultHead, Value};

const NUMBER: &str = "select {{ n }}::int as n";
const RATIO: &str = "select 10 / {{ n }}::int as q";
const SERIES: &str = "select g from generate_series(1, 10) g";

fn number(n: i64) -> Request {
    request(NUMBER, &[("n", Value::Int(n))], 0)
}

fn rows(answer: &Result<ResultHead, lathe_plugin_sdk::Error>) -> Vec<Vec<Value>> {
    match answer {
        Ok(head) => {
            assert!(head.first.done, "a run-many answer is whole");
            head.first.rows.clone()
        }
        Err(e) => panic!("expected rows, got {e:?}"),
    }
}

#[test]
fn several_runs_in_one_call_answer_as_each_would_alone() {
    let db = TestDb::create();
    let mut conn = db.connect();
    // Kept statements, as a pooled connection has them after its first runs.
    for sql in [NUMBER, RATIO, SERIES] {
        let params = [("n", Value::Int(1))];
        let params: &[(&str, Value)] = if sql.contains("{{") { &params } else { &[] };
        query(&mut conn, sql, params).unwrap();
    }
    let batch = vec![
        number(1),
        request(RATIO, &[("n", Value::Int(0))], 0),
        number(2),
        request(SERIES, &[], 3),
        request("select 'fresh'::text as t", &[], 0),
        request(
            "select set_config('application_name', 'left behind', false) as s",
            &[],
            0,
        ),
        request(RATIO, &[("n", Value::Int(5))], 0),
        number(3),
    ];
    let answers = conn.run_many(&batch);
    assert_eq!(answers.len(), batch.len());

    assert_eq!(rows(&answers[0]), vec![vec![Value::Int(1)]]);
    match &answers[1] {
        Err(lathe_plugin_sdk::Error::Remote(e)) => assert_eq!(e.code, "22012", "{e:?}"),
        other => panic!("division by zero, got {other:?}"),
    }
    assert_eq!(rows(&answers[2]), vec![vec![Value::Int(2)]]);
    // Cut at its row limit, as a lone run is: three rows and the server's suspension.
    let series = answers[3].as_ref().unwrap();
    assert_eq!(
        series.first.rows,
        (1..=3).map(|g| vec![Value::Int(g)]).collect::<Vec<_>>()
    );
    let metadata: serde_json::Value = serde_json::from_str(&series.metadata).unwrap();
    assert_eq!(metadata["truncated"], true, "{metadata}");
    assert_eq!(rows(&answers[4]), vec![vec![Value::Text("fresh".into())]]);
    assert_eq!(
        rows(&answers[5]),
        vec![vec![Value::Text("left behind".into())]]
    );
    assert_eq!(rows(&answers[6]), vec![vec![Value::Int(2)]]);
    assert_eq!(rows(&answers[7]), vec![vec![Value::Int(3)]]);
    let head = answers[0].as_ref().unwrap();
    assert_eq!(head.columns[0].name, "n");
    let metadata: serde_json::Value = serde_json::from_str(&head.metadata).unwrap();
    assert_eq!(metadata["command"], "SELECT 1", "{metadata}");

    // What the session-changing statement left is gone before the next run.
    assert_eq!(
        scalar(&mut conn, "show application_name"),
        Value::Text("lathe".into())
    );
    // And the same batch again, now that every statement is kept: the same answers.
    let again = conn.run_many(&batch);
    for (at, (first, second)) in answers.iter().zip(&again).enumerate() {
        match (first, second) {
            (Ok(a), Ok(b)) => assert_eq!(a.first.rows, b.first.rows, "request {at}"),
            (Err(a), Err(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}"), "request {at}"),
            _ => panic!("request {at} answered differently: {first:?} then {second:?}"),
        }
    }
}

#[test]
fn a_statement_the_server_refuses_as_stale_runs_again_alone() {
    let db = TestDb::create();
    let mut conn = db.connect();
    query(&mut conn, "create table t (a int)", &[]).unwrap();
    query(&mut conn, "insert into t values (7)", &[]).unwrap();
    let all = "select * from t";
    query(&mut conn, all, &[]).unwrap();
    query(&mut conn, NUMBER, &[("n", Value::Int(1))]).unwrap();
    // The kept plan of `select *` no longer matches the table's row type.
    let mut other = db.connect();
    query(
        &mut other,
        "alter table t add column b text default 'x'",
        &[],
    )
    .unwrap();

    let answers = conn.run_many(&[request(all, &[], 0), number(4)]);
    assert_eq!(
        rows(&answers[0]),
        vec![vec![Value::Int(7), Value::Text("x".into())]]
    );
    assert_eq!(rows(&answers[1]), vec![vec![Value::Int(4)]]);
}

#[test]
fn a_failed_run_in_a_pipeline_leaves_no_transaction_behind() {
    let db = TestDb::create();
    let mut conn = db.connect();
    query(&mut conn, "create table t (a int primary key)", &[]).unwrap();
    let insert = "insert into t values ({{ n }}::int)";
    query(&mut conn, insert, &[("n", Value::Int(1))]).unwrap();
    let batch: Vec<Request> = [2, 1, 3]
        .into_iter()
        .map(|n| request(insert, &[("n", Value::Int(n))], 0))
        .collect();
    let answers = conn.run_many(&batch);
    assert!(answers[0].is_ok() && answers[2].is_ok(), "{answers:?}");
    assert!(answers[1].is_err(), "the duplicate key fails alone");
    // Each run was its own transaction: the ones around the failure are kept.
    let count = scalar(&mut conn, "select count(*)::int from t");
    assert_eq!(count, Value::Int(3));
}

#[test]
fn a_large_result_in_a_pipeline_is_cut_and_leaves_room_for_the_others() {
    use lathe_plugin_postgres::connection::{BATCH_BYTES, PIPELINE_BYTES};
    let db = TestDb::create();
    let mut conn = db.connect();
    // About 50 MB of rows, far past what one pipeline keeps.
    let large = "select repeat('x', 100000) as x from generate_series(1, 500)";
    query(&mut conn, large, &[]).unwrap();
    query(&mut conn, NUMBER, &[("n", Value::Int(1))]).unwrap();
    // Not kept, so it runs alone after the pipeline, within what the batch has left.
    let unkept = "select repeat('y', 100000) as y from generate_series(1, 500)";
    let batch = vec![
        request(large, &[], 0),
        number(1),
        request(large, &[], 0),
        request(unkept, &[], 0),
        request(large, &[], 0),
        number(2),
    ];
    let answers = conn.run_many(&batch);
    let kept = |at: usize| {
        let head = answers[at].as_ref().unwrap();
        assert!(!head.first.done, "result {at} is cut, so not done");
        head.first.rows.len() * 100_000
    };
    let first = kept(0);
    assert!(first > 0 && first <= BATCH_BYTES, "{first} bytes");
    let all = first + kept(2) + kept(3) + kept(4);
    // One row may pass the budget: a statement with no room left still runs to its end.
    assert!(
        all <= PIPELINE_BYTES + 100_000,
        "{all} bytes kept in one call"
    );
    // The small ones are whole, whatever came before them.
    assert_eq!(rows(&answers[1]), vec![vec![Value::Int(1)]]);
    assert_eq!(rows(&answers[5]), vec![vec![Value::Int(2)]]);
    // And the session goes on: the cut result's rest is read and dropped.
    assert_eq!(scalar(&mut conn, "select 7"), Value::Int(7));
}

#[test]
fn a_setting_a_pipelined_statement_changes_unreported_is_reset_before_the_next_call() {
    let db = TestDb::create();
    let mut conn = db.connect();
    query(
        &mut conn,
        "create function quietly(n int) returns int language sql as $$ \
         select case when n > 1 then set_config('statement_timeout', '4321', false) end; \
         select n $$",
        &[],
    )
    .unwrap();
    // Kept, having changed nothing with 1.
    let quiet = "select quietly({{ n }}::int) as n";
    query(&mut conn, quiet, &[("n", Value::Int(1))]).unwrap();
    query(&mut conn, NUMBER, &[("n", Value::Int(1))]).unwrap();
    assert!(
        conn.session()
            .is_kept("select quietly($1::int) as n", false)
    );
    let answers = conn.run_many(&[request(quiet, &[("n", Value::Int(2))], 0), number(3)]);
    assert_eq!(rows(&answers[0]), vec![vec![Value::Int(2)]]);
    assert_eq!(rows(&answers[1]), vec![vec![Value::Int(3)]]);
    // The probe after the pipeline saw the change: the next run finds the session reset.
    assert_eq!(
        scalar(&mut conn, "show statement_timeout"),
        Value::Text("0".into())
    );
}
