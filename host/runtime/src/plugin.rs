//! A connector loaded and compiled, ready to instantiate.

use crate::bindings::{ConnectorPre, v1, v2};
use crate::engine::Engine;
use crate::error::RuntimeError;
use crate::manifest::{COMPONENT_FILE, Manifest};
use crate::state::HostState;
use std::path::Path;

pub struct Plugin {
    pub manifest: Manifest,
    /// The manifest's JSON Schemas, compiled: the configuration's and each operation's.
    config_schema: jsonschema::Validator,
    operation_schemas: std::collections::BTreeMap<String, jsonschema::Validator>,
    /// sha256 of the component, hex.
    pub digest: String,
    pub(crate) pre: ConnectorPre,
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
        let refuse = |message: String| {
            engine.discard(&digest);
            RuntimeError::InvalidPlugin(message)
        };
        let instance_pre = engine.linker().instantiate_pre(&component).map_err(|e| {
            refuse(format!(
                "{label} imports something the host does not provide: {e}"
            ))
        })?;
        let pre = match manifest.wit.as_str() {
            crate::manifest::WIT_0_1 => {
                v1::ConnectorWorldPre::new(instance_pre).map(ConnectorPre::V1)
            }
            _ => v2::ConnectorWorldPre::new(instance_pre).map(ConnectorPre::V2),
        }
        .map_err(|e| {
            refuse(format!(
                "{label} does not export the {} contract: {e}",
                manifest.wit
            ))
        })?;
        let compile = |what: &str, schema: &serde_json::Value| {
            jsonschema::validator_for(schema).map_err(|e| {
                RuntimeError::InvalidPlugin(format!("{label}: the {what} schema is invalid: {e}"))
            })
        };
        let config_schema = compile("config", &manifest.config)?;
        let mut operation_schemas = std::collections::BTreeMap::new();
        for (name, operation) in &manifest.operations {
            let validator = compile(&format!("`{name}` operation's"), &operation.schema)?;
            operation_schemas.insert(name.clone(), validator);
        }
        Ok(Plugin {
            manifest,
            config_schema,
            operation_schemas,
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
            HostState::new(&self.label(), grants, max_memory, &crate::Limits::default()),
        );
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(u64::MAX / 2);
        let started = std::time::Instant::now();
        self.pre.instantiate(&mut store).await.map_err(|e| {
            RuntimeError::InvalidPlugin(format!("{} does not start: {e}", self.label()))
        })?;
        Ok(started.elapsed())
    }

    /// Checks a datasource configuration against the manifest's schema; the message names
    /// the first wrong field.
    pub fn check_config(&self, config: &serde_json::Value) -> Result<(), RuntimeError> {
        first_error(&self.config_schema, config).map_or(Ok(()), |message| {
            Err(RuntimeError::InvalidConfig {
                plugin: self.label(),
                message,
            })
        })
    }

    /// Checks a query against its operation's schema.
    pub fn check_query(
        &self,
        operation: &str,
        query: &serde_json::Value,
    ) -> Result<(), RuntimeError> {
        let Some(validator) = self.operation_schemas.get(operation) else {
            let known: Vec<&str> = self.operation_schemas.keys().map(String::as_str).collect();
            return Err(RuntimeError::InvalidQuery(format!(
                "{} has no operation `{operation}` (it has: {})",
                self.label(),
                known.join(", ")
            )));
        };
        first_error(validator, query)
            .map_or(Ok(()), |message| Err(RuntimeError::InvalidQuery(message)))
    }

    /// Whether the component takes several runs per call (`run-many`, contract 0.2.0).
    pub fn runs_many(&self) -> bool {
        matches!(self.pre, ConnectorPre::V2(_))
    }

    pub fn label(&self) -> String {
        self.manifest.label()
    }
}

/// The first validation error, as `at /path: message` (the root is `at /`).
fn first_error(validator: &jsonschema::Validator, value: &serde_json::Value) -> Option<String> {
    validator.iter_errors(value).next().map(|error| {
        let path = error.instance_path().to_string();
        let at = if path.is_empty() {
            "/".to_string()
        } else {
            path
        };
        format!("at {at}: {error}")
    })
}
