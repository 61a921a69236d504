//! Test harness for black-box tests: starts the real `lathe` binary on a free loopback port
//! with a fresh data directory, or, when `LATHE_TEST_BACKEND=postgres`, a freshly created
//! PostgreSQL database (dropped again when the test ends), and talks HTTP to it.

#![allow(dead_code)] // Each test binary uses a different part of the harness.

pub mod client;
pub mod connectors;
pub mod plugin_cli;
pub mod smtp;
pub mod test_api;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use client::Client;

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "correct horse battery";

const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

pub fn lathe() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lathe"))
}

/// Creates a workspace as `admin` and returns its id.
pub fn create_workspace(admin: &Client, name: &str) -> String {
    let r = admin.post("/api/v1/workspaces", &serde_json::json!({ "name": name }));
    r.expect_status(201);
    r.json()["id"].as_str().unwrap().to_string()
}

/// A PostgreSQL database that exists for one test.
pub struct PgDatabase {
    name: String,
}

fn pg_admin(sql: String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(PG_ADMIN_URL)
            .await
            .expect("PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth)");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .expect("admin SQL");
    });
}

impl PgDatabase {
    pub fn create() -> PgDatabase {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!(
            "lathe_test_{}_{}_{nanos}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        // The name is built from numbers only, so splicing it into DDL is safe.
        pg_admin(format!("CREATE DATABASE {name}"));
        PgDatabase { name }
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.name)
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside test code that may itself be in a runtime: use a fresh thread.
        let _ = std::thread::spawn(move || {
            pg_admin(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        })
        .join();
    }
}

pub fn use_postgres() -> bool {
    std::env::var("LATHE_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// The store a test's server (and its `lathe admin` / `lathe migrate` runs) share.
pub struct TestStore {
    pub data_dir: tempfile::TempDir,
    pg: Option<PgDatabase>,
    /// The database URL the server is given, when it isn't the database's own (a proxy's).
    served_url: Option<String>,
    /// The store arguments of another test's store, whose database this one shares.
    shared: Option<Vec<String>>,
}

impl TestStore {
    pub fn new() -> TestStore {
        let data_dir = tempfile::tempdir().expect("temp data dir");
        let pg = use_postgres().then(PgDatabase::create);
        TestStore {
            data_dir,
            pg,
            served_url: None,
            shared: None,
        }
    }

    /// A store on a fresh PostgreSQL database whatever the backend setting, which the server
    /// reaches through the URL `url` makes of the database's name.
    pub fn postgres_via(url: impl Fn(&str) -> String) -> TestStore {
        let pg = PgDatabase::create();
        TestStore {
            data_dir: tempfile::tempdir().expect("temp data dir"),
            served_url: Some(url(pg.name())),
            pg: Some(pg),
            shared: None,
        }
    }

    pub fn args(&self) -> Vec<String> {
        if let Some(shared) = &self.shared {
            return shared.clone();
        }
        let mut args = vec![
            "--data-dir".to_string(),
            self.data_dir.path().display().to_string(),
        ];
        if let Some(url) = &self.served_url {
            args.extend(["--database-url".to_string(), url.clone()]);
        } else if let Some(pg) = &self.pg {
            args.extend(["--database-url".to_string(), pg.url()]);
        }
        args
    }

    pub fn sqlite_file(&self) -> PathBuf {
        self.data_dir.path().join("lathe.db")
    }

    /// The URL of this test's database, for SQL behind the server's back.
    fn direct_url(&self) -> String {
        match &self.pg {
            Some(pg) => pg.url(),
            None => format!("sqlite://{}", self.sqlite_file().display()),
        }
    }

    /// Runs one SQL statement straight against this test's database, behind the server's back
    /// (to age a token past its expiry, say). `sql` is test-authored text.
    pub fn execute(&self, sql: &str) {
        let (url, sql, rt) = (self.direct_url(), sql.to_string(), current_thread());
        rt.block_on(async move {
            use sqlx::Connection;
            sqlx::any::install_default_drivers();
            let mut conn = sqlx::AnyConnection::connect(&url)
                .await
                .expect("connect to the test store");
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await
                .expect("test SQL");
        });
    }

    /// The first column of the first row `sql` returns, an integer (a `COUNT(*)`), read
    /// straight from this test's database. `sql` is test-authored text.
    pub fn count(&self, sql: &str) -> i64 {
        let (url, sql, rt) = (self.direct_url(), sql.to_string(), current_thread());
        rt.block_on(async move {
            use sqlx::Connection;
            sqlx::any::install_default_drivers();
            let mut conn = sqlx::AnyConnection::connect(&url)
                .await
                .expect("connect to the test store");
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
                .fetch_one(&mut conn)
                .await
                .expect("test SQL")
        })
    }

    /// Runs `lathe admin create --email EMAIL` with `password` on stdin.
    pub fn admin_create(&self, email: &str, password: &str) -> Output {
        let mut child = lathe()
            .args(["admin", "create", "--email", email])
            .args(self.args())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn lathe admin create");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{password}\n").as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }
}

/// A running `lathe serve`.
pub struct Server {
    child: Child,
    pub url: String,
    pub store: TestStore,
    log_path: PathBuf,
    extra: Vec<String>,
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    pub fn start_with(extra: &[&str]) -> Server {
        Server::start_on(TestStore::new(), extra)
    }

    /// Starts a server on an existing store (e.g. to restart after a crash).
    pub fn start_on(store: TestStore, extra: &[&str]) -> Server {
        let log_path = store.data_dir.path().join(format!(
            "server-{}.log",
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let log = std::fs::File::create(&log_path).unwrap();
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let mut child = lathe()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(store.args())
            .args(&extra)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn lathe serve");

        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            for _ in lines {}
        });
        let line = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "server did not start; log:\n{}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
        };
        let url = line
            .strip_prefix("lathe listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Server {
            child,
            url,
            store,
            log_path,
            extra,
        }
    }

    /// A second replica on this server's store (same data dir or PostgreSQL database); its
    /// own directory holds only its log.
    pub fn start_beside(&self, extra: &[&str]) -> Server {
        let store = TestStore {
            data_dir: tempfile::tempdir().expect("temp dir"),
            pg: None,
            served_url: None,
            shared: Some(self.store.args()),
        };
        Server::start_on(store, extra)
    }

    /// A server on a fresh store with an instance admin created.
    pub fn with_admin() -> Server {
        let server = Server::start();
        let out = server.store.admin_create(ADMIN_EMAIL, ADMIN_PASSWORD);
        assert!(
            out.status.success(),
            "admin create failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        server
    }

    pub fn client(&self) -> Client {
        Client::new(&self.url)
    }

    /// A client logged in as the instance admin.
    pub fn admin(&self) -> Client {
        let mut c = self.client();
        c.login(ADMIN_EMAIL, ADMIN_PASSWORD).expect_status(200);
        c
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args(["-s", signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit and returns whether it exited successfully.
    pub fn wait(&mut self, timeout: Duration) -> Option<bool> {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status.success());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Kills the process with SIGKILL and hands back its store for a restart.
    pub fn crash(mut self) -> TestStore {
        self.signal("KILL");
        self.wait(Duration::from_secs(10));
        self.take_store()
    }

    fn take_store(mut self) -> TestStore {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::replace(
            &mut self.store,
            TestStore {
                data_dir: tempfile::tempdir().unwrap(),
                pg: None,
                served_url: None,
                shared: None,
            },
        )
    }

    pub fn data_dir(&self) -> &Path {
        self.store.data_dir.path()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- server log ({}) ---\n{}", self.url, self.logs());
        }
    }
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}
