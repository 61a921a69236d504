//! `lathe serve` basics: health, readiness, metrics, request ids, problem documents for
//! unknown routes, graceful shutdown, `lathe migrate`, and the setup hint.

mod common;

use std::time::Duration;

use common::{Server, TestStore, lathe};

#[test]
fn health_endpoints_answer_and_readyz_reports_migrations_applied() {
    let server = Server::start();
    let c = server.client();
    let live = c.get("/livez");
    live.expect_status(200);
    assert_eq!(live.body, "ok\n");
    let ready = c.get("/readyz");
    ready.expect_status(200);
    assert_eq!(ready.body, "ready\n");
}

#[test]
fn every_response_carries_a_request_id_and_a_client_id_is_kept() {
    let server = Server::start();
    let c = server.client();
    let a = c.get("/livez");
    let b = c.get("/livez");
    let id_a = a.header("x-request-id").expect("request id on response");
    let id_b = b.header("x-request-id").expect("request id on response");
    assert_ne!(id_a, id_b);

    let own = c.raw("GET", "/livez", &[("x-request-id", "trace-me-123")], None);
    assert_eq!(own.header("x-request-id"), Some("trace-me-123"));
    let problem = c.get("/api/v1/nope");
    assert!(problem.header("x-request-id").is_some());
}

#[test]
fn metrics_count_requests_by_route_template() {
    let server = Server::start();
    let c = server.client();
    c.get("/livez").expect_status(200);
    c.get("/api/v1/workspaces/some-id").expect_status(401);
    let m = c.get("/metrics");
    m.expect_status(200);
    assert!(m.header("content-type").unwrap().starts_with("text/plain"));
    assert!(
        m.body.contains(
            "lathe_http_requests_total{method=\"GET\",route=\"/livez\",status=\"200\"} 1"
        ),
        "{}",
        m.body
    );
    assert!(
        m.body
            .contains("route=\"/api/v1/workspaces/{ws}\",status=\"401\"} 1"),
        "{}",
        m.body
    );
    assert!(!m.body.contains("some-id"));

    // A client may send any token as a method: made-up ones share one label, so they
    // can't add a series each.
    let address = server.url.trim_start_matches("http://").to_string();
    for i in 0..5 {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        let request =
            format!("MADEUP{i} /livez HTTP/1.1\r\nhost: lathe\r\nconnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 405"), "{answer}");
    }
    let m = c.get("/metrics");
    assert!(
        m.body.contains(
            "lathe_http_requests_total{method=\"other\",route=\"/livez\",status=\"405\"} 5"
        ),
        "{}",
        m.body
    );
    assert!(!m.body.contains("MADEUP"), "{}", m.body);
}

#[test]
fn unknown_routes_and_methods_are_problem_documents() {
    let server = Server::start();
    let c = server.client();
    c.get("/api/v1/does-not-exist")
        .expect_problem(404, "not-found");
    c.get("/").expect_problem(404, "not-found");
    c.send("PUT", "/api/v1/auth/login", None)
        .expect_problem(405, "method-not-allowed");
    // Whatever looks like the API is answered as the API is: never cached, no page policy.
    for path in ["/api", "/API/v1/x", "/api/v1/does-not-exist"] {
        let answer = c.get(path);
        answer.expect_problem(404, "not-found");
        assert_eq!(answer.header("cache-control"), Some("no-store"), "{path}");
        assert_eq!(answer.header("content-security-policy"), None, "{path}");
    }
}

#[test]
fn login_before_any_admin_exists_says_how_to_create_one() {
    let server = Server::start();
    let mut c = server.client();
    let doc = c
        .login("someone@example.com", "whatever123")
        .expect_problem(409, "setup-required");
    assert!(
        doc["detail"]
            .as_str()
            .unwrap()
            .contains("lathe admin create")
    );
    assert!(server.logs().contains("lathe admin create"));
}

#[test]
fn sigterm_lets_an_in_flight_request_finish_then_exits_cleanly() {
    use std::io::{Read, Write};

    let mut server = Server::with_admin();
    // A login whose body is only half sent is in flight for sure: its handler waits for the rest.
    let addr = server.url.strip_prefix("http://").unwrap().to_string();
    let body = format!(
        "{{\"email\":\"{}\",\"password\":\"{}\"}}",
        common::ADMIN_EMAIL,
        common::ADMIN_PASSWORD
    );
    let (first, rest) = body.split_at(10);
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{first}",
        body.len()
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));

    server.signal("TERM");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        server.wait(Duration::ZERO),
        None,
        "exited with a request in flight"
    );
    stream.write_all(rest.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert_eq!(
        server.wait(Duration::from_secs(30)),
        Some(true),
        "exit status after SIGTERM"
    );
    assert!(server.logs().contains("shutting down"));
}

#[test]
fn migrate_command_is_idempotent_and_the_server_starts_on_its_result() {
    let store = TestStore::new();
    for _ in 0..2 {
        let out = lathe().arg("migrate").args(store.args()).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let server = Server::start_on(store, &[]);
    server.client().get("/readyz").expect_status(200);
}

#[test]
fn concurrent_starts_on_one_store_migrate_once_without_error() {
    let store = TestStore::new();
    let args = store.args();
    let runs: Vec<_> = (0..3)
        .map(|_| {
            lathe()
                .arg("migrate")
                .args(&args)
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for run in runs {
        let out = run.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let server = Server::start_on(store, &[]);
    server.client().get("/readyz").expect_status(200);
}

/// Replicas started at the same moment on a fresh data directory all come up: one of them
/// makes the master key file, the database file and its own audit journal, and none fails
/// on what another is making (a key file not yet written, a file made first by another, a
/// journal folder taken for a dead server's).
#[test]
fn servers_started_at_once_on_a_fresh_data_dir_all_start() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    for _round in 0..3 {
        let store = TestStore::new();
        let dir = std::path::PathBuf::from(&store.args()[1]);
        let servers: Vec<_> = (0..8)
            .map(|_| {
                lathe()
                    .args(["serve", "--listen", "127.0.0.1:0"])
                    .args(store.args())
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        // Every server is stopped before anything is asserted, so a failure leaves none behind.
        let outcomes: Vec<_> = servers
            .into_iter()
            .map(|mut server| {
                let mut first = String::new();
                let read = BufReader::new(server.stdout.take().unwrap()).read_line(&mut first);
                let started = read.is_ok() && first.starts_with("lathe listening on ");
                let _ = server.kill();
                let out = server.wait_with_output().unwrap();
                (
                    started,
                    first,
                    String::from_utf8_lossy(&out.stderr).into_owned(),
                )
            })
            .collect();
        let mut keys = Vec::new();
        for (started, first, stderr) in outcomes {
            assert!(started, "a server did not start: {first:?}\n{stderr}");
            keys.push(std::fs::read_to_string(dir.join("master.key")).unwrap());
        }
        // One key, complete, that every server read.
        assert!(keys.windows(2).all(|pair| pair[0] == pair[1]));
        assert!(keys[0].trim().len() >= 43, "{:?}", keys[0]);
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".new"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}

#[test]
fn json_log_format_writes_one_json_object_per_line() {
    let server = Server::start_with(&["--log-format", "json"]);
    server.client().get("/livez").expect_status(200);
    std::thread::sleep(Duration::from_millis(200));
    let logs = server.logs();
    let lines: Vec<&str> = logs.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for line in lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v.get("level").is_some(), "{line}");
    }
}

/// The `http.response` lines of a JSON log, by status.
fn response_lines(logs: &str) -> Vec<serde_json::Value> {
    logs.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == "http.response")
        .collect()
}

#[test]
fn only_refused_requests_are_logged_unless_the_access_log_is_on() {
    let quiet = Server::start_with(&["--log-format", "json"]);
    let c = quiet.client();
    c.get("/livez").expect_status(200);
    c.raw(
        "GET",
        "/api/v1/nope",
        &[("x-request-id", "refused-1")],
        None,
    )
    .expect_status(404);
    std::thread::sleep(Duration::from_millis(200));
    let lines = response_lines(&quiet.logs());
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["status"], 404);
    assert_eq!(lines[0]["span"]["request_id"], "refused-1");
    assert_eq!(lines[0]["span"]["path"], "/api/v1/nope");
    assert!(lines[0]["latency_ms"].is_u64());

    let every = Server::start_with(&["--log-format", "json", "--access-log"]);
    let c = every.client();
    c.raw("GET", "/livez", &[("x-request-id", "fine-1")], None)
        .expect_status(200);
    c.get("/api/v1/nope").expect_status(404);
    std::thread::sleep(Duration::from_millis(200));
    let lines = response_lines(&every.logs());
    let statuses: Vec<_> = lines.iter().map(|l| l["status"].clone()).collect();
    assert_eq!(statuses, [200, 404], "{lines:?}");
    assert_eq!(lines[0]["span"]["request_id"], "fine-1");
}

#[test]
fn a_non_postgres_database_url_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = lathe()
        .args(["migrate", "--data-dir"])
        .arg(dir.path())
        .args(["--database-url", "mysql://root@127.0.0.1/test"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("postgres://"));
}

/// The server speaks HTTP/1.1 only: hyper's HTTP/2 server would keep the header time limit
/// for a connection's first request only.
#[test]
fn http2_is_not_spoken() {
    use std::io::{Read, Write};
    let server = Server::start();
    let address = server.url.trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let ended = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        ended.is_ok(),
        "the connection was kept: {ended:?}, {answer:?}"
    );
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 "),
        "{answer:?}"
    );
}

/// Time limits out of range are refused at start with the flag named, instead of a server
/// that closes every connection (0) or panics on each one (a limit past the clock's range).
#[test]
fn time_limits_out_of_range_are_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let registry = dir.path().join("registry");
    let registry = registry.to_str().unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &["serve", "--data-dir", data, "--header-timeout-secs", "0"],
            "--header-timeout-secs",
        ),
        (
            &[
                "serve",
                "--data-dir",
                data,
                "--header-timeout-secs",
                "18446744073709551615",
            ],
            "--header-timeout-secs",
        ),
        (
            &["serve", "--data-dir", data, "--request-timeout-secs", "0"],
            "--request-timeout-secs",
        ),
        (
            &[
                "registry",
                "serve",
                "--dir",
                registry,
                "--header-timeout-secs",
                "0",
            ],
            "--header-timeout-secs",
        ),
    ];
    for (args, flag) in cases {
        let out = lathe().args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} started");
        assert!(stderr.contains(flag), "{args:?}: {stderr}");
    }
    assert!(
        !dir.path().join("registry").exists(),
        "a refused start made its directory"
    );
}

#[test]
fn builder_assets_are_served_from_the_configured_directory() {
    let assets = tempfile::tempdir().unwrap();
    std::fs::write(assets.path().join("index.html"), "<html>builder</html>").unwrap();
    std::fs::create_dir(assets.path().join("assets")).unwrap();
    std::fs::write(assets.path().join("assets/app.js"), "console.log(1)").unwrap();
    let server = Server::start_with(&["--builder-dir", assets.path().to_str().unwrap()]);
    let c = server.client();

    let index = c.get("/");
    index.expect_status(200);
    assert_eq!(index.body, "<html>builder</html>");
    assert!(
        index
            .header("content-security-policy")
            .unwrap()
            .contains("script-src 'self'")
    );
    assert_eq!(index.header("cache-control"), Some("no-cache"));
    assert_eq!(index.header("x-frame-options"), Some("DENY"));
    let js = c.get("/assets/app.js");
    js.expect_status(200);
    assert!(js.header("content-type").unwrap().contains("javascript"));
    assert!(js.header("cache-control").unwrap().contains("immutable"));
    c.get("/assets/missing.js").expect_problem(404, "not-found");
    c.get("/../../etc/passwd").expect_problem(404, "not-found");
    // The builder's own pages, routed in the browser, get its index.html.
    for page in ["/apps/ws-1/customers", "/login", "/workspaces/abc/"] {
        let r = c.get(page);
        r.expect_status(200);
        assert_eq!(r.body, "<html>builder</html>", "{page}");
    }
    // The API keeps its own 404s, and paths that only look like it get them too.
    for api in ["/api/v1/nope", "/api", "/API/v1/workspaces"] {
        c.get(api).expect_problem(404, "not-found");
    }
    // A path starting with `//` names nothing: no redirect to `//assets/`, which a browser
    // would read as another host.
    let doubled = c.get("//assets");
    doubled.expect_problem(404, "not-found");
    assert_eq!(doubled.header("location"), None);
    // Nothing under /assets/ stands for a page: no index.html cached for a year there.
    for missing in ["/assets/missing", "/assets/"] {
        let r = c.get(missing);
        r.expect_problem(404, "not-found");
        assert_eq!(r.header("cache-control"), Some("no-cache"), "{missing}");
    }
    // Other methods get problem documents, not empty answers.
    c.raw("POST", "/api/v1/nope", &[], Some(Vec::new()))
        .expect_problem(404, "not-found");
    for (method, path) in [
        ("POST", "/apps/ws-1/customers"),
        ("DELETE", "/assets/app.js"),
    ] {
        let refused = c.raw(method, path, &[], Some(Vec::new()));
        refused.expect_problem(405, "method-not-allowed");
        assert_eq!(refused.header("allow"), Some("GET,HEAD"), "{method} {path}");
    }
    // Revalidating an asset keeps its caching.
    let modified = js.header("last-modified").unwrap().to_string();
    let again = c.raw(
        "GET",
        "/assets/app.js",
        &[("if-modified-since", &modified)],
        None,
    );
    assert_eq!(again.status, 304);
    assert!(again.header("cache-control").unwrap().contains("immutable"));
}

/// A client that stops reading a response is disconnected once no byte has gone out for
/// `--send-timeout-secs`, instead of holding the response and the connection for ever.
#[test]
fn a_client_that_stops_reading_is_disconnected() {
    use std::io::{Read, Write};
    let assets = tempfile::tempdir().unwrap();
    std::fs::write(assets.path().join("index.html"), "<html>builder</html>").unwrap();
    std::fs::create_dir(assets.path().join("assets")).unwrap();
    // Far larger than the socket buffers between server and client.
    let size = 32 << 20;
    std::fs::write(assets.path().join("assets/big.js"), vec![b'x'; size]).unwrap();
    let builder = assets.path().to_str().unwrap();
    let server = Server::start_with(&["--builder-dir", builder, "--send-timeout-secs", "1"]);
    let address = server.url.trim_start_matches("http://").to_string();
    let mut stalled = std::net::TcpStream::connect(&address).unwrap();
    stalled
        .write_all(b"GET /assets/big.js HTTP/1.1\r\nhost: lathe\r\n\r\n")
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(4));
    stalled
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let mut received = Vec::new();
    let ended = stalled.read_to_end(&mut received);
    let cut = ended.is_ok()
        || matches!(&ended, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset);
    assert!(cut, "the connection stayed open: {ended:?}");
    assert!(
        received.len() < size,
        "the whole response arrived after a stall: {} bytes",
        received.len()
    );
}

/// Opens a connection and sends `text` without finishing the request.
fn partial_request(server: &Server, text: &str) -> std::net::TcpStream {
    use std::io::Write;
    let addr = server.url.strip_prefix("http://").unwrap();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(text.as_bytes()).unwrap();
    stream
}

#[test]
fn a_request_whose_body_stalls_gets_a_408_problem() {
    use std::io::Read;
    let server = Server::start_with(&["--request-timeout-secs", "1"]);
    let mut stream = partial_request(
        &server,
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\nConnection: close\r\n\r\n{\"email\":",
    );
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(response.contains("urn:lathe:problem:timeout"), "{response}");
}

#[test]
fn a_client_that_never_finishes_its_headers_is_disconnected() {
    use std::io::Read;
    let server = Server::start_with(&["--header-timeout-secs", "1"]);
    let started = std::time::Instant::now();
    let mut stream = partial_request(&server, "GET /livez HTTP/1.1\r\nHost: x\r\n");
    let mut buf = Vec::new();
    let _ = stream.read_to_end(&mut buf);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "held for {:?}",
        started.elapsed()
    );
    let text = String::from_utf8_lossy(&buf);
    assert!(!text.contains("200 OK"), "{text}");
}

#[test]
fn readyz_is_503_while_a_migration_is_missing() {
    let server = Server::start();
    let c = server.client();
    c.get("/readyz").expect_status(200);
    server.store.execute(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
    );
    let r = c.get("/readyz");
    r.expect_status(503);
    assert_eq!(r.body, "migrations pending\n");
    c.get("/livez").expect_status(200);
}
