//! What a registry server refuses, and that a refusal leaves nothing on disk.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{CORE_MODULE, RawEntry, TestRegistry, component, files, manifest, package, raw_tar};
use lathe_registry::client::{ClientError, SystemResolve};
use lathe_registry::keys::SigningKey;
use lathe_registry::package::{Package, PackageError};
use lathe_registry::server::{ServeConfig, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MIB: usize = 1024 * 1024;

/// Publishes `bytes` as alice and returns the error, checking nothing was written.
async fn refused(registry: &TestRegistry, bytes: &[u8]) -> ClientError {
    let before = files(&registry.dir());
    let error = registry
        .client()
        .publish(Some(&registry.alice), bytes)
        .await
        .unwrap_err();
    assert_eq!(
        files(&registry.dir()),
        before,
        "a refused package left files"
    );
    error
}

/// A signed package's files, to be recombined.
fn signed_parts(key: &SigningKey) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let mut package = package("pg", "1.0.0");
    package.sign(key);
    let signature = serde_json::to_vec(package.signature().unwrap()).unwrap();
    (
        package.manifest_bytes().to_vec(),
        package.component_bytes().to_vec(),
        signature,
    )
}

fn archive(manifest: &[u8], component: &[u8], signature: &[u8]) -> Vec<u8> {
    raw_tar(&[
        RawEntry::file("lathe-plugin.json", manifest),
        RawEntry::file("component.wasm", component),
        RawEntry::file("signature.json", signature),
    ])
}

#[tokio::test]
async fn a_manifest_changed_after_signing_is_refused() {
    let registry = TestRegistry::start().await;
    let (_, component, signature) = signed_parts(&SigningKey::generate());
    let mut changed =
        serde_json::from_slice::<serde_json::Value>(&manifest("pg", "1.0.0")).unwrap();
    changed["capabilities"] = serde_json::json!(["tcp://{host}:{port}"]);
    let bytes = archive(changed.to_string().as_bytes(), &component, &signature);

    let package = Package::from_bytes(&bytes).unwrap();
    assert!(matches!(
        package.verify(),
        Err(PackageError::BadSignature { .. })
    ));
    let error = refused(&registry, &bytes).await;
    assert_eq!(error.status(), Some(422), "{error}");
    assert!(
        error.to_string().contains("changed after it was signed"),
        "{error}"
    );
}

#[tokio::test]
async fn a_component_changed_after_signing_is_refused() {
    let registry = TestRegistry::start().await;
    let (manifest, _, signature) = signed_parts(&SigningKey::generate());
    let bytes = archive(&manifest, &component("something else"), &signature);

    assert!(Package::from_bytes(&bytes).unwrap().verify().is_err());
    let error = refused(&registry, &bytes).await;
    assert_eq!(error.status(), Some(422), "{error}");
}

#[tokio::test]
async fn a_signature_replaced_by_another_key_verifies_as_that_key() {
    // Re-signing is always possible; what stops it is the host trusting only known keys,
    // so the registry must report the key that really signed.
    let registry = TestRegistry::start().await;
    let (original, other) = (SigningKey::generate(), SigningKey::generate());
    let mut package = package("pg", "1.0.0");
    package.sign(&original);
    package.sign(&other);
    let bytes = package.to_bytes();

    assert_eq!(
        Package::from_bytes(&bytes).unwrap().verify().unwrap(),
        Some(other.public())
    );
    let entry = registry
        .client()
        .publish(Some(&registry.alice), &bytes)
        .await
        .unwrap();
    assert_eq!(entry.publisher, Some(other.public()));
}

#[tokio::test]
async fn a_signature_claiming_another_key_is_refused() {
    let registry = TestRegistry::start().await;
    let (claimed, actual) = (SigningKey::generate(), SigningKey::generate());
    let (manifest, component, signature) = signed_parts(&actual);
    let mut signature: serde_json::Value = serde_json::from_slice(&signature).unwrap();
    signature["key"] = serde_json::json!(claimed.public().to_string());
    let bytes = archive(&manifest, &component, signature.to_string().as_bytes());

    let error = refused(&registry, &bytes).await;
    assert_eq!(error.status(), Some(422), "{error}");
    assert!(
        error.to_string().contains(&claimed.public().to_string()),
        "{error}"
    );
}

#[tokio::test]
async fn components_that_are_not_valid_components_are_refused() {
    let registry = TestRegistry::start().await;
    let cases: [(&[u8], &str); 3] = [
        (b"MZ\x90\x00 not wasm at all", "component header"),
        (CORE_MODULE, "core WebAssembly module"),
        (
            b"\0asm\x0d\x00\x01\x00\x07\x05\xff",
            "not a valid WebAssembly component",
        ),
    ];
    for (component, expected) in cases {
        assert!(Package::new(manifest("pg", "1.0.0"), component.to_vec()).is_err());
        let bytes = raw_tar(&[
            RawEntry::file("lathe-plugin.json", &manifest("pg", "1.0.0")),
            RawEntry::file("component.wasm", component),
        ]);
        let error = refused(&registry, &bytes).await;
        assert_eq!(error.status(), Some(422), "{error}");
        assert!(error.to_string().contains(expected), "{expected}: {error}");
    }
}

#[tokio::test]
async fn archive_entries_other_than_the_three_files_are_refused() {
    let registry = TestRegistry::start().await;
    let manifest = manifest("pg", "1.0.0");
    let component = component("x");
    let head = || {
        vec![
            RawEntry::file("lathe-plugin.json", &manifest),
            RawEntry::file("component.wasm", &component),
        ]
    };
    let entry = |name: &'static str, kind, link| RawEntry {
        name: name.as_bytes(),
        kind,
        data: b"",
        link,
    };
    let regular = tar::EntryType::Regular;
    let cases: Vec<(&str, Vec<RawEntry<'_>>)> = vec![
        (
            "../x",
            [head(), vec![RawEntry::file("../x", b"x")]].concat(),
        ),
        (
            "absolute path",
            [head(), vec![RawEntry::file("/etc/cron.d/x", b"x")]].concat(),
        ),
        (
            "../ manifest",
            vec![RawEntry::file("../lathe-plugin.json", &manifest)],
        ),
        (
            "directory",
            [
                vec![entry("lathe-plugin.json/", tar::EntryType::Directory, None)],
                head(),
            ]
            .concat(),
        ),
        (
            "symlink",
            vec![
                RawEntry::file("lathe-plugin.json", &manifest),
                entry(
                    "component.wasm",
                    tar::EntryType::Symlink,
                    Some("/etc/passwd"),
                ),
            ],
        ),
        (
            "hard link",
            vec![
                RawEntry::file("lathe-plugin.json", &manifest),
                entry(
                    "component.wasm",
                    tar::EntryType::Link,
                    Some("lathe-plugin.json"),
                ),
            ],
        ),
        (
            "extra file",
            [head(), vec![RawEntry::file("README.md", b"hi")]].concat(),
        ),
        (
            "duplicate",
            [head(), vec![RawEntry::file("component.wasm", &component)]].concat(),
        ),
        (
            "pax record",
            [
                vec![entry("PaxHeader", tar::EntryType::XHeader, None)],
                head(),
            ]
            .concat(),
        ),
        (
            "./ prefix",
            vec![
                RawEntry::file("./lathe-plugin.json", &manifest),
                RawEntry::file("./component.wasm", &component),
            ],
        ),
        ("empty", vec![]),
        (
            "regular-typed extra",
            [head(), vec![entry("signature.json.bak", regular, None)]].concat(),
        ),
    ];
    for (case, entries) in cases {
        let error = refused(&registry, &raw_tar(&entries)).await;
        assert_eq!(error.status(), Some(422), "{case}: {error}");
        assert!(
            error.to_string().contains(".lpkg archive"),
            "{case}: {error}"
        );
    }

    let mut trailing = raw_tar(&head());
    trailing.extend_from_slice(b"#!/bin/sh\n");
    let error = refused(&registry, &trailing).await;
    assert!(error.to_string().contains("not tar padding"), "{error}");
}

#[tokio::test]
async fn ids_that_are_paths_or_not_lowercase_are_refused() {
    let registry = TestRegistry::start().await;
    for id in ["../pg", "a/b", "/pg", "PG", "-pg", "pg\n"] {
        let bytes = raw_tar(&[
            RawEntry::file("lathe-plugin.json", &manifest(id, "1.0.0")),
            RawEntry::file("component.wasm", &component("x")),
        ]);
        let error = refused(&registry, &bytes).await;
        assert_eq!(error.status(), Some(422), "{id}: {error}");
        assert!(
            error.to_string().contains("is not allowed"),
            "{id}: {error}"
        );
    }
}

#[tokio::test]
async fn a_version_is_published_once() {
    let registry = TestRegistry::start().await;
    let client = registry.client();
    let bytes = package("pg", "1.0.0").to_bytes();
    client.publish(Some(&registry.alice), &bytes).await.unwrap();
    // Other contents under the same version are refused all the same.
    let mut other = package("pg", "1.0.0+rebuild");
    other.sign(&SigningKey::generate());
    for bytes in [bytes, other.to_bytes()] {
        let error = refused(&registry, &bytes).await;
        assert_eq!(error.status(), Some(409), "{error}");
        assert!(error.to_string().contains("already published"), "{error}");
    }
}

#[tokio::test]
async fn only_the_owner_publishes_and_yanks_a_package() {
    let registry = TestRegistry::start().await;
    let client = registry.client();
    client
        .publish(Some(&registry.alice), &package("pg", "1.0.0").to_bytes())
        .await
        .unwrap();

    let before = files(&registry.dir());
    let error = client
        .publish(Some(&registry.bob), &package("pg", "2.0.0").to_bytes())
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(403), "{error}");
    let version = semver::Version::new(1, 0, 0);
    let error = client
        .set_yanked(Some(&registry.bob), "pg", &version, true)
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(403), "{error}");
    assert_eq!(files(&registry.dir()), before);
    assert!(!client.index().await.unwrap().packages["pg"][0].yanked);
}

#[tokio::test]
async fn missing_or_bad_tokens_are_401() {
    let registry = TestRegistry::start().await;
    let client = registry.client();
    let bytes = package("pg", "1.0.0").to_bytes();
    let version = semver::Version::new(1, 0, 0);
    for token in [None, Some("lathe-registry-0000"), Some("")] {
        let error = client.publish(token, &bytes).await.unwrap_err();
        assert_eq!(error.status(), Some(401), "{error}");
        let error = client
            .set_yanked(token, "pg", &version, true)
            .await
            .unwrap_err();
        assert_eq!(error.status(), Some(401), "{error}");
    }
    assert!(
        files(&registry.dir())
            .iter()
            .all(|f| !f.starts_with("packages/"))
    );
}

#[tokio::test]
async fn a_200_mb_upload_is_refused_by_its_length_and_nothing_is_written() {
    let registry = TestRegistry::start().await;
    let upload = vec![0u8; 200 * MIB];
    let error = refused(&registry, &upload).await;
    assert_eq!(error.status(), Some(413), "{error}");
    assert!(
        error.to_string().contains("at most 67108864 bytes"),
        "{error}"
    );
}

#[tokio::test]
async fn an_upload_without_a_length_is_counted_and_refused_past_the_limit() {
    let registry = TestRegistry::start_with(4 * MIB as u64).await;
    let before = files(&registry.dir());
    let stream = tokio::net::TcpStream::connect(registry.address)
        .await
        .unwrap();
    let (mut reader, mut writer) = stream.into_split();

    // Chunked, so the server only learns the size by counting; it may answer and close
    // before the sender is done, so sending runs on its own and may fail.
    let token = registry.alice.clone();
    let sender = tokio::spawn(async move {
        let head = format!(
            "POST /v1/packages HTTP/1.1\r\nhost: registry\r\nauthorization: Bearer {token}\r\n\
             transfer-encoding: chunked\r\n\r\n"
        );
        writer.write_all(head.as_bytes()).await?;
        let chunk = vec![b'a'; MIB];
        for _ in 0..200 {
            writer
                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await?;
            writer.write_all(&chunk).await?;
            writer.write_all(b"\r\n").await?;
        }
        writer.write_all(b"0\r\n\r\n").await
    });

    let mut response = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        let mut buffer = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buffer).await {
            if n == 0 {
                break;
            }
            response.extend_from_slice(&buffer[..n]);
            if response.windows(4).any(|w| w == b"\r\n\r\n") && response.ends_with(b"}") {
                break;
            }
        }
    })
    .await;
    sender.abort();
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains("application/problem+json"), "{response}");
    assert_eq!(files(&registry.dir()), before);
}

#[tokio::test]
async fn the_client_refuses_a_package_larger_than_its_limit() {
    // A registry whose limit is larger than the client's: the client's own limit applies.
    let registry = TestRegistry::start().await;
    let bytes = package("pg", "1.0.0").to_bytes();
    let entry = registry
        .client()
        .publish(Some(&registry.alice), &bytes)
        .await
        .unwrap();
    let client = registry.client_with(Arc::new(SystemResolve), bytes.len() as u64 - 1);
    let error = client.package(&entry.digest).await.unwrap_err();
    assert!(matches!(error, ClientError::TooLarge { .. }), "{error}");
}

#[tokio::test]
async fn a_directory_registry_refuses_devices_and_fifos_instead_of_reading_them() {
    use lathe_registry::client::{Client, Source};
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("index.json");
    let client = Client::new(
        Source::Dir(dir.path().to_path_buf()),
        Arc::new(SystemResolve),
        1 << 20,
    );

    // Endless bytes: refused before the first read, not read until memory runs out.
    std::os::unix::fs::symlink("/dev/zero", &index).unwrap();
    let error = client.index().await.unwrap_err();
    assert!(error.to_string().contains("not a regular file"), "{error}");

    // A FIFO nobody writes to: refused before opening it, which would block forever.
    std::fs::remove_file(&index).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&index)
        .status()
        .unwrap();
    assert!(made.success());
    let answer = tokio::time::timeout(std::time::Duration::from_secs(10), client.index())
        .await
        .expect("the read does not hang");
    assert!(
        answer
            .unwrap_err()
            .to_string()
            .contains("not a regular file")
    );
}

/// Reads until the server closes the connection, or gives up after `within`; what was read
/// and whether the server closed it.
async fn until_closed(stream: &mut tokio::net::TcpStream, within: Duration) -> (String, bool) {
    let mut answer = Vec::new();
    let closed = tokio::time::timeout(within, async {
        let mut buffer = [0u8; 1024];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await
    .is_ok();
    (String::from_utf8_lossy(&answer).into_owned(), closed)
}

#[tokio::test]
async fn clients_that_trickle_headers_or_send_nothing_are_disconnected() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("registry");
    lathe_registry::dir::DirRegistry::create(&dir).unwrap();
    let config = ServeConfig {
        header_timeout: Duration::from_millis(300),
        ..ServeConfig::new(dir, "127.0.0.1:0".parse().unwrap())
    };
    let server = Server::bind(config).await.unwrap();
    let address = server.local_addr();
    let task = tokio::spawn(server.run(std::future::pending()));

    // Far longer than the limit, so that only the server can end these connections.
    let patience = Duration::from_secs(20);
    let mut silent = tokio::net::TcpStream::connect(address).await.unwrap();
    let mut trickling = tokio::net::TcpStream::connect(address).await.unwrap();
    trickling
        .write_all(b"GET /index.json HTTP/1.1\r\nhost: registry\r\n")
        .await
        .unwrap();
    let (_, silent_closed) = until_closed(&mut silent, patience).await;
    assert!(silent_closed, "a connection that sent nothing was kept");
    let (answer, trickling_closed) = until_closed(&mut trickling, patience).await;
    assert!(
        trickling_closed,
        "a connection with half its headers was kept"
    );
    assert!(!answer.contains("200 OK"), "{answer}");

    // A client that sends its request at once is served as before.
    let mut prompt = tokio::net::TcpStream::connect(address).await.unwrap();
    prompt
        .write_all(b"GET /index.json HTTP/1.1\r\nhost: registry\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let (answer, _) = until_closed(&mut prompt, patience).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // No HTTP/2: its server would keep neither limit once a first request is done.
    let mut h2 = tokio::net::TcpStream::connect(address).await.unwrap();
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    let (answer, closed) = until_closed(&mut h2, patience).await;
    assert!(closed, "an HTTP/2 connection was kept");
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 "),
        "{answer:?}"
    );
    task.abort();
}

/// Requests hyper refuses before any handler runs get a problem document like every other
/// error, not hyper's empty answer.
#[tokio::test]
async fn unparsable_requests_get_problem_documents() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("registry");
    lathe_registry::dir::DirRegistry::create(&dir).unwrap();
    let server = Server::bind(ServeConfig::new(dir, "127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap();
    let address = server.local_addr();
    let task = tokio::spawn(server.run(std::future::pending()));

    let long_uri = format!("GET /{} HTTP/1.1\r\nhost: r\r\n\r\n", "a".repeat(70_000));
    let many_headers = format!(
        "GET /index.json HTTP/1.1\r\nhost: r\r\n{}\r\n",
        "x-filler: y\r\n".repeat(200)
    );
    let cases = [
        (
            "GET /index.json HTTP/1.1\r\nho st: r\r\n\r\n".to_string(),
            400,
            "bad-request",
        ),
        (long_uri, 414, "uri-too-long"),
        (many_headers, 431, "headers-too-large"),
    ];
    for (request, status, slug) in cases {
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let (answer, closed) = until_closed(&mut stream, Duration::from_secs(20)).await;
        assert!(closed, "the connection stayed open after a {status}");
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with(&format!("HTTP/1.1 {status} ")), "{head}");
        assert!(
            head.contains("content-type: application/problem+json"),
            "{head}"
        );
        let problem: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            problem["type"],
            format!("urn:lathe:problem:{slug}"),
            "{body}"
        );
        assert_eq!(problem["status"], status);
    }

    // Pipelined behind a good request: the good one is answered as it is, the bad one with
    // a problem document.
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let both =
        "GET /index.json HTTP/1.1\r\nhost: r\r\n\r\nGET /index.json HTTP/1.1\r\nho st: r\r\n\r\n";
    stream.write_all(both.as_bytes()).await.unwrap();
    let (answer, _) = until_closed(&mut stream, Duration::from_secs(20)).await;
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    let second = &answer[answer.find("HTTP/1.1 400 ").expect("a second answer")..];
    assert!(second.contains("application/problem+json"), "{second}");
    assert!(second.ends_with('}'), "{second}");
    task.abort();
}

#[tokio::test]
async fn a_client_that_stops_reading_a_download_is_disconnected() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("registry");
    lathe_registry::dir::DirRegistry::create(&dir).unwrap();
    // A package file far larger than the socket buffers between server and client.
    let bytes: Vec<u8> = (0..32 * MIB).map(|i| (i * 7 % 251) as u8).collect();
    let digest = lathe_registry::package::digest(&bytes);
    let name = format!("sha256-{}.lpkg", digest.trim_start_matches("sha256:"));
    std::fs::write(dir.join("packages").join(&name), &bytes).unwrap();
    let config = ServeConfig {
        send_timeout: Duration::from_millis(500),
        ..ServeConfig::new(dir, "127.0.0.1:0".parse().unwrap())
    };
    let server = Server::bind(config).await.unwrap();
    let address = server.local_addr();
    let task = tokio::spawn(server.run(std::future::pending()));

    // A fixed receive buffer: the kernel's autotuning may otherwise grow it to 32 MiB
    // (net.ipv4.tcp_rmem here), which once took the whole file while the client stalled.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(64 * 1024).unwrap();
    let mut stalled = socket.connect(address).await.unwrap();
    let request = format!("GET /packages/{name} HTTP/1.1\r\nhost: registry\r\n\r\n");
    stalled.write_all(request.as_bytes()).await.unwrap();
    // The client reads nothing for a while, then everything it can.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut received = 0;
    let mut buffer = vec![0u8; 1 << 16];
    let drained = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(n) = stalled.read(&mut buffer).await {
            if n == 0 {
                break;
            }
            received += n;
        }
    })
    .await;
    assert!(drained.is_ok(), "the connection stayed open");
    assert!(
        received < bytes.len(),
        "the whole download arrived after a stall: {received} bytes"
    );
    task.abort();
}
