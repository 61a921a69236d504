//! `lathe plugin new NAME`: a connector crate from `examples/plugin-template`, with its name
//! filled in and its SDK dependency pointing at this Lathe's `plugin-sdk`.

use anyhow::{Context, bail};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const TEMPLATE: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../../../../examples/plugin-template/Cargo.toml"),
    ),
    (
        "rust-toolchain.toml",
        include_str!("../../../../examples/plugin-template/rust-toolchain.toml"),
    ),
    (
        "lathe-plugin.json",
        include_str!("../../../../examples/plugin-template/lathe-plugin.json"),
    ),
    (
        "README.md",
        include_str!("../../../../examples/plugin-template/README.md"),
    ),
    (
        "src/lib.rs",
        include_str!("../../../../examples/plugin-template/src/lib.rs"),
    ),
];

/// The SDK path written in the template's Cargo.toml.
const TEMPLATE_SDK_PATH: &str = "../../plugin-sdk";

#[derive(Args)]
pub struct NewArgs {
    /// The connector's id: lower-case letters, digits and '-', e.g. `acme-crm`.
    name: String,
    /// The folder to create (default: ./NAME).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The `plugin-sdk` folder of a Lathe checkout (default: the one this binary was built
    /// from).
    #[arg(long, env = "LATHE_SDK_PATH")]
    sdk: Option<PathBuf>,
}

pub fn main(args: NewArgs) -> anyhow::Result<ExitCode> {
    let valid = !args.name.is_empty()
        && args.name.len() <= 64
        && args
            .name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && args.name.starts_with(|c: char| c.is_ascii_lowercase());
    if !valid {
        bail!(
            "`{}` is not a valid id: use a-z, 0-9 and '-', starting with a letter",
            args.name
        );
    }
    let dir = args.dir.unwrap_or_else(|| PathBuf::from(&args.name));
    if dir.exists() {
        bail!("{} already exists", dir.display());
    }
    let sdk = match args.sdk {
        Some(sdk) => sdk,
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../plugin-sdk")),
    };
    let sdk = sdk
        .canonicalize()
        .with_context(|| format!("the plugin SDK is not at {}; pass --sdk", sdk.display()))?;

    for (file, text) in TEMPLATE {
        let text = fill(text, &args.name, &sdk);
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))
            .with_context(|| format!("creating {}", dir.display()))?;
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    println!(
        "created {dir}\n\n  cd {dir}\n  cargo test\n  cargo build --target wasm32-wasip2 --profile wasm\n  lathe plugin run . --config '{{\"base_url\":\"http://127.0.0.1:8000\"}}' --query '{{\"path\":\"/\"}}'",
        dir = dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn fill(text: &str, name: &str, sdk: &Path) -> String {
    let sdk = sdk.to_string_lossy().replace('\\', "/");
    text.replace(TEMPLATE_SDK_PATH, &sdk)
        .replace("plugin-template", name)
}
