//! The connectors this server runs: the catalog of plugins loaded at start, the egress
//! policy they run under, and one pool of live instances per datasource.
//!
//! A pool is keyed by the datasource's id and a fingerprint of everything it was opened
//! with (plugin, configuration, sealed secrets, row limit): an edit on any replica changes
//! the fingerprint, so every replica opens fresh connections on its next run.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use lathe_runtime::{EgressPolicy, Engine, EngineConfig, Limits, Plugin, Pool, PoolConfig};
use sha2::{Digest, Sha256};

use crate::config::ConnectorArgs;
use crate::store::DatasourceRow;

pub struct Connectors {
    plugins: BTreeMap<String, Arc<Plugin>>,
    policy: EgressPolicy,
    settings: PoolConfig,
    pools: Mutex<HashMap<String, (String, OpenPool)>>,
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
    /// logged and left out; the server still starts.
    pub fn load(args: &ConnectorArgs, data_dir: &Path) -> anyhow::Result<Connectors> {
        let cache_dir = args
            .cache_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("components"));
        let engine =
            Engine::new(EngineConfig::new(cache_dir)).context("starting the wasm engine")?;
        let mut policy = EgressPolicy::public_only();
        for entry in args
            .egress_allow
            .iter()
            .map(|e| e.trim())
            .filter(|e| !e.is_empty())
        {
            policy
                .allow(entry)
                .map_err(|e| anyhow::anyhow!("LATHE_EGRESS_ALLOW: {e}"))?;
        }

        let mut plugins = BTreeMap::new();
        for dir in package_dirs(&args.plugins_dir) {
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
                    plugins.insert(plugin.manifest.id.clone(), Arc::new(plugin));
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
            plugins,
            policy,
            settings,
            pools: Mutex::new(HashMap::new()),
        })
    }

    pub fn plugins(&self) -> impl Iterator<Item = &Arc<Plugin>> {
        self.plugins.values()
    }

    pub fn plugin(&self, id: &str) -> Option<&Arc<Plugin>> {
        self.plugins.get(id)
    }

    /// The pool of `datasource` when one is open with its current settings.
    pub fn cached_pool(&self, datasource: &DatasourceRow) -> Option<OpenPool> {
        let fingerprint = fingerprint_of(datasource);
        let pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        match pools.get(&datasource.id) {
            Some((open_with, open)) if *open_with == fingerprint => Some(open.clone()),
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
        let open = OpenPool {
            pool: Arc::new(Pool::new(plugin, config, self.policy.clone(), settings)),
            secrets: secrets.into(),
        };
        let old = {
            let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
            pools.insert(
                datasource.id.clone(),
                (fingerprint_of(datasource), open.clone()),
            )
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

fn fingerprint_of(datasource: &DatasourceRow) -> String {
    let digest = Sha256::new()
        .chain_update(datasource.plugin_id.as_bytes())
        .chain_update([0])
        .chain_update(datasource.config.as_bytes())
        .chain_update([0])
        .chain_update(datasource.secrets.as_deref().unwrap_or("").as_bytes())
        .chain_update([0])
        .chain_update(datasource.max_rows.to_le_bytes())
        .finalize();
    hex::encode(digest)
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
