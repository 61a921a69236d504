//! Host bindings of every `lathe:connector` version the host runs: 0.1.0 and 0.2.0, which
//! adds `connection.run-many`. The two share their types (0.2.0's are bound to 0.1.0's Rust
//! types), so everything past the call itself is written once.

use crate::state::HostState;
use wasmtime::component::ResourceAny;

pub mod v1 {
    wasmtime::component::bindgen!({
        path: "../../wit/0.1.0",
        world: "lathe:connector/connector-world",
        imports: { default: trappable },
        exports: { default: async },
        with: {
            "wasi": wasmtime_wasi::p2::bindings,
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        },
    });
}

pub mod v2 {
    wasmtime::component::bindgen!({
        path: "../../wit/0.2.0",
        world: "lathe:connector/connector-world",
        imports: { default: trappable },
        exports: { default: async },
        with: {
            "wasi": wasmtime_wasi::p2::bindings,
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "lathe:connector/types": super::v1::lathe::connector::types,
        },
    });
}

pub use v1::lathe::connector::types;

/// A component checked against the contract version its manifest names, ready to
/// instantiate.
pub enum ConnectorPre {
    V1(v1::ConnectorWorldPre<HostState>),
    V2(v2::ConnectorWorldPre<HostState>),
}

/// An instantiated component's exports.
pub enum Connector {
    V1(v1::ConnectorWorld),
    V2(v2::ConnectorWorld),
}

impl ConnectorPre {
    pub async fn instantiate(
        &self,
        store: &mut wasmtime::Store<HostState>,
    ) -> wasmtime::Result<Connector> {
        Ok(match self {
            ConnectorPre::V1(pre) => Connector::V1(pre.instantiate_async(store).await?),
            ConnectorPre::V2(pre) => Connector::V2(pre.instantiate_async(store).await?),
        })
    }
}

/// Calls `$method` of the `connection` resource on whichever version `$connector` is: the
/// methods 0.1.0 has are the same in both.
macro_rules! on_connection {
    ($connector:expr, $method:ident($($arg:expr),*)) => {
        match $connector {
            $crate::bindings::Connector::V1(world) => {
                world.lathe_connector_connector().connection().$method($($arg),*).await
            }
            $crate::bindings::Connector::V2(world) => {
                world.lathe_connector_connector().connection().$method($($arg),*).await
            }
        }
    };
}
pub(crate) use on_connection;

impl Connector {
    /// `run-many`, where the component has it (0.2.0 and later).
    pub(crate) async fn run_many(
        &self,
        store: &mut wasmtime::Store<HostState>,
        connection: ResourceAny,
        requests: &[types::Request],
    ) -> wasmtime::Result<Vec<Result<types::ResultHead, types::Error>>> {
        match self {
            Connector::V1(_) => Err(wasmtime::Error::msg(
                "the connector's contract (0.1.0) has no run-many",
            )),
            Connector::V2(world) => {
                world
                    .lathe_connector_connector()
                    .connection()
                    .call_run_many(store, connection, requests)
                    .await
            }
        }
    }
}
