//! The PostgreSQL connector, as the component the host runs, against rogue servers on
//! loopback: what it refuses ends as a typed connector error, never a crash of the instance.

mod common;

use common::{component, engine, root};
use lathe_runtime::manifest::Manifest;
use lathe_runtime::{ConnectorError, EgressPolicy, Instance, Limits, Plugin, RuntimeError};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn postgres(engine: &lathe_runtime::Engine) -> Arc<Plugin> {
    let manifest = Manifest::load(&root().join("plugins/postgres")).expect("manifest");
    Arc::new(Plugin::new(engine, manifest, &component("lathe-plugin-postgres")).expect("plugin"))
}

/// A server that reads the startup message, answers with `reply`, then holds the line.
async fn rogue(reply: Vec<u8>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        let length = socket.read_u32().await.unwrap() as usize;
        let mut startup = vec![0u8; length - 4];
        socket.read_exact(&mut startup).await.unwrap();
        socket.write_all(&reply).await.unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
    });
    port
}

#[tokio::test]
async fn a_server_announcing_a_2_gb_message_is_a_connection_error_not_a_crash() {
    let (engine, _cache) = engine();
    let plugin = postgres(&engine);
    let mut reply = vec![b'R'];
    reply.extend_from_slice(&0x7fff_fff0u32.to_be_bytes());
    reply.extend_from_slice(&[0; 16]);
    let port = rogue(reply).await;
    let config = serde_json::json!({
        "host": "127.0.0.1", "port": port, "username": "u", "ssl_mode": "disable",
        "connect_timeout_ms": 3000,
    });
    let limits = Limits {
        call_timeout: Duration::from_secs(10),
        ..Limits::default()
    };
    let err = Instance::open(
        &plugin,
        &config,
        &EgressPolicy::local_development(),
        &limits,
    )
    .await
    .err()
    .expect("the rogue server is refused");
    match &err {
        RuntimeError::Connector {
            error: ConnectorError::Connection { message },
            ..
        } => assert!(message.contains("2147483632 bytes"), "{message}"),
        other => panic!("expected a connection error, got {other:?}"),
    }
}
