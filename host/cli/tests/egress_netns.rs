//! A datasource pointed at a cloud metadata address is refused by the server, tested without
//! risking real traffic: the test re-runs itself inside a private network namespace
//! (`unshare -n`) where 169.254.169.254 and fd00:ec2::254 are bound to the namespace's own
//! loopback, each with a canary listener that must see no connection, even though the
//! server's egress allow-list names their ranges. A positive control (a loopback canary the
//! allow-list permits) proves the canaries do see connections.
//!
//! The store inside the namespace is always SQLite: the machine's PostgreSQL is out of reach
//! there, and the store plays no part in what is tested.

mod common;

use common::connectors::root;
use common::{Server, create_workspace};
use serde_json::json;
use std::net::{SocketAddr, TcpListener};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const CHILD: &str = "LATHE_NETNS_CHILD";
const MARKER: &str = "server egress checks ran";
const TEST: &str = "a_datasource_at_a_metadata_address_is_refused_and_nothing_reaches_it";

#[test]
fn a_datasource_at_a_metadata_address_is_refused_and_nothing_reaches_it() {
    if std::env::var_os(CHILD).is_some() {
        checks_inside_namespace();
        println!("{MARKER}");
        return;
    }
    let setup = "ip link set lo up \
        && ip addr add 169.254.169.254/32 dev lo \
        && ip -6 addr add fd00:ec2::254/128 dev lo nodad \
        && exec \"$@\"";
    let output = Command::new("unshare")
        .args(["-n", "--", "sh", "-c", setup, "sh"])
        .arg(std::env::current_exe().unwrap())
        .args([TEST, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env_remove("LATHE_TEST_BACKEND")
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

/// A listener that counts the connections it accepts.
struct Canary {
    hits: Arc<AtomicUsize>,
    port: u16,
}

impl Canary {
    fn start(addr: &str) -> Canary {
        let listener = TcpListener::bind(addr.parse::<SocketAddr>().unwrap()).unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                counter.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        Canary { hits, port }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

fn checks_inside_namespace() {
    // Isolated: the machine's PostgreSQL must be out of reach from here.
    assert!(std::net::TcpStream::connect("127.0.0.1:5432").is_err());
    let v4 = Canary::start("169.254.169.254:5432");
    let v6 = Canary::start("[fd00:ec2::254]:5432");
    let web = Canary::start("169.254.169.254:80");
    let control = Canary::start("127.0.0.1:0");

    let plugins = root().join("plugins").display().to_string();
    let cache = root().join("target/test-components").display().to_string();
    let server = Server::start_with(&[
        "--plugins-dir",
        &plugins,
        "--cache-dir",
        &cache,
        // Even an allow-list naming these ranges never opens the metadata addresses.
        "--egress-allow",
        "169.254.0.0/16,fd00::/8,127.0.0.1",
    ]);
    let out = server
        .store
        .admin_create(common::ADMIN_EMAIL, common::ADMIN_PASSWORD);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let admin = server.admin();
    let ws = create_workspace(&admin, "Egress");
    let datasources = format!("/api/v1/workspaces/{ws}/datasources");

    let postgres = |name: &str, host: &str, port: u16| {
        let r = admin.post(
            &datasources,
            &json!({ "name": name, "plugin": "postgres",
                     "config": { "host": host, "port": port, "username": "u", "ssl_mode": "disable" } }),
        );
        r.expect_status(201);
        r.json()["id"].as_str().unwrap().to_string()
    };
    for (name, host) in [
        ("v4", "169.254.169.254"),
        ("v6", "fd00:ec2::254"),
        ("mapped", "::ffff:169.254.169.254"),
    ] {
        let id = postgres(name, host, 5432);
        let r = admin.post(&format!("{datasources}/{id}/test"), &json!({}));
        let problem = r.expect_problem(403, "egress-denied");
        assert!(
            problem["detail"].as_str().unwrap().contains("metadata"),
            "{problem}"
        );
    }

    let rest = admin.post(
        &datasources,
        &json!({ "name": "imds", "plugin": "rest", "config": { "base_url": "http://169.254.169.254/" } }),
    );
    rest.expect_status(201);
    let id = rest.json()["id"].as_str().unwrap().to_string();
    let r = admin.post(
        &format!("{datasources}/{id}/run"),
        &json!({ "operation": "request", "query": { "method": "GET", "path": "latest/meta-data/" } }),
    );
    r.expect_problem(403, "egress-denied");

    assert_eq!(
        (v4.hits(), v6.hits(), web.hits()),
        (0, 0, 0),
        "a metadata canary saw a connection"
    );

    // Positive control: an allowed destination is reached, so the canaries would have counted.
    let id = postgres("control", "127.0.0.1", control.port);
    let r = admin.post(&format!("{datasources}/{id}/test"), &json!({}));
    assert!(r.status >= 400, "a canary is not PostgreSQL: {}", r.body);
    assert!(control.hits() >= 1, "the control canary saw nothing");
}
