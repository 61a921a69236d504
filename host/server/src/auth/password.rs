//! Password hashing with argon2id (m = 19 MiB, t = 2, p = 1: OWASP's floor). Hashing runs on
//! the blocking pool behind a semaphore, so a burst of logins can't take all memory (19 MiB
//! each) or starve the async workers.

use std::sync::Arc;

use anyhow::Context;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::error::{Error, Result};

pub const MIN_CHARS: usize = 8;
pub const MAX_CHARS: usize = 128;
/// No password of `MAX_CHARS` characters is longer than this in UTF-8.
const MAX_BYTES: usize = MAX_CHARS * 4;

const M_COST_KIB: u32 = 19 * 1024;
const T_COST: u32 = 2;

/// Checks a new password's length in characters. Runs before any hashing, so an oversized
/// password is refused at once.
///
/// Two statuses, on purpose: text over `MAX_CHARS * 4` bytes can't be a password at all and is
/// refused like a malformed body (400) before its characters are even counted; a well-formed
/// password outside 8–128 characters is an invalid value (422), like every other field.
pub fn validate(password: &str) -> Result<()> {
    check_size(password)?;
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Err(Error::Validation(format!(
            "a password has at least {MIN_CHARS} characters"
        )));
    }
    if chars > MAX_CHARS {
        return Err(Error::Validation(format!(
            "a password has at most {MAX_CHARS} characters"
        )));
    }
    Ok(())
}

/// The 400 for text far too long to be a password; cheap, so it runs before anything else.
pub fn check_size(password: &str) -> Result<()> {
    if password.len() > MAX_BYTES {
        return Err(Error::BadRequest(format!(
            "a password has at most {MAX_CHARS} characters"
        )));
    }
    Ok(())
}

fn argon2() -> Argon2<'static> {
    let params =
        Params::new(M_COST_KIB, T_COST, 1, None).expect("constant argon2 params are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    /// A real hash of a random password, verified against when the account doesn't exist so
    /// that unknown and known emails take the same time.
    dummy: Arc<String>,
}

impl Hasher {
    pub fn new() -> anyhow::Result<Hasher> {
        let parallel = std::thread::available_parallelism().map_or(2, |n| n.get());
        let dummy = hash_blocking(&crate::auth::Secret::generate("").hash())?;
        Ok(Hasher {
            permits: Arc::new(Semaphore::new(parallel)),
            dummy: Arc::new(dummy),
        })
    }

    /// The PHC string of an argon2id hash of `password`.
    pub async fn hash(&self, password: &str) -> Result<String> {
        let _permit = self.permits.acquire().await.map_err(anyhow::Error::from)?;
        let password = password.to_string();
        let hash = tokio::task::spawn_blocking(move || hash_blocking(&password))
            .await
            .context("password hashing task")??;
        Ok(hash)
    }

    /// Whether `password` matches `stored`; with `None`, does the same work and says no.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool> {
        let _permit = self.permits.acquire().await.map_err(anyhow::Error::from)?;
        let password = password.to_string();
        let (stored, real) = match stored {
            Some(s) => (s.to_string(), true),
            None => (self.dummy.as_ref().clone(), false),
        };
        let ok = tokio::task::spawn_blocking(move || verify_blocking(&password, &stored))
            .await
            .context("password verification task")??;
        Ok(ok && real)
    }
}

fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let hash: PasswordHash = argon2()
        .hash_password(password.as_bytes())
        .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))?;
    Ok(hash.to_string())
}

fn verify_blocking(password: &str, stored: &str) -> anyhow::Result<bool> {
    let parsed =
        PasswordHash::new(stored).map_err(|e| anyhow::anyhow!("stored hash unreadable: {e}"))?;
    Ok(argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_rules_count_characters() {
        assert!(matches!(validate("short"), Err(Error::Validation(_))));
        assert!(validate("eight ch").is_ok());
        assert!(validate(&"é".repeat(128)).is_ok());
        assert!(matches!(
            validate(&"é".repeat(129)),
            Err(Error::Validation(_))
        ));
        assert!(matches!(
            validate(&"x".repeat(1_000_000)),
            Err(Error::BadRequest(_))
        ));
    }

    #[test]
    fn hash_is_argon2id_with_the_required_cost_and_verifies() {
        let hash = hash_blocking("correct horse").unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_blocking("correct horse", &hash).unwrap());
        assert!(!verify_blocking("wrong horse", &hash).unwrap());
    }
}
