//! Secrets at rest: envelope encryption.
//!
//! - [`keyring`]: the master keys, from `LATHE_MASTER_KEY` or the key file.
//! - Each workspace has data keys (32 random bytes each, numbered versions), stored in
//!   `data_keys` sealed by a master key. A secret (a datasource's secret fields, a secret
//!   constant) is sealed by its workspace's newest data key.
//! - Sealing is XChaCha20-Poly1305 with a random 24-byte nonce. The associated data names the
//!   row: kind, workspace, row id and data key version. A ciphertext copied into another row,
//!   another workspace, or relabelled with another key version fails to open.
//! - `lathe keys rotate` ([`rotate`]) adds a data key version per workspace, re-seals every
//!   secret with it, and re-seals every data key with the current master key. Servers keep
//!   serving throughout: older data key versions stay, and a server that meets a master key id
//!   it doesn't know re-reads its key file once.

pub mod keyring;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

pub use keyring::{KEY_LEN, KeySource, Keyring};

use crate::config::Redacted;
use crate::error::{Error, Result};
use crate::store::{DataKeyRow, SealedKind, Store, now_ms};

const NONCE_LEN: usize = 24;

type Key = Zeroizing<[u8; KEY_LEN]>;

/// A sealed value as stored: base64 of nonce and ciphertext, and the data key version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub text: String,
    pub version: i64,
}

/// Where a sealed value lives; bound into its associated data.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    pub kind: SealedKind,
    pub workspace_id: &'a str,
    pub id: &'a str,
}

impl Row<'_> {
    fn associated_data(&self, version: i64) -> String {
        format!(
            "lathe/{}/{}/{}/v{version}",
            self.kind.as_str(),
            self.workspace_id,
            self.id
        )
    }
}

fn data_key_associated_data(workspace_id: &str, version: i64, master_key_id: &str) -> String {
    format!("lathe/data-key/{workspace_id}/v{version}/{master_key_id}")
}

fn seal_bytes(key: &[u8; KEY_LEN], aad: &str, plaintext: &[u8]) -> String {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).expect("the operating system's random source works");
    let cipher = XChaCha20Poly1305::new(key.into());
    let payload = Payload {
        msg: plaintext,
        aad: aad.as_bytes(),
    };
    let sealed = cipher
        .encrypt(XNonce::from_slice(&nonce), payload)
        .expect("sealing a value in memory can't fail");
    let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    BASE64.encode(out)
}

/// `None` when the text isn't a ciphertext sealed with `key` and `aad`.
fn open_bytes(key: &[u8; KEY_LEN], aad: &str, text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let bytes = BASE64.decode(text).ok()?;
    if bytes.len() < NONCE_LEN {
        return None;
    }
    let (nonce, sealed) = bytes.split_at(NONCE_LEN);
    let cipher = XChaCha20Poly1305::new(key.into());
    let payload = Payload {
        msg: sealed,
        aad: aad.as_bytes(),
    };
    cipher
        .decrypt(XNonce::from_slice(nonce), payload)
        .ok()
        .map(Zeroizing::new)
}

fn new_key() -> Key {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    getrandom::fill(key.as_mut_slice()).expect("the operating system's random source works");
    key
}

/// Seals and opens secrets for every workspace; caches opened data keys.
pub struct Vault {
    store: Store,
    keyring: RwLock<Arc<Keyring>>,
    data_keys: Mutex<HashMap<(String, i64), Arc<Key>>>,
}

impl Vault {
    /// Loads the master keys and checks they open what the store holds. A key file is created
    /// only while the store holds no data key; otherwise a missing key is an error, as is a
    /// data key sealed by a master key that isn't configured.
    pub async fn open(
        store: Store,
        env: Option<&Redacted>,
        key_file: &Path,
    ) -> anyhow::Result<Vault> {
        let in_use = store.master_key_ids_in_use().await?;
        let keyring = Keyring::load(env, key_file, in_use.is_empty())?;
        let missing: Vec<&String> = in_use
            .iter()
            .filter(|id| keyring.get(id).is_none())
            .collect();
        if !missing.is_empty() {
            anyhow::bail!(
                "the store's secrets are sealed with master key(s) {} which are not configured (configured: {}); set LATHE_MASTER_KEY to the key(s) used before",
                join(&missing),
                keyring.ids().join(", ")
            );
        }
        if store.backend() == crate::store::Backend::Postgres
            && matches!(keyring.source, KeySource::File(_))
        {
            tracing::warn!(
                event = "vault.key_file_on_postgres",
                "the master key comes from a file in the data dir; every replica needs the same key, so set LATHE_MASTER_KEY"
            );
        }
        Ok(Vault {
            store,
            keyring: RwLock::new(Arc::new(keyring)),
            data_keys: Mutex::new(HashMap::new()),
        })
    }

    pub fn current_master_key_id(&self) -> String {
        self.keyring().current().id.clone()
    }

    fn keyring(&self) -> Arc<Keyring> {
        self.keyring
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Seals `plaintext` for `row` with the workspace's newest data key.
    pub async fn seal(&self, row: Row<'_>, plaintext: &[u8]) -> Result<Sealed> {
        let (version, key) = self.newest_key(row.workspace_id).await?;
        Ok(Sealed {
            text: seal_bytes(&key, &row.associated_data(version), plaintext),
            version,
        })
    }

    /// Opens a value sealed for `row`. A value that was changed, moved from another row or
    /// sealed with a key this server doesn't have is an [`Error::Unreadable`].
    pub async fn open_sealed(&self, row: Row<'_>, sealed: &Sealed) -> Result<Zeroizing<Vec<u8>>> {
        let key = self.key(row.workspace_id, sealed.version).await?;
        open_bytes(&key, &row.associated_data(sealed.version), &sealed.text).ok_or_else(|| {
            tracing::error!(
                event = "vault.open_failed",
                kind = row.kind.as_str(),
                workspace = row.workspace_id,
                row = row.id,
                key_version = sealed.version,
                "a sealed value failed to open: it was altered, moved, or sealed with another key"
            );
            Error::Unreadable(format!(
                "the stored {} secret can't be opened (it was altered or sealed with another key); enter it again",
                row.kind.as_str()
            ))
        })
    }

    /// The workspace's newest data key, made (version 1) when it has none. Two servers making
    /// one at once agree: the second insert loses and both read the winner back.
    async fn newest_key(&self, workspace_id: &str) -> Result<(i64, Arc<Key>)> {
        if let Some(row) = self.store.data_key_newest(workspace_id).await? {
            let key = self.cached_or_unwrap(row)?;
            return Ok((key.0, key.1));
        }
        let keyring = self.keyring();
        let master = keyring.current();
        let key = new_key();
        let row = DataKeyRow {
            workspace_id: workspace_id.to_string(),
            version: 1,
            master_key_id: master.id.clone(),
            wrapped: seal_bytes(
                &master.key,
                &data_key_associated_data(workspace_id, 1, &master.id),
                key.as_slice(),
            ),
            created_at: now_ms(),
        };
        self.store.data_key_insert(&row).await?;
        let row = self
            .store
            .data_key_newest(workspace_id)
            .await?
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("data key vanished after insert")))?;
        let key = self.cached_or_unwrap(row)?;
        Ok((key.0, key.1))
    }

    async fn key(&self, workspace_id: &str, version: i64) -> Result<Arc<Key>> {
        if let Some(key) = self.cached(workspace_id, version) {
            return Ok(key);
        }
        let row = self
            .store
            .data_key(workspace_id, version)
            .await?
            .ok_or_else(|| {
                Error::Unreadable(format!(
                    "a stored secret names data key version {version}, which doesn't exist; enter it again"
                ))
            })?;
        Ok(self.cached_or_unwrap(row)?.1)
    }

    fn cached(&self, workspace_id: &str, version: i64) -> Option<Arc<Key>> {
        let keys = self.data_keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.get(&(workspace_id.to_string(), version)).cloned()
    }

    /// The cache is keyed by version; a data key's bytes never change once written (rotation
    /// re-seals them under another master key, which opens to the same bytes).
    fn cached_or_unwrap(&self, row: DataKeyRow) -> Result<(i64, Arc<Key>)> {
        if let Some(key) = self.cached(&row.workspace_id, row.version) {
            return Ok((row.version, key));
        }
        let key = Arc::new(self.unwrap_data_key(&row)?);
        let mut keys = self.data_keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.insert((row.workspace_id.clone(), row.version), key.clone());
        Ok((row.version, key))
    }

    fn unwrap_data_key(&self, row: &DataKeyRow) -> Result<Key> {
        let mut keyring = self.keyring();
        if keyring.get(&row.master_key_id).is_none() {
            // Rotation may have added a key to the file since this server started.
            if let KeySource::File(file) = &keyring.source
                && let Ok(fresh) = Keyring::load(None, file, false)
            {
                let fresh = Arc::new(fresh);
                *self.keyring.write().unwrap_or_else(|e| e.into_inner()) = fresh.clone();
                keyring = fresh;
            }
        }
        let master = keyring.get(&row.master_key_id).ok_or_else(|| {
            Error::Unreadable(format!(
                "the workspace's data key is sealed with master key {}, which this server doesn't have",
                row.master_key_id
            ))
        })?;
        let aad = data_key_associated_data(&row.workspace_id, row.version, &row.master_key_id);
        let bytes = open_bytes(&master.key, &aad, &row.wrapped).ok_or_else(|| {
            Error::Unreadable("a workspace data key failed to open: it was altered".into())
        })?;
        let key: [u8; KEY_LEN] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| Error::Unreadable("a workspace data key has the wrong length".into()))?;
        Ok(Zeroizing::new(key))
    }
}

fn join(ids: &[&String]) -> String {
    ids.iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What [`rotate`] did.
#[derive(Debug, Default)]
pub struct RotationReport {
    pub workspaces: usize,
    pub data_keys_resealed: usize,
    pub secrets_resealed: usize,
    pub master_key_id: String,
}

/// Adds a data key version to every workspace that has one, re-seals every secret with it and
/// every data key with the current master key, one transaction per workspace.
pub async fn rotate(store: &Store, keyring: &Keyring) -> anyhow::Result<RotationReport> {
    let master = keyring.current();
    let mut report = RotationReport {
        master_key_id: master.id.clone(),
        ..Default::default()
    };
    for workspace_id in store.workspaces_with_data_keys().await? {
        let mut tx = store.rotation(&workspace_id).await?;
        let rows = tx.data_keys().await?;
        let mut opened = HashMap::new();
        for row in &rows {
            let old = keyring.get(&row.master_key_id).ok_or_else(|| {
                anyhow::anyhow!(
                    "workspace {workspace_id}: data key v{} is sealed with master key {}, which is not configured",
                    row.version,
                    row.master_key_id
                )
            })?;
            let aad = data_key_associated_data(&workspace_id, row.version, &row.master_key_id);
            let bytes = open_bytes(&old.key, &aad, &row.wrapped).ok_or_else(|| {
                anyhow::anyhow!(
                    "workspace {workspace_id}: data key v{} failed to open",
                    row.version
                )
            })?;
            let key: [u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| {
                anyhow::anyhow!(
                    "workspace {workspace_id}: data key v{} has the wrong length",
                    row.version
                )
            })?;
            let wrapped = seal_bytes(
                &master.key,
                &data_key_associated_data(&workspace_id, row.version, &master.id),
                &key,
            );
            tx.data_key_reseal(row.version, &master.id, &wrapped)
                .await?;
            opened.insert(row.version, Zeroizing::new(key));
            report.data_keys_resealed += 1;
        }

        let version = rows.iter().map(|r| r.version).max().unwrap_or(0) + 1;
        let key = new_key();
        let wrapped = seal_bytes(
            &master.key,
            &data_key_associated_data(&workspace_id, version, &master.id),
            key.as_slice(),
        );
        tx.data_key_add(version, &master.id, &wrapped).await?;

        for sealed in tx.sealed_values().await? {
            let row = Row {
                kind: sealed.kind,
                workspace_id: &workspace_id,
                id: &sealed.id,
            };
            let old_key = opened.get(&sealed.version).ok_or_else(|| {
                anyhow::anyhow!(
                    "workspace {workspace_id}: {} {} names data key v{}, which doesn't exist",
                    sealed.kind.as_str(),
                    sealed.id,
                    sealed.version
                )
            })?;
            let plaintext = open_bytes(old_key, &row.associated_data(sealed.version), &sealed.text)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "workspace {workspace_id}: {} {} failed to open; it was altered",
                        sealed.kind.as_str(),
                        sealed.id
                    )
                })?;
            let text = seal_bytes(&key, &row.associated_data(version), &plaintext);
            tx.sealed_value_update(sealed.kind, &sealed.id, &text, version)
                .await?;
            report.secrets_resealed += 1;
        }
        tx.commit().await?;
        report.workspaces += 1;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_opens_only_with_its_own_key_and_row() {
        let key = new_key();
        let other = new_key();
        let text = seal_bytes(&key, "lathe/datasource/w1/d1/v1", b"hunter2");
        assert_eq!(
            open_bytes(&key, "lathe/datasource/w1/d1/v1", &text)
                .unwrap()
                .as_slice(),
            b"hunter2"
        );
        assert!(open_bytes(&other, "lathe/datasource/w1/d1/v1", &text).is_none());
        assert!(open_bytes(&key, "lathe/datasource/w1/d2/v1", &text).is_none());
        assert!(open_bytes(&key, "lathe/datasource/w2/d1/v1", &text).is_none());
        assert!(open_bytes(&key, "lathe/datasource/w1/d1/v2", &text).is_none());

        let mut bytes = BASE64.decode(&text).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(open_bytes(&key, "lathe/datasource/w1/d1/v1", &BASE64.encode(bytes)).is_none());
        assert!(open_bytes(&key, "lathe/datasource/w1/d1/v1", "short").is_none());
    }

    #[test]
    fn the_same_value_seals_differently_each_time() {
        let key = new_key();
        assert_ne!(seal_bytes(&key, "a", b"x"), seal_bytes(&key, "a", b"x"));
    }
}
