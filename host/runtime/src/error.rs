//! The runtime's errors. Every expected failure of a connector is one of these, named after
//! the plugin (and, for refusals, the grant and destination); none is a panic.

use crate::bindings::types as wit;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The package is unusable: a bad manifest, a component that is not valid or does not
    /// match the contract.
    #[error("invalid plugin: {0}")]
    InvalidPlugin(String),

    /// The datasource configuration does not fit the plugin.
    #[error("invalid configuration for {plugin}: {message}")]
    InvalidConfig { plugin: String, message: String },

    /// The query or its inputs are wrong before reaching the connector.
    #[error("invalid query: {0}")]
    InvalidQuery(String),

    /// The host refused a destination before the connector could reach it.
    #[error("{plugin}: egress to {destination} denied: {reason}")]
    EgressDenied {
        plugin: String,
        /// The grant the destination was checked against, e.g. `tcp://{host}:{port}`.
        grant: String,
        destination: String,
        reason: String,
    },

    /// The connector reported an expected failure.
    #[error("{plugin}: {error}")]
    Connector {
        plugin: String,
        error: ConnectorError,
    },

    /// The call ran past its deadline; the instance was discarded.
    #[error("{plugin}: {operation} did not finish within {limit_ms} ms; the connector was stopped")]
    Deadline {
        plugin: String,
        operation: &'static str,
        limit_ms: u64,
    },

    /// The connector tried to use more memory than its cap; the instance was discarded.
    #[error("{plugin}: the connector exceeded its memory limit of {limit_mib} MiB and was stopped")]
    MemoryLimit { plugin: String, limit_mib: u64 },

    /// The connector held more host-side resources (sockets, streams, HTTP header maps, …)
    /// than an instance may, or built a header map past its size limit; the instance was
    /// discarded and what it held freed.
    #[error("{plugin}: the connector {detail} and was stopped")]
    ResourceLimit { plugin: String, detail: String },

    /// The connector crashed (a panic, a trap); the instance was discarded.
    #[error("{plugin}: the connector crashed during {operation}: {detail}")]
    Crashed {
        plugin: String,
        operation: &'static str,
        detail: String,
    },

    /// The connector answered with a result that breaks the contract; the instance was
    /// discarded.
    #[error("{plugin}: the connector returned a malformed result: {detail}")]
    BadResult { plugin: String, detail: String },

    /// Every instance of the pool is busy and none freed up in time.
    #[error("{plugin}: all {size} connections of the pool are busy")]
    PoolExhausted { plugin: String, size: usize },

    /// A host-side fault (compiling, caching, I/O) unrelated to what the connector did.
    #[error("{context}: {source}")]
    Host {
        context: String,
        #[source]
        source: anyhow::Error,
    },
}

impl RuntimeError {
    pub(crate) fn host(context: impl Into<String>, source: impl Into<anyhow::Error>) -> Self {
        RuntimeError::Host {
            context: context.into(),
            source: source.into(),
        }
    }

    /// A short stable name for the kind of failure, for logs, metrics and API problem types.
    pub fn kind(&self) -> &'static str {
        match self {
            RuntimeError::InvalidPlugin(_) => "invalid-plugin",
            RuntimeError::InvalidConfig { .. } => "invalid-config",
            RuntimeError::InvalidQuery(_) => "invalid-query",
            RuntimeError::EgressDenied { .. } => "egress-denied",
            RuntimeError::Connector { error, .. } => error.kind(),
            RuntimeError::Deadline { .. } => "timeout",
            RuntimeError::MemoryLimit { .. } => "memory-limit",
            RuntimeError::ResourceLimit { .. } => "resource-limit",
            RuntimeError::Crashed { .. } => "connector-crashed",
            RuntimeError::BadResult { .. } => "connector-bad-result",
            RuntimeError::PoolExhausted { .. } => "pool-exhausted",
            RuntimeError::Host { .. } => "host-error",
        }
    }
}

/// The connector's own typed error, as the WIT contract defines it.
#[derive(Debug, Clone, PartialEq, thiserror::Error, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ConnectorError {
    #[error("invalid configuration: {message}")]
    InvalidConfig { message: String },
    #[error("invalid query: {message}")]
    InvalidQuery { message: String },
    #[error("connection failed: {message}")]
    Connection { message: String },
    #[error("denied: {message}")]
    Denied { message: String },
    #[error("timed out: {message}")]
    Timeout { message: String },
    #[error("{message} ({code}){}", detail.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    Remote {
        code: String,
        message: String,
        detail: Option<String>,
        hint: Option<String>,
    },
    #[error("unsupported: {message}")]
    Unsupported { message: String },
}

impl ConnectorError {
    pub fn kind(&self) -> &'static str {
        match self {
            ConnectorError::InvalidConfig { .. } => "invalid-config",
            ConnectorError::InvalidQuery { .. } => "invalid-query",
            ConnectorError::Connection { .. } => "connection",
            ConnectorError::Denied { .. } => "egress-denied",
            ConnectorError::Timeout { .. } => "timeout",
            ConnectorError::Remote { .. } => "remote",
            ConnectorError::Unsupported { .. } => "unsupported",
        }
    }
}

/// Replaces every occurrence of a secret value in `text`. Connectors echo what they are
/// given (an API that reflects a token into an error body, a panic message), and no secret may
/// reach a response, a log line or an error.
pub fn redact(text: String, secrets: &[String]) -> String {
    secrets.iter().fold(text, |text, secret| {
        text.replace(secret.as_str(), "[redacted]")
    })
}

impl ConnectorError {
    /// The same error with secret values removed from its text.
    pub fn redacted(self, secrets: &[String]) -> Self {
        let r = |text: String| redact(text, secrets);
        match self {
            ConnectorError::InvalidConfig { message } => ConnectorError::InvalidConfig {
                message: r(message),
            },
            ConnectorError::InvalidQuery { message } => ConnectorError::InvalidQuery {
                message: r(message),
            },
            ConnectorError::Connection { message } => ConnectorError::Connection {
                message: r(message),
            },
            ConnectorError::Denied { message } => ConnectorError::Denied {
                message: r(message),
            },
            ConnectorError::Timeout { message } => ConnectorError::Timeout {
                message: r(message),
            },
            ConnectorError::Remote {
                code,
                message,
                detail,
                hint,
            } => ConnectorError::Remote {
                code: r(code),
                message: r(message),
                detail: detail.map(r),
                hint: hint.map(r),
            },
            ConnectorError::Unsupported { message } => ConnectorError::Unsupported {
                message: r(message),
            },
        }
    }
}

impl From<wit::Error> for ConnectorError {
    fn from(e: wit::Error) -> Self {
        match e {
            wit::Error::InvalidConfig(message) => ConnectorError::InvalidConfig { message },
            wit::Error::InvalidQuery(message) => ConnectorError::InvalidQuery { message },
            wit::Error::Connection(message) => ConnectorError::Connection { message },
            wit::Error::Denied(message) => ConnectorError::Denied { message },
            wit::Error::Timeout(message) => ConnectorError::Timeout { message },
            wit::Error::Remote(r) => ConnectorError::Remote {
                code: r.code,
                message: r.message,
                detail: r.detail,
                hint: r.hint,
            },
            wit::Error::Unsupported(message) => ConnectorError::Unsupported { message },
        }
    }
}
