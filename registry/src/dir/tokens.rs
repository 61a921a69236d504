//! Publisher tokens, `DIR/tokens.json` (mode 0600): each a name and the sha256 of a random
//! token. The token itself is shown once, when made, and never stored, so a copy of the
//! directory (a mirror, a backup) holds nothing that can publish.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::RegistryError;

pub(super) const TOKENS_FILE: &str = "tokens.json";
/// Tells registry tokens apart from other secrets in a config file or a leak scanner.
const TOKEN_PREFIX: &str = "lathe-registry-";
/// Longer input is no token of ours; refusing it early bounds the hashing work per request.
const MAX_TOKEN_LEN: usize = 256;

#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct Tokens {
    tokens: Vec<Token>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Token {
    name: String,
    sha256: String,
}

impl Tokens {
    pub(super) fn parse(bytes: &[u8]) -> Result<Tokens, String> {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }

    pub(super) fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("tokens serialise")
    }

    /// Adds a new token for `name` and returns it; a name may hold several tokens (one per
    /// machine, say), each revocable by removing its line.
    pub(super) fn add(&mut self, name: &str) -> Result<String, RegistryError> {
        check_name(name)?;
        if name == crate::client::LOCAL_OWNER {
            return Err(RegistryError::InvalidTokenName(format!(
                "`{name}` is the owner of packages published straight into the directory; \
                 choose another name"
            )));
        }
        let token = format!("{TOKEN_PREFIX}{}", super::fs::random_hex(32));
        self.tokens.push(Token {
            name: name.to_owned(),
            sha256: hash(&token),
        });
        Ok(token)
    }

    /// Removes every token of `name`; returns how many there were.
    pub(super) fn revoke(&mut self, name: &str) -> usize {
        let before = self.tokens.len();
        self.tokens.retain(|t| t.name != name);
        before - self.tokens.len()
    }

    /// The name the token belongs to. Every stored hash is compared, in constant time, so
    /// neither which entry matched nor how much of a hash did shows in the timing.
    pub(super) fn check(&self, token: &str) -> Option<String> {
        if token.len() > MAX_TOKEN_LEN {
            return None;
        }
        let presented = hash(token);
        let mut found = None;
        for stored in &self.tokens {
            if constant_time_eq(presented.as_bytes(), stored.sha256.as_bytes()) {
                found = Some(stored.name.clone());
            }
        }
        found
    }
}

/// A token (publisher) name: the same alphabet as package ids, since it is shown as a
/// package's owner.
fn check_name(name: &str) -> Result<(), RegistryError> {
    crate::package::check_id(name).map_err(|_| {
        RegistryError::InvalidTokenName(format!(
            "`{}`: a token name is 1-64 characters of a-z, 0-9 and '-', not starting with '-'",
            name.escape_debug()
        ))
    })
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_check_by_hash_and_are_not_stored() {
        let mut tokens = Tokens::default();
        let alice = tokens.add("alice").unwrap();
        let bob = tokens.add("bob").unwrap();
        assert!(alice.starts_with(TOKEN_PREFIX));
        assert_ne!(alice, bob);

        let stored = Tokens::parse(&tokens.to_json()).unwrap();
        assert_eq!(stored.check(&alice).as_deref(), Some("alice"));
        assert_eq!(stored.check(&bob).as_deref(), Some("bob"));
        assert_eq!(stored.check("lathe-registry-guess"), None);
        assert_eq!(stored.check(""), None);
        assert_eq!(stored.check(&"x".repeat(10_000)), None);
        let json = String::from_utf8(tokens.to_json()).unwrap();
        assert!(!json.contains(&alice) && !json.contains(&alice[TOKEN_PREFIX.len()..]));
    }

    #[test]
    fn revoking_a_name_drops_all_its_tokens_and_local_is_reserved() {
        let mut tokens = Tokens::default();
        let first = tokens.add("alice").unwrap();
        let second = tokens.add("alice").unwrap();
        let bob = tokens.add("bob").unwrap();
        assert_eq!(tokens.revoke("alice"), 2);
        assert_eq!(tokens.check(&first), None);
        assert_eq!(tokens.check(&second), None);
        assert_eq!(tokens.check(&bob).as_deref(), Some("bob"));
        assert_eq!(tokens.revoke("alice"), 0);
        assert!(tokens.add(crate::client::LOCAL_OWNER).is_err());
    }

    #[test]
    fn token_names_are_checked() {
        let mut tokens = Tokens::default();
        for name in ["", "Alice", "../x", "a b", "-x"] {
            assert!(tokens.add(name).is_err(), "{name}");
        }
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
