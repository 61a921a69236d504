//! Write Lathe datasource connectors in Rust.
//!
//! A connector is a WebAssembly component built with `cargo build --target wasm32-wasip2`.
//! Implement [`Connector`] for a type that holds one open connection and export it with
//! [`export_connector!`]. The host gives the connector a validated configuration, runs
//! requests on it one at a time, and reads results in batches.
//!
//! Modules:
//! - [`template`]: finding `{{ expression }}` templates (shared with the host).
//! - [`exact_json`]: reading JSON text without losing digits (shared with the host).
//! - [`sql_lex`]: where comments and quoted text are in SQL (shared with the host).
//! - [`sql`]: templates to bound placeholders (`$1`, `?`).
//! - [`url`]: templates to percent-encoded path segments and query values.
//! - [`json`]: templates to typed JSON values.
//! - [`net`]: a blocking TCP stream over `wasi:sockets`, limited to granted destinations.
//! - [`http`]: a blocking HTTP client over `wasi:http`, limited to granted origins.
//! - [`log`]: messages to the operator's log.
//! - [`results`]: building columns, rows and batched results.
//!
//! No helper here splices a value into query text: values always travel as parameters of
//! the protocol.

pub mod exact_json;
pub mod sql_lex;
pub mod template;

#[cfg(feature = "guest")]
mod guest;
#[cfg(feature = "guest")]
pub use guest::*;
