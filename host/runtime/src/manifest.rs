//! The connector manifest, `lathe-plugin.json`, read without instantiating the component.
//!
//! ```json
//! {
//!   "id": "postgres",
//!   "version": "0.1.0",
//!   "name": "PostgreSQL",
//!   "description": "…",
//!   "kind": "database",
//!   "icon": "icon.svg",
//!   "wit": "lathe:connector@0.1.0",
//!   "capabilities": ["tcp://{host}:{port}"],
//!   "config": { JSON Schema 2020-12 of the datasource configuration },
//!   "secrets": ["password"],
//!   "operations": { "sql": { "title": "SQL", "schema": { JSON Schema of the query } } }
//! }
//! ```
//!
//! A capability is a destination templated on configuration fields, never a wildcard:
//! - `tcp://{host}:{port}` — TCP to the host and port the configuration names; the host is
//!   always a field (a literal host would be one fixed destination for every datasource of
//!   the plugin), the port may be literal (`tcp://{host}:5432`);
//! - `http://{base_url}` or `https://{base_url}` — HTTP requests to the origin (scheme, host,
//!   port) of the URL in that field; `https://` admits only https URLs.
//!
//! The component sits beside the manifest as `component.wasm`.
//!
//! A configuration property in milliseconds may carry `"x-lathe-call-timeout": true`: the
//! host then keeps it just under the call time limit ([`bound_by_call_timeout`]). The
//! postgres connector marks `statement_timeout_ms` so, and the server cancels a statement
//! itself before the host gives up on the call and kills the instance.

use crate::error::RuntimeError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The manifest's file name inside a package directory.
pub const MANIFEST_FILE: &str = "lathe-plugin.json";
/// The component's file name inside a package directory.
pub const COMPONENT_FILE: &str = "component.wasm";
/// The first contract: one run per call.
pub const WIT_0_1: &str = "lathe:connector@0.1.0";
/// 0.1.0 with `connection.run-many`: several runs per call (docs/connectors.md).
pub const WIT_0_2: &str = "lathe:connector@0.2.0";
/// The WIT package versions this host binds.
pub const SUPPORTED_WIT: &[&str] = &[WIT_0_1, WIT_0_2];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub id: String,
    pub version: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub kind: PluginKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    pub wit: String,
    #[serde(default)]
    pub capabilities: Vec<String>,
    pub config: serde_json::Value,
    #[serde(default)]
    pub secrets: Vec<String>,
    pub operations: BTreeMap<String, Operation>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PluginKind {
    Database,
    Api,
    Storage,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Operation {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub schema: serde_json::Value,
}

impl Manifest {
    /// The query fields of `operation` that hold SQL (`"x-lathe-widget": "sql"` in its
    /// schema): templates inside their SQL comments are not resolved
    /// ([`lathe_plugin_sdk::template::expressions_in_query`]).
    pub fn sql_fields(&self, operation: &str) -> Vec<String> {
        let Some(properties) = self
            .operations
            .get(operation)
            .and_then(|o| o.schema.get("properties"))
            .and_then(|p| p.as_object())
        else {
            return Vec::new();
        };
        properties
            .iter()
            .filter(|(_, p)| p.get("x-lathe-widget").and_then(|w| w.as_str()) == Some("sql"))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Reads and checks `lathe-plugin.json` in `dir`.
    pub fn load(dir: &Path) -> Result<Manifest, RuntimeError> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| RuntimeError::InvalidPlugin(format!("reading {}: {e}", path.display())))?;
        let manifest: Manifest = serde_json::from_str(&text).map_err(|e| {
            RuntimeError::InvalidPlugin(format!("{} is not a valid manifest: {e}", path.display()))
        })?;
        manifest.check()?;
        Ok(manifest)
    }

    /// Checks what serde can't: identifiers, the WIT version, capabilities and secrets.
    pub fn check(&self) -> Result<(), RuntimeError> {
        let bad = |m: String| {
            Err(RuntimeError::InvalidPlugin(format!(
                "plugin {}: {m}",
                self.id
            )))
        };
        let id_ok = !self.id.is_empty()
            && self.id.len() <= 64
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !self.id.starts_with('-');
        if !id_ok {
            return bad("the id must be 1-64 characters of a-z, 0-9 and '-'".into());
        }
        if !SUPPORTED_WIT.contains(&self.wit.as_str()) {
            return bad(format!(
                "it targets {}, which this host does not support (it supports {})",
                self.wit,
                SUPPORTED_WIT.join(", ")
            ));
        }
        if self.operations.is_empty() {
            return bad("it declares no operations".into());
        }
        let properties = self.config.get("properties").and_then(|p| p.as_object());
        for capability in &self.capabilities {
            let parsed = crate::egress::Capability::parse(capability)
                .map_err(|e| RuntimeError::InvalidPlugin(format!("plugin {}: {e}", self.id)))?;
            // A destination made of a field the admin never sees (a secret) or of no field
            // at all would be one the approval can't describe.
            for field in parsed.fields() {
                if !properties.is_some_and(|p| p.contains_key(field)) {
                    return bad(format!(
                        "capability `{capability}` names `{field}`, which is not in the config schema"
                    ));
                }
                if self.secrets.iter().any(|s| s == field) {
                    return bad(format!(
                        "capability `{capability}` names the secret field `{field}`"
                    ));
                }
            }
        }
        for secret in &self.secrets {
            if !properties.is_some_and(|p| p.contains_key(secret)) {
                return bad(format!(
                    "secret field `{secret}` is not in the config schema"
                ));
            }
        }
        Ok(())
    }

    /// `id@version`, the way errors and logs name a plugin.
    pub fn label(&self) -> String {
        format!("{}@{}", self.id, self.version)
    }
}

/// The schema keyword that marks a configuration property bounded by the call timeout.
pub const CALL_TIMEOUT_KEYWORD: &str = "x-lathe-call-timeout";

/// Sets every top-level property the schema marks with [`CALL_TIMEOUT_KEYWORD`] (an
/// integer of milliseconds) to at most a little less than `call_timeout`: left out, null,
/// 0 or larger, it becomes that value. The margin (a tenth of the limit, at most a second)
/// lets the remote system's own timeout error come back before the host's deadline, so
/// the caller gets that error and the instance lives on. The property's `maximum` still
/// applies.
pub fn bound_by_call_timeout(
    schema: &serde_json::Value,
    config: &mut serde_json::Value,
    call_timeout: std::time::Duration,
) {
    let (Some(properties), Some(object)) = (
        schema.get("properties").and_then(|p| p.as_object()),
        config.as_object_mut(),
    ) else {
        return;
    };
    let margin = (call_timeout / 10).min(std::time::Duration::from_secs(1));
    let bound = (call_timeout - margin).as_millis().max(1);
    for (name, property) in properties {
        if property.get(CALL_TIMEOUT_KEYWORD) != Some(&serde_json::Value::Bool(true)) {
            continue;
        }
        let maximum = property
            .get("maximum")
            .and_then(|m| m.as_u64())
            .map_or(u128::MAX, u128::from);
        let bound = bound.min(maximum) as u64;
        let current = object.get(name).and_then(|v| v.as_u64()).unwrap_or(0);
        if current == 0 || current > bound {
            object.insert(name.clone(), serde_json::Value::from(bound));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn schema() -> serde_json::Value {
        json!({"properties": {
            "statement_timeout_ms": {"type": "integer", "maximum": 2147483647,
                                     "x-lathe-call-timeout": true},
            "connect_timeout_ms": {"type": "integer"}
        }})
    }

    fn bounded(config: serde_json::Value, call_timeout: Duration) -> serde_json::Value {
        let mut config = config;
        bound_by_call_timeout(&schema(), &mut config, call_timeout);
        config
    }

    #[test]
    fn marked_timeouts_default_to_just_under_the_call_timeout() {
        let config = bounded(json!({"connect_timeout_ms": 0}), Duration::from_secs(30));
        assert_eq!(config["statement_timeout_ms"], 29_000);
        assert_eq!(config["connect_timeout_ms"], 0, "unmarked fields stay");
        let config = bounded(json!({"statement_timeout_ms": 0}), Duration::from_secs(2));
        assert_eq!(config["statement_timeout_ms"], 1_800);
        let config = bounded(
            json!({"statement_timeout_ms": null}),
            Duration::from_secs(2),
        );
        assert_eq!(config["statement_timeout_ms"], 1_800);
    }

    #[test]
    fn marked_timeouts_are_lowered_never_raised() {
        let config = bounded(
            json!({"statement_timeout_ms": 500}),
            Duration::from_secs(30),
        );
        assert_eq!(config["statement_timeout_ms"], 500);
        let config = bounded(
            json!({"statement_timeout_ms": 600_000}),
            Duration::from_secs(30),
        );
        assert_eq!(config["statement_timeout_ms"], 29_000);
    }

    #[test]
    fn the_property_maximum_still_applies() {
        let config = bounded(json!({}), Duration::from_secs(40 * 24 * 3600));
        assert_eq!(config["statement_timeout_ms"], 2_147_483_647u64);
    }

    fn manifest_with(capabilities: &[&str]) -> Manifest {
        serde_json::from_value(json!({
            "id": "probe", "version": "0.1.0", "name": "Probe", "kind": "api",
            "wit": "lathe:connector@0.1.0", "capabilities": capabilities,
            "config": {"properties": {"host": {}, "port": {}, "password": {}}},
            "secrets": ["password"],
            "operations": {"get": {"title": "Get", "schema": {}}}
        }))
        .unwrap()
    }

    #[test]
    fn capabilities_name_fields_of_the_config_that_are_not_secret() {
        assert!(
            manifest_with(&["tcp://{host}:{port}", "tcp://{host}:5432"])
                .check()
                .is_ok()
        );
        for bad in [
            "http://{password}",
            "tcp://{host}:{password}",
            "http://{nonexistent}",
            "tcp://{host}:0",
            "tcp://{host}:70000",
        ] {
            assert!(manifest_with(&[bad]).check().is_err(), "{bad}");
        }
    }
}
