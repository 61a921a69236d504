//! The PostgreSQL connector: the wire protocol, authentication and TLS run inside the
//! component, over the one TCP destination the datasource was granted.
//!
//! Modules, from the socket up:
//! - [`config`]: the datasource configuration and its defaults.
//! - [`transport`]: the socket trait, TLS negotiation and rustls verification.
//! - [`wire`]: message framing, and server errors as typed errors.
//! - [`startup`]: the startup message, SCRAM-SHA-256 / md5 / trust authentication.
//! - [`binding`]: SCRAM channel binding to the server's TLS certificate.
//! - [`session`]: statements over the extended query protocol, rows streamed.
//! - [`statements`]: the session's prepared statements, a bounded LRU cache.
//! - [`params`]: bound values as text parameters.
//! - [`reset`]: which statements may leave state behind in a pooled session.
//! - [`types`], [`array`], [`datetime`]: PostgreSQL text values to WIT values.
//! - [`catalog`]: the database's own types (enums, domains, extension types).
//! - [`schema`]: tables and columns for the query editor.
//! - [`connection`]: the connector's operations, generic over the socket.
//!
//! Everything below [`Postgres`] is generic over [`transport::Socket`], so native tests run
//! it against a real server over `std::net::TcpStream`; the component uses the SDK's
//! stream over `wasi:sockets`.

pub mod array;
pub mod binding;
pub mod catalog;
pub mod config;
pub mod connection;
pub mod datetime;
pub mod params;
pub mod reset;
pub mod schema;
pub mod session;
pub mod startup;
pub mod statements;
pub mod transport;
pub mod types;
pub mod wire;

use config::Config;
use connection::Connection;
use lathe_plugin_sdk::net::TcpStream;
use lathe_plugin_sdk::{Batch, Connector, Error, Request, ResultHead, Schema};

/// The exported connector: one PostgreSQL session per instance.
///
/// A pooled session can end while it waits: the server restarts, fails over, or an
/// administrator or an idle limit terminates the backend. Before each call the connector
/// looks whether the server has said so (or closed the socket) and, if it has, connects
/// again first, so the call runs instead of failing on a dead connection. Nothing was sent
/// on the old one since its last statement, so nothing is run twice.
pub struct Postgres {
    connection: Connection<TcpStream>,
    config: Config,
}

/// Connects and authenticates, and logs with what.
fn connect(config: &Config) -> Result<Connection<TcpStream>, Error> {
    let socket = TcpStream::connect(&config.host, config.port, config.connect_timeout)?;
    let mut connection = Connection::open(config, socket)?;

    let session = connection.session();
    let transport = if session.is_tls() { "TLS" } else { "plain TCP" };
    let greeting = session.greeting();
    lathe_plugin_sdk::log::info(&format!(
        "connected to PostgreSQL {} over {transport}, authenticated by {}",
        greeting.server_version, greeting.authentication
    ));
    Ok(connection)
}

impl Postgres {
    /// The connection, opened again first if the server ended the session.
    fn live(&mut self) -> Result<&mut Connection<TcpStream>, Error> {
        if self.connection.is_gone() {
            lathe_plugin_sdk::log::info(
                "the server ended the session or the connection broke; connecting again",
            );
            self.connection = connect(&self.config)?;
        }
        Ok(&mut self.connection)
    }
}

impl Connector for Postgres {
    fn open(config: serde_json::Value) -> Result<Self, Error> {
        let config = Config::from_json(&config)?;
        let connection = connect(&config)?;
        Ok(Postgres { connection, config })
    }

    fn test(&mut self) -> Result<(), Error> {
        self.live()?.test()
    }

    fn run(&mut self, request: Request) -> Result<ResultHead, Error> {
        self.live()?.run(&request)
    }

    fn fetch(&mut self, max_rows: u32) -> Result<Batch, Error> {
        self.connection.fetch(max_rows)
    }

    fn run_many(&mut self, requests: Vec<Request>) -> Vec<Result<ResultHead, Error>> {
        match self.live() {
            Ok(connection) => connection.run_many(&requests),
            Err(e) => requests.iter().map(|_| Err(e.clone())).collect(),
        }
    }

    fn schema(&mut self) -> Result<Schema, Error> {
        self.live()?.schema()
    }

    fn close(&mut self) {
        self.connection.close()
    }
}

lathe_plugin_sdk::export_connector!(Postgres);
