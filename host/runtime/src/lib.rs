//! Lathe's connector runtime: runs datasource connectors as sandboxed WebAssembly
//! components.
//!
//! - [`manifest`]: the package manifest, `lathe-plugin.json`.
//! - [`package`]: finding a package's manifest and component on disk.
//! - [`egress`]: capabilities, the egress policy, and pinned grants.
//! - [`engine`]: the one wasmtime engine, its epoch ticker, the linker and the on-disk cache
//!   of compiled components.
//! - [`plugin`]: a loaded, compiled connector, ready to instantiate.
//! - [`state`]: what each instance's store holds: WASI contexts, limits, the log sink.
//! - [`sandbox`]: the host side of the guest's sockets, name lookup and HTTP.
//! - [`instance`]: one live instance holding one open connection; calls with deadlines.
//! - [`pool`]: instances per datasource: the connection pool.
//! - [`params`]: resolving `{{ }}` expressions to bound parameters.
//! - [`output`]: results as JSON for the API and the CLI.
//! - [`held`]: what a kept result costs the host, the measure of the byte limit.
//! - [`error`]: the runtime's typed errors.

pub mod bindings;
pub mod egress;
pub mod engine;
pub mod error;
pub mod held;
pub mod instance;
pub mod manifest;
pub mod output;
pub mod package;
pub mod params;
pub mod plugin;
pub mod pool;
pub mod sandbox;
pub mod state;

pub use egress::EgressPolicy;
pub use engine::{Engine, EngineConfig};
pub use error::{ConnectorError, RuntimeError};
pub use instance::{Instance, Limits};
pub use manifest::Manifest;
pub use output::QueryOutput;
pub use plugin::Plugin;
pub use pool::{Pool, PoolConfig};
