//! Concurrent writers and interrupted writes leave a registry whole.

mod common;

use std::sync::Arc;

use common::{TestRegistry, files, package};
use lathe_registry::dir::{DirRegistry, PublishError};
use lathe_registry::index::Index;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_publishes_of_one_version_leave_exactly_one() {
    let registry = TestRegistry::start().await;
    let client = Arc::new(registry.client());
    let bytes = Arc::new(package("pg", "1.0.0").to_bytes());

    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (client, bytes, token) = (client.clone(), bytes.clone(), registry.alice.clone());
            tokio::spawn(async move { client.publish(Some(&token), &bytes).await })
        })
        .collect();
    let mut published = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => published += 1,
            Err(error) => assert_eq!(error.status(), Some(409), "{error}"),
        }
    }
    assert_eq!(published, 1);

    let text = std::fs::read(registry.dir().join("index.json")).unwrap();
    let index = Index::from_json(&text).unwrap();
    assert_eq!(index.packages["pg"].len(), 1);
    assert_eq!(
        files(&registry.dir())
            .iter()
            .filter(|f| f.ends_with(".lpkg"))
            .count(),
        1
    );
}

#[test]
fn writers_in_separate_registry_handles_lose_no_update() {
    // Separate handles share no mutex: only the lock file keeps them apart, as it does
    // for separate processes (a server and a CLI publishing into the same directory).
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("registry");
    DirRegistry::create(&dir).unwrap();

    let threads: Vec<_> = (0..16)
        .map(|i| {
            let dir = dir.clone();
            std::thread::spawn(move || {
                let registry = DirRegistry::open(&dir).unwrap();
                let bytes = package("pg", &format!("1.0.{i}")).to_bytes();
                registry.publish(&bytes, "alice").unwrap();
                // And the same version again from every thread: one wins overall.
                let same = package("shared", "1.0.0").to_bytes();
                match registry.publish(&same, "alice") {
                    Ok(_) => 1,
                    Err(PublishError::Exists { .. }) => 0,
                    Err(error) => panic!("{error}"),
                }
            })
        })
        .collect();
    let wins: u32 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(wins, 1);

    let index = DirRegistry::open(&dir).unwrap().index().unwrap();
    assert_eq!(index.packages["pg"].len(), 16, "an update was lost");
    assert_eq!(index.packages["shared"].len(), 1);
}

#[tokio::test]
async fn leftovers_of_a_crash_do_not_break_open_or_publish() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("registry");
    let registry = DirRegistry::create(&dir).unwrap();
    registry
        .publish(&package("pg", "1.0.0").to_bytes(), "alice")
        .unwrap();
    drop(registry);

    // A crash after the blob was renamed into place but before the index was replaced,
    // and one in the middle of writing each kind of file.
    let orphan = package("pg", "1.0.1").to_bytes();
    let orphan_digest = lathe_registry::package::digest(&orphan);
    let orphan_path = dir.join(format!("packages/sha256-{}.lpkg", &orphan_digest[7..]));
    std::fs::write(&orphan_path, &orphan).unwrap();
    std::fs::write(
        dir.join(".tmp-0123456789abcdef"),
        br#"{"format":"lathe-reg"#,
    )
    .unwrap();
    std::fs::write(dir.join("packages/.tmp-fedcba9876543210"), &orphan[..700]).unwrap();

    let registry = TestRegistry::start_in(temp).await;
    assert!(!files(&registry.dir()).iter().any(|f| f.contains(".tmp-")));
    let client = registry.client();
    let index = client.index().await.unwrap();
    assert_eq!(index.packages["pg"].len(), 1);

    // The orphan's version publishes normally, over its own leftover blob.
    let entry = client
        .publish(Some(&registry.alice), &orphan)
        .await
        .unwrap();
    assert_eq!(entry.digest, orphan_digest);
    assert_eq!(client.package(&entry.digest).await.unwrap(), orphan);
    assert_eq!(client.index().await.unwrap().packages["pg"].len(), 2);
}
