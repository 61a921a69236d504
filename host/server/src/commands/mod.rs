//! What the `lathe` subcommands other than `serve` do: `migrate`, `admin create`,
//! `keys rotate`, and (in [`plugins`]) installing connectors and configuring registries
//! straight on the store.

pub mod plugins;

use std::io::Read;

use anyhow::Context;

use crate::auth::{Hasher, validate_password};
use crate::config::{KeyArgs, StoreArgs};
use crate::store::{AuditEvent, Store};

/// `lathe migrate`: apply pending migrations and exit.
pub async fn migrate(args: &StoreArgs) -> anyhow::Result<()> {
    let store = Store::open(args).await?;
    store.migrate().await?;
    store.close().await;
    Ok(())
}

/// Reads a password from standard input: everything up to the first line break.
pub fn read_password(input: &mut impl Read) -> anyhow::Result<String> {
    let mut text = String::new();
    // Read at most a little over the longest allowed password; more is refused below.
    input
        .take(64 * 1024)
        .read_to_string(&mut text)
        .context("reading the password from standard input")?;
    let line = text.split(['\n', '\r']).next().unwrap_or_default();
    Ok(line.to_string())
}

/// `lathe admin create`: make an instance admin with the given email and password.
pub async fn admin_create(args: &StoreArgs, email: &str, password: &str) -> anyhow::Result<String> {
    let email = crate::api::normalize_email(email)
        .map_err(|_| anyhow::anyhow!("`{email}` is not a valid email address"))?;
    validate_password(password)
        .map_err(|e| anyhow::anyhow!("{}", e.problem().detail.unwrap_or_default()))?;

    let store = Store::open(args).await?;
    store.migrate().await?;
    let hash = Hasher::new()?
        .hash(password)
        .await
        .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))?;
    let unexpected = |e: crate::error::Error| anyhow::anyhow!("creating the user: {e}");
    let mut change = store.change().await.map_err(unexpected)?;
    let user = change
        .user_insert(&email, &hash, true)
        .await
        .map_err(|e| match e {
            crate::error::Error::Conflict(_) => {
                anyhow::anyhow!("a user with email {email} already exists")
            }
            other => unexpected(other),
        })?;
    change
        .commit(AuditEvent {
            action: "user.create",
            via: Some("lathe admin create".into()),
            target: Some(user.id.clone()),
            detail: Some(serde_json::json!({ "email": user.email, "instance_admin": true })),
            ..Default::default()
        })
        .await
        .map_err(unexpected)?;
    store.close().await;
    Ok(user.id)
}

/// `lathe keys rotate`: optionally add a new master key to the key file, then re-seal every
/// data key with the current master key and every secret with a new data key. Recorded in the
/// audit log.
pub async fn keys_rotate(
    store_args: &StoreArgs,
    key_args: &KeyArgs,
    new_master_key: bool,
) -> anyhow::Result<crate::vault::RotationReport> {
    let store = Store::open(store_args).await?;
    store.migrate().await?;
    let key_file = key_args.key_file(&store_args.data_dir);
    let mut keyring = crate::vault::Keyring::load(key_args.master_key.as_ref(), &key_file, false)?;
    if new_master_key && matches!(keyring.source, crate::vault::KeySource::File(_)) {
        keyring = keyring.prepend_new_key()?;
    }
    let report = crate::vault::rotate(&store, &keyring).await?;
    store
        .audit_append(AuditEvent {
            action: "keys.rotate",
            via: Some("lathe keys rotate".into()),
            detail: Some(serde_json::json!({
                "masterKeyId": report.master_key_id,
                "workspaces": report.workspaces,
                "secretsResealed": report.secrets_resealed,
            })),
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow::anyhow!("recording the rotation: {e}"))?;
    store.close().await;
    Ok(report)
}
