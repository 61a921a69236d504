//! Master keys: where they come from, how they are named, and which ones Lathe refuses.
//!
//! A master key is 32 random bytes written as base64. `LATHE_MASTER_KEY` holds one or more,
//! separated by commas; without it, the key file (`master.key` in the data directory by
//! default) holds them one per line. The first key is the current one: new data keys are
//! sealed with it. The others are kept only to open data keys sealed before a rotation.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::config::Redacted;

pub const KEY_LEN: usize = 32;

/// The key shown in the documentation and the compose file. A server configured with it
/// refuses to start: anyone who has read the docs could open its secrets.
pub const EXAMPLE_KEY: &str = "bGF0aGUtZXhhbXBsZS1rZXktZG8tbm90LXVzZS1pdCE=";

pub struct MasterKey {
    /// A short name derived from the key, recorded beside every data key it seals.
    pub id: String,
    pub key: Zeroizing<[u8; KEY_LEN]>,
}

impl MasterKey {
    fn parse(text: &str) -> anyhow::Result<MasterKey> {
        if text == EXAMPLE_KEY {
            bail!(
                "the master key is the example from the documentation; generate one with `lathe keys generate`"
            );
        }
        let bytes = Zeroizing::new(
            BASE64
                .decode(text)
                .map_err(|_| anyhow::anyhow!("a master key is not valid base64"))?,
        );
        let key: [u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| {
            anyhow::anyhow!(
                "a master key must be {KEY_LEN} bytes (base64 of {KEY_LEN} random bytes); this one is {}",
                bytes.len()
            )
        })?;
        let key = Zeroizing::new(key);
        if key.iter().all(|b| *b == key[0]) {
            bail!("a master key is one byte repeated; generate one with `lathe keys generate`");
        }
        let digest = Sha256::new()
            .chain_update(b"lathe master key id\0")
            .chain_update(key.as_slice())
            .finalize();
        Ok(MasterKey {
            id: hex::encode(&digest[..8]),
            key,
        })
    }
}

/// Where the keys were read from: rotation writes a new key only into a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Environment,
    File(PathBuf),
}

pub struct Keyring {
    keys: Vec<MasterKey>,
    pub source: KeySource,
}

impl Keyring {
    /// Reads the keys from `env` when set, else from `file`. A missing file is created with a
    /// fresh key (mode 0600) only when `create` is true; the caller decides that from whether
    /// the store already holds sealed data keys, so a lost file is never silently replaced.
    pub fn load(env: Option<&Redacted>, file: &Path, create: bool) -> anyhow::Result<Keyring> {
        if let Some(env) = env {
            let keys = parse_list(env.expose()).context("in LATHE_MASTER_KEY")?;
            return Ok(Keyring {
                keys,
                source: KeySource::Environment,
            });
        }
        let source = KeySource::File(file.to_path_buf());
        match std::fs::read_to_string(file) {
            Ok(text) => {
                let text = Zeroizing::new(text);
                let keys = parse_list(&text)
                    .with_context(|| format!("in the master key file {}", file.display()))?;
                Ok(Keyring { keys, source })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                let text = Zeroizing::new(generate());
                if !publish_key_file(file, &text)? {
                    // Another server starting on the same data directory made it first.
                    return Keyring::load(None, file, false);
                }
                tracing::warn!(
                    event = "vault.key_created",
                    file = %file.display(),
                    "created a new master key file; back it up: without it no stored secret can be opened"
                );
                let keys = parse_list(&text)?;
                Ok(Keyring { keys, source })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
                "no master key: set LATHE_MASTER_KEY or restore the key file {}",
                file.display()
            ),
            Err(e) => Err(e).with_context(|| format!("reading {}", file.display())),
        }
    }

    /// The key new data keys are sealed with.
    pub fn current(&self) -> &MasterKey {
        &self.keys[0]
    }

    pub fn get(&self, id: &str) -> Option<&MasterKey> {
        self.keys.iter().find(|k| k.id == id)
    }

    pub fn ids(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.id.clone()).collect()
    }

    /// Puts a fresh key first in the key file, keeping the others after it, and returns the
    /// keyring read back from the file. Only for a keyring read from a file.
    pub fn prepend_new_key(&self) -> anyhow::Result<Keyring> {
        let KeySource::File(file) = &self.source else {
            bail!(
                "the master keys come from LATHE_MASTER_KEY: put a new key (from `lathe keys generate`) first in it, keep the old one after a comma, and run `lathe keys rotate` again"
            );
        };
        let old = Zeroizing::new(
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?,
        );
        let text = Zeroizing::new(format!("{}\n{}", generate(), old.trim()));
        let tmp = file.with_extension("key.new");
        let _ = std::fs::remove_file(&tmp);
        write_key_file(&tmp, &text)?;
        std::fs::rename(&tmp, file).with_context(|| format!("replacing {}", file.display()))?;
        Keyring::load(None, file, false)
    }
}

/// A fresh master key, base64.
pub fn generate() -> String {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    getrandom::fill(key.as_mut_slice()).expect("the operating system's random source works");
    BASE64.encode(key.as_slice())
}

fn parse_list(text: &str) -> anyhow::Result<Vec<MasterKey>> {
    let keys = text
        .split([',', '\n'])
        .map(str::trim)
        .filter(|k| !k.is_empty() && !k.starts_with('#'))
        .map(MasterKey::parse)
        .collect::<anyhow::Result<Vec<_>>>()?;
    if keys.is_empty() {
        bail!("no master key is given");
    }
    Ok(keys)
}

/// Makes `path` hold `text`, whole or not at all, unless it exists: the key is written to a
/// file of its own first and linked to `path` only then, so that a server starting beside
/// this one reads either no key file or a complete one. False when `path` was there first.
fn publish_key_file(path: &Path, text: &str) -> anyhow::Result<bool> {
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).expect("the operating system's random source works");
    let own = path.with_extension(format!("key.{}.new", hex::encode(suffix)));
    write_key_file(&own, text)?;
    let linked = std::fs::hard_link(&own, path);
    let _ = std::fs::remove_file(&own);
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => {
            Err(e).with_context(|| format!("creating the master key file {}", path.display()))
        }
    }
}

/// Writes a new file readable by its owner only, fsynced before it is used.
fn write_key_file(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating the master key file {}", path.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_and_weak_keys_are_refused() {
        assert!(MasterKey::parse(EXAMPLE_KEY).is_err());
        assert!(MasterKey::parse(&BASE64.encode([7u8; KEY_LEN])).is_err());
        assert!(MasterKey::parse(&BASE64.encode([1u8; 16])).is_err());
        assert!(MasterKey::parse("not base64!").is_err());
        assert!(MasterKey::parse(&generate()).is_ok());
    }

    #[test]
    fn the_first_key_is_current_and_ids_are_stable() {
        let (a, b) = (generate(), generate());
        let ring = parse_list(&format!("{a}, {b}")).unwrap();
        assert_eq!(ring.len(), 2);
        assert_eq!(ring[0].id, MasterKey::parse(&a).unwrap().id);
        assert_ne!(ring[0].id, ring[1].id);
    }

    #[test]
    fn a_missing_file_is_created_owner_only_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("master.key");
        assert!(Keyring::load(None, &file, false).is_err());
        let first = Keyring::load(None, &file, true).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = Keyring::load(None, &file, true).unwrap();
        assert_eq!(first.current().id, again.current().id);

        let rotated = again.prepend_new_key().unwrap();
        assert_eq!(rotated.ids().len(), 2);
        assert_eq!(rotated.ids()[1], first.current().id);
    }
}
