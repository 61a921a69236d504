//! `lathe plugin …`: run a connector locally, scaffold a new one.

mod new;
mod run;

use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum PluginCommand {
    /// Run a connector under the real runtime and egress policy; print the result as JSON.
    Run(run::RunArgs),
    /// Create a connector crate from the template.
    New(new::NewArgs),
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
    }
}
