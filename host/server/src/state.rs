//! The state every handler shares.

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::auth::{Hasher, LoginLimiter};
use crate::authz::InstancePolicy;
use crate::cache::Caches;
use crate::connectors::Connectors;
use crate::http::metrics::Metrics;
use crate::mail::Mailer;
use crate::store::{AuditQueue, Store};
use crate::vault::Vault;

pub type SharedState = Arc<AppState>;

pub struct AppState {
    pub store: Store,
    pub hasher: Hasher,
    pub limiter: LoginLimiter,
    /// Counts password-reset requests, per account and per address.
    pub reset_limiter: LoginLimiter,
    /// Counts anonymous requests to public apps, per address.
    pub public_limiter: LoginLimiter,
    /// `None` when no SMTP server is configured: invites and resets are then refused.
    pub mailer: Option<Mailer>,
    pub metrics: Metrics,
    pub settings: Settings,
    /// Seals and opens stored secrets.
    pub vault: Vault,
    /// The plugin catalog and the per-datasource connection pools.
    pub connectors: Connectors,
    /// Group-commits the audit records of query runs.
    pub run_audit: AuditQueue,
    /// Tokens, roles, policies, released queries and datasources, for the request path.
    pub caches: Caches,
    /// Who may do instance-wide actions.
    pub instance_policy: InstancePolicy,
}

impl AppState {
    /// Brings the caches and the connector catalog up to the store as of now: the first
    /// step of every request that reads through them.
    pub async fn sync(&self) -> crate::error::Result<crate::cache::Epoch> {
        let epoch = self.caches.sync(&self.store).await?;
        self.connectors.sync(&self.store, epoch.value()).await?;
        Ok(epoch)
    }
}

/// Settings derived once from the configuration.
pub struct Settings {
    /// The public base URL: the only source for links and for the CSRF origin check.
    pub base_url: Url,
    /// `scheme://host[:port]` of the base URL, as browsers send it in `Origin`.
    pub origin: String,
    /// Mark the session cookie `Secure`: set when the base URL is https.
    pub secure_cookies: bool,
    pub session_ttl: Duration,
    /// A session unused for this long ends.
    pub session_idle: Duration,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Settings {
    /// A link into the builder frontend: `<base URL>/<page>?token=<token>`. Built only from
    /// the configured base URL, never from request headers.
    pub fn link(&self, page: &str, token: &str) -> String {
        let mut url = self.base_url.clone();
        let path = format!("{}/{page}", url.path().trim_end_matches('/'));
        url.set_path(&path);
        url.query_pairs_mut().clear().append_pair("token", token);
        url.set_fragment(None);
        url.to_string()
    }

    pub fn new(
        base_url: Url,
        session_ttl: Duration,
        session_idle: Duration,
        trusted_proxies: Vec<ipnet::IpNet>,
    ) -> Settings {
        let origin = base_url.origin().ascii_serialization();
        let secure_cookies = base_url.scheme() == "https";
        Settings {
            base_url,
            origin,
            secure_cookies,
            session_ttl,
            session_idle,
            trusted_proxies,
        }
    }
}
