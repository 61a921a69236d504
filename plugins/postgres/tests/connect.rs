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

/// A rogue server on loopback: refuses TLS, reads the startup message, then lets `script`
/// talk to the connector. Returns its port and what the connector sent after startup.
fn rogue(
    script: impl FnOnce(&mut std::net::TcpStream) + Send + 'static,
) -> (u16, std::sync::mpsc::Receiver<Vec<u8>>) {
    use std::io::{Read, Write};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (sent, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let Ok((mut socket, _)) = listener.accept() else {
            return;
        };
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        loop {
            let mut length = [0u8; 4];
            if socket.read_exact(&mut length).is_err() {
                return;
            }
            let mut body = vec![0u8; u32::from_be_bytes(length) as usize - 4];
            socket.read_exact(&mut body).unwrap();
            if body[..4] == 80877103u32.to_be_bytes() {
                socket.write_all(b"N").unwrap(); // SSLRequest: no TLS here.
                continue;
            }
            break;
        }
        script(&mut socket);
        let mut rest = Vec::new();
        socket
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let _ = socket.read_to_end(&mut rest);
        let _ = sent.send(rest);
    });
    (port, received)
}

/// AuthenticationCleartextPassword.
const CLEARTEXT_PLEASE: &[u8] = b"R\0\0\0\x08\0\0\0\x03";

#[test]
fn a_server_asking_for_the_password_in_clear_text_over_plain_tcp_is_refused() {
    use std::io::Write;
    for mode in ["disable", "prefer"] {
        let (port, received) = rogue(|socket| socket.write_all(CLEARTEXT_PLEASE).unwrap());
        let config = serde_json::json!({
            "host": "127.0.0.1", "port": port, "username": "u", "password": "s3cret-pw",
            "ssl_mode": mode,
            "connect_timeout_ms": 2000,
        });
        match connect(&config) {
            Err(Error::Unsupported(m)) => {
                assert!(m.contains("clear text"), "{m}");
                assert!(m.contains("allow_cleartext_password"), "{m}");
            }
            other => panic!("{mode}: expected a refusal, got {:?}", other.err()),
        }
        let sent = received.recv_timeout(Duration::from_secs(5)).unwrap();
        let needle = b"s3cret-pw";
        assert!(
            !sent.windows(needle.len()).any(|w| w == needle),
            "{mode}: the password went out"
        );
    }
}

#[test]
fn cleartext_passwords_go_out_only_when_the_datasource_allows_them() {
    use std::io::Write;
    let (port, received) = rogue(|socket| socket.write_all(CLEARTEXT_PLEASE).unwrap());
    let config = serde_json::json!({
        "host": "127.0.0.1", "port": port, "username": "u", "password": "s3cret-pw",
        "ssl_mode": "disable", "connect_timeout_ms": 1000, "allow_cleartext_password": true,
    });
    assert!(connect(&config).is_err(), "the rogue never lets it in");
    let sent = received.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(sent.windows(9).any(|w| w == b"s3cret-pw"));
}

#[test]
fn a_message_announcing_gigabytes_is_a_connection_error() {
    use std::io::Write;
    for tag in [b'R', b'D', b'E'] {
        let (port, _received) = rogue(move |socket| {
            let mut message = vec![tag];
            message.extend_from_slice(&0x7fff_fff0u32.to_be_bytes());
            message.extend_from_slice(&[0; 64]);
            socket.write_all(&message).unwrap();
            std::thread::sleep(Duration::from_secs(3));
        });
        let config = serde_json::json!({
            "host": "127.0.0.1", "port": port, "username": "u", "ssl_mode": "disable",
            "connect_timeout_ms": 2000,
        });
        let started = Instant::now();
        match connect(&config) {
            Err(Error::Connection(m)) => assert!(m.contains("2147483632 bytes"), "{m}"),
            other => panic!("expected a connection error, got {:?}", other.err()),
        }
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
