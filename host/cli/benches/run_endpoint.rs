//! Load benchmark of the query run endpoint: `POST …/apps/{app}/queries/{name}/run` for a
//! one-row PostgreSQL query, through the real `lathe serve` (SQLite store, API token, the
//! postgres connector in its sandbox, an audit record per run), beside a minimal axum +
//! tokio-postgres endpoint doing the same query (in a process of its own, as Lathe is),
//! measured in the same run by the same load client. Prints requests/s, p50 and p99 latency
//! for both and the throughput ratio. `LATHE_BENCH_NATIVE_IN_PROCESS=1` also loads the native
//! endpoint served from the load client's own runtime, as this benchmark did before session
//! 13, to show what that placement was worth.
//!
//! `cargo bench -p lathe --bench run_endpoint` (needs the PostgreSQL at 127.0.0.1:5432, user
//! postgres, trust auth, and the connectors built by `scripts/build-wasm.sh`).
//! `LATHE_BENCH_SECS` (default 10, per side and round), `LATHE_BENCH_ROUNDS` (default 3) and
//! `LATHE_BENCH_CONCURRENCY` (default 32) tune the load; `LATHE_BENCH_POOL` (default 4, as `lathe serve`) is
//! the connector pool size Lathe runs with. `LATHE_BENCH_COMPARE=<path to another lathe binary>`
//! adds a third side to every round, that build on its own data dir, and prints its throughput
//! and server CPU against this build's: two builds compared in the same phases of the machine.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpStream;

const PG: &str = "host=127.0.0.1 port=5432 user=postgres dbname=postgres";
const SQL: &str = "select {{ inputs.n }}::int as n";
const NATIVE_SQL: &str = "select $1::int as n";
const PASSWORD: &str = "benchmark password";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One request to `url` (`http://host:port/path`) on a fresh connection, for setup.
async fn call(method: &str, url: &str, headers: &[(&str, &str)], body: Value) -> (u16, Value) {
    let target: hyper::Uri = url.parse().unwrap();
    let authority = target.authority().unwrap().to_string();
    let stream = TcpStream::connect(&authority).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut request = Request::builder()
        .method(method)
        .uri(target.path_and_query().unwrap().as_str())
        .header("host", &authority)
        .header("content-type", "application/json");
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let request = request
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The measurements of one endpoint.
struct Figures {
    requests: usize,
    errors: usize,
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

/// `concurrency` clients, each on its own keep-alive connection, send `body` to `url` as fast
/// as answers come, for `duration`.
async fn load(
    url: &str,
    token: Option<&str>,
    body: &str,
    concurrency: usize,
    duration: Duration,
) -> Figures {
    let target: hyper::Uri = url.parse().unwrap();
    let authority = target.authority().unwrap().to_string();
    let path = target.path_and_query().unwrap().to_string();
    let errors = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (authority, path, errors) = (authority.clone(), path.clone(), errors.clone());
        let token = token.map(|t| format!("Bearer {t}"));
        let body = Bytes::from(body.to_string());
        tasks.push(tokio::spawn(async move {
            let stream = TcpStream::connect(&authority).await.unwrap();
            stream.set_nodelay(true).unwrap();
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .unwrap();
            tokio::spawn(conn);
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let mut request = Request::post(path.as_str())
                    .header("host", &authority)
                    .header("content-type", "application/json");
                if let Some(token) = &token {
                    request = request.header("authorization", token);
                }
                let request = request.body(Full::new(body.clone())).unwrap();
                let sent = Instant::now();
                let response = sender.send_request(request).await.unwrap();
                let ok = response.status().as_u16() == 200;
                let _ = response.into_body().collect().await.unwrap();
                latencies.push(sent.elapsed());
                if !ok {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Figures {
        requests: latencies.len(),
        errors: errors.load(Ordering::Relaxed),
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
    }
}

/// Set in the environment of the process that serves the native endpoint.
const NATIVE_SERVER: &str = "LATHE_BENCH_NATIVE_SERVER";

/// The native endpoint in a process of its own (this benchmark's binary again, with
/// [`NATIVE_SERVER`] set), as Lathe is: a server in the load client's own runtime would
/// answer from the same threads that send, without the cross-process wake-ups a real
/// server pays for every request (docs/benchmarks.md, session 13). Stopped when dropped.
fn native_process() -> (Server, String) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(NATIVE_SERVER, "1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut url = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    assert!(url.starts_with("http://"), "native endpoint: {url:?}");
    (Server(child), url.trim().to_string())
}

/// The native server process: serves until killed.
fn serve_native() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        println!("{}", native_endpoint().await);
        std::future::pending::<()>().await
    });
}

/// The baseline: axum with four tokio-postgres connections (Lathe's default pool size),
/// a prepared statement, the same JSON in and out.
async fn native_endpoint() -> String {
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (client, conn) = tokio_postgres::connect(PG, tokio_postgres::NoTls)
            .await
            .expect("PostgreSQL on 127.0.0.1:5432");
        tokio::spawn(conn);
        let statement = client.prepare(NATIVE_SQL).await.unwrap();
        clients.push((client, statement));
    }
    let clients = Arc::new(clients);
    let next = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().route(
        "/run",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let (clients, next) = (clients.clone(), next.clone());
            async move {
                let n = body["inputs"]["n"].as_i64().unwrap_or(0) as i32;
                let (client, statement) = &clients[next.fetch_add(1, Ordering::Relaxed) % clients.len()];
                let row = client.query_one(statement, &[&n]).await.unwrap();
                let n: i32 = row.get(0);
                axum::Json(json!({"columns": [{"name": "n", "type": "int"}], "rows": [[n]], "rowCount": 1}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/run")
}

/// The Lathe server under test, stopped when dropped: a failed assertion must not leave it
/// running behind the benchmark.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `lathe serve` on a fresh data dir, with an admin, a workspace, an API token, a datasource
/// on the local PostgreSQL and a released app whose query is the one-row select.
async fn lathe_endpoint(bin: &str, data_dir: &std::path::Path) -> (Server, String, String) {
    let dir = data_dir.display().to_string();
    let mut admin = Command::new(bin)
        .args([
            "admin",
            "create",
            "--email",
            "bench@example.com",
            "--data-dir",
            &dir,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    admin
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .unwrap();
    assert!(admin.wait().unwrap().success());

    let log = std::fs::File::create(data_dir.join("server.log")).unwrap();
    let server = Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir", &dir])
        .args([
            "--plugins-dir",
            &root().join("plugins").display().to_string(),
        ])
        .args([
            "--cache-dir",
            &root().join("target/bench-components").display().to_string(),
        ])
        .args(["--egress-allow", "127.0.0.1"])
        // Lathe's default pool size: runs that find its four instances busy share calls
        // (run-many), as tokio-postgres shares its connections.
        .args(["--pool-size", &setting("LATHE_BENCH_POOL", 4).to_string()])
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut server = Server(server);
    let mut first = String::new();
    BufReader::new(server.0.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let base = first
        .trim()
        .strip_prefix("lathe listening on ")
        .expect("the server's first line")
        .to_string();

    let api = |p: &str| format!("{base}/api/v1{p}");
    let (ws, token) = workspace_and_token(&api, &base).await;
    let bearer = format!("Bearer {token}");
    let auth = [("authorization", bearer.as_str())];

    let (status, ds) = call("POST", &api(&format!("/workspaces/{ws}/datasources")), &auth,
        json!({"name": "bench-db", "plugin": "postgres",
               "config": {"host": "127.0.0.1", "port": 5432, "username": "postgres", "database": "postgres", "ssl_mode": "disable"}})).await;
    assert_eq!(status, 201, "{ds}");
    let query = json!({"name": "one", "datasource": "bench-db", "operation": "sql", "query": {"sql": SQL},
        "inputs": {"type": "object", "properties": {"n": {"type": "integer"}}}});
    let definition =
        json!({"pages": [{"id": "home", "name": "Home", "components": []}], "queries": [query]});
    let (status, app) = call(
        "POST",
        &api(&format!("/workspaces/{ws}/apps")),
        &auth,
        json!({"name": "Bench", "slug": "bench", "definition": definition}),
    )
    .await;
    assert_eq!(status, 201, "{app}");
    let (status, _) = call(
        "POST",
        &api(&format!("/workspaces/{ws}/apps/bench/release")),
        &auth,
        json!({}),
    )
    .await;
    assert_eq!(status, 201);
    (
        server,
        api(&format!("/workspaces/{ws}/apps/bench/queries/one/run")),
        token,
    )
}

/// Logs in (a session cookie, needed once) and makes a workspace and an API token for it;
/// the load itself authenticates with the token, as a script or an integration would.
async fn workspace_and_token(api: &impl Fn(&str) -> String, base: &str) -> (String, String) {
    let url: hyper::Uri = api("/auth/login").parse().unwrap();
    let authority = url.authority().unwrap().to_string();
    let stream = TcpStream::connect(&authority).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let credentials = json!({"email": "bench@example.com", "password": PASSWORD});
    let login = Request::post(url.path())
        .header("host", &authority)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(credentials.to_string())))
        .unwrap();
    let response = sender.send_request(login).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let headers = [("origin", base), ("cookie", cookie.as_str())];
    let (status, ws) = call(
        "POST",
        &api("/workspaces"),
        &headers,
        json!({"name": "Bench"}),
    )
    .await;
    assert_eq!(status, 201, "{ws}");
    let ws = ws["id"].as_str().unwrap().to_string();
    let body = json!({"name": "bench", "workspace_id": ws, "expires_in_days": 1});
    let (status, token) = call("POST", &api("/tokens"), &headers, body).await;
    assert_eq!(status, 201, "{token}");
    (ws, token["token"].as_str().unwrap().to_string())
}

/// User and system CPU time of process `pid` so far, from `/proc/<pid>/stat`.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces): utime and
    // stime are the 12th and 13th of them, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Busy and total CPU time of the whole machine so far, in clock ticks, from `/proc/stat`.
fn machine_ticks() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let total: f64 = fields.iter().sum();
    let idle = fields.get(3).copied().unwrap_or(0.0) + fields.get(4).copied().unwrap_or(0.0);
    (total - idle, total)
}

/// What `load` cost: its figures, the CPU per request of everything but this process and
/// the server under load (PostgreSQL, mostly), and the share of the machine that was busy.
async fn measured(
    load: impl std::future::Future<Output = Figures>,
    server: u32,
) -> (Figures, f64, f64) {
    let own = || cpu_seconds(std::process::id()) + cpu_seconds(server);
    let (own_before, (busy_before, total_before)) = (own(), machine_ticks());
    let figures = load.await;
    let (own_after, (busy, total)) = (own(), machine_ticks());
    // Clock ticks of /proc/stat are per CPU, at 100 per second.
    let others = (busy - busy_before) / 100.0 - (own_after - own_before);
    let per_request = others.max(0.0) * 1e6 / figures.requests.max(1) as f64;
    let busy = (busy - busy_before) / (total - total_before).max(1.0);
    (figures, per_request, busy)
}

fn print(name: &str, f: &Figures) {
    println!(
        "{name:<28} {:>9.0} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms   ({} requests, {} errors)",
        f.per_second,
        f.p50.as_secs_f64() * 1e3,
        f.p99.as_secs_f64() * 1e3,
        f.requests,
        f.errors
    );
}

fn main() {
    if std::env::var_os(NATIVE_SERVER).is_some() {
        return serve_native();
    }
    let secs = setting("LATHE_BENCH_SECS", 10);
    let concurrency = setting("LATHE_BENCH_CONCURRENCY", 32) as usize;
    let rounds = setting("LATHE_BENCH_ROUNDS", 3).max(1);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let data_dir = tempfile::tempdir().unwrap();
        let (server, lathe_url, token) =
            lathe_endpoint(env!("CARGO_BIN_EXE_lathe"), data_dir.path()).await;
        let other_dir = tempfile::tempdir().unwrap();
        let other = match std::env::var("LATHE_BENCH_COMPARE") {
            Ok(bin) => Some(lathe_endpoint(&bin, other_dir.path()).await),
            Err(_) => None,
        };
        let (native_server, native_url) = native_process();
        let in_process = match std::env::var_os("LATHE_BENCH_NATIVE_IN_PROCESS") {
            Some(_) => Some(native_endpoint().await),
            None => None,
        };
        let body = json!({"inputs": {"n": 1}}).to_string();
        let (status, answer) = call(
            "POST",
            &lathe_url,
            &[("authorization", &format!("Bearer {token}"))],
            json!({"inputs": {"n": 1}}),
        )
        .await;
        assert_eq!((status, &answer["rows"]), (200, &json!([[1]])), "{answer}");

        let warm = Duration::from_secs(2);
        load(&native_url, None, &body, concurrency, warm).await;
        load(&lathe_url, Some(&token), &body, concurrency, warm).await;
        if let Some((_, url, token)) = &other {
            load(url, Some(token), &body, concurrency, warm).await;
        }

        // Native and Lathe take turns, round after round: this machine's speed drifts by
        // tens of percent from minute to minute, and a ratio taken from two phases minutes
        // apart would measure that drift. The median round is the figure to quote.
        let duration = Duration::from_secs(secs);
        println!(
            "one-row PostgreSQL query, {concurrency} keep-alive clients, {rounds} rounds of {secs} s per side"
        );
        let pid = server.0.id();
        let mut ratios = Vec::new();
        let mut versus_this = Vec::new();
        // Requests over all rounds, per side: their ratio weighs every second alike, and on
        // a machine whose speed moves from second to second it is steadier than the median
        // round (run many short rounds, `LATHE_BENCH_SECS=1`, for the steadiest figure).
        let (mut native_total, mut lathe_total, mut other_total) = (0, 0, 0);
        for round in 1..=rounds {
            let native_cpu_before = cpu_seconds(native_server.0.id());
            let (native, native_db, native_busy) = measured(
                load(&native_url, None, &body, concurrency, duration),
                native_server.0.id(),
            )
            .await;
            let native_cpu = cpu_seconds(native_server.0.id()) - native_cpu_before;
            if let Some(url) = &in_process {
                let figures = load(url, None, &body, concurrency, duration).await;
                print(&format!("{round}: native, in the client"), &figures);
                println!(
                    "{round}: native in the client's process against its own: {:.2}x",
                    figures.per_second / native.per_second
                );
            }
            print(&format!("{round}: native axum + tokio-postgres"), &native);
            println!(
                "{round}: native server CPU {:.0} µs per request ({:.2} cores)",
                native_cpu * 1e6 / native.requests as f64,
                native_cpu / duration.as_secs_f64()
            );
            let cpu_before = cpu_seconds(server.0.id());
            let (lathe, lathe_db, lathe_busy) =
                measured(load(&lathe_url, Some(&token), &body, concurrency, duration), pid).await;
            let cpu = cpu_seconds(server.0.id()) - cpu_before;
            print(&format!("{round}: lathe run endpoint"), &lathe);
            println!(
                "{round}: CPU per request outside the bench and server processes (PostgreSQL): \
                 native {native_db:.0} µs, lathe {lathe_db:.0} µs; \
                 machine busy: native {:.0}%, lathe {:.0}%",
                native_busy * 100.0,
                lathe_busy * 100.0
            );
            let ratio = lathe.per_second / native.per_second;
            println!(
                "{round}: lathe server CPU {:.0} µs per request ({:.2} cores; pool size {}); \
                 ratio: throughput {ratio:.2}x, p50 {:.2}x, p99 {:.2}x",
                cpu * 1e6 / lathe.requests as f64,
                cpu / duration.as_secs_f64(),
                setting("LATHE_BENCH_POOL", 4),
                lathe.p50.as_secs_f64() / native.p50.as_secs_f64(),
                lathe.p99.as_secs_f64() / native.p99.as_secs_f64()
            );
            ratios.push(ratio);
            native_total += native.requests;
            lathe_total += lathe.requests;

            if let Some((server, url, token)) = &other {
                let cpu_before = cpu_seconds(server.0.id());
                let (figures, _, _) =
                    measured(load(url, Some(token), &body, concurrency, duration), server.0.id())
                        .await;
                let cpu = cpu_seconds(server.0.id()) - cpu_before;
                print(&format!("{round}: compared build"), &figures);
                let versus = figures.per_second / lathe.per_second;
                println!(
                    "{round}: compared build's server CPU {:.0} µs per request; \
                     against this build: throughput {versus:.2}x, against native {:.2}x",
                    cpu * 1e6 / figures.requests as f64,
                    figures.per_second / native.per_second
                );
                versus_this.push(versus);
                other_total += figures.requests;
            }
        }
        ratios.sort_by(f64::total_cmp);
        println!(
            "throughput ratio (lathe / native), median of {rounds} rounds: {:.2}x (lowest {:.2}x, highest {:.2}x)",
            ratios[ratios.len() / 2],
            ratios[0],
            ratios[ratios.len() - 1]
        );
        println!(
            "throughput ratio (lathe / native), all rounds' requests together: {:.3}x",
            lathe_total as f64 / native_total as f64
        );
        if !versus_this.is_empty() {
            println!(
                "throughput ratio (compared build / this build), all rounds' requests together: {:.3}x",
                other_total as f64 / lathe_total as f64
            );
            versus_this.sort_by(f64::total_cmp);
            println!(
                "throughput ratio (compared build / this build), median of {rounds} rounds: {:.2}x (lowest {:.2}x, highest {:.2}x)",
                versus_this[versus_this.len() / 2],
                versus_this[0],
                versus_this[versus_this.len() - 1]
            );
        }
        drop(other);
        drop(server);
        drop(native_server);
    });
}
