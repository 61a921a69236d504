//! What the tests of datasources and query runs share: a server with the first-party
//! connectors loaded, and a PostgreSQL login role with a password and a table of its own on
//! the local server, dropped again at the end.

use super::Server;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Server arguments that load the first-party connectors, share one compile cache between
/// tests, and allow loopback (where the test PostgreSQL is).
pub fn plugin_args(allow_loopback: bool) -> Vec<String> {
    let mut args = vec![
        "--plugins-dir".to_string(),
        root().join("plugins").display().to_string(),
        "--cache-dir".to_string(),
        root().join("target/test-components").display().to_string(),
    ];
    if allow_loopback {
        args.extend(["--egress-allow".to_string(), "127.0.0.1,::1".to_string()]);
    }
    args
}

pub fn start(allow_loopback: bool) -> Server {
    let args = plugin_args(allow_loopback);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start_with(&args);
    let out = server
        .store
        .admin_create(super::ADMIN_EMAIL, super::ADMIN_PASSWORD);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    server
}

/// A PostgreSQL login role with a password and a table it owns, dropped on drop.
pub struct PgFixture {
    pub role: String,
    pub password: String,
    pub table: String,
}

pub fn pg(sql: &str) {
    let sql = sql.to_string();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let (client, conn) = tokio_postgres::connect(
                "host=127.0.0.1 port=5432 user=postgres dbname=postgres",
                tokio_postgres::NoTls,
            )
            .await
            .expect("PostgreSQL on 127.0.0.1:5432");
            tokio::spawn(conn);
            client.batch_execute(&sql).await.expect("fixture SQL");
        });
    })
    .join()
    .unwrap();
}

impl PgFixture {
    pub fn new() -> PgFixture {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let suffix = format!("{}_{n}", std::process::id());
        let fixture = PgFixture {
            role: format!("lathe_ds_{suffix}"),
            password: format!("Marker-Secret-{suffix}-x9"),
            table: format!("lathe_ds_t_{suffix}"),
        };
        // Names and password are built from numbers and fixed text only.
        pg(&format!(
            "DROP TABLE IF EXISTS {t}; DROP ROLE IF EXISTS {r};
             CREATE ROLE {r} LOGIN PASSWORD '{p}';
             CREATE TABLE {t} (id int primary key, name text);
             INSERT INTO {t} VALUES (1, 'Ada'), (2, 'Grace');
             GRANT ALL ON {t} TO {r};",
            t = fixture.table,
            r = fixture.role,
            p = fixture.password
        ));
        fixture
    }

    pub fn config(&self) -> Value {
        json!({
            "host": "127.0.0.1", "port": 5432, "database": "postgres",
            "username": self.role, "password": self.password, "ssl_mode": "disable"
        })
    }
}

impl Drop for PgFixture {
    fn drop(&mut self) {
        pg(&format!(
            "DROP TABLE IF EXISTS {t}; DROP ROLE IF EXISTS {r};",
            t = self.table,
            r = self.role
        ));
    }
}
