//! Publishing, finding and downloading packages through a registry server the test starts,
//! with the real client.

mod common;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use common::{TestRegistry, package};
use lathe_registry::client::{Client, ClientError, Resolve, Source};
use lathe_registry::keys::SigningKey;
use lathe_registry::package::{Package, digest};

fn v(text: &str) -> semver::Version {
    semver::Version::parse(text).unwrap()
}

#[tokio::test]
async fn signed_and_unsigned_packages_publish_and_download_by_digest() {
    let registry = TestRegistry::start().await;
    let client = registry.client();
    let key = SigningKey::generate();

    let unsigned = package("rest", "1.0.0").to_bytes();
    let entry = client
        .publish(Some(&registry.alice), &unsigned)
        .await
        .unwrap();
    assert_eq!(entry.version, "1.0.0");
    assert_eq!(entry.digest, digest(&unsigned));
    assert_eq!(entry.size, unsigned.len() as u64);
    assert_eq!(entry.publisher, None);
    assert_eq!(entry.capabilities, ["https://{base_url}"]);

    let mut signed = package("rest", "1.1.0");
    signed.sign(&key);
    let signed = signed.to_bytes();
    let entry = client
        .publish(Some(&registry.alice), &signed)
        .await
        .unwrap();
    assert_eq!(entry.publisher, Some(key.public()));

    let downloaded = client.package(&entry.digest).await.unwrap();
    assert_eq!(downloaded, signed);
    let package = Package::from_bytes(&downloaded).unwrap();
    assert_eq!(package.verify().unwrap(), Some(key.public()));
    assert_eq!(package.head().version, v("1.1.0"));

    // The URL layout is the directory layout.
    let file = registry
        .dir()
        .join(format!("packages/sha256-{}.lpkg", &entry.digest[7..]));
    assert_eq!(std::fs::read(file).unwrap(), signed);
}

#[tokio::test]
async fn the_index_finds_exact_and_newest_versions() {
    let registry = TestRegistry::start().await;
    let client = registry.client();
    for version in ["0.9.0", "1.0.0", "1.1.0-beta.1"] {
        let bytes = package("pg", version).to_bytes();
        client.publish(Some(&registry.bob), &bytes).await.unwrap();
    }

    let index = client.index().await.unwrap();
    assert_eq!(index.find("pg", None).unwrap().version, "1.0.0");
    assert_eq!(
        index.find("pg", Some(&v("0.9.0"))).unwrap().version,
        "0.9.0"
    );
    assert!(index.find("pg", Some(&v("2.0.0"))).is_none());
    assert_eq!(index.owner("pg"), Some("bob"));
    assert_eq!(index.packages["pg"].len(), 3);
}

#[tokio::test]
async fn search_matches_id_name_and_description() {
    let registry = TestRegistry::start().await;
    let client = registry.client();
    for id in ["postgres", "rest", "s3"] {
        let bytes = package(id, "1.0.0").to_bytes();
        client.publish(Some(&registry.alice), &bytes).await.unwrap();
    }

    let ids = |results: Vec<lathe_registry::index::SearchResult>| {
        results.into_iter().map(|r| r.id).collect::<Vec<_>>()
    };
    assert_eq!(ids(client.search("POSTGRES").await.unwrap()), ["postgres"]);
    assert_eq!(
        ids(client.search("rest connector").await.unwrap()),
        ["rest"]
    );
    assert_eq!(ids(client.search("talks to").await.unwrap()).len(), 3);
    assert!(client.search("mysql").await.unwrap().is_empty());
    let results = client.search("s3").await.unwrap();
    assert_eq!(results[0].owner, "alice");
    assert_eq!(results[0].versions[0].version, "1.0.0");
}

#[tokio::test]
async fn yank_and_unyank_move_the_newest_version() {
    let registry = TestRegistry::start().await;
    let client = registry.client();
    for version in ["1.0.0", "1.0.1"] {
        let bytes = package("pg", version).to_bytes();
        client.publish(Some(&registry.alice), &bytes).await.unwrap();
    }

    let entry = client
        .set_yanked(Some(&registry.alice), "pg", &v("1.0.1"), true)
        .await
        .unwrap();
    assert!(entry.yanked);
    let index = client.index().await.unwrap();
    assert_eq!(index.find("pg", None).unwrap().version, "1.0.0");
    let yanked = index.find("pg", Some(&v("1.0.1"))).unwrap();
    assert!(yanked.yanked);
    // Still downloadable: installs pinned to it keep working.
    client.package(&yanked.digest).await.unwrap();

    client
        .set_yanked(Some(&registry.alice), "pg", &v("1.0.1"), false)
        .await
        .unwrap();
    let index = client.index().await.unwrap();
    assert_eq!(index.find("pg", None).unwrap().version, "1.0.1");

    let error = client
        .set_yanked(Some(&registry.alice), "pg", &v("3.0.0"), true)
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(404), "{error}");
}

#[tokio::test]
async fn a_directory_is_a_registry_without_a_server() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("offline");
    lathe_registry::dir::DirRegistry::create(&dir).unwrap();
    let source = Source::parse(&format!("file://{}", dir.display())).unwrap();
    let client = Client::new(
        source,
        Arc::new(lathe_registry::client::SystemResolve),
        1 << 20,
    );

    let mut package = package("pg", "1.0.0");
    package.sign(&SigningKey::generate());
    let entry = client.publish(None, &package.to_bytes()).await.unwrap();
    let index = client.index().await.unwrap();
    assert_eq!(index.owner("pg"), Some("local"));
    assert_eq!(
        client.package(&entry.digest).await.unwrap(),
        package.to_bytes()
    );
    assert_eq!(client.search("pg").await.unwrap().len(), 1);
    client
        .set_yanked(None, "pg", &v("1.0.0"), true)
        .await
        .unwrap();

    let error = client.publish(None, &package.to_bytes()).await.unwrap_err();
    assert_eq!(error.status(), Some(409), "{error}");
    let missing = digest(b"nothing");
    let error = client.package(&missing).await.unwrap_err();
    assert_eq!(error.status(), Some(404), "{error}");
}

#[tokio::test]
async fn downloads_stop_at_the_size_limit_and_digests_are_checked() {
    let registry = TestRegistry::start().await;
    let bytes = package("pg", "1.0.0").to_bytes();
    let entry = registry
        .client()
        .publish(Some(&registry.alice), &bytes)
        .await
        .unwrap();

    let small = registry.client_with(Arc::new(lathe_registry::client::SystemResolve), 1000);
    let error = small.package(&entry.digest).await.unwrap_err();
    assert!(matches!(error, ClientError::TooLarge { .. }), "{error}");

    // The registry's storage altered: the client notices.
    let file = registry
        .dir()
        .join(format!("packages/sha256-{}.lpkg", &entry.digest[7..]));
    let mut altered = bytes.clone();
    altered[600] ^= 1;
    std::fs::write(&file, &altered).unwrap();
    let error = registry.client().package(&entry.digest).await.unwrap_err();
    assert!(error.status().is_none_or(|s| s >= 500), "{error}");

    let error = registry
        .client()
        .package("sha256:../index.json")
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("invalid package digest"),
        "{error}"
    );
}

/// Sends every host name and IP literal to one address, and records what it was asked.
struct PinnedResolve {
    to: Option<SocketAddr>,
    asked: Mutex<Vec<String>>,
}

impl Resolve for PinnedResolve {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<SocketAddr>, String>> + Send + 'a>> {
        self.asked.lock().unwrap().push(format!("{host}:{port}"));
        let answer = match self.to {
            Some(address) => Ok(vec![address]),
            None => Err("refused by the egress policy".to_owned()),
        };
        Box::pin(async move { answer })
    }
}

#[tokio::test]
async fn the_client_connects_only_where_the_resolver_says() {
    let registry = TestRegistry::start().await;
    let pinned = Arc::new(PinnedResolve {
        to: Some(registry.address),
        asked: Mutex::default(),
    });
    // A name that exists nowhere: only the resolver makes it reach the test server.
    let source = Source::parse("http://registry.lathe.invalid:8123/").unwrap();
    let client = Client::new(source, pinned.clone(), 1 << 20);
    client.index().await.unwrap();
    assert_eq!(
        *pinned.asked.lock().unwrap(),
        ["registry.lathe.invalid:8123"]
    );

    // IP literals go through the resolver too, and a refusal stops the request.
    let refusing = Arc::new(PinnedResolve {
        to: None,
        asked: Mutex::default(),
    });
    let client = registry.client_with(refusing.clone(), 1 << 20);
    let error = client.index().await.unwrap_err();
    assert!(matches!(error, ClientError::Resolve { .. }), "{error}");
    assert!(error.to_string().contains("egress policy"), "{error}");
    assert_eq!(
        *refusing.asked.lock().unwrap(),
        [registry.address.to_string()]
    );
}

#[tokio::test]
async fn redirects_are_not_followed_and_name_the_location() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/index.json",
        axum::routing::get(|| async {
            axum::response::Redirect::temporary("http://127.0.0.1:9/elsewhere/index.json")
        }),
    );
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let source = Source::parse(&format!("http://{address}/")).unwrap();
    let client = Client::new(
        source,
        Arc::new(lathe_registry::client::SystemResolve),
        1 << 20,
    );
    let error = client.index().await.unwrap_err();
    let ClientError::Redirect {
        status, location, ..
    } = &error
    else {
        panic!("{error}");
    };
    assert_eq!(*status, 307);
    assert_eq!(location, "http://127.0.0.1:9/elsewhere/index.json");
    server.abort();
}

#[tokio::test]
async fn the_client_stops_reading_a_chunked_download_past_its_limit() {
    // A server that announces no length and would send 64 MiB: the client must stop at its
    // limit instead of reading (and holding) it all.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = [0u8; 4096];
        let _ = stream.read(&mut request).await;
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n\
                    transfer-encoding: chunked\r\n\r\n";
        if stream.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk = vec![0u8; 64 * 1024];
        for _ in 0..1024 {
            let frame = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
            if stream.write_all(&frame).await.is_err() {
                return; // The client hung up, as it should.
            }
        }
    });

    let source = Source::parse(&format!("http://{address}/")).unwrap();
    let client = Client::new(
        source,
        Arc::new(lathe_registry::client::SystemResolve),
        1 << 20,
    );
    let error = client.package(&digest(b"anything")).await.unwrap_err();
    assert!(
        matches!(error, ClientError::TooLarge { limit: 1048576, .. }),
        "{error}"
    );
    server.abort();
}

#[tokio::test]
async fn serve_runs_until_shutdown_and_refuses_a_missing_directory() {
    let temp = tempfile::tempdir().unwrap();
    let config =
        |dir| lathe_registry::server::ServeConfig::new(dir, "127.0.0.1:0".parse().unwrap());

    let error = lathe_registry::server::serve(config(temp.path().join("missing")), async {})
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("not a registry directory"),
        "{error}"
    );

    lathe_registry::dir::DirRegistry::create(temp.path()).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(lathe_registry::server::serve(
        config(temp.path().into()),
        async {
            let _ = stopped.await;
        },
    ));
    stop.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), server)
        .await
        .expect("serve returns once shutdown completes")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn packages_of_several_megabytes_publish_under_the_limit() {
    // Well past the 2 MB axum applies to buffered bodies by default: only the registry's
    // own limit counts.
    let registry = TestRegistry::start().await;
    let package = Package::new(
        common::manifest("big", "1.0.0"),
        common::large_component(5 * 1024 * 1024),
    )
    .unwrap();
    let bytes = package.to_bytes();
    let entry = registry
        .client()
        .publish(Some(&registry.alice), &bytes)
        .await
        .unwrap();
    assert_eq!(entry.size, bytes.len() as u64);
    assert_eq!(
        registry.client().package(&entry.digest).await.unwrap(),
        bytes
    );
}
