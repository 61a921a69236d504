//! The datasource configuration, as the manifest's JSON Schema describes it.
//!
//! The host has validated the document against that schema already; this module still
//! checks every field it reads, because a connector must not trust its input, and turns
//! each problem into [`Error::InvalidConfig`] naming the field.

use lathe_plugin_sdk::Error;
use serde_json::Value as Json;
use std::fmt;
use std::time::Duration;

/// How the connection uses TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP.
    Disable,
    /// TLS when the server offers it, plain TCP when it says it has none. The certificate is
    /// not checked. The default, so that a local database works whether or not it has TLS.
    Prefer,
    /// TLS or fail, without checking the certificate: encrypted, not authenticated.
    Require,
    /// TLS or fail; the chain must reach a trusted root and name the configured host.
    VerifyFull,
}

impl SslMode {
    fn parse(text: &str) -> Option<SslMode> {
        match text {
            "disable" => Some(SslMode::Disable),
            "prefer" => Some(SslMode::Prefer),
            "require" => Some(SslMode::Require),
            "verify-full" => Some(SslMode::VerifyFull),
            _ => None,
        }
    }
}

/// A password that never shows in `Debug` output or error messages.
#[derive(Clone, Default)]
pub struct Password(String);

impl Password {
    pub fn new(text: impl Into<String>) -> Self {
        Password(text.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub username: String,
    pub password: Option<Password>,
    pub ssl_mode: SslMode,
    /// PEM certificates trusted for `verify-full` besides the public web roots.
    pub ssl_root_cert: Option<String>,
    pub connect_timeout: Duration,
    /// `None`: the server's own setting applies.
    pub statement_timeout: Option<Duration>,
    /// Whether the password may be sent as it is (the server's `password` method) over a
    /// connection that is not TLS with a verified certificate (`verify-full`). Off by
    /// default: anyone on the path, or a server impersonating the real one, would read it.
    pub allow_cleartext_password: bool,
}

pub const DEFAULT_PORT: u16 = 5432;
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl Config {
    pub fn from_json(doc: &Json) -> Result<Config, Error> {
        let Some(object) = doc.as_object() else {
            return Err(Error::InvalidConfig(
                "the configuration must be a JSON object".into(),
            ));
        };
        let field = |name: &str| object.get(name).filter(|v| !v.is_null());

        let host = required_text(field("host"), "host")?;
        let username = required_text(field("username"), "username")?;
        let database = optional_text(field("database"), "database")?.unwrap_or(username.clone());
        let port = match field("port") {
            None => DEFAULT_PORT,
            Some(v) => v
                .as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| invalid("port", "a number from 1 to 65535"))?,
        };
        let password = optional_text(field("password"), "password")?.map(Password::new);
        let ssl_mode = match optional_text(field("ssl_mode"), "ssl_mode")? {
            None => SslMode::Prefer,
            Some(text) => SslMode::parse(&text).ok_or_else(|| {
                invalid("ssl_mode", "one of disable, prefer, require, verify-full")
            })?,
        };
        let ssl_root_cert = optional_text(field("ssl_root_cert"), "ssl_root_cert")?
            .filter(|pem| !pem.trim().is_empty());
        let connect_timeout = millis(field("connect_timeout_ms"), "connect_timeout_ms")?
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        let statement_timeout = millis(field("statement_timeout_ms"), "statement_timeout_ms")?;
        let allow_cleartext_password = match field("allow_cleartext_password") {
            None => false,
            Some(v) => v
                .as_bool()
                .ok_or_else(|| invalid("allow_cleartext_password", "true or false"))?,
        };

        Ok(Config {
            host,
            port,
            database,
            username,
            password,
            ssl_mode,
            ssl_root_cert,
            connect_timeout,
            statement_timeout,
            allow_cleartext_password,
        })
    }
}

fn invalid(field: &str, expected: &str) -> Error {
    Error::InvalidConfig(format!("`{field}` must be {expected}"))
}

fn required_text(value: Option<&Json>, field: &str) -> Result<String, Error> {
    optional_text(value, field)?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::InvalidConfig(format!("`{field}` is required")))
}

fn optional_text(value: Option<&Json>, field: &str) -> Result<Option<String>, Error> {
    match value {
        None => Ok(None),
        Some(Json::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(field, "a string")),
    }
}

/// A duration in milliseconds; 0 means "not set", as PostgreSQL reads its own timeouts.
fn millis(value: Option<&Json>, field: &str) -> Result<Option<Duration>, Error> {
    match value {
        None => Ok(None),
        Some(v) => {
            let ms = v
                .as_u64()
                .filter(|ms| *ms <= i32::MAX as u64)
                .ok_or_else(|| invalid(field, "a whole number of milliseconds"))?;
            Ok((ms > 0).then(|| Duration::from_millis(ms)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn minimal_config_gets_defaults() {
        let config = Config::from_json(&json!({"host": "127.0.0.1", "username": "app"})).unwrap();
        assert_eq!(config.port, 5432);
        assert_eq!(config.database, "app");
        assert_eq!(config.ssl_mode, SslMode::Prefer);
        assert!(config.password.is_none());
        assert_eq!(config.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
        assert_eq!(config.statement_timeout, None);
        assert!(!config.allow_cleartext_password);
    }

    #[test]
    fn every_field_is_read() {
        let config = Config::from_json(&json!({
            "host": "db", "port": 6543, "database": "d", "username": "u", "password": "p",
            "ssl_mode": "verify-full", "ssl_root_cert": "PEM", "connect_timeout_ms": 250,
            "statement_timeout_ms": 200, "allow_cleartext_password": true
        }))
        .unwrap();
        assert!(config.allow_cleartext_password);
        assert_eq!(config.port, 6543);
        assert_eq!(config.database, "d");
        assert_eq!(config.password.unwrap().expose(), "p");
        assert_eq!(config.ssl_mode, SslMode::VerifyFull);
        assert_eq!(config.ssl_root_cert.as_deref(), Some("PEM"));
        assert_eq!(config.connect_timeout, Duration::from_millis(250));
        assert_eq!(config.statement_timeout, Some(Duration::from_millis(200)));
    }

    #[test]
    fn bad_fields_are_named_in_the_error() {
        let cases = [
            (json!({"username": "u"}), "host"),
            (json!({"host": "h", "username": "u", "port": 70000}), "port"),
            (
                json!({"host": "h", "username": "u", "ssl_mode": "allow"}),
                "ssl_mode",
            ),
            (
                json!({"host": "h", "username": "u", "statement_timeout_ms": -1}),
                "statement",
            ),
            (
                json!({"host": "h", "username": "u", "allow_cleartext_password": "yes"}),
                "allow_cleartext_password",
            ),
        ];
        for (doc, field) in cases {
            let err = Config::from_json(&doc).unwrap_err();
            assert!(
                matches!(&err, Error::InvalidConfig(m) if m.contains(field)),
                "{err:?}"
            );
        }
    }

    #[test]
    fn manifest_schema_matches_what_is_read() {
        let manifest: Json = serde_json::from_str(include_str!("../lathe-plugin.json")).unwrap();
        let properties = manifest["config"]["properties"].as_object().unwrap();

        // Every field of the schema, at its schema default, is accepted as it is.
        let mut doc = json!({"host": "h", "username": "u"});
        for (name, schema) in properties {
            if let Some(default) = schema.get("default") {
                doc[name] = default.clone();
            }
        }
        let config = Config::from_json(&doc).unwrap();
        let defaults = Config::from_json(&json!({"host": "h", "username": "u"})).unwrap();
        assert_eq!(config.port, defaults.port);
        assert_eq!(config.ssl_mode, defaults.ssl_mode);
        assert_eq!(config.connect_timeout, defaults.connect_timeout);

        let fields = [
            "host",
            "port",
            "database",
            "username",
            "password",
            "ssl_mode",
            "ssl_root_cert",
            "connect_timeout_ms",
            "statement_timeout_ms",
            "allow_cleartext_password",
        ];
        let mut listed: Vec<&str> = properties.keys().map(String::as_str).collect();
        listed.sort_unstable();
        let mut expected = fields.to_vec();
        expected.sort_unstable();
        assert_eq!(listed, expected);
        assert_eq!(manifest["secrets"], json!(["password"]));
    }

    #[test]
    fn password_is_hidden_from_debug_output() {
        let config = Config::from_json(&json!({
            "host": "h", "username": "u", "password": "hunter2"
        }))
        .unwrap();
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
