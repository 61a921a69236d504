//! `lathe plugin run`: one request through the same runtime, sandbox and egress checks the
//! server uses. Loopback is allowed by default so that a local database works; everything
//! else follows the server's rules (public addresses only, unless `--allow` adds more).

use anyhow::{Context, bail};
use clap::Args;
use lathe_runtime::instance::RunRequest;
use lathe_runtime::manifest::{MANIFEST_FILE, Manifest, Operation, PluginKind};
use lathe_runtime::{EgressPolicy, Engine, EngineConfig, Instance, Limits, Plugin};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Args)]
pub struct RunArgs {
    /// A package directory, a connector crate directory, or a component (`.wasm`).
    path: PathBuf,
    /// The datasource configuration, a JSON object.
    #[arg(long)]
    config: String,
    /// The query, a JSON object; `{{ inputs.x }}` in it is bound from `--inputs`.
    #[arg(long, required_unless_present_any = ["test", "schema"])]
    query: Option<String>,
    /// The operation to run; needed when the connector has more than one.
    #[arg(long)]
    operation: Option<String>,
    /// Values for `{{ inputs.* }}`, a JSON object.
    #[arg(long, default_value = "{}")]
    inputs: String,
    /// Test the connection instead of running a query.
    #[arg(long, conflicts_with = "schema")]
    test: bool,
    /// List the datasource's tables and columns instead of running a query.
    #[arg(long)]
    schema: bool,
    /// For a component without a manifest: a destination it may reach, e.g.
    /// `tcp://{host}:{port}` (repeatable).
    #[arg(long = "grant")]
    grants: Vec<String>,
    /// Networks (CIDR or address) or host names the connector may reach besides public
    /// addresses and loopback (repeatable or comma-separated).
    #[arg(long = "allow", env = "LATHE_EGRESS_ALLOW", value_delimiter = ',')]
    allow: Vec<String>,
    /// Refuse loopback too, as a fresh server does.
    #[arg(long)]
    no_loopback: bool,
    /// The longest one call may take, in milliseconds.
    #[arg(long, default_value_t = 30_000, env = "LATHE_CALL_TIMEOUT_MS")]
    timeout_ms: u64,
    /// The most rows to print; more are cut and `truncated` is set.
    #[arg(long, default_value_t = 10_000)]
    max_rows: usize,
    /// Where compiled components are cached.
    #[arg(long, env = "LATHE_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
}

pub fn main(args: RunArgs) -> anyhow::Result<ExitCode> {
    crate::block_on(run(args))
}

async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let config: serde_json::Value =
        serde_json::from_str(&args.config).context("--config is not valid JSON")?;
    if !config.is_object() {
        bail!("--config must be a JSON object");
    }
    let inputs: serde_json::Value =
        lathe_plugin_sdk::exact_json::parse(&args.inputs).context("--inputs is not valid JSON")?;
    if !inputs.is_object() {
        bail!("--inputs must be a JSON object");
    }

    let cache_dir = args.cache_dir.clone().unwrap_or_else(default_cache_dir);
    let engine = Engine::new(EngineConfig::new(cache_dir))?;
    let (manifest, wasm) = locate(&args)?;
    let plugin = Plugin::new(&engine, manifest, &wasm)?;
    let policy = policy(&args)?;
    let limits = Limits {
        call_timeout: Duration::from_millis(args.timeout_ms),
        max_rows: args.max_rows,
        ..Limits::default()
    };

    let mut instance = Instance::open(&plugin, &config, &policy, &limits).await?;
    let output = if args.test {
        instance.test().await?;
        serde_json::json!({"ok": true})
    } else if args.schema {
        lathe_runtime::output::schema_json(instance.schema().await?)
    } else {
        let query: serde_json::Value = serde_json::from_str(args.query.as_deref().unwrap_or(""))
            .context("--query is not valid JSON")?;
        let operation = operation(&plugin.manifest, args.operation.as_deref())?;
        let context = serde_json::json!({ "inputs": inputs });
        plugin.check_query(&operation, &query)?;
        let sql_fields = plugin.manifest.sql_fields(&operation);
        let params = lathe_runtime::params::bind(&query, &context, &sql_fields)?;
        let result = instance
            .run(RunRequest {
                operation,
                query,
                params,
            })
            .await?;
        serde_json::to_value(result)?
    };
    instance.close().await;
    println!("{}", serde_json::to_string_pretty(&output)?);
    Ok(ExitCode::SUCCESS)
}

fn operation(manifest: &Manifest, asked: Option<&str>) -> anyhow::Result<String> {
    let names: Vec<&String> = manifest.operations.keys().collect();
    match asked {
        Some(name) if manifest.operations.contains_key(name) => Ok(name.to_string()),
        Some(name) => bail!(
            "{} has no operation `{name}` (it has: {})",
            manifest.label(),
            join(&names)
        ),
        None if names.len() == 1 => Ok(names[0].clone()),
        None => bail!(
            "{} has several operations; choose one with --operation ({})",
            manifest.label(),
            join(&names)
        ),
    }
}

fn join(names: &[&String]) -> String {
    names
        .iter()
        .map(|n| n.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The manifest and component bytes for PATH: a `.wasm` (with a manifest beside it, or
/// `--grant`s), a package directory, or a connector crate whose component was built.
fn locate(args: &RunArgs) -> anyhow::Result<(Manifest, Vec<u8>)> {
    let path = &args.path;
    if path.extension().is_some_and(|e| e == "wasm") {
        let wasm = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let beside = path.parent().unwrap_or(Path::new(".")).join(MANIFEST_FILE);
        let manifest = if beside.exists() && args.grants.is_empty() {
            Manifest::load(path.parent().unwrap_or(Path::new(".")))?
        } else {
            bare_manifest(path, args)
        };
        return Ok((manifest, wasm));
    }
    if !path.is_dir() {
        bail!("{} is neither a directory nor a .wasm file", path.display());
    }
    Ok(lathe_runtime::package::read(path)?)
}

fn bare_manifest(path: &Path, args: &RunArgs) -> Manifest {
    let id = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_ascii_lowercase().replace('_', "-"))
        .unwrap_or_else(|| "component".into());
    let operation = args.operation.clone().unwrap_or_else(|| "query".into());
    let mut operations = BTreeMap::new();
    operations.insert(
        operation.clone(),
        Operation {
            title: operation,
            description: None,
            schema: serde_json::json!({"type": "object"}),
        },
    );
    Manifest {
        id,
        version: "0.0.0".into(),
        name: path.display().to_string(),
        description: String::new(),
        kind: PluginKind::Api,
        icon: None,
        wit: lathe_runtime::manifest::SUPPORTED_WIT[0].into(),
        capabilities: args.grants.clone(),
        config: serde_json::json!({"type": "object"}),
        secrets: Vec::new(),
        operations,
    }
}

fn policy(args: &RunArgs) -> anyhow::Result<EgressPolicy> {
    let mut policy = if args.no_loopback {
        EgressPolicy::public_only()
    } else {
        EgressPolicy::local_development()
    };
    for entry in args.allow.iter().filter(|e| !e.trim().is_empty()) {
        policy
            .allow(entry)
            .map_err(|e| anyhow::anyhow!("--allow: {e}"))?;
    }
    Ok(policy)
}

fn default_cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("lathe/components")
}
