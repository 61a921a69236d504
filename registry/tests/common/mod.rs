//! What the black-box tests share: real components and packages, hand-made hostile
//! archives, and a registry server on 127.0.0.1 reached through the real client.

#![allow(dead_code)] // Each test binary uses its own part of these helpers.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lathe_registry::client::{Client, Resolve, Source, SystemResolve};
use lathe_registry::dir::DirRegistry;
use lathe_registry::package::Package;
use lathe_registry::server::{ServeConfig, Server};

/// The empty component, `(component)`: `\0asm`, version 0x0d, layer 1.
pub const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\x00\x01\x00";
/// The empty core module, `(module)`: what a `wasm32-wasip1` build gives instead.
pub const CORE_MODULE: &[u8] = b"\0asm\x01\x00\x00\x00";

/// A valid component that differs by `tag`: the empty component with a custom section.
pub fn component(tag: &str) -> Vec<u8> {
    component_with(tag.as_bytes())
}

/// A valid component of about `size` bytes (a custom section of filler).
pub fn large_component(size: usize) -> Vec<u8> {
    component_with(&vec![b'x'; size])
}

fn component_with(payload_tail: &[u8]) -> Vec<u8> {
    let name = b"lathe-test";
    let mut payload = vec![name.len() as u8];
    payload.extend_from_slice(name);
    payload.extend_from_slice(payload_tail);
    let mut bytes = EMPTY_COMPONENT.to_vec();
    bytes.push(0); // custom section
    leb128(&mut bytes, payload.len());
    bytes.extend_from_slice(&payload);
    bytes
}

fn leb128(out: &mut Vec<u8>, mut value: usize) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

pub fn manifest(id: &str, version: &str) -> Vec<u8> {
    serde_json::json!({
        "id": id, "version": version, "name": format!("{id} connector"),
        "description": format!("Talks to {id} for tests"), "kind": "api",
        "wit": "lathe:connector@0.1.0", "capabilities": ["https://{base_url}"],
        "config": {"type": "object"}, "operations": {}
    })
    .to_string()
    .into_bytes()
}

pub fn package(id: &str, version: &str) -> Package {
    Package::new(manifest(id, version), component(version)).unwrap()
}

/// One entry of a hand-made tar archive, written as given: any name, any type.
#[derive(Clone)]
pub struct RawEntry<'a> {
    pub name: &'a [u8],
    pub kind: tar::EntryType,
    pub data: &'a [u8],
    pub link: Option<&'a str>,
}

impl<'a> RawEntry<'a> {
    pub fn file(name: &'a str, data: &'a [u8]) -> RawEntry<'a> {
        RawEntry {
            name: name.as_bytes(),
            kind: tar::EntryType::Regular,
            data,
            link: None,
        }
    }
}

/// A tar archive with no checks on names or types, as an attacker would make it.
pub fn raw_tar(entries: &[RawEntry<'_>]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        let mut header = tar::Header::new_ustar();
        let name = &mut header.as_old_mut().name;
        name[..entry.name.len()].copy_from_slice(entry.name);
        header.set_entry_type(entry.kind);
        header.set_size(entry.data.len() as u64);
        header.set_mode(0o644);
        if let Some(link) = entry.link {
            header.set_link_name_literal(link).unwrap();
        }
        header.set_cksum();
        builder.append(&header, entry.data).unwrap();
    }
    builder.into_inner().unwrap()
}

/// Every file in a registry directory but the lock, relative, sorted: what a refused
/// request must leave unchanged.
pub fn files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for sub in ["", "packages"] {
        for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type().unwrap().is_file() && name != ".lock" {
                found.push(format!("{sub}/{name}"));
            }
        }
    }
    found.sort();
    found
}

/// A registry server on 127.0.0.1 over a temporary directory, with publisher tokens for
/// `alice` and `bob`. Dropping it stops the server and removes the directory.
pub struct TestRegistry {
    pub temp: tempfile::TempDir,
    pub address: SocketAddr,
    pub alice: String,
    pub bob: String,
    task: tokio::task::JoinHandle<()>,
}

impl TestRegistry {
    pub async fn start() -> TestRegistry {
        TestRegistry::start_with(lathe_registry::server::DEFAULT_MAX_PACKAGE_BYTES).await
    }

    pub async fn start_with(max_package_bytes: u64) -> TestRegistry {
        TestRegistry::serve(tempfile::tempdir().unwrap(), max_package_bytes).await
    }

    /// Serves the registry already in `temp/registry` (or a new one there).
    pub async fn start_in(temp: tempfile::TempDir) -> TestRegistry {
        TestRegistry::serve(temp, lathe_registry::server::DEFAULT_MAX_PACKAGE_BYTES).await
    }

    async fn serve(temp: tempfile::TempDir, max_package_bytes: u64) -> TestRegistry {
        let dir = temp.path().join("registry");
        let registry = DirRegistry::create(&dir).unwrap();
        let alice = registry.add_token("alice").unwrap();
        let bob = registry.add_token("bob").unwrap();

        let config = ServeConfig {
            max_package_bytes,
            ..ServeConfig::new(dir, "127.0.0.1:0".parse().unwrap())
        };
        let server = Server::bind(config).await.unwrap();
        let address = server.local_addr();
        let task = tokio::spawn(async move {
            server.run(std::future::pending()).await.unwrap();
        });
        TestRegistry {
            temp,
            address,
            alice,
            bob,
            task,
        }
    }

    pub fn dir(&self) -> PathBuf {
        self.temp.path().join("registry")
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.address)
    }

    pub fn client(&self) -> Client {
        self.client_with(Arc::new(SystemResolve), 64 * 1024 * 1024)
    }

    pub fn client_with(&self, resolver: Arc<dyn Resolve>, max_package_bytes: u64) -> Client {
        Client::new(
            Source::parse(&self.url()).unwrap(),
            resolver,
            max_package_bytes,
        )
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        self.task.abort();
    }
}
