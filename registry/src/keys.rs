//! Publisher keys: an ed25519 secret key kept in a file only its owner can read, and the
//! public key admins trust, written `ed25519:<base64>`.
//!
//! The secret file holds the 32-byte seed, `lathe-ed25519-secret:<base64>\n`; the prefix
//! makes a public key pasted in its place (or the reverse) a clear error rather than a
//! silently different key.

use std::fmt;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::Signer;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

const SECRET_PREFIX: &str = "lathe-ed25519-secret:";
const PUBLIC_PREFIX: &str = "ed25519:";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} already exists; refusing to overwrite a key (move it away first)", path.display())]
    Exists { path: PathBuf },
    #[error(
        "{} can be read by other users (mode {mode:03o}); a signing key must be private: \
         run `chmod 600 {}`",
        path.display(),
        path.display()
    )]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("{} is not a Lathe signing key: {reason}", path.display())]
    BadSecret { path: PathBuf, reason: String },
    #[error("invalid public key: {0}")]
    BadPublic(String),
}

/// A publisher's ed25519 secret key. The inner key wipes itself when dropped, and neither
/// `Debug` nor any accessor shows it: it leaves memory only through [`SigningKey::save`].
pub struct SigningKey(ed25519_dalek::SigningKey);

impl SigningKey {
    /// A new key from the operating system's random source.
    pub fn generate() -> SigningKey {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut_slice()).expect("the operating system's random source works");
        SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key().to_bytes())
    }

    /// Writes the key to a new file with mode 0600; an existing file is never replaced,
    /// so a second `keygen` can't destroy the key a publisher's packages are trusted by.
    pub fn save(&self, path: &Path) -> Result<(), KeyError> {
        let io = |source| KeyError::Io {
            path: path.to_owned(),
            source,
        };
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => KeyError::Exists {
                    path: path.to_owned(),
                },
                _ => io(e),
            })?;

        let seed = Zeroizing::new(self.0.to_bytes());
        let text = Zeroizing::new(format!("{SECRET_PREFIX}{}\n", BASE64.encode(*seed)));
        file.write_all(text.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)
    }

    /// Reads a key written by [`SigningKey::save`], refusing one that group or others can
    /// read: a leaked publisher key lets anyone publish as that publisher.
    pub fn load(path: &Path) -> Result<SigningKey, KeyError> {
        let io = |source| KeyError::Io {
            path: path.to_owned(),
            source,
        };
        let mode = std::fs::metadata(path).map_err(io)?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(KeyError::TooOpen {
                path: path.to_owned(),
                mode: mode & 0o777,
            });
        }

        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(io)?);
        let bad = |reason: &str| KeyError::BadSecret {
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        let text = text.trim();
        let Some(encoded) = text.strip_prefix(SECRET_PREFIX) else {
            if text.starts_with(PUBLIC_PREFIX) {
                return Err(bad("it holds a public key; sign with the secret key file"));
            }
            return Err(bad(&format!("it does not start with `{SECRET_PREFIX}`")));
        };
        let bytes = Zeroizing::new(
            BASE64
                .decode(encoded)
                .map_err(|_| bad("the key is not valid base64"))?,
        );
        let seed: Zeroizing<[u8; 32]> = Zeroizing::new(
            bytes
                .as_slice()
                .try_into()
                .map_err(|_| bad("the key is not 32 bytes"))?,
        );
        Ok(SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed)))
    }

    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).to_bytes()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey(public: {})", self.public())
    }
}

/// A publisher's public key, written `ed25519:<base64 of 32 bytes>` in text and JSON.
/// Only bytes that decode to a curve point are accepted; they are kept compressed (the
/// decoded form is six times larger and only needed to verify).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A short name for the key in listings and logs: the first 16 hex characters of the
    /// sha256 of its 32 bytes.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(self.as_bytes());
        hex::encode(&digest[..8])
    }

    /// Strict verification: refuses the malleable and small-order forms a plain check lets
    /// through, so a signature has exactly one valid encoding per statement.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&self.0) else {
            return false;
        };
        let signature = ed25519_dalek::Signature::from_bytes(signature);
        key.verify_strict(message, &signature).is_ok()
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;

    fn from_str(text: &str) -> Result<PublicKey, KeyError> {
        let bad = |reason: String| KeyError::BadPublic(reason);
        let Some(encoded) = text.trim().strip_prefix(PUBLIC_PREFIX) else {
            if text.trim().starts_with(SECRET_PREFIX) {
                return Err(bad(
                    "this is a secret key; never share it, give out its public key \
                     (`ed25519:…`)"
                        .into(),
                ));
            }
            return Err(bad(format!(
                "expected `{PUBLIC_PREFIX}` followed by 32 bytes in base64"
            )));
        };
        let bytes = BASE64
            .decode(encoded)
            .map_err(|_| bad(format!("`{encoded}` is not valid base64")))?;
        let bytes: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| bad(format!("expected 32 bytes, got {}", bytes.len())))?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map_err(|_| bad("the bytes are not an ed25519 public key".into()))?;
        // A small-order point (the identity, all zeroes…) is no one's key: no secret key
        // belongs to it, and trusting it could only ever go wrong.
        if key.is_weak() {
            return Err(bad(
                "this is a weak ed25519 point, not a publisher's key".into()
            ));
        }
        Ok(PublicKey(bytes))
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PUBLIC_PREFIX}{}", BASE64.encode(self.as_bytes()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl serde::Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_points_are_not_public_keys() {
        let identity = {
            let mut b = [0u8; 32];
            b[0] = 1;
            b
        };
        for bytes in [[0u8; 32], identity] {
            let text = format!("{PUBLIC_PREFIX}{}", BASE64.encode(bytes));
            assert!(text.parse::<PublicKey>().is_err(), "{text}");
        }
    }

    #[test]
    fn a_saved_key_loads_back_and_signs_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("publisher.key");
        let key = SigningKey::generate();
        key.save(&path).unwrap();

        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(SECRET_PREFIX) && text.ends_with('\n'));

        let loaded = SigningKey::load(&path).unwrap();
        assert_eq!(loaded.public(), key.public());
        let signature = loaded.sign(b"statement");
        assert!(key.public().verify(b"statement", &signature));
        assert!(!key.public().verify(b"other statement", &signature));
    }

    #[test]
    fn save_never_overwrites_a_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("publisher.key");
        SigningKey::generate().save(&path).unwrap();
        let before = std::fs::read(&path).unwrap();
        let error = SigningKey::generate().save(&path).unwrap_err();
        assert!(matches!(error, KeyError::Exists { .. }), "{error}");
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn a_key_others_can_read_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("publisher.key");
        SigningKey::generate().save(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = SigningKey::load(&path).unwrap_err().to_string();
        assert!(error.contains("chmod 600"), "{error}");
        assert!(error.contains("publisher.key"), "{error}");
    }

    #[test]
    fn load_names_the_file_and_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.key");
        let error = SigningKey::load(&missing).unwrap_err().to_string();
        assert!(error.contains("missing.key"), "{error}");

        let public = dir.path().join("public.key");
        let text = format!("{}\n", SigningKey::generate().public());
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&public)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let error = SigningKey::load(&public).unwrap_err().to_string();
        assert!(error.contains("public key"), "{error}");
    }

    #[test]
    fn debug_shows_no_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let key = SigningKey::generate();
        key.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let secret = text.trim().strip_prefix(SECRET_PREFIX).unwrap();
        let debug = format!("{key:?}");
        assert!(!debug.contains(secret), "{debug}");
        assert!(debug.contains(&key.public().to_string()));
    }

    #[test]
    fn public_keys_round_trip_through_text_and_json() {
        let key = SigningKey::generate().public();
        let text = key.to_string();
        assert!(text.starts_with("ed25519:"));
        assert_eq!(text.parse::<PublicKey>().unwrap(), key);
        let json = serde_json::to_string(&key).unwrap();
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(serde_json::from_str::<PublicKey>(&json).unwrap(), key);
        assert_eq!(key.fingerprint().len(), 16);
        assert!(key.fingerprint().bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn bad_public_key_text_says_what_is_wrong() {
        let cases = [
            ("AAAA", "expected `ed25519:`"),
            ("ed25519:!!!", "not valid base64"),
            ("ed25519:AAAA", "expected 32 bytes, got 3"),
            ("lathe-ed25519-secret:AAAA", "secret key"),
        ];
        for (text, expected) in cases {
            let error = text.parse::<PublicKey>().unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
