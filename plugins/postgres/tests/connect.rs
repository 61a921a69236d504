//! Connecting to something that isn't a healthy PostgreSQL server.

mod common;

use common::connect;
use lathe_plugin_sdk::Error;
use std::net::TcpListener;
use std::time::{Duration, Instant};

#[test]
fn a_server_that_never_answers_times_out_while_connecting() {
    // A real socket that accepts and then stays silent, as a hung server would.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().take(2).collect();
        std::thread::sleep(Duration::from_secs(5));
        drop(held);
    });

    for mode in ["disable", "prefer"] {
        let config = serde_json::json!({
            "host": "127.0.0.1", "port": port, "username": "u", "ssl_mode": mode,
            "connect_timeout_ms": 200,
        });
        let started = Instant::now();
        match connect(&config) {
            Err(Error::Timeout(_)) => {}
            other => panic!("{mode}: expected a timeout, got {:?}", other.err()),
        }
        assert!(started.elapsed() < Duration::from_secs(3), "{mode}");
    }
}

#[test]
fn a_server_that_is_not_postgres_is_a_connection_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::Write;
        if let Ok((mut socket, _)) = listener.accept() {
            let _ = socket.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
        }
    });

    let config = serde_json::json!({"host": "127.0.0.1", "port": port, "username": "u"});
    match connect(&config) {
        Err(Error::Connection(message)) => assert!(message.contains("PostgreSQL"), "{message}"),
        other => panic!("expected a connection error, got {:?}", other.err()),
    }
}

#[test]
fn a_missing_database_is_the_servers_error() {
    let config = common::machine_config("lathe_no_such_database");
    let error = common::remote_error(connect(&config));
    assert_eq!(error.code, "3D000");
    assert!(error.message.contains("lathe_no_such_database"));
}
