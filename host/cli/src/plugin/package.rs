//! `lathe plugin keygen|pack|sign|publish`: what a plugin author does to ship a connector.
//! A package is the component, its manifest and an ed25519 signature over both digests
//! (`registry/`); the server installs only packages signed by a key its admin trusts.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Args;
use lathe_registry::client::{Client, Source, SystemResolve};
use lathe_registry::dir::DirRegistry;
use lathe_registry::keys::SigningKey;
use lathe_registry::package::{Package, digest};
use lathe_runtime::manifest::{MANIFEST_FILE, Manifest};

#[derive(Args)]
pub struct KeygenArgs {
    /// Where to write the key pair: `PATH.key` (the secret, mode 0600) and `PATH.pub`.
    #[arg(long, default_value = "publisher")]
    out: PathBuf,
}

pub fn keygen(args: KeygenArgs) -> anyhow::Result<ExitCode> {
    let secret = with_extension(&args.out, "key");
    let public = with_extension(&args.out, "pub");
    if public.exists() {
        bail!("{} exists; choose another --out", public.display());
    }
    let key = SigningKey::generate();
    key.save(&secret)
        .with_context(|| format!("writing {}", secret.display()))?;
    let text = key.public().to_string();
    std::fs::write(&public, format!("{text}\n"))
        .with_context(|| format!("writing {}", public.display()))?;
    eprintln!(
        "wrote {} (keep it secret) and {}; fingerprint {}",
        secret.display(),
        public.display(),
        key.public().fingerprint()
    );
    println!("{text}");
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct PackArgs {
    /// A connector crate (its component is built first) or a package directory
    /// (`lathe-plugin.json` beside `component.wasm`).
    dir: PathBuf,
    /// The package file to write, or a directory to write `<id>-<version>.lpkg` into; that
    /// name in the current directory by default.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Sign the package with this secret key (`lathe plugin keygen`).
    #[arg(long)]
    key: Option<PathBuf>,
    /// Don't run cargo: use the component as it was last built.
    #[arg(long)]
    no_build: bool,
}

pub fn pack(args: PackArgs) -> anyhow::Result<ExitCode> {
    let cargo_toml = args.dir.join("Cargo.toml");
    if cargo_toml.is_file() && !args.no_build {
        build_component(&cargo_toml)?;
    }
    let manifest_path = args.dir.join(MANIFEST_FILE);
    let manifest_bytes = std::fs::read(&manifest_path)
        .with_context(|| format!("reading {}", manifest_path.display()))?;
    // The host's own checks, so that an author hears of a bad manifest now rather than
    // from an admin's failed install.
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
        .with_context(|| format!("{} is not a valid manifest", manifest_path.display()))?;
    manifest.check()?;
    let (_, component_path) = lathe_runtime::package::locate(&args.dir)?;
    let component = std::fs::read(&component_path)
        .with_context(|| format!("reading {}", component_path.display()))?;

    let mut package = Package::new(manifest_bytes, component)?;
    if let Some(key) = &args.key {
        package.sign(&SigningKey::load(key)?);
    }
    let name = format!("{}-{}.lpkg", manifest.id, manifest.version);
    let out = match args.out {
        Some(dir) if dir.is_dir() => dir.join(name),
        Some(file) => file,
        None => PathBuf::from(name),
    };
    let bytes = package.to_bytes();
    write_new(&out, &bytes)?;
    report(&out, &package, &bytes);
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct SignArgs {
    /// The package file.
    package: PathBuf,
    /// The secret key (`lathe plugin keygen`).
    #[arg(long)]
    key: PathBuf,
    /// Write the signed package here instead of replacing the file.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn sign(args: SignArgs) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&args.package)
        .with_context(|| format!("reading {}", args.package.display()))?;
    let mut package = Package::from_bytes(&bytes)
        .with_context(|| format!("{} is not a valid package", args.package.display()))?;
    package.sign(&SigningKey::load(&args.key)?);
    let bytes = package.to_bytes();
    let out = args.out.unwrap_or(args.package);
    write_new(&out, &bytes)?;
    report(&out, &package, &bytes);
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct PublishArgs {
    /// The package file.
    package: PathBuf,
    /// The registry: an `http(s)://` URL of `lathe registry serve`, or a registry directory.
    #[arg(long, env = "LATHE_REGISTRY")]
    registry: String,
    /// The publisher token the registry gave you (`lathe registry token`).
    #[arg(long, env = "LATHE_REGISTRY_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

pub fn publish(args: PublishArgs) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&args.package)
        .with_context(|| format!("reading {}", args.package.display()))?;
    let package = Package::from_bytes(&bytes)
        .with_context(|| format!("{} is not a valid package", args.package.display()))?;
    let id = package.head().id.clone();
    let source = Source::parse(&args.registry)?;
    if let Source::Dir(dir) = &source {
        // Publishing into a directory makes it a registry if it is not one yet.
        DirRegistry::create(dir).with_context(|| format!("creating registry {}", dir.display()))?;
    }
    crate::block_on(async move {
        let client = Client::new(source, Arc::new(SystemResolve), u64::MAX);
        let entry = client
            .publish(args.token.as_deref(), &bytes)
            .await
            .with_context(|| format!("publishing {}", args.package.display()))?;
        println!("published {id}@{} as {}", entry.version, entry.digest);
        Ok(ExitCode::SUCCESS)
    })
}

#[derive(Args)]
pub struct YankArgs {
    /// `ID@VERSION`.
    spec: String,
    /// The registry: an `http(s)://` URL of `lathe registry serve`, or a registry directory.
    #[arg(long, env = "LATHE_REGISTRY")]
    registry: String,
    /// The publisher token that owns the package.
    #[arg(long, env = "LATHE_REGISTRY_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Make a yanked version installable again.
    #[arg(long)]
    undo: bool,
}

/// Yanking keeps a version downloadable (installed servers keep working) but stops it being
/// picked as the newest or installed by exact version.
pub fn yank(args: YankArgs) -> anyhow::Result<ExitCode> {
    let Some((id, version)) = args.spec.split_once('@') else {
        bail!("give the version to yank as ID@VERSION");
    };
    let version = semver::Version::parse(version)
        .with_context(|| format!("`{version}` is not a semantic version"))?;
    let source = Source::parse(&args.registry)?;
    crate::block_on(async move {
        let client = Client::new(source, Arc::new(SystemResolve), u64::MAX);
        let entry = client
            .set_yanked(args.token.as_deref(), id, &version, !args.undo)
            .await?;
        let state = if entry.yanked { "yanked" } else { "available" };
        println!("{id}@{} is {state}", entry.version);
        Ok(ExitCode::SUCCESS)
    })
}

/// Builds the connector crate's component with the profile connectors ship with.
fn build_component(cargo_toml: &Path) -> anyhow::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args([
            "build",
            "--target",
            "wasm32-wasip2",
            "--profile",
            "wasm",
            "--manifest-path",
        ])
        .arg(cargo_toml)
        .status()
        .context("running cargo to build the component")?;
    if !status.success() {
        bail!("building {} failed ({status})", cargo_toml.display());
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file, so a reader never sees half a package.
fn write_new(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("writing to {}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn report(out: &Path, package: &Package, bytes: &[u8]) {
    let head = package.head();
    let signed = match package.signature() {
        Some(s) => format!("signed by {}", s.key),
        None => "unsigned".to_string(),
    };
    eprintln!(
        "{}: {}@{} ({} bytes, {signed}); capabilities: {}",
        out.display(),
        head.id,
        head.version,
        bytes.len(),
        if head.capabilities.is_empty() {
            "none".to_string()
        } else {
            head.capabilities.join(", ")
        }
    );
    println!("{}", digest(bytes));
}

fn with_extension(path: &Path, extension: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(extension);
    PathBuf::from(name)
}
