//! The `lathe` command line: one clap-derive tree, one module per command group.

mod admin;
mod keys;
mod migrate;
mod plugin;
mod registry;
mod serve;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// mimalloc instead of the system allocator: see the workspace Cargo.toml and
/// docs/benchmarks.md for why and what it changed.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "lathe",
    version,
    about = "Lathe: internal tools on sandboxed connectors"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(Box<lathe_server::config::ServeArgs>),
    /// Apply pending database migrations and exit.
    Migrate(migrate::MigrateArgs),
    /// Manage instance administrators.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Master keys of stored secrets: generate, rotate.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Build, run, package, publish and install connector plugins.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Serve a plugin registry; configure the registries a server installs from.
    #[command(subcommand)]
    Registry(registry::RegistryCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::main(*args),
        Command::Migrate(args) => migrate::main(args),
        Command::Admin(command) => admin::main(command),
        Command::Keys(command) => keys::main(command),
        Command::Plugin(command) => plugin::main(command),
        Command::Registry(command) => registry::main(command),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // Connector messages end up here: no terminal escapes or forged lines from them.
            let text: String = format!("{e:#}")
                .chars()
                .flat_map(|c| match c {
                    '\n' => vec!['\n', ' ', ' '],
                    c if c.is_control() => c.escape_default().collect(),
                    c => vec![c],
                })
                .collect();
            eprintln!("error: {text}");
            ExitCode::FAILURE
        }
    }
}

/// Runs an async command on a fresh multi-threaded tokio runtime.
fn block_on<F: std::future::Future<Output = anyhow::Result<ExitCode>>>(
    future: F,
) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| anyhow::anyhow!("starting the async runtime: {e}"))?;
    runtime.block_on(future)
}
