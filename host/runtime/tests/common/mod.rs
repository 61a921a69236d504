//! Shared set-up for the runtime's tests: the engine, components built by
//! `scripts/build-wasm.sh`, and small loopback servers.

#![allow(dead_code)]

use lathe_runtime::manifest::Manifest;
use lathe_runtime::{Engine, EngineConfig, Plugin};
use std::path::PathBuf;
use std::sync::Arc;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The bytes of a component built by `scripts/build-wasm.sh`.
pub fn component(crate_name: &str) -> Vec<u8> {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root().join("target"));
    let file = crate_name.replace('-', "_");
    let path = target.join(format!("wasm32-wasip2/wasm/{file}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; build the components first with scripts/build-wasm.sh",
            path.display()
        )
    })
}

pub fn engine() -> (Engine, tempfile::TempDir) {
    let cache = tempfile::tempdir().expect("temp dir");
    let mut config = EngineConfig::new(cache.path());
    config.max_instances = 16;
    config.max_memory_bytes = 64 << 20;
    (Engine::new(config).expect("engine"), cache)
}

/// The hostile fixture with its manifest.
pub fn hostile(engine: &Engine) -> Arc<Plugin> {
    let dir = root().join("tests/fixtures/hostile");
    let manifest = Manifest::load(&dir).expect("fixture manifest");
    Arc::new(Plugin::new(engine, manifest, &component("lathe-fixture-hostile")).expect("plugin"))
}

/// A TCP listener on loopback that counts the connections it accepts: a canary that must
/// stay at zero when a connector is refused.
pub struct Canary {
    pub port: u16,
    pub hits: Arc<std::sync::atomic::AtomicUsize>,
}

impl Canary {
    pub async fn start(ip: &str, port: u16) -> Canary {
        let listener = tokio::net::TcpListener::bind((ip, port))
            .await
            .expect("bind canary");
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            while let Ok((_socket, _)) = listener.accept().await {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
        Canary { port, hits }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A minimal HTTP/1.1 server on loopback answering every request with `body`.
pub async fn http_server(body: &'static str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let _ = socket.read(&mut buf).await;
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(reply.as_bytes()).await;
            });
        }
    });
    port
}
