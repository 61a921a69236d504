//! The session's prepared-statement cache against the machine's PostgreSQL: statements run
//! again reuse the server's prepared statement, results stay right when tables change
//! under them, and the cache stays within its bound. Also COPY, which is refused.

mod common;

use common::{TestDb, query, remote_error, scalar};
use lathe_plugin_postgres::statements::CAPACITY;
use lathe_plugin_sdk::{ColumnType, Error, Value};

/// How often the server has executed the statement prepared for `sql` (custom and generic
/// plans), or `None` when it holds no statement with that text.
fn executions(conn: &mut common::Conn, sql: &str) -> Option<i64> {
    let out = query(
        conn,
        "select generic_plans + custom_plans from pg_prepared_statements \
         where statement = {{ sql }}",
        &[("sql", Value::Text(sql.into()))],
    )
    .unwrap();
    match out.rows.as_slice() {
        [] => None,
        [row] => match row[0] {
            Value::Int(n) => Some(n),
            ref other => panic!("a count, got {other:?}"),
        },
        rows => panic!("one prepared statement per text, got {}", rows.len()),
    }
}

#[test]
fn a_statement_run_again_reuses_its_prepared_statement() {
    let db = TestDb::create();
    let mut conn = db.connect();
    let sql = "select {{ n }}::int * 2 as twice";
    for n in 1..=3 {
        let out = query(&mut conn, sql, &[("n", Value::Int(n))]).unwrap();
        assert_eq!(out.rows, vec![vec![Value::Int(n * 2)]]);
        assert_eq!(out.columns[0].name, "twice");
    }
    // One statement on the server, executed three times: parsed once.
    assert_eq!(
        executions(&mut conn, "select $1::int * 2 as twice"),
        Some(3)
    );
}

#[test]
fn a_changed_column_type_gives_the_new_type_not_a_stale_result() {
    let db = TestDb::create();
    let mut conn = db.connect();
    query(&mut conn, "create table items (id int, price int)", &[]).unwrap();
    query(&mut conn, "insert into items values (1, 250)", &[]).unwrap();
    let select = "select * from items order by id";
    let out = query(&mut conn, select, &[]).unwrap();
    assert_eq!(out.rows, vec![vec![Value::Int(1), Value::Int(250)]]);

    query(
        &mut conn,
        "alter table items alter column price type numeric(10, 2)",
        &[],
    )
    .unwrap();
    let out = query(&mut conn, select, &[]).unwrap();
    assert_eq!(out.columns[1].type_, ColumnType::Decimal);
    assert_eq!(
        out.rows,
        vec![vec![Value::Int(1), Value::Decimal("250.00".into())]]
    );

    query(&mut conn, "alter table items add column name text", &[]).unwrap();
    query(&mut conn, "update items set name = 'lamp'", &[]).unwrap();
    let out = query(&mut conn, select, &[]).unwrap();
    assert_eq!(out.columns.len(), 3);
    assert_eq!(out.rows[0][2], Value::Text("lamp".into()));

    // A rename keeps the row type; the columns are described afresh all the same.
    query(
        &mut conn,
        "alter table items rename column name to label",
        &[],
    )
    .unwrap();
    let out = query(&mut conn, select, &[]).unwrap();
    assert_eq!(out.columns[2].name, "label");

    // Dropped and created again with other types under the same name.
    query(&mut conn, "drop table items", &[]).unwrap();
    query(&mut conn, "create table items (id text, price float8)", &[]).unwrap();
    query(&mut conn, "insert into items values ('a', 1.5)", &[]).unwrap();
    let out = query(&mut conn, select, &[]).unwrap();
    assert_eq!(
        out.rows,
        vec![vec![Value::Text("a".into()), Value::Float(1.5)]]
    );
}

#[test]
fn statements_dropped_on_the_server_are_prepared_again() {
    let db = TestDb::create();
    let mut conn = db.connect();
    assert_eq!(scalar(&mut conn, "select 7"), Value::Int(7));
    query(&mut conn, "deallocate all", &[]).unwrap();
    assert_eq!(scalar(&mut conn, "select 7"), Value::Int(7));
    query(&mut conn, "discard all", &[]).unwrap();
    assert_eq!(scalar(&mut conn, "select 7"), Value::Int(7));
    assert_eq!(executions(&mut conn, "select 7"), Some(1));
}

#[test]
fn inside_a_transaction_block_a_changed_table_does_not_abort_it() {
    let db = TestDb::create();
    let mut conn = db.connect();
    query(&mut conn, "create table t (a int)", &[]).unwrap();
    query(&mut conn, "insert into t values (1)", &[]).unwrap();
    let select = "select * from t";
    query(&mut conn, select, &[]).unwrap();

    query(&mut conn, "begin", &[]).unwrap();
    query(&mut conn, "alter table t alter column a type text", &[]).unwrap();
    let out = query(&mut conn, select, &[]).unwrap();
    assert_eq!(out.rows, vec![vec![Value::Text("1".into())]]);
    query(&mut conn, "commit", &[]).unwrap();

    let out = query(&mut conn, select, &[]).unwrap();
    assert_eq!(out.rows, vec![vec![Value::Text("1".into())]]);
}

#[test]
fn errors_at_execution_are_reported_once_and_not_retried() {
    let db = TestDb::create();
    let mut conn = db.connect();
    query(&mut conn, "create sequence calls", &[]).unwrap();
    // The same SQLSTATE as a stale plan, but raised while executing: running the
    // statement again would call nextval twice.
    query(
        &mut conn,
        "create function boom(fail bool) returns int language plpgsql as $$ begin \
         if fail then raise exception 'no' using errcode = 'feature_not_supported'; end if; \
         return 0; end $$",
        &[],
    )
    .unwrap();
    let sql = "select nextval('calls') + boom({{ fail }})";
    query(&mut conn, sql, &[("fail", Value::Boolean(false))]).unwrap();
    let error = remote_error(query(&mut conn, sql, &[("fail", Value::Boolean(true))]));
    assert_eq!(error.code, "0A000");
    assert_eq!(
        scalar(&mut conn, "select last_value from calls"),
        Value::Int(2)
    );
}

#[test]
fn the_cache_keeps_at_most_its_capacity_on_the_server() {
    let db = TestDb::create();
    let mut conn = db.connect();
    for i in 0..CAPACITY + 20 {
        assert_eq!(
            scalar(&mut conn, &format!("select {i}")),
            Value::Int(i as i64)
        );
    }
    // The cache's statements, besides the session check's own (`lathe_probe`).
    let count = "select count(*) from pg_prepared_statements where name <> 'lathe_probe'";
    assert_eq!(scalar(&mut conn, count), Value::Int(CAPACITY as i64));
    assert_eq!(conn.session().prepared_count(), CAPACITY);
}

#[test]
fn json_array_parameters_keep_their_inferred_types_across_runs() {
    let db = TestDb::create();
    let mut conn = db.connect();
    let sql = "select count(*) from generate_series(1, 5) n where n = any({{ ids }})";
    for ids in ["[1, 2]", "[3, 4, 5]"] {
        let out = query(&mut conn, sql, &[("ids", Value::Json(ids.into()))]).unwrap();
        let expected = serde_json::from_str::<Vec<i64>>(ids).unwrap().len() as i64;
        assert_eq!(out.rows, vec![vec![Value::Int(expected)]]);
    }
}

#[test]
fn copy_to_stdout_is_unsupported_and_the_session_goes_on() {
    let db = TestDb::create();
    let mut conn = db.connect();
    let result = query(
        &mut conn,
        "copy (select g from generate_series(1, 10000) g) to stdout",
        &[],
    );
    match result {
        Err(Error::Unsupported(message)) => assert!(message.contains("TO STDOUT"), "{message}"),
        Err(other) => panic!("expected unsupported, got {other:?}"),
        Ok(out) => panic!("expected unsupported, got {} rows", out.rows.len()),
    }
    assert_eq!(scalar(&mut conn, "select 1"), Value::Int(1));
}

#[test]
fn copy_from_stdin_is_unsupported_and_writes_nothing() {
    let db = TestDb::create();
    let mut conn = db.connect();
    query(&mut conn, "create table t (a int)", &[]).unwrap();
    let result = query(&mut conn, "copy t from stdin", &[]);
    match result {
        Err(Error::Unsupported(message)) => assert!(message.contains("FROM STDIN"), "{message}"),
        Err(other) => panic!("expected unsupported, got {other:?}"),
        Ok(out) => panic!("expected unsupported, got {:?}", out.metadata),
    }
    assert_eq!(scalar(&mut conn, "select count(*) from t"), Value::Int(0));
}
