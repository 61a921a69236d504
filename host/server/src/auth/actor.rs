//! The `Actor` extractor: authenticates a request by `Authorization: Bearer` token or by session
//! cookie. Cookie-authenticated unsafe requests must carry an `Origin` equal to the base URL's
//! origin (CSRF); bearer requests can't be forged cross-site, so they skip that check.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};

use super::hash_secret;
use crate::error::{Error, Result};
use crate::state::AppState;
use crate::store::UserRow;

pub const SESSION_COOKIE: &str = "lathe_session";
const TOKEN_PREFIX: &str = "lathe_";

/// How the caller authenticated.
#[derive(Debug, Clone)]
pub enum Via {
    Session { id_hash: String },
    Token { workspace_id: String },
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user: UserRow,
    pub via: Via,
}

/// The session id in the request's cookies, if any.
pub fn session_cookie_from(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_string())
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

impl FromRequestParts<Arc<AppState>> for Actor {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self> {
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .filter(|t| t.starts_with(TOKEN_PREFIX))
                .ok_or(Error::Unauthenticated)?;
            let (token, user) = state
                .store
                .token_lookup(&hash_secret(token))
                .await?
                .ok_or(Error::Unauthenticated)?;
            let via = Via::Token {
                workspace_id: token.workspace_id,
            };
            return Ok(Actor { user, via });
        }

        let session = session_cookie_from(&parts.headers).ok_or(Error::Unauthenticated)?;
        check_origin(parts, &state.settings.origin)?;
        let id_hash = hash_secret(&session);
        let user = state
            .store
            .session_user(&id_hash)
            .await?
            .ok_or(Error::Unauthenticated)?;
        Ok(Actor {
            user,
            via: Via::Session { id_hash },
        })
    }
}

/// The client's address as seen on the TCP connection.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self> {
        // TODO: behind a load balancer every request comes from its address; honouring
        // X-Forwarded-For needs a trusted-proxy setting first, or clients could pick their own
        // rate-limit bucket.
        let addr = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
        Ok(ClientAddr(addr))
    }
}
