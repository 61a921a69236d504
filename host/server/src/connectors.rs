//! The connectors this server runs: the catalog of plugins loaded at start, the egress
//! policy they run under, and one pool of live instances per datasource.
//!
//! A pool is keyed by the datasource's id and a fingerprint of everything it was opened
//! with (plugin, configuration, sealed secrets, row limit): an edit on any replica changes
//! the fingerprint, so every replica opens fresh connections on its next run.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::Context;
use lathe_runtime::{EgressPolicy, Engine, EngineConfig, Limits, Plugin, Pool, PoolConfig};

use crate::config::ConnectorArgs;
use crate::store::{DatasourceRow, EGRESS_ALLOW, Store};

pub struct Connectors {
    engine: Engine,
    /// Packages from the plugins directory, loaded at start and never changed.
    bundled: BTreeMap<String, Arc<Plugin>>,
    /// The allow-list given by flags; the one in the settings adds to it.
    flag_allow: Vec<String>,
    catalog: RwLock<Arc<Catalog>>,
    /// Held while a sync reads the store and compiles, so concurrent requests wait for one.
    syncing: tokio::sync::Mutex<()>,
    settings: PoolConfig,
    pools: Mutex<HashMap<String, (Fingerprint, OpenPool)>>,
    /// Held by installs, updates, rollbacks and removals in this process, one at a time.
    pub install_lock: tokio::sync::Mutex<()>,
}

/// What the store says is installed, and the egress policy, as of one cache epoch.
struct Catalog {
    epoch: Option<i64>,
    /// Installed plugins by id, with the digest of the package each came from.
    installed: BTreeMap<String, (String, Arc<Plugin>)>,
    policy: EgressPolicy,
    /// The settings' allow-list as stored, part of every pool's fingerprint: a change opens
    /// fresh connections under the new policy.
    allow: String,
}

/// A datasource's pool and the secret values it was opened with, which runs mask in their
/// results (kept here so a run needn't open the sealed secrets again).
#[derive(Clone)]
pub struct OpenPool {
    pub pool: Arc<Pool>,
    pub secrets: Arc<[String]>,
}

impl Connectors {
    /// Loads every package under the plugins directory. A package that fails to load is
    /// logged and left out; the server still starts. Installed plugins are loaded from the
    /// store by the first [`Connectors::sync`].
    pub fn load(args: &ConnectorArgs, data_dir: &Path) -> anyhow::Result<Connectors> {
        let cache_dir = args
            .cache_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("components"));
        let engine =
            Engine::new(EngineConfig::new(cache_dir)).context("starting the wasm engine")?;
        let flag_allow: Vec<String> = args
            .egress_allow
            .iter()
            .map(|e| e.trim().to_string())
            .filter(|e| !e.is_empty())
            .collect();
        let policy = egress_policy(&flag_allow, &[])
            .map_err(|e| anyhow::anyhow!("LATHE_EGRESS_ALLOW: {e}"))?;

        let mut bundled = BTreeMap::new();
        for dir in args.plugins_dir.iter().flat_map(|d| package_dirs(d)) {
            match lathe_runtime::package::read(&dir)
                .and_then(|(manifest, wasm)| Plugin::new(&engine, manifest, &wasm))
            {
                Ok(plugin) => {
                    tracing::info!(
                        event = "plugins.loaded",
                        plugin = %plugin.label(),
                        digest = %plugin.digest,
                        "connector loaded"
                    );
                    bundled.insert(plugin.manifest.id.clone(), Arc::new(plugin));
                }
                Err(e) => tracing::error!(
                    event = "plugins.load_failed",
                    dir = %dir.display(),
                    error = %e,
                    "connector left out"
                ),
            }
        }

        let settings = PoolConfig {
            max_size: usize::from(args.pool_size),
            limits: Limits {
                call_timeout: Duration::from_secs(args.query_timeout_secs),
                max_bytes: args.query_max_bytes,
                ..Limits::default()
            },
            ..PoolConfig::default()
        };
        Ok(Connectors {
            engine,
            bundled,
            flag_allow,
            catalog: RwLock::new(Arc::new(Catalog {
                epoch: None,
                installed: BTreeMap::new(),
                policy,
                allow: String::new(),
            })),
            syncing: tokio::sync::Mutex::new(()),
            settings,
            pools: Mutex::new(HashMap::new()),
            install_lock: tokio::sync::Mutex::new(()),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    fn catalog(&self) -> Arc<Catalog> {
        self.catalog
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Brings the installed plugins and the egress policy up to the store as of `epoch`
    /// (the request's cache epoch; installs and setting changes move it). Packages are
    /// compiled here, once per process (the compile cache makes a restart cheap); a package
    /// that no longer loads is logged and left out.
    pub async fn sync(&self, store: &Store, epoch: i64) -> crate::error::Result<()> {
        if self.catalog().epoch == Some(epoch) {
            return Ok(());
        }
        let _syncing = self.syncing.lock().await;
        let current = self.catalog();
        if current.epoch == Some(epoch) {
            return Ok(());
        }

        let rows = store.installed_list().await?;
        let allow = store.setting_get(EGRESS_ALLOW).await?.unwrap_or_default();
        let mut installed = BTreeMap::new();
        for row in rows {
            match current.installed.get(&row.plugin_id) {
                Some((digest, plugin)) if *digest == row.digest => {
                    installed.insert(row.plugin_id, (row.digest, plugin.clone()));
                }
                _ => match self.load_package(store, &row.digest).await {
                    Ok(plugin) => {
                        installed.insert(row.plugin_id, (row.digest, plugin));
                    }
                    Err(e) => tracing::error!(
                        event = "plugins.load_failed",
                        plugin = %row.plugin_id,
                        digest = %row.digest,
                        error = %e,
                        "installed connector left out"
                    ),
                },
            }
        }
        let entries: Vec<String> = serde_json::from_str(&allow).unwrap_or_default();
        let policy = match egress_policy(&self.flag_allow, &entries) {
            Ok(policy) => policy,
            Err(e) => {
                // Entries are checked when set; one that stopped parsing keeps the old policy.
                tracing::error!(event = "settings.egress_invalid", error = %e, "egress allow-list ignored");
                current.policy.clone()
            }
        };
        *self.catalog.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(Catalog {
            epoch: Some(epoch),
            installed,
            policy,
            allow,
        });
        Ok(())
    }

    /// Compiles the stored package `digest` and checks it against the contract.
    pub async fn load_package(&self, store: &Store, digest: &str) -> anyhow::Result<Arc<Plugin>> {
        let row = store
            .package_get(digest)
            .await?
            .ok_or_else(|| anyhow::anyhow!("package {digest} is not in the store"))?;
        let manifest: lathe_runtime::Manifest = serde_json::from_str(&row.manifest)
            .with_context(|| format!("the manifest of package {digest}"))?;
        let engine = self.engine.clone();
        let plugin =
            tokio::task::spawn_blocking(move || Plugin::new(&engine, manifest, &row.component))
                .await
                .context("compiling a connector")??;
        Ok(Arc::new(plugin))
    }

    /// Every plugin this server can run, bundled and installed, by id.
    pub fn plugins(&self) -> Vec<Arc<Plugin>> {
        let catalog = self.catalog();
        let mut all: BTreeMap<&str, Arc<Plugin>> = BTreeMap::new();
        for (id, plugin) in &self.bundled {
            all.insert(id, plugin.clone());
        }
        for (id, (_, plugin)) in &catalog.installed {
            all.entry(id).or_insert_with(|| plugin.clone());
        }
        all.into_values().collect()
    }

    pub fn plugin(&self, id: &str) -> Option<Arc<Plugin>> {
        if let Some(plugin) = self.bundled.get(id) {
            return Some(plugin.clone());
        }
        self.catalog().installed.get(id).map(|(_, p)| p.clone())
    }

    /// Whether `id` comes from the plugins directory (and so can't be installed over).
    pub fn is_bundled(&self, id: &str) -> bool {
        self.bundled.contains_key(id)
    }

    /// The egress policy connectors run under now.
    pub fn policy(&self) -> EgressPolicy {
        self.catalog().policy.clone()
    }

    /// The allow-list given by flags (`--egress-allow`).
    pub fn flag_allow(&self) -> &[String] {
        &self.flag_allow
    }

    /// The pool of `datasource` when one is open with its current settings.
    pub fn cached_pool(&self, datasource: &DatasourceRow) -> Option<OpenPool> {
        let plugin = self.plugin(&datasource.plugin_id)?;
        let catalog = self.catalog();
        let pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        match pools.get(&datasource.id) {
            Some((open_with, open)) if open_with.matches(datasource, &plugin, &catalog.allow) => {
                Some(open.clone())
            }
            _ => None,
        }
    }

    /// Opens a pool for `datasource` with its full configuration (secrets included), replacing
    /// (and closing) any pool opened with older settings.
    pub fn open_pool(
        &self,
        plugin: Arc<Plugin>,
        datasource: &DatasourceRow,
        config: serde_json::Value,
        secrets: Vec<String>,
    ) -> OpenPool {
        let mut settings = self.settings.clone();
        settings.limits.max_rows = usize::try_from(datasource.max_rows).unwrap_or(usize::MAX);
        let catalog = self.catalog();
        let fingerprint = Fingerprint::of(datasource, &plugin, &catalog.allow);
        let open = OpenPool {
            pool: Arc::new(Pool::new(plugin, config, catalog.policy.clone(), settings)),
            secrets: secrets.into(),
        };
        let old = {
            let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
            pools.insert(datasource.id.clone(), (fingerprint, open.clone()))
        };
        if let Some((_, old)) = old {
            tokio::spawn(async move { old.pool.clear().await });
        }
        open
    }

    /// Closes the pool of a datasource that was changed or deleted.
    pub fn forget(&self, datasource_id: &str) {
        let old = {
            let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
            pools.remove(datasource_id)
        };
        if let Some((_, old)) = old {
            tokio::spawn(async move { old.pool.clear().await });
        }
    }
}

/// The egress policy of the flags' allow-list and the settings' one. Metadata addresses stay
/// refused whatever either says (`EgressPolicy::allow` refuses them).
pub fn egress_policy(flags: &[String], settings: &[String]) -> Result<EgressPolicy, String> {
    let mut policy = EgressPolicy::public_only();
    for entry in flags.iter().chain(settings) {
        policy.allow(entry)?;
    }
    Ok(policy)
}

/// Everything a pool was opened with: the datasource's settings, the plugin's component (an
/// update or a rollback changes it) and the egress allow-list of the settings.
/// Everything a pool was opened with, compared field by field on every run (cheaper than
/// hashing them each time): a change to any opens a fresh pool.
struct Fingerprint {
    plugin_id: String,
    plugin_digest: String,
    allow: String,
    config: String,
    /// The sealed secrets as stored (ciphertext, never opened here).
    secrets: Option<String>,
    max_rows: i64,
}

impl Fingerprint {
    fn of(datasource: &DatasourceRow, plugin: &Plugin, allow: &str) -> Fingerprint {
        Fingerprint {
            plugin_id: datasource.plugin_id.clone(),
            plugin_digest: plugin.digest.clone(),
            allow: allow.to_string(),
            config: datasource.config.clone(),
            secrets: datasource.secrets.clone(),
            max_rows: datasource.max_rows,
        }
    }

    fn matches(&self, datasource: &DatasourceRow, plugin: &Plugin, allow: &str) -> bool {
        self.plugin_id == datasource.plugin_id
            && self.plugin_digest == plugin.digest
            && self.allow == allow
            && self.config == datasource.config
            && self.secrets == datasource.secrets
            && self.max_rows == datasource.max_rows
    }
}

/// Sub-directories of `root` holding a manifest, in name order. A missing root is no plugins.
fn package_dirs(root: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(root) else {
        tracing::warn!(
            event = "plugins.dir_missing",
            dir = %root.display(),
            "no plugins directory; no connectors are available (set LATHE_PLUGINS_DIR)"
        );
        return Vec::new();
    };
    let mut dirs: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join(lathe_runtime::manifest::MANIFEST_FILE).is_file())
        .collect();
    dirs.sort();
    dirs
}
