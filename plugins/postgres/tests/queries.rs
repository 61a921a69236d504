//! The `sql` operation against the machine's PostgreSQL, each test in a database of its
//! own: type mapping, bound parameters, errors, timeouts and batched results.

mod common;

use common::{Conn, TestDb, connect, query, remote_error, request, scalar};
use lathe_plugin_sdk::{ColumnType, Error, Value};
use serde_json::json;

#[test]
fn every_mapped_type_gets_its_value_case() {
    let db = TestDb::create();
    let mut conn = db.connect();
    let sql = "select 1::int2, 2::int4, 3::int8, 4::oid, 1.5::float4, 0.1::float8, \
               12.50::numeric, true, 'txt'::text, 'v'::varchar(3), 'c'::char(2), \
               'n'::name, '\\x00ff'::bytea, '{\"a\": 1}'::json, '{\"b\": [2]}'::jsonb, \
               'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'::uuid, '2026-12-04'::date, \
               '15:04:05.123456'::time, '15:04:05+02'::timetz, \
               '2026-12-04 15:04:05.5'::timestamp, \
               '2026-12-04 17:04:05.25+02'::timestamptz, \
               '1 year 2 months 3 days 04:05:06.5'::interval, '192.168.0.1'::inet";
    let out = query(&mut conn, sql, &[]).unwrap();

    let expected = vec![
        Value::Int(1),
        Value::Int(2),
        Value::Int(3),
        Value::Int(4),
        Value::Float(1.5),
        Value::Float(0.1),
        Value::Decimal("12.50".into()),
        Value::Boolean(true),
        Value::Text("txt".into()),
        Value::Text("v".into()),
        Value::Text("c ".into()),
        Value::Text("n".into()),
        Value::Bytes(vec![0, 255]),
        Value::Json("{\"a\": 1}".into()),
        Value::Json("{\"b\": [2]}".into()),
        Value::Uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".into()),
        Value::Date("2026-12-04".into()),
        Value::Time("15:04:05.123456".into()),
        Value::Time("15:04:05+02:00".into()),
        Value::Timestamp("2026-12-04T15:04:05.5".into()),
        Value::Timestamptz("2026-12-04T15:04:05.25Z".into()),
        Value::Interval("P1Y2M3DT4H5M6.5S".into()),
        Value::Text("192.168.0.1".into()),
    ];
    assert_eq!(out.rows, vec![expected]);

    let types: Vec<(ColumnType, &str)> = out
        .columns
        .iter()
        .map(|c| (c.type_, c.source_type.as_str()))
        .collect();
    assert_eq!(types[0], (ColumnType::Int, "int2"));
    assert_eq!(types[6], (ColumnType::Decimal, "numeric"));
    assert_eq!(types[12], (ColumnType::Bytes, "bytea"));
    assert_eq!(types[15], (ColumnType::Uuid, "uuid"));
    assert_eq!(types[18], (ColumnType::Time, "timetz"));
    assert_eq!(types[20], (ColumnType::Timestamptz, "timestamptz"));
    assert_eq!(types[21], (ColumnType::Interval, "interval"));
    assert_eq!(types[22], (ColumnType::Text, "inet"));
}

#[test]
fn nulls_are_null_in_every_type() {
    let db = TestDb::create();
    let mut conn = db.connect();
    let out = query(
        &mut conn,
        "select null::int, null::text, null::jsonb, null::timestamptz, null::int[], null",
        &[],
    )
    .unwrap();
    assert_eq!(out.rows, vec![vec![Value::Null; 6]]);
}

#[test]
fn arrays_become_json_arrays_of_their_elements() {
    let db = TestDb::create();
    let mut conn = db.connect();
    let out = query(
        &mut conn,
        "select array[1, null, 3], array['a,b', 'say \"hi\"', null]::text[], \
         array[[1.5, 2], [3, 4]]::float8[], array['{\"k\": 1}']::jsonb[], \
         array['2026-01-01 10:00+01']::timestamptz[], '{}'::int[]",
        &[],
    )
    .unwrap();
    let json: Vec<serde_json::Value> = out.rows[0].iter().map(Value::to_json).collect();
    assert_eq!(
        json,
        vec![
            json!([1, null, 3]),
            json!(["a,b", "say \"hi\"", null]),
            json!([[1.5, 2.0], [3.0, 4.0]]),
            json!([{"k": 1}]),
            json!(["2026-01-01T09:00:00Z"]),
            json!([]),
        ]
    );
    assert!(out.columns.iter().all(|c| c.type_ == ColumnType::Json));
    assert_eq!(out.columns[1].source_type, "text[]");
}

#[test]
fn templates_are_bound_and_the_server_infers_their_types() {
    let db = TestDb::create();
    let mut conn = db.connect();
    let out = query(
        &mut conn,
        "select {{ inputs.n }}::int + 1 as answer",
        &[("inputs.n", Value::Int(41))],
    )
    .unwrap();
    assert_eq!(out.rows, vec![vec![Value::Int(42)]]);
    assert_eq!(out.columns[0].name, "answer");

    let out = query(
        &mut conn,
        "select {{ inputs.b }}::bytea, {{ inputs.s }} || '!', {{ inputs.none }}::int is null",
        &[
            ("inputs.b", Value::Bytes(vec![0, 1, 254])),
            ("inputs.s", Value::Text("it's".into())),
            ("inputs.none", Value::Null),
        ],
    )
    .unwrap();
    assert_eq!(
        out.rows[0],
        vec![
            Value::Bytes(vec![0, 1, 254]),
            Value::Text("it's!".into()),
            Value::Boolean(true)
        ]
    );
}

#[test]
fn injected_sql_in_a_parameter_is_a_type_error_and_runs_nothing() {
    let db = TestDb::create();
    let mut conn = db.connect();
    query(&mut conn, "create table x (id int)", &[]).unwrap();

    let error = remote_error(query(
        &mut conn,
        "select {{ inputs.n }}::int + 1 as answer",
        &[("inputs.n", Value::Text("1; drop table x".into()))],
    ));
    assert_eq!(error.code, "22P02");

    assert_eq!(
        scalar(&mut conn, "select count(*) from x"),
        Value::Int(0),
        "table x is still there"
    );
}

#[test]
fn several_statements_in_one_query_are_refused() {
    let db = TestDb::create();
    let mut conn = db.connect();
    query(&mut conn, "create table t (id int)", &[]).unwrap();

    let error = remote_error(query(&mut conn, "select 1; drop table t", &[]));
    assert_eq!(error.code, "42601");
    assert!(error.hint.unwrap().contains("one SQL statement"));
    assert_eq!(scalar(&mut conn, "select count(*) from t"), Value::Int(0));

    // A trailing semicolon is still one statement.
    assert_eq!(scalar(&mut conn, "select 7;"), Value::Int(7));
}

#[test]
fn server_errors_carry_sqlstate_detail_and_hint() {
    let db = TestDb::create();
    let mut conn = db.connect();
    query(
        &mut conn,
        "create table users (email text constraint users_email_key unique)",
        &[],
    )
    .unwrap();
    query(&mut conn, "insert into users values ('a@example.com')", &[]).unwrap();

    let error = remote_error(query(
        &mut conn,
        "insert into users values ('a@example.com')",
        &[],
    ));
    assert_eq!(error.code, "23505");
    assert!(
        error.message.contains("users_email_key"),
        "{}",
        error.message
    );
    assert_eq!(
        error.detail.as_deref(),
        Some("Key (email)=(a@example.com) already exists.")
    );

    let error = remote_error(query(&mut conn, "select * from no_such_table", &[]));
    assert_eq!(error.code, "42P01");
    assert!(error.message.contains("at character"), "{}", error.message);

    let error = remote_error(query(
        &mut conn,
        "do $$ begin raise exception 'custom' using detail = 'the detail', hint = 'the hint', \
         errcode = 'P0042'; end $$",
        &[],
    ));
    assert_eq!(error.code, "P0042");
    assert_eq!(error.message, "custom");
    assert_eq!(error.detail.as_deref(), Some("the detail"));
    assert_eq!(error.hint.as_deref(), Some("the hint"));

    // The session goes on after each error.
    assert_eq!(scalar(&mut conn, "select 1"), Value::Int(1));
}

#[test]
fn statement_timeout_cancels_a_slow_statement() {
    let db = TestDb::create();
    let mut config = db.config();
    config["statement_timeout_ms"] = json!(200);
    let mut conn = connect(&config).unwrap();

    let started = std::time::Instant::now();
    let error = remote_error(query(&mut conn, "select pg_sleep(5)", &[]));
    assert_eq!(error.code, "57014");
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
    assert_eq!(scalar(&mut conn, "select 1"), Value::Int(1));
}

#[test]
fn large_results_come_in_batches() {
    let db = TestDb::create();
    let mut conn = db.connect();
    let head = conn
        .run(&request(
            "select n, repeat('x', 20) as pad from generate_series(1, 100000) n",
            &[],
            1_000_000,
        ))
        .unwrap();
    assert_eq!(head.first.rows.len(), 1000);
    assert!(!head.first.done);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&head.metadata).unwrap(),
        json!({})
    );

    let mut seen = head.first.rows.len();
    let mut batches = 1;
    loop {
        let batch = conn.fetch(7000).unwrap();
        assert!(batch.rows.len() <= 7000);
        if let Some(first) = batch.rows.first() {
            assert_eq!(
                first[0],
                Value::Int(seen as i64 + 1),
                "rows arrive in order"
            );
        }
        seen += batch.rows.len();
        batches += 1;
        if batch.done {
            break;
        }
    }
    assert_eq!(seen, 100_000);
    assert!(batches >= 15, "{batches} batches");
}

#[test]
fn max_rows_stops_the_statement_early() {
    let db = TestDb::create();
    let mut conn = db.connect();
    let head = conn
        .run(&request("select generate_series(1, 1000000)", &[], 10))
        .unwrap();
    assert_eq!(head.first.rows.len(), 10);
    assert!(head.first.done);
    let metadata: serde_json::Value = serde_json::from_str(&head.metadata).unwrap();
    assert_eq!(metadata["truncated"], json!(true));
}

#[test]
fn a_new_run_discards_unread_rows() {
    let db = TestDb::create();
    let mut conn = db.connect();
    let head = conn
        .run(&request("select generate_series(1, 50000)", &[], 0))
        .unwrap();
    assert!(!head.first.done);

    assert_eq!(
        scalar(&mut conn, "select 'next'"),
        Value::Text("next".into())
    );
    let batch = conn.fetch(10).unwrap();
    assert!(batch.done && batch.rows.is_empty());
}

#[test]
fn statements_without_rows_report_their_command() {
    let db = TestDb::create();
    let mut conn = db.connect();
    query(&mut conn, "create table items (id int)", &[]).unwrap();
    let out = query(
        &mut conn,
        "insert into items select generate_series(1, 5)",
        &[],
    )
    .unwrap();
    assert!(out.columns.is_empty());
    assert_eq!(out.metadata["command"], json!("INSERT 0 5"));
    assert_eq!(out.metadata["rows_affected"], json!(5));

    let out = query(
        &mut conn,
        "do $$ begin raise notice 'hello from plpgsql'; end $$",
        &[],
    )
    .unwrap();
    assert_eq!(
        out.metadata["notices"],
        json!(["NOTICE: hello from plpgsql"])
    );
}

#[test]
fn bad_requests_are_refused_before_the_server() {
    let db = TestDb::create();
    let mut conn = db.connect();
    let mut bad = request("select 1", &[], 0);
    bad.operation = "query".into();
    assert!(matches!(conn.run(&bad), Err(Error::Unsupported(_))));

    let mut bad = request("select 1", &[], 0);
    bad.query = json!({"text": "select 1"});
    assert!(matches!(conn.run(&bad), Err(Error::InvalidQuery(_))));

    assert!(matches!(
        conn.run(&request("  ", &[], 0)),
        Err(Error::InvalidQuery(_))
    ));
    assert!(matches!(
        conn.run(&request("select {{ inputs.missing }}", &[], 0)),
        Err(Error::InvalidQuery(_))
    ));
    conn.test().unwrap();
}

#[test]
fn schema_lists_tables_views_and_columns_of_user_schemas() {
    let db = TestDb::create();
    let mut conn = db.connect();
    for sql in [
        "create schema shop",
        "create table shop.orders (id bigint primary key, note varchar(40), total numeric(10,2))",
        "create view shop.big_orders as select id from shop.orders where total > 100",
        "create materialized view public.order_count as select count(*) as n from shop.orders",
        "create table public.empty_one ()",
    ] {
        query(&mut conn, sql, &[]).unwrap();
    }

    let schema = conn.schema().unwrap();
    let find = |schema_name: &str, name: &str| {
        schema
            .tables
            .iter()
            .find(|t| t.schema == schema_name && t.name == name)
            .unwrap_or_else(|| panic!("{schema_name}.{name} is listed"))
    };

    let orders = find("shop", "orders");
    assert_eq!(orders.kind, "table");
    let columns: Vec<(&str, &str, bool)> = orders
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.source_type.as_str(), c.nullable))
        .collect();
    assert_eq!(
        columns,
        vec![
            ("id", "bigint", false),
            ("note", "character varying(40)", true),
            ("total", "numeric(10,2)", true),
        ]
    );
    assert_eq!(find("shop", "big_orders").kind, "view");
    assert_eq!(find("public", "order_count").kind, "materialized view");
    assert!(find("public", "empty_one").columns.is_empty());
    assert!(
        schema
            .tables
            .iter()
            .all(|t| t.schema != "pg_catalog" && t.schema != "information_schema")
    );
}

#[test]
fn timestamptz_is_utc_whatever_the_session_time_zone() {
    let db = TestDb::create();
    let mut conn = db.connect();
    query(&mut conn, "set time zone 'Asia/Kolkata'", &[]).unwrap();
    assert_eq!(
        scalar(&mut conn, "select '2026-12-04 15:04:05+00'::timestamptz"),
        Value::Timestamptz("2026-12-04T15:04:05Z".into())
    );
}

#[test]
fn a_terminated_backend_reports_its_error_then_a_lost_connection() {
    let db = TestDb::create();
    let mut conn = db.connect();
    let error = remote_error(query(
        &mut conn,
        "select pg_terminate_backend(pg_backend_pid())",
        &[],
    ));
    assert_eq!(error.code, "57P01");

    match query(&mut conn, "select 1", &[]) {
        Err(Error::Connection(message)) => assert!(message.contains("lost"), "{message}"),
        other => panic!("expected a lost connection, got {:?}", other.err()),
    }
}

/// The backend `conn`'s session runs on.
fn backend_pid(conn: &mut Conn) -> i64 {
    match scalar(conn, "select pg_backend_pid()") {
        Value::Int(pid) => pid,
        other => panic!("pg_backend_pid() gave {other:?}"),
    }
}

#[test]
fn a_session_ended_by_the_server_while_idle_is_seen_as_gone_before_the_next_call() {
    let db = TestDb::create();
    let mut conn = db.connect();
    let pid = backend_pid(&mut conn);
    assert!(!conn.is_gone(), "a fresh, quiet session is usable");
    // Asking twice consumes nothing: a quiet session stays quiet.
    assert!(!conn.is_gone());
    query(&mut conn, "select 1", &[]).unwrap();

    let mut admin = db.connect();
    query(
        &mut admin,
        &format!("select pg_terminate_backend({pid})"),
        &[],
    )
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !conn.is_gone() {
        assert!(
            std::time::Instant::now() < deadline,
            "the terminated session still looks usable"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // The other session, which nobody ended, is still usable.
    assert!(!admin.is_gone());
    assert_eq!(scalar(&mut admin, "select 7"), Value::Int(7));
}

#[test]
fn a_session_broken_by_its_own_statement_is_gone() {
    let db = TestDb::create();
    let mut conn = db.connect();
    remote_error(query(
        &mut conn,
        "select pg_terminate_backend(pg_backend_pid())",
        &[],
    ));
    assert!(conn.is_gone());
}

#[test]
fn json_arrays_bind_as_postgres_arrays_or_as_json_by_context() {
    let db = TestDb::create();
    let mut conn = db.connect();
    let ids = Value::Json("[2, 3, null]".into());

    let out = query(
        &mut conn,
        "select n from generate_series(1, 5) n where n = any({{ inputs.ids }}) order by n",
        &[("inputs.ids", ids.clone())],
    )
    .unwrap();
    assert_eq!(out.rows, vec![vec![Value::Int(2)], vec![Value::Int(3)]]);

    let out = query(
        &mut conn,
        "select jsonb_array_length({{ inputs.ids }}::jsonb), {{ inputs.tags }}::text[]",
        &[
            ("inputs.ids", ids),
            ("inputs.tags", Value::Json(r#"["a,b", "c\"d"]"#.into())),
        ],
    )
    .unwrap();
    assert_eq!(out.rows[0][0], Value::Int(3));
    assert_eq!(out.rows[0][1].to_json(), json!(["a,b", "c\"d"]));
}

#[test]
fn enums_and_arrays_of_domains_are_named_and_convert_by_what_they_hold() {
    let db = TestDb::create();
    let mut setup = db.connect();
    for sql in [
        "create type mood as enum ('sad', 'happy')",
        "create domain positive as int check (value > 0)",
    ] {
        query(&mut setup, sql, &[]).unwrap();
    }

    // The catalog is read when a session starts.
    let mut conn = db.connect();
    let out = query(
        &mut conn,
        "select 'happy'::mood, array['sad', 'happy']::mood[], 5::positive, \
         array[1, 2]::positive[]",
        &[],
    )
    .unwrap();
    let columns: Vec<(ColumnType, &str)> = out
        .columns
        .iter()
        .map(|c| (c.type_, c.source_type.as_str()))
        .collect();
    assert_eq!(
        columns,
        vec![
            (ColumnType::Text, "mood"),
            (ColumnType::Json, "mood[]"),
            // The server describes a domain column by its base type.
            (ColumnType::Int, "int4"),
            (ColumnType::Json, "positive[]"),
        ]
    );
    assert_eq!(
        out.rows[0],
        vec![
            Value::Text("happy".into()),
            Value::Json(r#"["sad","happy"]"#.into()),
            Value::Int(5),
            Value::Json("[1,2]".into()),
        ]
    );
}

#[test]
fn the_server_abandons_a_statement_whose_client_went_away() {
    let db = TestDb::create();
    let mut conn = db.connect();
    let Value::Int(pid) = scalar(&mut conn, "select pg_backend_pid()") else {
        panic!("a pid");
    };

    // The statement starts; then the instance dies without a word, as at a deadline.
    // The notice makes the server send the statement's start before it sleeps (a server
    // sends nothing else until a statement ends); it then writes nothing more, so only
    // the connection check can tell it the client has gone.
    let slow = "do $$ begin raise notice 'sleeping'; perform pg_sleep(60); end $$";
    let started = std::time::Instant::now();
    conn.session().execute(slow, &[], 0).unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    drop(conn);

    let mut observer = db.connect();
    let gone = format!("select count(*) from pg_stat_activity where pid = {pid}");
    while scalar(&mut observer, &gone) != Value::Int(0) {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "the backend still runs the abandoned statement"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// A value too large for one row is refused with what to change, not as a broken server;
/// the next connection works.
#[test]
fn a_row_over_the_connectors_cap_says_to_select_less() {
    let db = TestDb::create();
    let mut conn = db.connect();
    let sql = "select repeat('x', 64 * 1024 * 1024 + 1) as big";
    match query(&mut conn, sql, &[]) {
        Err(Error::Connection(m)) => {
            assert!(m.contains("a row of the result is"), "{m}");
            assert!(m.contains("select less"), "{m}");
            assert!(!m.contains("really a PostgreSQL"), "{m}");
        }
        other => panic!(
            "expected the row to be refused, got {:?}",
            other.map(|o| o.rows.len())
        ),
    }
    let mut again = db.connect();
    assert_eq!(scalar(&mut again, "select 1::int4"), Value::Int(1));
}
