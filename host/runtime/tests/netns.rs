//! Egress to addresses other than loopback, tested without risking real traffic: the test
//! re-runs itself inside a private network namespace (`unshare -n`) where the metadata
//! address, a private address and the IPv6 metadata address are bound to the namespace's own
//! loopback, each with a canary listener that must see nothing. A positive control (the
//! private address, once an admin allows it) proves the canaries do see connections.

mod common;

use common::{Canary, engine, hostile};
use lathe_runtime::instance::RunRequest;
use lathe_runtime::{ConnectorError, EgressPolicy, Limits, Pool, PoolConfig, RuntimeError};
use serde_json::json;
use std::process::Command;
use std::time::Duration;

const CHILD: &str = "LATHE_NETNS_CHILD";
const MARKER: &str = "netns egress checks ran";

#[test]
fn metadata_and_private_addresses_are_refused_in_a_private_network() {
    if std::env::var_os(CHILD).is_some() {
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(checks_inside_namespace());
        println!("{MARKER}");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let setup = "ip link set lo up \
        && ip addr add 169.254.169.254/32 dev lo \
        && ip addr add 10.1.2.3/32 dev lo \
        && ip -6 addr add fd00:ec2::254/128 dev lo nodad \
        && exec \"$@\"";
    let output = Command::new("unshare")
        .args(["-n", "--", "sh", "-c", setup, "sh"])
        .arg(exe)
        .args([
            "metadata_and_private_addresses_are_refused_in_a_private_network",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .expect("running unshare (needs root and util-linux)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "namespace run failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains(MARKER),
        "the checks did not run:\n{stdout}\n{stderr}"
    );
}

fn act(action: serde_json::Value) -> RunRequest {
    RunRequest {
        operation: "act".into(),
        query: action,
        params: Vec::new(),
    }
}

fn pool(engine: &lathe_runtime::Engine, host: &str, port: u16, policy: EgressPolicy) -> Pool {
    let config = json!({"host": host, "port": port, "base_url": "http://127.0.0.1:9/"});
    let settings = PoolConfig {
        limits: Limits {
            call_timeout: Duration::from_secs(5),
            ..Limits::default()
        },
        ..PoolConfig::default()
    };
    Pool::new(hostile(engine), config, policy, settings)
}

async fn checks_inside_namespace() {
    // We are isolated: the machine's PostgreSQL is not reachable from here.
    assert!(
        std::net::TcpStream::connect_timeout(
            &"127.0.0.1:5432".parse().unwrap(),
            Duration::from_millis(200)
        )
        .is_err(),
        "not inside a private network namespace"
    );

    let metadata = Canary::start("169.254.169.254", 80).await;
    let metadata6 = Canary::start("fd00:ec2::254", 80).await;
    let private = Canary::start("10.1.2.3", 5432).await;
    let (engine, _cache) = engine();
    let everything = EgressPolicy {
        allow_cidrs: vec!["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()],
        allow_hosts: vec!["*.internal".into()],
    };

    // A datasource configured with a metadata address never opens, whatever the policy.
    for host in ["169.254.169.254", "fd00:ec2::254", "::ffff:169.254.169.254"] {
        let err = pool(&engine, host, 80, everything.clone())
            .run(act(json!({"action": "echo"})))
            .await
            .unwrap_err();
        assert!(
            matches!(err, RuntimeError::EgressDenied { .. }),
            "{host}: {err:?}"
        );
        assert!(err.to_string().contains("never reach"), "{err}");
    }

    // A connector granted loopback can't reach them either, by socket or by HTTP.
    let local = pool(&engine, "127.0.0.1", 9, everything.clone());
    for (host, port) in [
        ("169.254.169.254", 80),
        ("fd00:ec2::254", 80),
        ("10.1.2.3", 5432),
    ] {
        let err = local
            .run(act(
                json!({"action": "connect", "host": host, "port": port}),
            ))
            .await
            .unwrap_err();
        assert!(
            matches!(
                &err,
                RuntimeError::Connector {
                    error: ConnectorError::Denied { .. },
                    ..
                }
            ),
            "{host}: {err:?}"
        );
    }
    let err = local
        .run(act(
            json!({"action": "http", "url": "http://169.254.169.254/latest/meta-data/"}),
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            RuntimeError::Connector {
                error: ConnectorError::Denied { .. },
                ..
            }
        ),
        "{err:?}"
    );

    // A private address is refused by default…
    let err = pool(&engine, "10.1.2.3", 5432, EgressPolicy::public_only())
        .run(act(json!({"action": "echo"})))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RuntimeError::EgressDenied { destination, .. } if destination == "tcp://10.1.2.3:5432"),
        "{err:?}"
    );

    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(metadata.hits(), 0, "the metadata canary saw a connection");
    assert_eq!(
        metadata6.hits(),
        0,
        "the IPv6 metadata canary saw a connection"
    );
    assert_eq!(private.hits(), 0, "the private canary saw a connection");

    // …and reachable once an admin allows its network: the canaries do see connections.
    let allowed = EgressPolicy {
        allow_cidrs: vec![
            "10.0.0.0/8".parse().unwrap(),
            "127.0.0.0/8".parse().unwrap(),
        ],
        allow_hosts: Vec::new(),
    };
    let out = pool(&engine, "10.1.2.3", 5432, allowed)
        .run(act(
            json!({"action": "connect", "host": "10.1.2.3", "port": 5432}),
        ))
        .await
        .unwrap();
    assert_eq!(out.rows[0][0], "connected");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        private.hits(),
        1,
        "the positive control did not reach its canary"
    );
}
