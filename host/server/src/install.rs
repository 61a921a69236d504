//! Installing connectors from registries, for `POST /api/v1/plugins` and for
//! `lathe plugin install`: find the package in a configured registry, fetch it through the
//! egress policy, check its digest, its signature against the trusted keys, its manifest and
//! its component against the contract, require approval of what it may reach, then store and
//! activate it in one change. Nothing is written before every check has passed, so a refused
//! package leaves nothing behind.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use lathe_registry::client::{Client, Resolve, Source};
use lathe_registry::package::Package;
use lathe_runtime::{Manifest, Plugin};
use serde_json::json;

use crate::connectors::Connectors;
use crate::error::{Error, Result};
use crate::store::{
    AuditEvent, InstalledRow, PackageRow, RegistryRow, Store, TrustedKeyRow, new_id, now_ms,
};

/// How `approve_publisher` names the absence of a signature.
pub const UNSIGNED: &str = "unsigned";

/// The largest package the server downloads.
pub const MAX_PACKAGE_BYTES: u64 = 64 << 20;

/// What to install: a plugin id, optionally an exact version and a registry by name.
pub struct InstallRequest<'a> {
    pub plugin: &'a str,
    pub version: Option<&'a str>,
    pub registry: Option<&'a str>,
    /// The capabilities the caller approves. An install must approve every capability the
    /// package requests; an update, every one not approved for the installed version.
    pub approve: &'a [String],
    /// The publisher the caller approves when an update comes from another one than the
    /// installed version's: its key, or `unsigned`.
    pub approve_publisher: Option<&'a str>,
    /// How long fetching from a registry may take: under the API's request time limit for
    /// the API, longer for the command line.
    pub fetch_timeout: std::time::Duration,
}

/// What an install did.
pub enum Installed {
    /// The plugin was not installed before.
    New(InstalledRow),
    /// Another package of the plugin was active before.
    Updated(InstalledRow),
    /// That very package is active already; nothing was written.
    Unchanged(InstalledRow),
}

/// A package found in a registry, verified, and ready to approve.
pub struct Candidate {
    pub registry: RegistryRow,
    pub digest: String,
    pub package: Package,
    pub manifest: Manifest,
    /// The signing key, when the package is signed.
    pub publisher: Option<String>,
}

/// Finds, fetches and verifies a package; writes nothing.
pub async fn fetch(
    store: &Store,
    connectors: &Connectors,
    request: &InstallRequest<'_>,
) -> Result<Candidate> {
    if !valid_id(request.plugin) {
        return Err(Error::Validation(
            "`id` must be 1-64 characters of a-z, 0-9 and '-'".into(),
        ));
    }
    let version = request
        .version
        .map(|v| {
            semver::Version::parse(v)
                .map_err(|e| Error::Validation(format!("`version` is not a semantic version: {e}")))
        })
        .transpose()?;
    if connectors.is_bundled(request.plugin) {
        return Err(Error::Conflict(format!(
            "`{}` is bundled with this server (its plugins directory); remove it there to \
             install it from a registry",
            request.plugin
        )));
    }

    // An update comes from where the installed version came from, unless the caller names
    // a registry: another registry listing the same id is not a source of updates for it.
    let installed_from = match store.installed_get(request.plugin).await? {
        Some(row) => store.registry_by_name(&row.registry).await?,
        None => None,
    };
    let registries = match (request.registry, installed_from) {
        (Some(name), _) => vec![store.registry_by_name(name).await?.ok_or_else(|| {
            Error::Validation(format!(
                "no registry is named `{name}` (see GET /api/v1/registries)"
            ))
        })?],
        (None, Some(registry)) => vec![registry],
        (None, None) => store.registries_list().await?,
    };
    if registries.is_empty() {
        return Err(Error::Validation(
            "no registry is configured: add one with POST /api/v1/registries".into(),
        ));
    }

    let wanted = match &version {
        Some(v) => format!("{}@{v}", request.plugin),
        None => request.plugin.to_string(),
    };
    for registry in registries {
        let client = client_for(&registry, connectors)?;
        let failed = |e: String| Error::Registry(format!("registry `{}`: {e}", registry.name));
        let seconds = request.fetch_timeout.as_secs();
        let timed_out = |_| failed(format!("no answer within {seconds} s"));
        let index = tokio::time::timeout(request.fetch_timeout, client.index())
            .await
            .map_err(timed_out)?
            .map_err(|e| failed(e.to_string()))?;
        let Some(entry) = index.find(request.plugin, version.as_ref()) else {
            continue;
        };
        if entry.yanked {
            return Err(Error::Conflict(format!(
                "{wanted} is yanked in registry `{}`",
                registry.name
            )));
        }
        let digest = entry.digest.clone();
        let bytes = tokio::time::timeout(request.fetch_timeout, client.package(&digest))
            .await
            .map_err(timed_out)?
            .map_err(|e| failed(e.to_string()))?;
        let listed = Listed {
            id: request.plugin,
            version: &entry.version,
        };
        return verify(store, connectors, registry, digest, &bytes, listed).await;
    }
    Err(Error::Validation(format!(
        "no configured registry has {wanted} (or every version of it is yanked)"
    )))
}

/// What the index said a package is.
struct Listed<'a> {
    id: &'a str,
    version: &'a str,
}

/// Checks a downloaded package: its contents, its signature and whether the key is trusted,
/// that it is what the index said, its manifest, and that its component implements the
/// contract this host binds (compiling it, which also fills the compile cache).
async fn verify(
    store: &Store,
    connectors: &Connectors,
    registry: RegistryRow,
    digest: String,
    bytes: &[u8],
    listed: Listed<'_>,
) -> Result<Candidate> {
    let refused = |m: String| Error::PackageRefused(format!("{digest}: {m}"));
    let package = Package::from_bytes(bytes).map_err(|e| refused(e.to_string()))?;
    let signer = package.verify().map_err(|e| refused(e.to_string()))?;
    let publisher = signer.map(|k| k.to_string());
    let trusted = match &publisher {
        Some(key) => store
            .trusted_keys_list()
            .await?
            .iter()
            .any(|t| &t.public_key == key),
        None => false,
    };
    if !trusted && registry.allow_unsigned == 0 {
        return Err(refused(match &publisher {
            Some(key) => format!(
                "it is signed by {key}, which is not a trusted key (add it with POST \
                 /api/v1/trusted-keys if you trust its publisher)"
            ),
            None => format!(
                "it is not signed, and registry `{}` does not allow unsigned packages",
                registry.name
            ),
        }));
    }

    let head = package.head();
    // The package must be what was asked for: an index entry of one id pointing at another
    // plugin's package would otherwise replace that plugin.
    if head.id != listed.id {
        return Err(refused(format!(
            "the registry lists it as `{}`, but the package is `{}`",
            listed.id, head.id
        )));
    }
    if head.version.to_string() != listed.version {
        return Err(refused(format!(
            "the index lists it as version {}, but it holds {}",
            listed.version, head.version
        )));
    }
    let manifest: Manifest = serde_json::from_slice(package.manifest_bytes())
        .map_err(|e| refused(format!("the manifest is not valid: {e}")))?;
    let engine = connectors.engine().clone();
    let component = package.component_bytes().to_vec();
    let checked = manifest.clone();
    tokio::task::spawn_blocking(move || Plugin::new(&engine, checked, &component))
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("compiling a connector: {e}")))?
        .map_err(|e| refused(e.to_string()))?;
    Ok(Candidate {
        registry,
        digest,
        package,
        manifest,
        publisher,
    })
}

/// Installs or updates to `candidate` if the caller approved what it requests, in one change
/// with its audit record (`base` says who and from where).
pub async fn activate(
    store: &Store,
    candidate: Candidate,
    approve: &[String],
    approve_publisher: Option<&str>,
    user_id: Option<&str>,
    base: AuditEvent,
) -> Result<Installed> {
    let plugin_id = candidate.manifest.id.clone();
    let requested = candidate.manifest.capabilities.clone();
    let mut change = store.change().await?;
    let before = change.installed_for_update(&plugin_id).await?;
    if let Some(row) = &before
        && row.digest == candidate.digest
    {
        return Ok(Installed::Unchanged(row.clone()));
    }

    // Who signs a plugin's updates is part of what was approved: a package by another key
    // (or none) needs that change approved, even where both keys are trusted.
    if let Some(row) = &before
        && row.publisher != candidate.publisher
    {
        let new = candidate.publisher.as_deref().unwrap_or(UNSIGNED);
        if approve_publisher != Some(new) {
            let old = row.publisher.as_deref().unwrap_or(UNSIGNED);
            return Err(Error::ApprovalRequired {
                detail: format!(
                    "this update changes the publisher from {old} to {new}: approve it by \
                     sending `approve_publisher: \"{new}\"`"
                ),
                capabilities: candidate.manifest.capabilities.clone(),
            });
        }
    }
    let approved_before: Vec<String> = before
        .as_ref()
        .map(|row| serde_json::from_str(&row.approved).unwrap_or_default())
        .unwrap_or_default();
    let unapproved: Vec<&String> = requested
        .iter()
        .filter(|c| !approved_before.contains(c) && !approve.contains(c))
        .collect();
    if !unapproved.is_empty() {
        let list = unapproved
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let what = if before.is_some() {
            "this update widens what the plugin may reach"
        } else {
            "installing needs approval of what the plugin may reach"
        };
        return Err(Error::ApprovalRequired {
            detail: format!(
                "{what}: approve {list} by sending them in `approve_capabilities` \
                 (every capability it requests is in `capabilities`)"
            ),
            capabilities: requested,
        });
    }

    let row = PackageRow {
        digest: candidate.digest.clone(),
        plugin_id: plugin_id.clone(),
        version: candidate.manifest.version.clone(),
        manifest: String::from_utf8_lossy(candidate.package.manifest_bytes()).into_owned(),
        component: candidate.package.component_bytes().to_vec(),
        publisher: candidate.publisher.clone(),
        registry: candidate.registry.name.clone(),
        created_at: now_ms(),
    };
    change.package_insert(&row).await?;
    let approved = serde_json::to_string(&requested).unwrap_or_else(|_| "[]".into());
    change
        .installed_activate(&plugin_id, &candidate.digest, &approved, user_id)
        .await?;
    change.packages_prune().await?;
    let action = if before.is_some() {
        "plugin.update"
    } else {
        "plugin.install"
    };
    let detail = json!({
        "plugin": plugin_id,
        "version": candidate.manifest.version,
        "digest": candidate.digest,
        "registry": candidate.registry.name,
        "publisher": candidate.publisher,
        "approved_capabilities": requested,
        "previous_version": before.as_ref().map(|b| b.version.clone()),
    });
    change
        .commit(AuditEvent {
            target: Some(plugin_id.clone()),
            detail: Some(detail),
            action,
            ..base
        })
        .await?;
    tracing::info!(
        event = action,
        plugin = %plugin_id,
        version = %candidate.manifest.version,
        digest = %candidate.digest,
        "connector activated"
    );

    let installed = store
        .installed_get(&plugin_id)
        .await?
        .ok_or(Error::NotFound)?;
    Ok(match before {
        Some(_) => Installed::Updated(installed),
        None => Installed::New(installed),
    })
}

/// Makes the previous version of an installed plugin active again, with the capabilities it
/// was approved for then.
pub async fn rollback(
    store: &Store,
    plugin_id: &str,
    user_id: Option<&str>,
    base: AuditEvent,
) -> Result<InstalledRow> {
    let mut change = store.change().await?;
    let before = change
        .installed_for_update(plugin_id)
        .await?
        .ok_or(Error::NotFound)?;
    let Some(previous) = before.previous_version.clone() else {
        return Err(Error::Conflict(format!(
            "`{plugin_id}` has no previous version to roll back to"
        )));
    };
    // The version rolled back to must still be one the instance would install now: its key
    // trusted, or (unsigned, or signed by an unknown key) from a registry allowing that.
    if let Some(digest) = &before.previous_digest {
        let package = store.package_get(digest).await?.ok_or(Error::NotFound)?;
        let trusted = match &package.publisher {
            Some(key) => store
                .trusted_keys_list()
                .await?
                .iter()
                .any(|t| &t.public_key == key),
            None => false,
        };
        let allowed = trusted
            || store
                .registry_by_name(&package.registry)
                .await?
                .is_some_and(|r| r.allow_unsigned != 0);
        if !allowed {
            return Err(Error::Conflict(format!(
                "{plugin_id}@{previous} is signed by a key this instance no longer trusts (or \
                 came from a registry that no longer allows unsigned packages)"
            )));
        }
    }
    change.installed_rollback(plugin_id, user_id).await?;
    let detail = json!({
        "plugin": plugin_id, "from_version": before.version, "to_version": previous,
        "digest": before.previous_digest,
    });
    change
        .commit(AuditEvent {
            target: Some(plugin_id.to_string()),
            detail: Some(detail),
            action: "plugin.rollback",
            ..base
        })
        .await?;
    tracing::info!(event = "plugin.rollback", plugin = %plugin_id, version = %previous, "connector rolled back");
    store.installed_get(plugin_id).await?.ok_or(Error::NotFound)
}

/// Uninstalls a plugin. Refused while datasources use it unless `force`, which disables
/// them. Returns how many were disabled.
pub async fn remove(store: &Store, plugin_id: &str, force: bool, base: AuditEvent) -> Result<u64> {
    let mut change = store.change().await?;
    let before = change
        .installed_for_update(plugin_id)
        .await?
        .ok_or(Error::NotFound)?;
    let using = store.datasources_using(plugin_id).await?;
    if using > 0 && !force {
        return Err(Error::Conflict(format!(
            "{using} datasource(s) use `{plugin_id}`; delete them first, or remove it with \
             force, which disables them"
        )));
    }
    let reason = format!("its plugin `{plugin_id}` was removed");
    let disabled = change.installed_delete(plugin_id, &reason).await?;
    change.packages_prune().await?;
    let detail = json!({
        "plugin": plugin_id, "version": before.version, "disabled_datasources": disabled,
    });
    change
        .commit(AuditEvent {
            target: Some(plugin_id.to_string()),
            detail: Some(detail),
            action: "plugin.remove",
            ..base
        })
        .await?;
    tracing::info!(event = "plugin.remove", plugin = %plugin_id, disabled_datasources = disabled, "connector removed");
    Ok(disabled)
}

/// A registry client that reaches the registry only where the egress policy allows.
pub fn client_for(registry: &RegistryRow, connectors: &Connectors) -> Result<Client> {
    let source = Source::parse(&registry.url)
        .map_err(|e| Error::Validation(format!("registry `{}`: {e}", registry.name)))?;
    let resolver = Arc::new(PolicyResolve {
        policy: connectors.policy(),
    });
    Ok(Client::new(source, resolver, MAX_PACKAGE_BYTES))
}

/// Whether `url` is a registry source the server can use; the error says why not.
pub fn check_source(url: &str) -> Result<()> {
    Source::parse(url)
        .map(|_| ())
        .map_err(|e| Error::Validation(format!("`url`: {e}")))
}

/// Resolves a registry's host and keeps only the addresses the egress policy allows: the
/// server's own fetches obey the same rules as connectors (metadata addresses never; private
/// ones only when allowed).
struct PolicyResolve {
    policy: lathe_runtime::EgressPolicy,
}

impl Resolve for PolicyResolve {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = std::result::Result<Vec<SocketAddr>, String>> + Send + 'a>>
    {
        Box::pin(async move {
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            let found: Vec<SocketAddr> = match bare.parse::<std::net::IpAddr>() {
                Ok(ip) => vec![SocketAddr::new(ip, port)],
                Err(_) => tokio::net::lookup_host((bare, port))
                    .await
                    .map_err(|e| format!("resolving {bare}: {e}"))?
                    .collect(),
            };
            let mut refusal = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match self.policy.check(bare, a.ip()) {
                    Ok(()) => true,
                    Err(e) => {
                        refusal = Some(e);
                        false
                    }
                })
                .collect();
            match (allowed.is_empty(), refusal) {
                (false, _) => Ok(allowed),
                (true, Some(why)) => Err(why),
                (true, None) => Err(format!("{bare} has no address")),
            }
        })
    }
}

/// A new registry row, checked: a name of the id rule and a usable source.
pub fn registry_row(
    name: String,
    url: String,
    allow_unsigned: bool,
    by: Option<&str>,
) -> Result<RegistryRow> {
    check_registry_name(&name)?;
    check_source(&url)?;
    Ok(RegistryRow {
        id: new_id(),
        name,
        url,
        allow_unsigned: i64::from(allow_unsigned),
        created_by: by.map(str::to_string),
        created_at: now_ms(),
    })
}

pub fn check_registry_name(name: &str) -> Result<()> {
    if valid_id(name) {
        Ok(())
    } else {
        Err(Error::Validation(
            "`name` must be 1-64 characters of a-z, 0-9 and '-'".into(),
        ))
    }
}

/// A new trusted key row, checked: a readable name and an ed25519 public key.
pub fn trusted_key_row(name: &str, public_key: &str, by: Option<&str>) -> Result<TrustedKeyRow> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Error::Validation(
            "`name` must be 1-100 characters, without control characters".into(),
        ));
    }
    let key: lathe_registry::keys::PublicKey = public_key
        .trim()
        .parse()
        .map_err(|e| Error::Validation(format!("`public_key`: {e}")))?;
    Ok(TrustedKeyRow {
        id: new_id(),
        name: name.to_string(),
        public_key: key.to_string(),
        created_by: by.map(str::to_string),
        created_at: now_ms(),
    })
}

/// The manifest's id rule: what keeps a plugin id usable in paths and URLs.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}
