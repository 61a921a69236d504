//! Command-line and environment configuration: one clap-derive struct per command group, with a
//! `LATHE_*` environment variable behind every flag and safe defaults (loopback, plain HTTP only
//! when no certificate is given).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use url::Url;

/// A setting that may hold credentials (database and SMTP URLs): its `Debug` hides the value,
/// so printing a configuration can't leak a password.
#[derive(Clone, PartialEq, Eq)]
pub struct Redacted(String);

impl Redacted {
    pub fn new(value: impl Into<String>) -> Redacted {
        Redacted(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::str::FromStr for Redacted {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Redacted(s.to_string()))
    }
}

/// Where the store lives. Shared by `serve`, `migrate` and `admin`.
#[derive(Args, Debug, Clone)]
pub struct StoreArgs {
    /// Directory for the embedded SQLite database and other local state.
    #[arg(long, env = "LATHE_DATA_DIR", default_value = ".lathe")]
    pub data_dir: PathBuf,

    /// A `postgres://` URL to use PostgreSQL instead of SQLite in the data directory.
    #[arg(long, env = "LATHE_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<Redacted>,
}

/// Where the master keys that seal stored secrets come from. Shared by `serve` and `keys`.
#[derive(Args, Debug, Clone)]
pub struct KeyArgs {
    /// Master key(s), base64 of 32 random bytes each (`lathe keys generate`), comma-separated;
    /// the first seals new data, the others only open older data. Without it, the key file is
    /// used (and created on first start).
    #[arg(long, env = "LATHE_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<Redacted>,

    /// The master key file, one key per line. Defaults to `master.key` in the data directory.
    #[arg(long, env = "LATHE_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
}

impl KeyArgs {
    pub fn key_file(&self, data_dir: &std::path::Path) -> PathBuf {
        self.master_key_file
            .clone()
            .unwrap_or_else(|| data_dir.join("master.key"))
    }
}

/// The connectors `serve` runs and the limits of a query run.
#[derive(Args, Debug, Clone)]
pub struct ConnectorArgs {
    /// Directory of bundled connector packages (each a folder with `lathe-plugin.json` and a
    /// `component.wasm`, or a connector crate whose component is built), loaded at start and
    /// trusted as part of the deployment. Connectors installed from registries are kept in
    /// the store instead (`lathe plugin install`, `POST /api/v1/plugins`).
    #[arg(long, env = "LATHE_PLUGINS_DIR")]
    pub plugins_dir: Option<PathBuf>,

    /// Where compiled connectors are cached. Defaults to `components` in the data directory.
    #[arg(long, env = "LATHE_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Private networks (CIDRs or addresses) and host names connectors may reach besides
    /// public addresses, comma-separated. Cloud metadata addresses stay refused.
    #[arg(long, env = "LATHE_EGRESS_ALLOW", value_delimiter = ',')]
    pub egress_allow: Vec<String>,

    /// The longest one connector call of a query run may take, in seconds.
    #[arg(long, env = "LATHE_QUERY_TIMEOUT_SECS", default_value_t = 25,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub query_timeout_secs: u64,

    /// The most bytes of server memory a query result may hold before it is cut: each kept
    /// value counts its in-memory size and its JSON text, so this bounds the server.
    #[arg(long, env = "LATHE_QUERY_MAX_BYTES", default_value_t = 32 * 1024 * 1024)]
    pub query_max_bytes: usize,

    /// Live connections per datasource on this server.
    #[arg(long, env = "LATHE_POOL_SIZE", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub pool_size: u16,
}

/// Output format of the log lines written to standard error.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Everything `lathe serve` takes.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,

    #[command(flatten)]
    pub keys: KeyArgs,

    #[command(flatten)]
    pub connectors: ConnectorArgs,

    /// Address and port to listen on.
    #[arg(long, env = "LATHE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// The public URL users reach Lathe at. Links in emails and the CSRF origin check use it,
    /// never the request's Host or Origin. Defaults to http(s)://<listen address>.
    #[arg(long, env = "LATHE_BASE_URL")]
    pub base_url: Option<Url>,

    /// PEM certificate chain; with --tls-key, Lathe serves HTTPS only.
    #[arg(long, env = "LATHE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key for --tls-cert.
    #[arg(long, env = "LATHE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Load balancers or proxies (CIDRs, comma-separated) whose `X-Forwarded-For` header names
    /// the client address used for rate limits and the audit log. Empty: the header is ignored.
    #[arg(long, env = "LATHE_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// Directory of the built builder frontend, served at `/`.
    #[arg(long, env = "LATHE_BUILDER_DIR")]
    pub builder_dir: Option<PathBuf>,

    /// Log every answered request (`http.response`). Without it, only requests refused or
    /// failed (status 400 and up) or slower than a second are logged.
    #[arg(long, env = "LATHE_ACCESS_LOG")]
    pub access_log: bool,

    /// Log line format.
    #[arg(long, env = "LATHE_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// Lifetime of a login session, in seconds.
    #[arg(long, env = "LATHE_SESSION_TTL_SECS", default_value_t = 7 * 24 * 3600,
          value_parser = clap::value_parser!(u64).range(1..=90 * 24 * 3600))]
    pub session_ttl_secs: u64,

    /// A session unused for this many seconds ends, before its lifetime is up.
    #[arg(long, env = "LATHE_SESSION_IDLE_SECS", default_value_t = 24 * 3600,
          value_parser = clap::value_parser!(u64).range(1..=90 * 24 * 3600))]
    pub session_idle_secs: u64,

    /// Largest accepted request body, in bytes.
    #[arg(long, env = "LATHE_BODY_LIMIT_BYTES", default_value_t = 1024 * 1024)]
    pub body_limit_bytes: usize,

    /// Time allowed for handling one request, in seconds.
    #[arg(long, env = "LATHE_REQUEST_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout_secs: u64,

    /// Time a client has to send a request's headers, in seconds.
    #[arg(long, env = "LATHE_HEADER_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout_secs: u64,

    /// Time a client may take no bytes of a response before it is disconnected, in seconds.
    #[arg(long, env = "LATHE_SEND_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub send_timeout_secs: u64,

    /// Time in-flight requests get to finish after SIGTERM, in seconds.
    #[arg(long, env = "LATHE_SHUTDOWN_GRACE_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub shutdown_grace_secs: u64,

    /// SMTP server for invites and password resets, e.g. `smtp://host:25`,
    /// `smtp://host:587?tls=required` (STARTTLS) or `smtps://user:pass@host:465`.
    /// Without it, invites and resets are refused.
    #[arg(long, env = "LATHE_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<Redacted>,

    /// Sender of Lathe's emails.
    #[arg(
        long,
        env = "LATHE_SMTP_FROM",
        default_value = "Lathe <lathe@localhost>"
    )]
    pub smtp_from: String,

    /// Failed logins allowed per account in 15 minutes before further attempts get 429.
    #[arg(long, env = "LATHE_LOGIN_ACCOUNT_LIMIT", default_value_t = 5)]
    pub login_account_limit: u32,

    /// Login attempts allowed per client address per minute before further attempts get 429.
    #[arg(long, env = "LATHE_LOGIN_ADDRESS_LIMIT", default_value_t = 30)]
    pub login_address_limit: u32,

    /// Anonymous requests to public apps (loads and query runs) allowed per client address
    /// per minute before further ones get 429.
    #[arg(long, env = "LATHE_PUBLIC_RATE_LIMIT", default_value_t = 120)]
    pub public_rate_limit: u32,
}

impl ServeArgs {
    /// The configured base URL, or one derived from the listen address and TLS setting.
    pub fn effective_base_url(&self, bound: SocketAddr) -> Url {
        if let Some(url) = &self.base_url {
            return url.clone();
        }
        let scheme = if self.tls_cert.is_some() {
            "https"
        } else {
            "http"
        };
        Url::parse(&format!("{scheme}://{bound}")).expect("a socket address forms a valid URL")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    #[test]
    fn defaults_are_loopback_plain_http_and_credentials_never_print() {
        let cli = Cli::parse_from([
            "lathe",
            "--database-url",
            "postgres://u:hunter2@db/lathe",
            "--smtp-url",
            "smtps://u:hunter2@mail:465",
        ]);
        assert_eq!(cli.serve.listen.to_string(), "127.0.0.1:8080");
        assert!(cli.serve.tls_cert.is_none());
        assert_eq!(
            cli.serve.effective_base_url(cli.serve.listen).as_str(),
            "http://127.0.0.1:8080/"
        );
        assert_eq!(
            cli.serve.store.database_url.as_ref().unwrap().expose(),
            "postgres://u:hunter2@db/lathe"
        );
        assert!(!format!("{:?}", cli.serve).contains("hunter2"));
    }
}
