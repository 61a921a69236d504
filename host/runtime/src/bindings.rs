//! Host bindings of `lathe:connector@0.1.0`.

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

pub use exports::lathe::connector::connector::Guest as ConnectorExports;
pub use lathe::connector::types;
