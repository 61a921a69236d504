//! Faults between the connector and the server: a connection cut at a chosen message, and
//! statements the connector must refuse before it writes anything.

mod common;

use common::{TestDb, connect, query, scalar};
use lathe_plugin_sdk::{Error, Value};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

/// A proxy on loopback in front of the machine's PostgreSQL. Once armed, it forwards the
/// server's messages up to and including the next ReadyForQuery, then closes both sides.
struct CuttingProxy {
    port: u16,
    armed: Arc<AtomicBool>,
}

impl CuttingProxy {
    fn start() -> CuttingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let armed = Arc::new(AtomicBool::new(false));
        let cut = armed.clone();
        thread::spawn(move || {
            let (client, _) = listener.accept().unwrap();
            let server = TcpStream::connect("127.0.0.1:5432").unwrap();
            let (mut to_server, mut from_client) =
                (server.try_clone().unwrap(), client.try_clone().unwrap());
            thread::spawn(move || {
                let mut buf = [0u8; 16 * 1024];
                while let Ok(n) = from_client.read(&mut buf) {
                    if n == 0 || to_server.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
            forward_until_cut(server, client, &cut);
        });
        CuttingProxy { port, armed }
    }

    fn config(&self, database: &str) -> serde_json::Value {
        let mut config = common::machine_config(database);
        config["port"] = serde_json::json!(self.port);
        // The proxy reads whole messages; TLS negotiation answers with a single byte.
        config["ssl_mode"] = serde_json::json!("disable");
        config
    }
}

/// Copies the server's messages to the client one by one; after a ReadyForQuery sent while
/// `cut` is set, closes both connections.
fn forward_until_cut(mut server: TcpStream, mut client: TcpStream, cut: &AtomicBool) {
    loop {
        let mut head = [0u8; 5];
        if server.read_exact(&mut head).is_err() {
            break;
        }
        let length = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut body = vec![0u8; length.saturating_sub(4)];
        if server.read_exact(&mut body).is_err() {
            break;
        }
        let armed = cut.load(Ordering::SeqCst);
        if client.write_all(&head).is_err() || client.write_all(&body).is_err() {
            break;
        }
        if armed && head[0] == b'Z' {
            break;
        }
    }
    let _ = client.shutdown(Shutdown::Both);
    let _ = server.shutdown(Shutdown::Both);
}

#[test]
fn a_write_whose_answer_is_whole_succeeds_though_the_connection_ends_after_it() {
    let db = TestDb::create();
    let mut setup = db.connect();
    query(
        &mut setup,
        "create table t (id serial primary key, v text)",
        &[],
    )
    .unwrap();

    let proxy = CuttingProxy::start();
    let mut conn = connect(&proxy.config(&db.name)).unwrap();
    // Arrive at a quiet session whose next statement goes out with the probe.
    assert_eq!(scalar(&mut conn, "select 1"), Value::Int(1));
    proxy.armed.store(true, Ordering::SeqCst);

    // The insert's answer arrives up to its ReadyForQuery; the connection ends before the
    // probe's answer. The insert committed, so the run reports it.
    let out = query(
        &mut conn,
        "insert into t (v) values ('once') returning v",
        &[],
    )
    .unwrap();
    assert_eq!(out.rows, vec![vec![Value::Text("once".into())]]);
    assert!(conn.is_gone(), "the session can take nothing more");
    match query(&mut conn, "select 1", &[]) {
        Err(Error::Connection(message)) => assert!(message.contains("lost"), "{message}"),
        other => panic!(
            "expected a lost connection, got {:?}",
            other.map(|o| o.rows)
        ),
    }
    assert_eq!(
        scalar(&mut setup, "select count(*)::int from t where v = 'once'"),
        Value::Int(1)
    );
}

#[test]
fn a_statement_over_the_parameter_limit_is_refused_and_sends_nothing() {
    let db = TestDb::create();
    let mut conn = db.connect();
    let count = 65_536;
    let sql: String = std::iter::once("select 'left behind'::int, array[".to_string())
        .chain((0..count).map(|i| format!("{{{{ inputs.a.{i} }}}},")))
        .chain(["0]".to_string()])
        .collect();
    let params: Vec<(String, Value)> = (0..count)
        .map(|i| (format!("inputs.a.{i}"), Value::Int(0)))
        .collect();
    let params: Vec<(&str, Value)> = params
        .iter()
        .map(|(n, v)| (n.as_str(), v.clone()))
        .collect();
    match query(&mut conn, &sql, &params) {
        Err(Error::InvalidQuery(message)) => assert!(message.contains("65535"), "{message}"),
        other => panic!("expected an invalid query, got {:?}", other.map(|o| o.rows)),
    }
    // Nothing of the refused statement goes out ahead of the next one.
    assert_eq!(scalar(&mut conn, "select 7"), Value::Int(7));

    // Below the check, at the session: a Bind that can't be encoded takes back what the
    // statement had written, so the next statement's answer is its own.
    let session_params: Vec<Option<Vec<u8>>> = (0..count).map(|_| Some(b"0".to_vec())).collect();
    assert!(
        conn.session()
            .execute("select 1", &session_params, 0)
            .is_err()
    );
    assert_eq!(scalar(&mut conn, "select 8"), Value::Int(8));
}

#[test]
fn statements_with_too_many_block_comments_are_refused() {
    let db = TestDb::create();
    let mut conn = db.connect();
    let flat = format!("select 1 as x {}", "/**/".repeat(1000));
    assert_eq!(scalar(&mut conn, &flat), Value::Int(1));

    for sql in [
        format!("select 1 as x {}", "/**/".repeat(1001)),
        format!("select 1 as x {}{}", "/*".repeat(1001), "*/".repeat(1001)),
    ] {
        match query(&mut conn, &sql, &[]) {
            Err(Error::InvalidQuery(message)) => {
                assert!(message.contains("block comments"), "{message}")
            }
            other => panic!("expected an invalid query, got {:?}", other.map(|o| o.rows)),
        }
    }
    // In quoted text they are not comments.
    let quoted = format!("select length('{}')", "/**/".repeat(2000));
    assert_eq!(scalar(&mut conn, &quoted), Value::Int(8000));
}

#[test]
fn a_write_refused_at_commit_is_reported_as_failed() {
    let db = TestDb::create();
    let mut conn = db.connect();
    query(&mut conn, "create table p (id int primary key)", &[]).unwrap();
    query(
        &mut conn,
        "create table c (id int primary key, \
         pid int references p (id) deferrable initially deferred)",
        &[],
    )
    .unwrap();
    // The statement completes; its implicit transaction's commit (at Sync) checks the
    // deferred key and fails. Nothing was stored, so the run must fail.
    for sql in [
        "insert into c (id, pid) values (1, 999)",
        "insert into c (id, pid) values (2, 999) returning id",
    ] {
        let error = common::remote_error(query(&mut conn, sql, &[]));
        assert_eq!(error.code, "23503", "{sql}");
    }
    assert_eq!(
        scalar(&mut conn, "select count(*)::int from c"),
        Value::Int(0)
    );
}

#[test]
fn a_dollar_inside_an_identifier_does_not_hide_comments_from_the_limit() {
    let db = TestDb::create();
    let mut conn = db.connect();
    for sql in [
        format!("select 1 as a$$ {}", "/**/".repeat(1001)),
        format!("select 1 as a$b$ {}, $b$x$b$ as y", "/**/".repeat(1001)),
    ] {
        match query(&mut conn, &sql, &[]) {
            Err(Error::InvalidQuery(message)) => {
                assert!(message.contains("block comments"), "{message}")
            }
            other => panic!("expected an invalid query, got {:?}", other.map(|o| o.rows)),
        }
    }
    // Such identifiers still work, and `$1` inside one is no parameter.
    let out = query(&mut conn, "select 1 as a$1, 2 as b$$", &[]).unwrap();
    assert_eq!(out.rows, vec![vec![Value::Int(1), Value::Int(2)]]);
}

#[test]
fn a_role_default_without_standard_strings_does_not_hide_comments() {
    let db = TestDb::create();
    let mut setup = db.connect();
    query(
        &mut setup,
        &format!(
            "alter database {} set standard_conforming_strings = off",
            db.name
        ),
        &[],
    )
    .unwrap();
    // New sessions of this database start with backslash escapes in '…'; the connector
    // turns the standard reading back on, so the server reads statements as the connector
    // does. Read the standard way, `'\''` opens a string that runs to the end: the
    // comments are string text to both (an unterminated string, 42601), where with the
    // default off they would be code the connector never counted.
    let mut conn = db.connect();
    assert_eq!(
        scalar(
            &mut conn,
            "select current_setting('standard_conforming_strings')"
        ),
        Value::Text("on".into())
    );
    let sql = format!(
        "select '\\'' as a, 1 as b {} , '' as c",
        "/**/".repeat(1001)
    );
    let error = common::remote_error(query(&mut conn, &sql, &[]));
    assert_eq!(error.code, "42601", "{}", error.message);
}
