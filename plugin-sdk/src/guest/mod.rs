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
        path: "../wit/0.1.0",
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
/// The host calls the methods one at a time. Return [`Error`] for every expected failure;
/// a panic discards the instance and its connection.
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

    /// Lists tables and columns for the query editor.
    fn schema(&mut self) -> Result<Schema, Error> {
        Err(Error::Unsupported(
            "this connector does not list its schema".into(),
        ))
    }

    /// Ends the session politely; called before the instance is dropped.
    fn close(&mut self) {}
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
        let query = serde_json::from_str(&request.query)
            .map_err(|e| Error::InvalidQuery(format!("the query is not JSON: {e}")))?;
        self.0.borrow_mut().run(Request {
            operation: request.operation,
            query,
            params: request.params,
            max_rows: request.max_rows,
        })
    }

    fn fetch(&self, max_rows: u32) -> Result<Batch, Error> {
        self.0.borrow_mut().fetch(max_rows)
    }

    fn schema(&self) -> Result<Schema, Error> {
        self.0.borrow_mut().schema()
    }

    fn close(&self) {
        self.0.borrow_mut().close()
    }
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
