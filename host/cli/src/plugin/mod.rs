//! `lathe plugin …`: run a connector locally, scaffold a new one, package, sign and publish
//! it, and install connectors into a server's store.

mod install;
mod new;
mod package;
mod run;

use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum PluginCommand {
    /// Run a connector under the real runtime and egress policy; print the result as JSON.
    Run(run::RunArgs),
    /// Create a connector crate from the template.
    New(new::NewArgs),
    /// Make a publisher key pair for signing packages.
    Keygen(package::KeygenArgs),
    /// Build a package (`.lpkg`) from a connector crate or package directory.
    Pack(package::PackArgs),
    /// Sign a package with a publisher key.
    Sign(package::SignArgs),
    /// Publish a package to a registry.
    Publish(package::PublishArgs),
    /// Yank a published version (or undo that) in a registry.
    Yank(package::YankArgs),
    /// Install or update a connector from a configured registry (on the store directly).
    Install(install::InstallArgs),
    /// List the connectors installed from registries.
    List(install::ListArgs),
    /// Remove an installed connector.
    Remove(install::RemoveArgs),
    /// Make the previous version of an installed connector active again.
    Rollback(install::RollbackArgs),
}

pub fn main(command: PluginCommand) -> anyhow::Result<ExitCode> {
    // Operators see refusals and connector messages on stderr; stdout stays the result.
    let filter = tracing_subscriber::EnvFilter::try_from_env("LATHE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match command {
        PluginCommand::Run(args) => run::main(args),
        PluginCommand::New(args) => new::main(args),
        PluginCommand::Keygen(args) => package::keygen(args),
        PluginCommand::Pack(args) => package::pack(args),
        PluginCommand::Sign(args) => package::sign(args),
        PluginCommand::Publish(args) => package::publish(args),
        PluginCommand::Yank(args) => package::yank(args),
        PluginCommand::Install(args) => install::install(args),
        PluginCommand::List(args) => install::list(args),
        PluginCommand::Remove(args) => install::remove(args),
        PluginCommand::Rollback(args) => install::rollback(args),
    }
}
