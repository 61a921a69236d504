//! Login and reset rate limits: failed attempts per account and all attempts per client
//! address, each counted in a fixed window. The counters live in the store (`rate_limits`),
//! so every replica behind a balancer spends from the same budget.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::store::{Store, now_ms};

const ACCOUNT_WINDOW: Duration = Duration::from_secs(15 * 60);
const ADDRESS_WINDOW: Duration = Duration::from_secs(60);
/// Every this many attempts, counters whose window has ended are deleted.
const SWEEP_EVERY: u32 = 64;

pub struct LoginLimiter {
    store: Store,
    /// Keeps the login and the reset counters apart: `login` or `reset`.
    scope: &'static str,
    account_limit: i64,
    address_limit: i64,
    attempts: AtomicU32,
}

impl LoginLimiter {
    pub fn new(store: Store, scope: &'static str, account_limit: u32, address_limit: u32) -> Self {
        LoginLimiter {
            store,
            scope,
            account_limit: i64::from(account_limit),
            address_limit: i64::from(address_limit),
            attempts: AtomicU32::new(0),
        }
    }

    /// Counts an attempt from `address` and refuses it when either budget is spent.
    pub async fn attempt(&self, account: &str, address: IpAddr) -> Result<()> {
        self.attempt_from(address).await?;
        let key = self.account_key(account);
        match self.store.rate_count(&key).await? {
            Some((count, ends)) if count >= self.account_limit => Err(limited(ends)),
            _ => Ok(()),
        }
    }

    /// Counts an attempt that names no account.
    pub async fn attempt_from(&self, address: IpAddr) -> Result<()> {
        if self
            .attempts
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(SWEEP_EVERY)
        {
            self.store.rate_delete_expired().await?;
        }
        let key = format!("{}:address:{address}", self.scope);
        let (count, ends) = self.store.rate_add(&key, millis(ADDRESS_WINDOW)).await?;
        if count > self.address_limit {
            return Err(limited(ends));
        }
        Ok(())
    }

    pub async fn failed(&self, account: &str) -> Result<()> {
        let key = self.account_key(account);
        self.store.rate_add(&key, millis(ACCOUNT_WINDOW)).await?;
        Ok(())
    }

    pub async fn succeeded(&self, account: &str) -> Result<()> {
        self.store.rate_clear(&self.account_key(account)).await
    }

    /// The counter of an account: a 24-bit prefix of the SHA-256 of the normalised email,
    /// never the text itself. Someone who typed their password into the email field leaves no
    /// trace of it in the store that could confirm a guess (16 million buckets share each
    /// prefix). Two addresses sharing a prefix share a budget, which gives an attacker nothing
    /// new: locking an account out by naming it directly is just as easy.
    fn account_key(&self, account: &str) -> String {
        let digest = Sha256::digest(account.as_bytes());
        format!("{}:account:{}", self.scope, hex::encode(&digest[..3]))
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn limited(window_ends_ms: i64) -> Error {
    let left = u64::try_from(window_ends_ms - now_ms()).unwrap_or(0);
    Error::RateLimited {
        retry_after: Duration::from_millis(left),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite_store as store;

    #[tokio::test]
    async fn account_is_refused_after_its_failures_and_freed_by_success() {
        let dir = tempfile::tempdir().unwrap();
        let limiter = LoginLimiter::new(store(&dir).await, "login", 2, 100);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..2 {
            limiter.attempt("a@x", ip).await.unwrap();
            limiter.failed("a@x").await.unwrap();
        }
        assert!(matches!(
            limiter.attempt("a@x", ip).await,
            Err(Error::RateLimited { .. })
        ));
        assert!(limiter.attempt("b@x", ip).await.is_ok());
        limiter.succeeded("a@x").await.unwrap();
        assert!(limiter.attempt("a@x", ip).await.is_ok());
    }

    #[tokio::test]
    async fn address_is_refused_after_its_attempts_and_scopes_are_apart() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let limiter = LoginLimiter::new(store.clone(), "login", 100, 3);
        let ip: IpAddr = "127.0.0.2".parse().unwrap();
        for i in 0..3 {
            limiter.attempt(&format!("u{i}@x"), ip).await.unwrap();
        }
        let Err(Error::RateLimited { retry_after }) = limiter.attempt("u9@x", ip).await else {
            panic!("fourth attempt from one address must be refused");
        };
        assert!(retry_after <= ADDRESS_WINDOW);
        let other: IpAddr = "127.0.0.3".parse().unwrap();
        assert!(limiter.attempt("u9@x", other).await.is_ok());
        let resets = LoginLimiter::new(store, "reset", 100, 3);
        assert!(resets.attempt("u9@x", ip).await.is_ok());
    }

    #[tokio::test]
    async fn an_ended_window_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        assert_eq!(store.rate_add("k", 1).await.unwrap().0, 1);
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(store.rate_count("k").await.unwrap(), None);
        assert_eq!(store.rate_add("k", 60_000).await.unwrap().0, 1);
        assert_eq!(store.rate_add("k", 60_000).await.unwrap().0, 2);
    }
}
