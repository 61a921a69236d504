//! Finding a connector package on disk: a package directory (`lathe-plugin.json` beside
//! `component.wasm`) or a connector crate whose component was built with
//! `cargo build --target wasm32-wasip2 --profile wasm`.

use crate::error::RuntimeError;
use crate::manifest::{COMPONENT_FILE, Manifest};
use std::path::{Path, PathBuf};

/// The manifest of the package in `dir` and the path of its component.
pub fn locate(dir: &Path) -> Result<(Manifest, PathBuf), RuntimeError> {
    let manifest = Manifest::load(dir)?;
    let packaged = dir.join(COMPONENT_FILE);
    if packaged.exists() {
        return Ok((manifest, packaged));
    }
    if dir.join("Cargo.toml").exists() {
        return Ok((manifest, built_component(dir)?));
    }
    Err(RuntimeError::InvalidPlugin(format!(
        "{} has no {COMPONENT_FILE}",
        dir.display()
    )))
}

/// Loads the package in `dir`: its manifest and component bytes.
pub fn read(dir: &Path) -> Result<(Manifest, Vec<u8>), RuntimeError> {
    let (manifest, component) = locate(dir)?;
    let wasm = std::fs::read(&component).map_err(|e| {
        RuntimeError::InvalidPlugin(format!("reading {}: {e}", component.display()))
    })?;
    Ok((manifest, wasm))
}

/// Where `cargo build --target wasm32-wasip2 --profile wasm` put the crate's component: the
/// `target` folder named by `CARGO_TARGET_DIR`, else the nearest one above the crate.
fn built_component(crate_dir: &Path) -> Result<PathBuf, RuntimeError> {
    let invalid = |m: String| RuntimeError::InvalidPlugin(m);
    let cargo_toml = std::fs::read_to_string(crate_dir.join("Cargo.toml"))
        .map_err(|e| invalid(format!("reading {}/Cargo.toml: {e}", crate_dir.display())))?;
    let name = cargo_toml
        .lines()
        .find_map(|l| l.trim().strip_prefix("name = "))
        .map(|n| n.trim_matches('"').replace('-', "_"))
        .ok_or_else(|| invalid(format!("{}/Cargo.toml has no name", crate_dir.display())))?;
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => crate_dir
            .canonicalize()
            .map_err(|e| invalid(format!("resolving {}: {e}", crate_dir.display())))?
            .ancestors()
            .map(|a| a.join("target"))
            .find(|t| t.is_dir())
            .unwrap_or_else(|| crate_dir.join("target")),
    };
    let wasm = target.join(format!("wasm32-wasip2/wasm/{name}.wasm"));
    if !wasm.exists() {
        return Err(invalid(format!(
            "{} is not built; build it with `cargo build --target wasm32-wasip2 --profile wasm` in {}",
            wasm.display(),
            crate_dir.display()
        )));
    }
    Ok(wasm)
}
