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
    /// The same failure, for another run that shared the call it happened in.
    pub(crate) fn for_another_run(&self) -> RuntimeError {
        use RuntimeError::*;
        match self {
            InvalidPlugin(m) => InvalidPlugin(m.clone()),
            InvalidConfig { plugin, message } => InvalidConfig {
                plugin: plugin.clone(),
                message: message.clone(),
            },
            InvalidQuery(m) => InvalidQuery(m.clone()),
            EgressDenied {
                plugin,
                grant,
                destination,
                reason,
            } => EgressDenied {
                plugin: plugin.clone(),
                grant: grant.clone(),
                destination: destination.clone(),
                reason: reason.clone(),
            },
            Connector { plugin, error } => Connector {
                plugin: plugin.clone(),
                error: error.clone(),
            },
            Deadline {
                plugin,
                operation,
                limit_ms,
            } => Deadline {
                plugin: plugin.clone(),
                operation,
                limit_ms: *limit_ms,
            },
            MemoryLimit { plugin, limit_mib } => MemoryLimit {
                plugin: plugin.clone(),
                limit_mib: *limit_mib,
            },
            ResourceLimit { plugin, detail } => ResourceLimit {
                plugin: plugin.clone(),
                detail: detail.clone(),
            },
            Crashed {
                plugin,
                operation,
                detail,
            } => Crashed {
                plugin: plugin.clone(),
                operation,
                detail: detail.clone(),
            },
            BadResult { plugin, detail } => BadResult {
                plugin: plugin.clone(),
                detail: detail.clone(),
            },
            PoolExhausted { plugin, size } => PoolExhausted {
                plugin: plugin.clone(),
                size: *size,
            },
            Host { context, source } => Host {
                context: context.clone(),
                source: anyhow::anyhow!("{source:#}"),
            },
        }
    }

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

impl ConnectorError {
    /// Whether a remote error says the datasource is unavailable, rather than that the query
    /// failed: an SQLSTATE of a connection exception (class 08), insufficient resources
    /// (53, e.g. too many connections), a refused login (28), or an operator intervention
    /// that ends sessions (57P01-57P05: shutdown, termination, a dropped database, an idle
    /// limit). Trying again later can succeed, where a query error would fail the same way.
    pub fn datasource_unavailable(&self) -> bool {
        let ConnectorError::Remote { code, .. } = self else {
            return false;
        };
        code.len() == 5
            && (["08", "53", "28"]
                .iter()
                .any(|class| code.starts_with(class))
                || matches!(
                    code.as_str(),
                    "57P01" | "57P02" | "57P03" | "57P04" | "57P05"
                ))
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

/// What a secret is replaced with in error and log text.
pub const REDACTED: &str = "[redacted]";

/// The shortest secret masked wherever it appears. A shorter one (`pw`, a PIN) is masked
/// only where it stands as a whole word, between characters that are not letters or
/// digits, and only as it is: searching a two-letter value inside words and inside base64
/// would blank out ordinary text and still leak it by elimination. Such secrets are weak
/// anyway; the datasource form should ask for longer ones.
pub const MIN_SECRET_LEN: usize = 4;

/// Replaces every occurrence of a secret value in `text` with [`REDACTED`]. Connectors echo
/// what they are given (an API that reflects a token into an error body, a panic message),
/// and no secret may reach a response, a log line or an error.
///
/// Each secret is searched for in the forms it takes on its way out ([`encoded_forms`]):
/// as it is, JSON-escaped, percent-encoded, in lower or upper case, in hex, and in base64,
/// whole and at each of the three alignments it can have inside a longer encoded text
/// (`Authorization: Basic base64(user:secret)`).
pub fn redact(text: String, secrets: &[String]) -> String {
    redact_with(text, secrets, REDACTED)
}

/// [`redact`] with another mask.
pub fn redact_with(text: String, secrets: &[String], mask: &str) -> String {
    secrets.iter().fold(text, |text, secret| {
        if secret.chars().count() < MIN_SECRET_LEN {
            return mask_words(text, secret, mask);
        }
        encoded_forms(secret).iter().fold(text, |text, form| {
            if text.contains(form.as_str()) {
                text.replace(form.as_str(), mask)
            } else {
                text
            }
        })
    })
}

/// The spellings of `secret` worth searching for, longest first so that a longer form is
/// masked whole before a shorter one inside it.
pub fn encoded_forms(secret: &str) -> Vec<String> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

    let mut forms = vec![
        secret.to_string(),
        secret.to_ascii_lowercase(),
        secret.to_ascii_uppercase(),
        hex::encode(secret),
        hex::encode_upper(secret),
    ];
    let json = serde_json::to_string(secret).unwrap_or_default();
    forms.push(json[1..json.len() - 1].to_string());
    forms.push(json_ascii(secret));
    for plus in [false, true] {
        for upper in [false, true] {
            forms.push(percent(secret, plus, upper));
        }
    }
    let bytes = secret.as_bytes();
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        forms.push(engine.encode(bytes));
    }
    // Inside a longer text the secret starts at some offset; the bytes from the next
    // multiple of three on encode to the same characters whatever came before.
    for skip in 0..3 {
        let Some(rest) = bytes.get(skip..) else {
            continue;
        };
        let whole = &rest[..rest.len() / 3 * 3];
        if whole.len() >= 3 {
            forms.push(STANDARD_NO_PAD.encode(whole));
            forms.push(URL_SAFE_NO_PAD.encode(whole));
        }
    }
    forms.retain(|form| form.len() >= MIN_SECRET_LEN);
    forms.sort_by_key(|form| std::cmp::Reverse(form.len()));
    forms.dedup();
    forms
}

/// JSON escaping that also writes every non-ASCII character as `\uXXXX`.
fn json_ascii(secret: &str) -> String {
    let json = serde_json::to_string(secret).unwrap_or_default();
    let mut out = String::new();
    for c in json[1..json.len() - 1].chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// Percent-encoding of every byte outside the unreserved set; `plus` writes a space as `+`
/// (forms), `upper` chooses the hex digits' case.
fn percent(secret: &str, plus: bool, upper: bool) -> String {
    let mut out = String::new();
    for byte in secret.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char)
            }
            b' ' if plus => out.push('+'),
            _ if upper => out.push_str(&format!("%{byte:02X}")),
            _ => out.push_str(&format!("%{byte:02x}")),
        }
    }
    out
}

/// Masks `secret` where it stands as a whole word in `text`.
fn mask_words(text: String, secret: &str, mask: &str) -> String {
    if secret.is_empty() || !text.contains(secret) {
        return text;
    }
    let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    let mut before: Option<char> = None;
    while let Some(at) = rest.find(secret) {
        let after = rest[at + secret.len()..].chars().next();
        let prev = rest[..at].chars().next_back().or(before);
        out.push_str(&rest[..at]);
        if word(prev) || word(after) {
            out.push_str(secret);
        } else {
            out.push_str(mask);
        }
        before = secret.chars().next_back();
        rest = &rest[at + secret.len()..];
    }
    out.push_str(rest);
    out
}

impl RuntimeError {
    /// The same error with secret values removed from every text it carries, the
    /// destination of an egress refusal included (a secret can be part of a granted host).
    pub fn redacted(self, secrets: &[String]) -> Self {
        self.redacted_with(secrets, REDACTED)
    }

    /// [`RuntimeError::redacted`] with another mask.
    pub fn redacted_with(self, secrets: &[String], mask: &str) -> Self {
        if secrets.is_empty() {
            return self;
        }
        let r = |text: String| redact_with(text, secrets, mask);
        match self {
            RuntimeError::InvalidConfig { plugin, message } => RuntimeError::InvalidConfig {
                plugin,
                message: r(message),
            },
            RuntimeError::InvalidQuery(message) => RuntimeError::InvalidQuery(r(message)),
            RuntimeError::EgressDenied {
                plugin,
                grant,
                destination,
                reason,
            } => RuntimeError::EgressDenied {
                plugin,
                grant,
                destination: r(destination),
                reason: r(reason),
            },
            RuntimeError::Connector { plugin, error } => RuntimeError::Connector {
                plugin,
                error: error.redacted_with(secrets, mask),
            },
            RuntimeError::Crashed {
                plugin,
                operation,
                detail,
            } => RuntimeError::Crashed {
                plugin,
                operation,
                detail: r(detail),
            },
            RuntimeError::BadResult { plugin, detail } => RuntimeError::BadResult {
                plugin,
                detail: r(detail),
            },
            other => other,
        }
    }
}

impl ConnectorError {
    /// The same error with secret values removed from its text.
    pub fn redacted(self, secrets: &[String]) -> Self {
        self.redacted_with(secrets, REDACTED)
    }

    /// [`ConnectorError::redacted`] with another mask.
    pub fn redacted_with(self, secrets: &[String], mask: &str) -> Self {
        let r = |text: String| redact_with(text, secrets, mask);
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

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    fn remote(code: &str) -> ConnectorError {
        ConnectorError::Remote {
            code: code.into(),
            message: "m".into(),
            detail: None,
            hint: None,
        }
    }

    #[test]
    fn ended_or_refused_sessions_mean_an_unavailable_datasource_and_query_errors_do_not() {
        for code in [
            "08006", "57P01", "57P04", "57P05", "53300", "28000", "28P01",
        ] {
            assert!(remote(code).datasource_unavailable(), "{code}");
        }
        for code in ["42601", "23505", "57014", "22P02", "404", "503"] {
            assert!(!remote(code).datasource_unavailable(), "{code}");
        }
        let connection = ConnectorError::Connection {
            message: "m".into(),
        };
        assert!(!connection.datasource_unavailable());
    }

    fn clean(text: &str, secret: &str) -> String {
        redact(text.to_string(), &[secret.to_string()])
    }

    #[test]
    fn raw_json_and_percent_encoded_secrets_are_masked() {
        let secret = "p@ss \"wörd\"/1";
        let json = serde_json::to_string(secret).unwrap();
        for form in [
            secret.to_string(),
            json[1..json.len() - 1].to_string(),
            percent(secret, false, true),
            percent(secret, true, false),
            json_ascii(secret),
        ] {
            assert_ne!(form, "");
            let out = clean(&format!("leaked: {form}!"), secret);
            assert_eq!(out, format!("leaked: {REDACTED}!"), "{form}");
        }
    }

    #[test]
    fn base64_of_the_secret_and_of_user_colon_secret_is_masked() {
        let secret = "hunter2-correct-horse";
        for prefix in ["", "u:", "ab:", "user:", "admin:"] {
            let encoded = STANDARD.encode(format!("{prefix}{secret}"));
            let text = format!("Authorization: Basic {encoded}");
            let out = clean(&text, secret);
            assert!(!out.contains(&encoded), "{prefix}: {out}");
            // What is left of the encoding can't carry more than two bytes of the secret.
            let left = out.trim_start_matches("Authorization: Basic ");
            assert!(
                left.replace(REDACTED, "").len() <= 8 + prefix.len() * 2,
                "{out}"
            );
        }
    }

    #[test]
    fn short_secrets_are_masked_only_as_whole_words() {
        assert_eq!(clean("password: ab.", "ab"), "password: [redacted].");
        assert_eq!(clean("ab", "ab"), "[redacted]");
        assert_eq!(clean("a table about abc", "ab"), "a table about abc");
        assert_eq!(clean("pin=123;", "123"), "pin=[redacted];");
        assert_eq!(clean("x", ""), "x");
    }

    #[test]
    fn a_secret_in_a_refused_destination_is_masked() {
        let error = RuntimeError::EgressDenied {
            plugin: "p@1".into(),
            grant: "tcp://{host}:{port}".into(),
            destination: "tcp://S3cretHost.example.com:5432".into(),
            reason: "s3crethost.example.com does not resolve".into(),
        }
        .redacted(&["S3cretHost".into()]);
        let text = error.to_string();
        assert!(!text.to_lowercase().contains("s3crethost"), "{text}");
    }
}
