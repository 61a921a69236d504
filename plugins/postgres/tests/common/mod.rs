//! Real PostgreSQL servers for the tests, and helpers that drive the connector over
//! `std::net::TcpStream`: the same code the component runs, minus the WASI socket.
//!
//! - [`TestDb`]: a database of its own on the machine's server (127.0.0.1:5432, trust).
//! - [`Cluster`]: a throwaway cluster with password roles and TLS from a test CA, for what
//!   the machine's trust-only server can't show.
//!
//! Both clean up in `Drop`, so a failing test leaves nothing behind.

#![allow(dead_code)] // Each test binary uses its own part of this module.

use lathe_plugin_postgres::config::Config;
use lathe_plugin_postgres::connection::Connection;
use lathe_plugin_sdk::{Column, Error, Param, RemoteError, Request, Value};
use serde_json::json;
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub type Conn = Connection<TcpStream>;

/// Connects as the component would, refusing anything but loopback.
pub fn connect(config: &serde_json::Value) -> Result<Conn, Error> {
    let config = Config::from_json(config)?;
    let addresses = (config.host.as_str(), config.port)
        .to_socket_addrs()
        .map_err(|e| Error::Connection(format!("resolving {}: {e}", config.host)))?;
    let mut last = Error::Connection(format!("{} has no addresses", config.host));
    for address in addresses {
        assert!(address.ip().is_loopback(), "tests stay on loopback");
        match TcpStream::connect_timeout(&address, config.connect_timeout) {
            Ok(socket) => return Connection::open(&config, socket),
            Err(e) => last = Error::Connection(format!("{address}: {e}")),
        }
    }
    Err(last)
}

/// A whole result: its columns, every row of every batch, and the head's metadata.
pub struct Output {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Value>>,
    pub metadata: serde_json::Value,
}

pub fn request(sql: &str, params: &[(&str, Value)], max_rows: u32) -> Request {
    Request {
        operation: "sql".into(),
        query: json!({ "sql": sql }),
        params: params
            .iter()
            .map(|(name, value)| Param {
                name: (*name).into(),
                value: value.clone(),
            })
            .collect(),
        max_rows,
    }
}

/// Runs `sql` and reads the result to its end.
pub fn query(conn: &mut Conn, sql: &str, params: &[(&str, Value)]) -> Result<Output, Error> {
    let head = conn.run(&request(sql, params, 0))?;
    let mut rows = head.first.rows;
    let mut done = head.first.done;
    while !done {
        let batch = conn.fetch(5000)?;
        rows.extend(batch.rows);
        done = batch.done;
    }
    Ok(Output {
        columns: head.columns,
        rows,
        metadata: serde_json::from_str(&head.metadata).unwrap(),
    })
}

/// The server's error from a result that must have failed with one.
pub fn remote_error<T>(result: Result<T, Error>) -> RemoteError {
    match result {
        Err(Error::Remote(e)) => e,
        Err(other) => panic!("expected a remote error, got {other:?}"),
        Ok(_) => panic!("expected a remote error, it succeeded"),
    }
}

/// The single value of a one-row, one-column result.
pub fn scalar(conn: &mut Conn, sql: &str) -> Value {
    let out = query(conn, sql, &[]).unwrap();
    assert_eq!(out.rows.len(), 1, "{sql}");
    out.rows[0][0].clone()
}

/// A unique name for a database or file, safe to use from parallel test processes.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The machine's server as the `postgres` superuser, trust auth.
pub fn machine_config(database: &str) -> serde_json::Value {
    json!({"host": "127.0.0.1", "port": 5432, "username": "postgres", "database": database})
}

/// A database of its own on the machine's server, dropped when the guard goes.
pub struct TestDb {
    pub name: String,
}

impl TestDb {
    pub fn create() -> TestDb {
        let name = unique("lathe_pg_test");
        let mut admin = connect(&machine_config("postgres")).expect("the machine's PostgreSQL");
        query(&mut admin, &format!("create database {name}"), &[]).unwrap();
        TestDb { name }
    }

    pub fn config(&self) -> serde_json::Value {
        machine_config(&self.name)
    }

    pub fn connect(&self) -> Conn {
        connect(&self.config()).unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = connect(&machine_config("postgres")) {
            let _ = query(
                &mut admin,
                &format!("drop database if exists {} with (force)", self.name),
                &[],
            );
        }
    }
}

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

pub const SCRAM_USER: &str = "scram_user";
pub const SCRAM_PASSWORD: &str = "scram-secret";
pub const MD5_USER: &str = "md5_user";
pub const MD5_PASSWORD: &str = "md5-secret";
pub const TRUST_USER: &str = "trust_user";

/// A PostgreSQL cluster of its own in a temporary directory, on a free loopback port:
/// scram_user needs SCRAM-SHA-256, md5_user md5, trust_user nothing; TLS is on with a
/// certificate for `localhost` signed by a test CA.
pub struct Cluster {
    pub port: u16,
    /// The CA that signed the server's certificate, PEM.
    pub ca_pem: String,
    /// A CA that signed nothing the server has, PEM.
    pub other_ca_pem: String,
    data: PathBuf,
    started: bool,
    // Last: removed after the server has stopped.
    dir: tempfile::TempDir,
}

impl Cluster {
    pub fn start() -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("lathe-pg-")
            .tempdir()
            .unwrap();
        let root = dir.path().to_path_buf();
        let mut cluster = Cluster {
            port: 0,
            ca_pem: String::new(),
            other_ca_pem: String::new(),
            data: root.join("data"),
            started: false,
            dir,
        };
        cluster.make_certificates();
        run(Command::new("chown").arg("-R").arg("postgres").arg(&root));
        as_postgres(&format!("{PG_BIN}/initdb"))
            .args(["-D", path(&cluster.data), "-U", "postgres", "-A", "trust"])
            .args(["-E", "UTF8", "--locale=C", "--no-sync"])
            .status_ok();
        cluster.configure();
        // A port that was free a moment ago may be taken by a parallel test; try again.
        for _ in 0..5 {
            cluster.port = free_port();
            cluster.write_port();
            if cluster.try_start() {
                cluster.started = true;
                cluster.create_roles();
                return cluster;
            }
        }
        panic!(
            "the test cluster did not start; see {}",
            cluster.log().display()
        );
    }

    pub fn config(&self, user: &str, password: Option<&str>, ssl_mode: &str) -> serde_json::Value {
        let mut config = json!({
            "host": "localhost", "port": self.port, "username": user, "database": "postgres",
            "ssl_mode": ssl_mode, "connect_timeout_ms": 5000,
        });
        if let Some(password) = password {
            config["password"] = json!(password);
        }
        config
    }

    fn make_certificates(&mut self) {
        let dir = self.dir.path();
        for ca in ["ca", "other-ca"] {
            openssl(dir)
                .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
                .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
                .args([
                    "-keyout",
                    &format!("{ca}.key"),
                    "-out",
                    &format!("{ca}.crt"),
                ])
                .args(["-subj", &format!("/CN=Lathe test {ca}")])
                .args(["-addext", "basicConstraints=critical,CA:TRUE"])
                .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"])
                .status_ok();
        }
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
        )
        .unwrap();
        openssl(dir)
            .args(["req", "-new", "-newkey", "ec", "-pkeyopt"])
            .args([
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                "server.key",
            ])
            .args(["-out", "server.csr", "-subj", "/CN=localhost"])
            .status_ok();
        openssl(dir)
            .args([
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
            ])
            .args([
                "-set_serial",
                "4242",
                "-days",
                "2",
                "-extfile",
                "server.ext",
            ])
            .args(["-out", "server.crt"])
            .status_ok();
        self.ca_pem = std::fs::read_to_string(dir.join("ca.crt")).unwrap();
        self.other_ca_pem = std::fs::read_to_string(dir.join("other-ca.crt")).unwrap();
    }

    fn configure(&self) {
        let dir = self.dir.path();
        let conf = format!(
            "listen_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{socket}'\n\
             ssl = on\n\
             ssl_cert_file = '{socket}/server.crt'\n\
             ssl_key_file = '{socket}/server.key'\n\
             password_encryption = 'scram-sha-256'\n\
             fsync = off\n\
             max_connections = 20\n\
             shared_buffers = 16MB\n",
            socket = dir.display()
        );
        append(&self.data.join("postgresql.conf"), &conf);
        let hba = format!(
            "local all all trust\n\
             host all {SCRAM_USER} 127.0.0.1/32 scram-sha-256\n\
             host all {MD5_USER} 127.0.0.1/32 md5\n\
             host all {TRUST_USER} 127.0.0.1/32 trust\n\
             host all postgres 127.0.0.1/32 trust\n"
        );
        std::fs::write(self.data.join("pg_hba.conf"), hba).unwrap();
        run(Command::new("chmod").args(["600", path(&dir.join("server.key"))]));
        run(Command::new("chown").arg("-R").arg("postgres").arg(dir));
    }

    fn write_port(&self) {
        std::fs::write(
            self.data.join("postgresql.auto.conf"),
            format!("port = {}\n", self.port),
        )
        .unwrap();
    }

    fn try_start(&self) -> bool {
        as_postgres(&format!("{PG_BIN}/pg_ctl"))
            .args(["start", "-w", "-t", "30", "-D", path(&self.data)])
            .args(["-l", path(&self.log())])
            .output()
            .unwrap()
            .status
            .success()
    }

    fn create_roles(&self) {
        let sql = format!(
            "create role {SCRAM_USER} login password '{SCRAM_PASSWORD}';\
             set password_encryption = 'md5';\
             create role {MD5_USER} login password '{MD5_PASSWORD}';\
             create role {TRUST_USER} login;"
        );
        as_postgres("psql")
            .args([
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                path(self.dir.path()),
            ])
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                "postgres",
            ])
            .args(["-c", &sql])
            .status_ok();
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.started {
            let _ = as_postgres(&format!("{PG_BIN}/pg_ctl"))
                .args(["stop", "-w", "-m", "immediate", "-D", path(&self.data)])
                .output();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// PostgreSQL refuses to run as root.
fn as_postgres(program: &str) -> Command {
    let mut command = Command::new("runuser");
    command.args(["-u", "postgres", "--", program]);
    command
}

fn openssl(dir: &Path) -> Command {
    let mut command = Command::new("openssl");
    command.current_dir(dir);
    command
}

fn append(file: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(file).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn run(command: &mut Command) {
    command.status_ok();
}

trait StatusOk {
    fn status_ok(&mut self);
}

impl StatusOk for Command {
    /// Runs the command and panics with its output when it fails.
    fn status_ok(&mut self) {
        let output = self.output().unwrap();
        assert!(
            output.status.success(),
            "{self:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
