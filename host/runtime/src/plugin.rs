//! A connector loaded and compiled, ready to instantiate.

use crate::bindings::ConnectorWorldPre;
use crate::engine::Engine;
use crate::error::RuntimeError;
use crate::manifest::{COMPONENT_FILE, Manifest};
use crate::state::HostState;
use std::path::Path;

pub struct Plugin {
    pub manifest: Manifest,
    /// sha256 of the component, hex.
    pub digest: String,
    pub(crate) pre: ConnectorWorldPre<HostState>,
    pub(crate) engine: Engine,
}

impl Plugin {
    /// Loads a package directory: `lathe-plugin.json` and `component.wasm`.
    pub fn load(engine: &Engine, dir: &Path) -> Result<Plugin, RuntimeError> {
        let manifest = Manifest::load(dir)?;
        let path = dir.join(COMPONENT_FILE);
        let wasm = std::fs::read(&path)
            .map_err(|e| RuntimeError::InvalidPlugin(format!("reading {}: {e}", path.display())))?;
        Plugin::new(engine, manifest, &wasm)
    }

    /// Compiles `wasm` and checks that it implements the world its manifest names: every
    /// import must be one the host provides and the exports must match the contract.
    pub fn new(engine: &Engine, manifest: Manifest, wasm: &[u8]) -> Result<Plugin, RuntimeError> {
        manifest.check()?;
        let label = manifest.label();
        let (component, digest) = engine.compile(wasm).map_err(|e| match e {
            RuntimeError::InvalidPlugin(m) => RuntimeError::InvalidPlugin(format!("{label}: {m}")),
            other => other,
        })?;
        let instance_pre = engine.linker().instantiate_pre(&component).map_err(|e| {
            RuntimeError::InvalidPlugin(format!(
                "{label} imports something the host does not provide: {e}"
            ))
        })?;
        let pre = ConnectorWorldPre::new(instance_pre).map_err(|e| {
            RuntimeError::InvalidPlugin(format!(
                "{label} does not export the {} contract: {e}",
                manifest.wit
            ))
        })?;
        Ok(Plugin {
            manifest,
            digest,
            pre,
            engine: engine.clone(),
        })
    }

    /// Instantiates the component in a fresh store without opening a connection, and drops
    /// it: proves the component starts on this host, and says how long that took.
    pub async fn probe(&self) -> Result<std::time::Duration, RuntimeError> {
        let grants = std::sync::Arc::new(crate::egress::Grants::default());
        let max_memory = self.engine.config().max_memory_bytes;
        let mut store = wasmtime::Store::new(
            self.engine.wasmtime(),
            HostState::new(&self.label(), grants, max_memory),
        );
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(u64::MAX / 2);
        let started = std::time::Instant::now();
        self.pre.instantiate_async(&mut store).await.map_err(|e| {
            RuntimeError::InvalidPlugin(format!("{} does not start: {e}", self.label()))
        })?;
        Ok(started.elapsed())
    }

    pub fn label(&self) -> String {
        self.manifest.label()
    }
}
