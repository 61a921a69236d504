//! The state every handler shares.

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::auth::{Hasher, LoginLimiter};
use crate::http::metrics::Metrics;
use crate::store::Store;

pub type SharedState = Arc<AppState>;

pub struct AppState {
    pub store: Store,
    pub hasher: Hasher,
    pub limiter: LoginLimiter,
    pub metrics: Metrics,
    pub settings: Settings,
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
}

impl Settings {
    pub fn new(base_url: Url, session_ttl: Duration) -> Settings {
        let origin = base_url.origin().ascii_serialization();
        let secure_cookies = base_url.scheme() == "https";
        Settings {
            base_url,
            origin,
            secure_cookies,
            session_ttl,
        }
    }
}
