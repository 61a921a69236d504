//! Login rate limits: failed attempts per account and all attempts per client address, each
//! counted in a fixed window. Kept in memory, so each replica counts on its own; with N
//! replicas behind a balancer an attacker gets at most N times the budget.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

const ACCOUNT_WINDOW: Duration = Duration::from_secs(15 * 60);
const ADDRESS_WINDOW: Duration = Duration::from_secs(60);
/// Past this many tracked keys, expired windows are swept on the next insert.
const SWEEP_AT: usize = 10_000;

struct Window {
    started: Instant,
    count: u32,
}

struct Counter<K> {
    window: Duration,
    limit: u32,
    entries: Mutex<HashMap<K, Window>>,
}

impl<K: Eq + Hash> Counter<K> {
    fn new(window: Duration, limit: u32) -> Self {
        Counter {
            window,
            limit,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Err with the time left in the window when `key` has used its budget.
    fn check(&self, key: &K) -> Result<()> {
        let entries = self.entries.lock().expect("rate limiter lock");
        match entries.get(key) {
            Some(w) if w.started.elapsed() < self.window && w.count >= self.limit => {
                Err(Error::RateLimited {
                    retry_after: self.window - w.started.elapsed(),
                })
            }
            _ => Ok(()),
        }
    }

    fn add(&self, key: K) {
        let mut entries = self.entries.lock().expect("rate limiter lock");
        if entries.len() >= SWEEP_AT {
            entries.retain(|_, w| w.started.elapsed() < self.window);
        }
        let w = entries.entry(key).or_insert(Window {
            started: Instant::now(),
            count: 0,
        });
        if w.started.elapsed() >= self.window {
            *w = Window {
                started: Instant::now(),
                count: 0,
            };
        }
        w.count = w.count.saturating_add(1);
    }

    fn clear(&self, key: &K) {
        self.entries.lock().expect("rate limiter lock").remove(key);
    }
}

pub struct LoginLimiter {
    accounts: Counter<String>,
    addresses: Counter<IpAddr>,
}

impl LoginLimiter {
    pub fn new(account_limit: u32, address_limit: u32) -> Self {
        LoginLimiter {
            accounts: Counter::new(ACCOUNT_WINDOW, account_limit),
            addresses: Counter::new(ADDRESS_WINDOW, address_limit),
        }
    }

    /// Counts an attempt from `address` and refuses it when either budget is spent.
    pub fn attempt(&self, account: &str, address: IpAddr) -> Result<()> {
        self.addresses.check(&address)?;
        self.addresses.add(address);
        self.accounts.check(&account.to_string())
    }

    /// Counts an attempt that names no account.
    pub fn attempt_from(&self, address: IpAddr) -> Result<()> {
        self.addresses.check(&address)?;
        self.addresses.add(address);
        Ok(())
    }

    pub fn failed(&self, account: &str) {
        self.accounts.add(account.to_string());
    }

    pub fn succeeded(&self, account: &str) {
        self.accounts.clear(&account.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_is_refused_after_its_failures_and_freed_by_success() {
        let limiter = LoginLimiter::new(2, 100);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..2 {
            limiter.attempt("a@x", ip).unwrap();
            limiter.failed("a@x");
        }
        assert!(matches!(
            limiter.attempt("a@x", ip),
            Err(Error::RateLimited { .. })
        ));
        assert!(limiter.attempt("b@x", ip).is_ok());
        limiter.succeeded("a@x");
        assert!(limiter.attempt("a@x", ip).is_ok());
    }

    #[test]
    fn address_is_refused_after_its_attempts() {
        let limiter = LoginLimiter::new(100, 3);
        let ip: IpAddr = "127.0.0.2".parse().unwrap();
        for i in 0..3 {
            limiter.attempt(&format!("u{i}@x"), ip).unwrap();
        }
        let Err(Error::RateLimited { retry_after }) = limiter.attempt("u9@x", ip) else {
            panic!("fourth attempt from one address must be refused");
        };
        assert!(retry_after <= ADDRESS_WINDOW);
        assert!(
            limiter
                .attempt("u9@x", "127.0.0.3".parse().unwrap())
                .is_ok()
        );
    }
}
