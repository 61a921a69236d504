//! The `Actor` extractor: authenticates a request by `Authorization: Bearer` token or by session
//! cookie. Cookie-authenticated unsafe requests must carry an `Origin` equal to the base URL's
//! origin (CSRF); bearer requests can't be forged cross-site, so they skip that check.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use ipnet::IpNet;

use super::hash_secret;
use crate::cache::Epoch;
use crate::error::{Error, Result};
use crate::state::AppState;
use crate::store::{AuditEvent, UserRow, now_ms};

pub const SESSION_COOKIE: &str = "lathe_session";
const TOKEN_PREFIX: &str = "lathe_";

/// How the caller authenticated.
#[derive(Debug, Clone)]
pub enum Via {
    Session {
        id_hash: String,
    },
    Token {
        token_id: String,
        workspace_id: String,
    },
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user: UserRow,
    pub via: Via,
    /// The cache epoch this request synced to: what it reads through the caches is at least
    /// as fresh as the store when the request arrived.
    pub epoch: Epoch,
}

impl Actor {
    /// An audit record of `action` by this caller from `addr`; callers add the target, the
    /// workspace and the detail.
    pub fn audit(&self, addr: IpAddr, action: &'static str) -> AuditEvent {
        let via = match &self.via {
            Via::Session { .. } => "session".to_string(),
            Via::Token { token_id, .. } => format!("token:{token_id}"),
        };
        AuditEvent {
            action,
            actor_id: Some(self.user.id.clone()),
            actor_email: Some(self.user.email.clone()),
            address: Some(addr.to_string()),
            via: Some(via),
            ..Default::default()
        }
    }
}

/// At most this many `lathe_session` cookies of one request are tried. Browsers send every
/// cookie whose path matches, so a stale one set for a parent path can come first; trying a
/// few lets the user in, and the cap keeps one request from testing many guesses (each is a
/// random 256-bit id anyway).
pub const MAX_SESSION_COOKIES: usize = 3;

/// The session ids among the request's cookies, in the order sent: only values shaped like
/// one (64 hex digits, what login issues), without repeats, at most `MAX_SESSION_COOKIES`.
pub fn session_cookies_from(headers: &HeaderMap) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let candidates = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, value)| *name == SESSION_COOKIE && is_session_id(value));
    for (_, value) in candidates {
        if found.len() == MAX_SESSION_COOKIES {
            break;
        }
        if !found.iter().any(|f| f == value) {
            found.push(value.to_string());
        }
    }
    found
}

fn is_session_id(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Refuses a cookie-authenticated unsafe request whose Origin isn't the base URL's.
pub fn check_origin(parts: &Parts, expected: &str) -> Result<()> {
    if is_safe(&parts.method) {
        return Ok(());
    }
    match parts.headers.get(header::ORIGIN).map(|o| o.to_str()) {
        Some(Ok(origin)) if origin == expected => Ok(()),
        _ => Err(Error::CsrfRejected),
    }
}

/// Handlers get the actor the enforcement point (`auth::enforce`) authenticated. A route that
/// is not behind it has no actor, and every handler needing one fails closed.
impl FromRequestParts<Arc<AppState>> for Actor {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &Arc<AppState>) -> Result<Self> {
        // Taken rather than cloned: a handler extracts its actor once.
        parts.extensions.remove::<Actor>().ok_or_else(|| {
            Error::Internal(anyhow::anyhow!(
                "{} {} is not behind the enforcement point",
                parts.method,
                parts.uri.path()
            ))
        })
    }
}

impl Actor {
    /// Authenticates a request by bearer token or session cookie (with the CSRF origin check).
    pub async fn authenticate(parts: &Parts, state: &AppState) -> Result<Actor> {
        let epoch = state.sync().await?;
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .filter(|t| t.starts_with(TOKEN_PREFIX))
                .ok_or(Error::Unauthenticated)?;
            let (token, user) = state
                .caches
                .token(&state.store, epoch, &hash_secret(token))
                .await?
                .ok_or(Error::Unauthenticated)?;
            let via = Via::Token {
                token_id: token.id,
                workspace_id: token.workspace_id,
            };
            return Ok(Actor { user, via, epoch });
        }

        let sessions = session_cookies_from(&parts.headers);
        if sessions.is_empty() {
            return Err(Error::Unauthenticated);
        }
        check_origin(parts, &state.settings.origin)?;
        let idle = state.settings.session_idle;
        let mut live = None;
        for session in &sessions {
            let id_hash = hash_secret(session);
            if let Some(found) = state
                .caches
                .session(&state.store, epoch, &id_hash, idle)
                .await?
            {
                live = Some((id_hash, found));
                break;
            }
        }
        let (id_hash, found) = live.ok_or(Error::Unauthenticated)?;
        // Refresh the idle clock at most every quarter of the idle time (and at least every
        // minute), not on every request: each refresh is a write.
        let refresh_after = (idle / 4).min(Duration::from_secs(60));
        let refresh_after_ms = i64::try_from(refresh_after.as_millis()).unwrap_or(i64::MAX);
        let now = now_ms();
        if now - found.last_seen_at >= refresh_after_ms {
            state.store.session_touch(&id_hash).await?;
            state.caches.session_touched(&id_hash, now);
        }
        Ok(Actor {
            user: found.user,
            via: Via::Session { id_hash },
            epoch,
        })
    }
}

/// The client's address: the TCP peer, or, when the peer is a trusted proxy, the nearest
/// address in `X-Forwarded-For` that isn't one. Without trusted proxies the header is ignored,
/// so a client can't pick its own rate-limit bucket or audit address.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<Arc<AppState>> for ClientAddr {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
        let trusted = &state.settings.trusted_proxies;
        // Only a trusted proxy's `x-forwarded-for` counts: from anyone else it is not read.
        if !trusted.iter().any(|net| net.contains(&peer)) {
            return Ok(ClientAddr(peer));
        }
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        Ok(ClientAddr(client_address(
            peer,
            &forwarded.join(","),
            trusted,
        )))
    }
}

fn client_address(peer: IpAddr, forwarded_for: &str, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let mut client = peer;
    if !is_trusted(&client) || forwarded_for.is_empty() {
        return client;
    }
    // Each proxy appends the address it received from: walk back from the nearest hop.
    for hop in forwarded_for.rsplit(',') {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn session_cookies_are_taken_in_order_deduplicated_and_capped() {
        let id = |c: char| c.to_string().repeat(64);
        let mut headers = HeaderMap::new();
        let first = format!("lathe_session={}; other=1; lathe_session=junk", id('a'));
        let second = format!(
            "lathe_session={}; lathe_session={}; lathe_session={}; lathe_session={}",
            id('a'),
            id('b'),
            id('c'),
            id('d')
        );
        headers.append(header::COOKIE, first.parse().unwrap());
        headers.append(header::COOKIE, second.parse().unwrap());
        assert_eq!(session_cookies_from(&headers), [id('a'), id('b'), id('c')]);
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(
            client_address(ip("203.0.113.9"), "1.2.3.4", &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_address(ip("10.0.0.2"), "1.2.3.4", &trusted),
            ip("1.2.3.4")
        );
        // A client-supplied first entry is skipped: the nearest untrusted hop wins.
        assert_eq!(
            client_address(ip("10.0.0.2"), "6.6.6.6, 1.2.3.4, 10.0.0.7", &trusted),
            ip("1.2.3.4")
        );
        assert_eq!(client_address(ip("10.0.0.2"), "", &trusted), ip("10.0.0.2"));
        assert_eq!(
            client_address(ip("10.0.0.2"), "junk", &trusted),
            ip("10.0.0.2")
        );
        assert_eq!(
            client_address(ip("10.0.0.2"), "1.2.3.4", &[]),
            ip("10.0.0.2")
        );
    }
}
