//! Everything that needs the WIT bindings: the trait, the export macro and the I/O helpers.

pub mod http;
pub mod json;
pub mod log;
pub mod net;
pub mod results;
pub mod sql;
pub mod url;

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit/0.2.0",
        world: "lathe:connector/connector-world",
        generate_all,
        pub_export_macro: true,
        export_macro_name: "export_connector_world",
        default_bindings_module: "lathe_plugin_sdk::bindings",
    });
}

use bindings::exports::lathe::connector::connector as exported;
pub use bindings::lathe::connector::types::{
    Batch, Column, ColumnType, Error, Param, RemoteError, ResultHead, Row, Schema, Table,
    TableColumn, Value,
};
use std::cell::RefCell;

/// A request as the connector receives it, its query already parsed.
#[derive(Debug, Clone)]
pub struct Request {
    pub operation: String,
    /// The query object with its `{{ }}` templates still in place.
    pub query: serde_json::Value,
    /// The values for the templates, by expression.
    pub params: Vec<Param>,
    /// The most rows the host will read.
    pub max_rows: u32,
}

/// A datasource connector: one instance holds one open connection.
///
/// The host calls the methods one at a time (contract `lathe:connector@0.2.0`). Return
/// [`Error`] for every expected failure; a panic discards the instance and its connection.
pub trait Connector: Sized + 'static {
    /// Opens a connection. `config` has been validated against the manifest's schema.
    fn open(config: serde_json::Value) -> Result<Self, Error>;

    /// Checks that the connection works. By default, opening was enough.
    fn test(&mut self) -> Result<(), Error> {
        Ok(())
    }

    /// Starts a request and returns its columns and first batch.
    fn run(&mut self, request: Request) -> Result<ResultHead, Error>;

    /// Reads more rows of the current result. By default there are none.
    fn fetch(&mut self, max_rows: u32) -> Result<Batch, Error> {
        let _ = max_rows;
        Ok(Batch {
            rows: Vec::new(),
            done: true,
        })
    }

    /// Runs several requests, one result per request in order, each whole up to its
    /// `max_rows`; one request's error must not stop the others. By default they run one
    /// after another through [`Connector::run`] and [`Connector::fetch`]. A connector that
    /// can carry them together (pipelining on one connection) overrides this, as long as
    /// each request runs as it would alone.
    fn run_many(&mut self, requests: Vec<Request>) -> Vec<Result<ResultHead, Error>> {
        run_each(self, requests)
    }

    /// Lists tables and columns for the query editor.
    fn schema(&mut self) -> Result<Schema, Error> {
        Err(Error::Unsupported(
            "this connector does not list its schema".into(),
        ))
    }

    /// Ends the session politely; called before the instance is dropped.
    fn close(&mut self) {}
}

/// `run_many` as one run after another: each request through [`Connector::run`], then
/// [`Connector::fetch`] until its result ends or reaches its `max_rows`.
pub fn run_each<C: Connector>(
    connector: &mut C,
    requests: Vec<Request>,
) -> Vec<Result<ResultHead, Error>> {
    requests
        .into_iter()
        .map(|request| {
            // 0: no limit, as for `run`.
            let max_rows = match request.max_rows {
                0 => usize::MAX,
                n => n as usize,
            };
            let mut head = connector.run(request)?;
            while !head.first.done && head.first.rows.len() < max_rows {
                let wanted = (max_rows - head.first.rows.len()).min(u32::MAX as usize) as u32;
                let batch = connector.fetch(wanted)?;
                head.first.rows.extend(batch.rows);
                head.first.done = batch.done;
            }
            head.first.rows.truncate(max_rows);
            head.first.done = true;
            Ok(head)
        })
        .collect()
}

/// The exported `connection` resource around a [`Connector`]. Used by [`export_connector!`].
#[doc(hidden)]
pub struct Adapter<C: Connector>(RefCell<C>);

impl<C: Connector> exported::GuestConnection for Adapter<C> {
    fn open(config: String) -> Result<exported::Connection, Error> {
        let config = serde_json::from_str(&config)
            .map_err(|e| Error::InvalidConfig(format!("the configuration is not JSON: {e}")))?;
        let connector = C::open(config)?;
        Ok(exported::Connection::new(Adapter(RefCell::new(connector))))
    }

    fn test(&self) -> Result<(), Error> {
        self.0.borrow_mut().test()
    }

    fn run(
        &self,
        request: bindings::lathe::connector::types::Request,
    ) -> Result<ResultHead, Error> {
        self.0.borrow_mut().run(parse_request(request)?)
    }

    fn fetch(&self, max_rows: u32) -> Result<Batch, Error> {
        self.0.borrow_mut().fetch(max_rows)
    }

    fn run_many(
        &self,
        requests: Vec<bindings::lathe::connector::types::Request>,
    ) -> Vec<Result<ResultHead, Error>> {
        let mut connector = self.0.borrow_mut();
        let mut answers: Vec<Option<Result<ResultHead, Error>>> = Vec::new();
        let mut parsed = Vec::new();
        for request in requests {
            match parse_request(request) {
                Ok(request) => {
                    answers.push(None);
                    parsed.push(request);
                }
                Err(e) => answers.push(Some(Err(e))),
            }
        }
        // A connector that answers the wrong number of results is passed through as it is:
        // the host refuses the whole call.
        let mut results = connector.run_many(parsed).into_iter();
        let mut merged: Vec<Result<ResultHead, Error>> = answers
            .into_iter()
            .filter_map(|answer| answer.or_else(|| results.next()))
            .collect();
        merged.extend(results);
        merged
    }

    fn schema(&self) -> Result<Schema, Error> {
        self.0.borrow_mut().schema()
    }

    fn close(&self) {
        self.0.borrow_mut().close()
    }
}

fn parse_request(request: bindings::lathe::connector::types::Request) -> Result<Request, Error> {
    let query = serde_json::from_str(&request.query)
        .map_err(|e| Error::InvalidQuery(format!("the query is not JSON: {e}")))?;
    Ok(Request {
        operation: request.operation,
        query,
        params: request.params,
        max_rows: request.max_rows,
    })
}

/// Exports a [`Connector`] as the component's `connection` resource.
///
/// ```ignore
/// struct Echo;
/// impl lathe_plugin_sdk::Connector for Echo { /* … */ }
/// lathe_plugin_sdk::export_connector!(Echo);
/// ```
#[macro_export]
macro_rules! export_connector {
    ($connector:ty) => {
        // Exported only in the component: natively (for `cargo test`) the crate is a plain
        // library, and the component-model symbol names would not link.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct __LatheConnectorExport;

            impl $crate::bindings::exports::lathe::connector::connector::Guest
                for __LatheConnectorExport
            {
                type Connection = $crate::Adapter<$connector>;
            }

            $crate::bindings::export_connector_world!(
                __LatheConnectorExport with_types_in $crate::bindings
            );
        };

        // Natively, keep the connector "used" so that it builds without dead-code noise.
        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            let _ = <$crate::Adapter<$connector> as $crate::bindings::exports::lathe::connector::connector::GuestConnection>::open;
        };
    };
}

impl Error {
    /// An error reported by the remote system, with its code and message.
    pub fn remote(code: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Remote(RemoteError {
            code: code.into(),
            message: message.into(),
            detail: None,
            hint: None,
        })
    }
}
