//! `lathe plugin install|list|remove|rollback` and `lathe registry add|list|remove|trust`:
//! the same operations as `/api/v1/plugins` and `/api/v1/registries`, done straight on the
//! store by whoever runs the server (like `lathe admin create`). Running servers see the
//! change on their next request. Each change is an audit record naming the command.

use anyhow::Context;

use crate::config::{ConnectorArgs, StoreArgs};
use crate::connectors::Connectors;
use crate::error::Error;
use crate::install::{self, InstallRequest, Installed};
use crate::store::{AuditEvent, InstalledRow, RegistryRow, Store, TrustedKeyRow};

/// The store and a connector runtime, as `serve` would open them.
struct Opened {
    store: Store,
    connectors: Connectors,
}

async fn open(store_args: &StoreArgs, connector_args: &ConnectorArgs) -> anyhow::Result<Opened> {
    let store = open_store(store_args).await?;
    let connectors = Connectors::load(connector_args, &store_args.data_dir)?;
    let epoch = store.cache_epoch().await.map_err(problem)?;
    connectors.sync(&store, epoch).await.map_err(problem)?;
    Ok(Opened { store, connectors })
}

async fn open_store(store_args: &StoreArgs) -> anyhow::Result<Store> {
    let store = Store::open(store_args).await?;
    store.migrate().await.context("migrating the store")?;
    Ok(store)
}

/// An API error as a command-line error: its problem detail, which says what to do.
fn problem(e: Error) -> anyhow::Error {
    let p = e.problem();
    match p.detail {
        Some(detail) => anyhow::anyhow!("{detail}"),
        None => anyhow::anyhow!("{e}"),
    }
}

/// [`problem`], saying so when the plugin is not installed.
fn not_installed(plugin: &str, e: Error) -> anyhow::Error {
    match e {
        Error::NotFound => anyhow::anyhow!("`{plugin}` is not installed"),
        other => problem(other),
    }
}

fn audit(action: &'static str, command: &str) -> AuditEvent {
    AuditEvent {
        action,
        via: Some(command.to_string()),
        ..Default::default()
    }
}

/// What an install would do, shown to the person running it before they approve.
pub struct Proposal {
    pub plugin: String,
    pub version: String,
    pub registry: String,
    pub publisher: Option<String>,
    pub capabilities: Vec<String>,
    /// The version installed now, if any.
    pub installed: Option<String>,
    /// The installed version's publisher, when the package has another one (`unsigned` for
    /// none): approving the install approves that change too.
    pub publisher_change: Option<String>,
}

/// `lathe plugin install ID[@VERSION]`: fetch and verify, ask `approve` (with what the
/// package requests), then activate. Returns a line saying what happened.
pub async fn plugin_install(
    store_args: &StoreArgs,
    connector_args: &ConnectorArgs,
    spec: &str,
    registry: Option<&str>,
    approve: impl FnOnce(&Proposal) -> anyhow::Result<bool>,
) -> anyhow::Result<String> {
    let (plugin, version) = match spec.split_once('@') {
        Some((plugin, version)) => (plugin, Some(version)),
        None => (spec, None),
    };
    let opened = open(store_args, connector_args).await?;
    let request = InstallRequest {
        plugin,
        version,
        registry,
        approve: &[],
        approve_publisher: None,
        fetch_timeout: std::time::Duration::from_secs(300),
    };
    let candidate = install::fetch(&opened.store, &opened.connectors, &request)
        .await
        .map_err(problem)?;
    let installed = opened.store.installed_get(plugin).await.map_err(problem)?;
    let proposal = Proposal {
        plugin: candidate.manifest.id.clone(),
        version: candidate.manifest.version.clone(),
        registry: candidate.registry.name.clone(),
        publisher: candidate.publisher.clone(),
        capabilities: candidate.manifest.capabilities.clone(),
        publisher_change: installed
            .as_ref()
            .filter(|i| i.publisher != candidate.publisher)
            .map(|i| {
                i.publisher
                    .clone()
                    .unwrap_or_else(|| install::UNSIGNED.into())
            }),
        installed: installed.map(|i| i.version),
    };
    if !approve(&proposal)? {
        anyhow::bail!("not installed: the capabilities were not approved");
    }
    let outcome = install::activate(
        &opened.store,
        candidate,
        &proposal.capabilities,
        // Only a change that was shown is approved: one that happens between the prompt and
        // the write is refused by `activate`.
        proposal
            .publisher_change
            .as_ref()
            .map(|_| proposal.publisher.as_deref().unwrap_or(install::UNSIGNED)),
        None,
        audit("plugin.install", "lathe plugin install"),
    )
    .await
    .map_err(problem)?;
    opened.store.close().await;
    Ok(match outcome {
        Installed::New(row) => format!(
            "installed {}@{} ({})",
            row.plugin_id, row.version, row.digest
        ),
        Installed::Updated(row) => format!(
            "updated {} from {} to {} ({})",
            row.plugin_id,
            row.previous_version.unwrap_or_default(),
            row.version,
            row.digest
        ),
        Installed::Unchanged(row) => {
            format!(
                "{}@{} is installed already ({})",
                row.plugin_id, row.version, row.digest
            )
        }
    })
}

/// `lathe plugin list`: what is installed from registries.
pub async fn plugin_list(store_args: &StoreArgs) -> anyhow::Result<Vec<InstalledRow>> {
    let store = open_store(store_args).await?;
    let rows = store.installed_list().await.map_err(problem)?;
    store.close().await;
    Ok(rows)
}

/// `lathe plugin rollback ID`.
pub async fn plugin_rollback(store_args: &StoreArgs, plugin: &str) -> anyhow::Result<InstalledRow> {
    let store = open_store(store_args).await?;
    let row = install::rollback(
        &store,
        plugin,
        None,
        audit("plugin.rollback", "lathe plugin rollback"),
    )
    .await
    .map_err(|e| not_installed(plugin, e))?;
    store.close().await;
    Ok(row)
}

/// `lathe plugin remove ID [--force]`: returns how many datasources were disabled.
pub async fn plugin_remove(
    store_args: &StoreArgs,
    plugin: &str,
    force: bool,
) -> anyhow::Result<u64> {
    let store = open_store(store_args).await?;
    let disabled = install::remove(
        &store,
        plugin,
        force,
        audit("plugin.remove", "lathe plugin remove"),
    )
    .await
    .map_err(|e| not_installed(plugin, e))?;
    store.close().await;
    Ok(disabled)
}

/// `lathe registry add NAME URL [--allow-unsigned]`. Adding a registry that exists with the
/// same URL and setting changes nothing (so set-up scripts can run it every time).
pub async fn registry_add(
    store_args: &StoreArgs,
    name: &str,
    url: &str,
    allow_unsigned: bool,
) -> anyhow::Result<RegistryRow> {
    let store = open_store(store_args).await?;
    if let Some(existing) = store.registry_by_name(name).await.map_err(problem)?
        && existing.url == url
        && (existing.allow_unsigned != 0) == allow_unsigned
    {
        store.close().await;
        return Ok(existing);
    }
    let row = install::registry_row(name.to_string(), url.to_string(), allow_unsigned, None)
        .map_err(problem)?;
    let mut change = store.change().await.map_err(problem)?;
    change.registry_insert(&row).await.map_err(problem)?;
    change
        .commit(AuditEvent {
            target: Some(row.id.clone()),
            detail: Some(serde_json::json!({
                "name": row.name, "url": row.url, "allow_unsigned": allow_unsigned,
            })),
            ..audit("registry.create", "lathe registry add")
        })
        .await
        .map_err(problem)?;
    store.close().await;
    Ok(row)
}

/// `lathe registry list`: the registries and the trusted keys.
pub async fn registry_list(
    store_args: &StoreArgs,
) -> anyhow::Result<(Vec<RegistryRow>, Vec<TrustedKeyRow>)> {
    let store = open_store(store_args).await?;
    let registries = store.registries_list().await.map_err(problem)?;
    let keys = store.trusted_keys_list().await.map_err(problem)?;
    store.close().await;
    Ok((registries, keys))
}

/// `lathe registry remove NAME`.
pub async fn registry_remove(store_args: &StoreArgs, name: &str) -> anyhow::Result<()> {
    let store = open_store(store_args).await?;
    let row = store
        .registry_by_name(name)
        .await
        .map_err(problem)?
        .ok_or_else(|| anyhow::anyhow!("no registry is named `{name}`"))?;
    let mut change = store.change().await.map_err(problem)?;
    change.registry_delete(&row.id).await.map_err(problem)?;
    change
        .commit(AuditEvent {
            target: Some(row.id),
            ..audit("registry.delete", "lathe registry remove")
        })
        .await
        .map_err(problem)?;
    store.close().await;
    Ok(())
}

/// `lathe registry trust NAME KEY`: trust a publisher key. Trusting a key that is trusted
/// already changes nothing.
pub async fn registry_trust(
    store_args: &StoreArgs,
    name: &str,
    public_key: &str,
) -> anyhow::Result<TrustedKeyRow> {
    let row = install::trusted_key_row(name, public_key, None).map_err(problem)?;
    let store = open_store(store_args).await?;
    let existing = store.trusted_keys_list().await.map_err(problem)?;
    if let Some(found) = existing
        .into_iter()
        .find(|k| k.public_key == row.public_key)
    {
        store.close().await;
        return Ok(found);
    }
    let mut change = store.change().await.map_err(problem)?;
    change.trusted_key_insert(&row).await.map_err(problem)?;
    change
        .commit(AuditEvent {
            target: Some(row.id.clone()),
            detail: Some(serde_json::json!({ "name": row.name, "public_key": row.public_key })),
            ..audit("trusted_key.create", "lathe registry trust")
        })
        .await
        .map_err(problem)?;
    store.close().await;
    Ok(row)
}
