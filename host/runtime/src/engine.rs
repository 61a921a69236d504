//! The process's one wasmtime engine: pooling allocator, async calls, epoch interruption
//! from a single ticker thread, the linker every connector is instantiated with, and the
//! on-disk cache of compiled components.

use crate::error::RuntimeError;
use crate::state::HostState;
use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances. A call's deadline is checked at each tick, so it is also
/// the precision of deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Where compiled components are cached, keyed by digest and engine compatibility.
    pub cache_dir: PathBuf,
    /// The most connector instances alive at once in this process.
    pub max_instances: u32,
    /// The most linear memory one instance may use.
    pub max_memory_bytes: usize,
}

impl EngineConfig {
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        EngineConfig {
            cache_dir: cache_dir.into(),
            max_instances: 128,
            max_memory_bytes: 256 << 20,
        }
    }
}

/// The engine, its linker and its compile cache. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    engine: wasmtime::Engine,
    linker: Linker<HostState>,
    config: EngineConfig,
    compatibility: String,
}

impl Engine {
    pub fn new(config: EngineConfig) -> Result<Engine, RuntimeError> {
        let mut pooling = PoolingAllocationConfig::default();
        let n = config.max_instances;
        pooling
            .total_component_instances(n)
            .total_core_instances(n * 8)
            .total_memories(n * 2)
            .total_tables(n * 8)
            .max_memories_per_component(2)
            .max_tables_per_component(8)
            .max_core_instances_per_component(16)
            .max_memory_size(config.max_memory_bytes)
            .max_component_instance_size(1 << 20)
            .max_core_instance_size(1 << 20)
            .linear_memory_keep_resident(1 << 20)
            .table_keep_resident(64 << 10);

        let mut wasm = Config::new();
        wasm.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling))
            .epoch_interruption(true)
            .wasm_component_model(true)
            .memory_init_cow(true)
            .cranelift_opt_level(wasmtime::OptLevel::Speed);
        let engine = wasmtime::Engine::new(&wasm)
            .map_err(|e| RuntimeError::host("creating the wasm engine", anyhow::anyhow!("{e}")))?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .and_then(|()| wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker))
            .and_then(|()| crate::sandbox::add_to_linker(&mut linker))
            .map_err(|e| RuntimeError::host("linking host interfaces", anyhow::anyhow!("{e}")))?;

        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let compatibility = format!("{:016x}", hasher.finish());

        std::fs::create_dir_all(&config.cache_dir).map_err(|e| {
            RuntimeError::host(format!("creating {}", config.cache_dir.display()), e)
        })?;
        tidy_cache(&config.cache_dir);
        start_ticker(&engine);
        Ok(Engine {
            inner: Arc::new(Inner {
                engine,
                linker,
                config,
                compatibility,
            }),
        })
    }

    pub fn wasmtime(&self) -> &wasmtime::Engine {
        &self.inner.engine
    }

    pub(crate) fn linker(&self) -> &Linker<HostState> {
        &self.inner.linker
    }

    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// Compiles `wasm` (a component), or loads it from the cache if this engine compiled it
    /// before. Returns the component and its sha256 digest.
    pub fn compile(&self, wasm: &[u8]) -> Result<(Component, String), RuntimeError> {
        let digest = hex::encode(Sha256::digest(wasm));
        let path = self.cache_path(&digest);
        if path.exists() {
            // Safety: the cache directory is the server's own; files in it are written only
            // by `precompile_component` of an engine with the same compatibility hash, under
            // a name that includes the digest of their source and that hash.
            match unsafe { Component::deserialize_file(&self.inner.engine, &path) } {
                Ok(component) => {
                    mark_used(&path);
                    return Ok((component, digest));
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "discarding unreadable compiled component");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }

        let compiled = self
            .inner
            .engine
            .precompile_component(wasm)
            .map_err(|e| RuntimeError::InvalidPlugin(format!("not a valid component: {e}")))?;
        write_atomically(&path, &compiled)?;
        // Safety: as above; the file was just written from `precompile_component`.
        let component =
            unsafe { Component::deserialize_file(&self.inner.engine, &path) }.map_err(|e| {
                RuntimeError::host(
                    format!("loading {}", path.display()),
                    anyhow::anyhow!("{e}"),
                )
            })?;
        tracing::info!(digest = %&digest[..12], "compiled connector component");
        Ok((component, digest))
    }

    /// Drops the compiled form of `digest` from the cache: a component that compiled but was
    /// then refused (it doesn't implement the contract) leaves nothing behind.
    pub fn discard(&self, digest: &str) {
        let _ = std::fs::remove_file(self.cache_path(digest));
    }

    fn cache_path(&self, digest: &str) -> PathBuf {
        self.inner
            .config
            .cache_dir
            .join(format!("{digest}-{}.cwasm", self.inner.compatibility))
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), RuntimeError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| RuntimeError::host(format!("writing to {}", dir.display()), e))?;
    std::io::Write::write_all(&mut tmp, bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| RuntimeError::host(format!("writing {}", path.display()), e))?;
    tmp.persist(path)
        .map_err(|e| RuntimeError::host(format!("writing {}", path.display()), e.error))?;
    Ok(())
}

/// A compiled component no engine has loaded for this long is removed when an engine
/// starts: a plugin version since updated or removed, or another Lathe build's file (its
/// compatibility hash differs). Loading a file renews it (`mark_used`); a file in use stays
/// readable after removal (it is mapped), and one needed again is compiled again.
pub const UNUSED_COMPILED_KEPT_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

/// Clears the cache directory of what nobody will read: the temporary files of writes a
/// killed process left half done (`write_atomically` names them `.tmp…`; a finished write was
/// renamed to its final name), once older than any write takes, since another process may
/// share the cache and be writing now; and compiled components unused for
/// [`UNUSED_COMPILED_KEPT_FOR`].
fn tidy_cache(dir: &Path) {
    const ABANDONED: Duration = Duration::from_secs(600);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut unused = 0;
    for entry in entries.flatten() {
        let Some(age) = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
        else {
            continue;
        };
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(".tmp") && age > ABANDONED {
            let _ = std::fs::remove_file(entry.path());
        } else if name.ends_with(".cwasm")
            && age > UNUSED_COMPILED_KEPT_FOR
            && std::fs::remove_file(entry.path()).is_ok()
        {
            unused += 1;
        }
    }
    if unused > 0 {
        tracing::info!(
            removed = unused,
            dir = %dir.display(),
            "removed compiled components unused for 30 days"
        );
    }
}

/// Renews a compiled component's modification time, which `tidy_cache` reads as its last use.
/// Opening for writing neither truncates nor changes the mapped bytes.
fn mark_used(path: &Path) {
    let _ = std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|file| file.set_modified(SystemTime::now()));
}

/// Advances the engine's epoch every [`EPOCH_TICK`] from one thread, for as long as the
/// engine lives.
fn start_ticker(engine: &wasmtime::Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("lathe-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("spawning the epoch thread");
}
