//! Bearer secrets (session ids, API tokens): generated from the OS's CSPRNG, given to the
//! client once, and stored only as their SHA-256. The type has no `Display` and a redacted
//! `Debug`, so it can't end up in a log line by accident.

use sha2::{Digest, Sha256};

/// A freshly minted secret, shown to its owner once.
pub struct Secret(String);

impl Secret {
    /// 32 random bytes, hex-encoded after a prefix naming what the secret is for.
    pub fn generate(prefix: &str) -> Secret {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the OS random source is available");
        Secret(format!("{prefix}{}", hex::encode(bytes)))
    }

    /// The value to hand to the client.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The value to store.
    pub fn hash(&self) -> String {
        hash_secret(&self.0)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// SHA-256 of a presented secret, hex-encoded: what the store looks secrets up by. A fast hash
/// is enough because the secrets are 256-bit random, not guessable passwords.
pub fn hash_secret(presented: &str) -> String {
    // Into a buffer of the exact size rather than `hex::encode`, which goes through an
    // iterator of chars: this runs on every authenticated request. 32 bytes always fill the
    // 64 digits, so the encoding can't fail.
    let mut digits = [0u8; 64];
    let _ = hex::encode_to_slice(Sha256::digest(presented.as_bytes()), &mut digits);
    String::from_utf8_lossy(&digits).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_differ_and_hash_to_their_stored_form() {
        let a = Secret::generate("lathe_");
        let b = Secret::generate("lathe_");
        assert_ne!(a.expose(), b.expose());
        assert!(a.expose().starts_with("lathe_"));
        assert_eq!(a.expose().len(), "lathe_".len() + 64);
        assert_eq!(a.hash(), hash_secret(a.expose()));
        assert_ne!(a.hash(), a.expose());
    }

    #[test]
    fn hash_is_lowercase_hex_sha256() {
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let s = Secret::generate("x_");
        assert!(!format!("{s:?}").contains(&s.expose()[2..]));
    }
}
