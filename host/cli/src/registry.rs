//! `lathe registry …`: run a registry server, give publishers tokens, and configure which
//! registries and publisher keys a Lathe server's store trusts.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use lathe_registry::dir::DirRegistry;
use lathe_server::commands::plugins as commands;
use lathe_server::config::StoreArgs;

#[derive(Subcommand)]
pub enum RegistryCommand {
    /// Serve a registry directory over HTTP: index, search, downloads, publishing, yanking.
    Serve(ServeArgs),
    /// Create a publisher token for a registry directory (printed once), or revoke a
    /// publisher's tokens.
    Token(TokenArgs),
    /// Add a registry to a Lathe server's store.
    Add(AddArgs),
    /// List the registries and trusted publisher keys of a Lathe server's store.
    List(StoreOnly),
    /// Remove a registry from a Lathe server's store.
    Remove(RemoveArgs),
    /// Trust a publisher key in a Lathe server's store.
    Trust(TrustArgs),
}

#[derive(Args)]
pub struct ServeArgs {
    /// The registry directory; created if missing.
    #[arg(long, env = "LATHE_REGISTRY_DIR")]
    dir: PathBuf,
    /// The address to listen on.
    #[arg(long, env = "LATHE_REGISTRY_LISTEN", default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// The largest package accepted for publishing, in bytes.
    #[arg(long, env = "LATHE_REGISTRY_MAX_PACKAGE_BYTES", default_value_t = 64 << 20)]
    max_package_bytes: u64,
    /// Seconds a client may take to send a request's headers before it is disconnected.
    #[arg(long, env = "LATHE_REGISTRY_HEADER_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_timeout_secs: u64,
    /// Seconds a client may take no bytes of a response before it is disconnected.
    #[arg(long, env = "LATHE_REGISTRY_SEND_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    send_timeout_secs: u64,
}

#[derive(Args)]
pub struct TokenArgs {
    /// The registry directory.
    #[arg(long, env = "LATHE_REGISTRY_DIR")]
    dir: PathBuf,
    /// Who the token is for; the packages they publish first belong to this name.
    name: String,
    /// Revoke every token of this publisher instead.
    #[arg(long)]
    revoke: bool,
}

#[derive(Args)]
pub struct AddArgs {
    /// A name for the registry: 1-64 characters of a-z, 0-9 and '-'.
    name: String,
    /// `https://…`, `http://…`, `file:///…` or an absolute directory path.
    url: String,
    /// Allow unsigned packages, and packages signed by keys the store does not trust.
    #[arg(long)]
    allow_unsigned: bool,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Args)]
pub struct StoreOnly {
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Args)]
pub struct RemoveArgs {
    /// The registry's name.
    name: String,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Args)]
pub struct TrustArgs {
    /// Who the key belongs to.
    name: String,
    /// The public key, `ed25519:<base64>`, or a file holding it (`lathe plugin keygen`).
    key: String,
    #[command(flatten)]
    store: StoreArgs,
}

pub fn main(command: RegistryCommand) -> anyhow::Result<ExitCode> {
    match command {
        RegistryCommand::Serve(args) => {
            lathe_server::init_logging(lathe_server::config::LogFormat::Text);
            DirRegistry::create(&args.dir)?;
            crate::block_on(async move {
                let config = lathe_registry::server::ServeConfig {
                    dir: args.dir,
                    listen: args.listen,
                    max_package_bytes: args.max_package_bytes,
                    header_timeout: std::time::Duration::from_secs(args.header_timeout_secs),
                    send_timeout: std::time::Duration::from_secs(args.send_timeout_secs),
                };
                let server = lathe_registry::server::Server::bind(config).await?;
                // The first line on stdout, for scripts that asked for port 0.
                println!("lathe registry listening on http://{}", server.local_addr());
                server.run(shutdown_signal()).await?;
                Ok(ExitCode::SUCCESS)
            })
        }
        RegistryCommand::Token(args) => {
            let registry = DirRegistry::create(&args.dir)?;
            if args.revoke {
                let revoked = registry.revoke_tokens(&args.name)?;
                println!("revoked {revoked} token(s) of `{}`", args.name);
                return Ok(ExitCode::SUCCESS);
            }
            let token = registry.add_token(&args.name)?;
            eprintln!("publisher token for `{}` (shown once):", args.name);
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        RegistryCommand::Add(args) => crate::block_on(async move {
            let row =
                commands::registry_add(&args.store, &args.name, &args.url, args.allow_unsigned)
                    .await?;
            println!("registry {} at {} (id {})", row.name, row.url, row.id);
            Ok(ExitCode::SUCCESS)
        }),
        RegistryCommand::List(args) => crate::block_on(async move {
            let (registries, keys) = commands::registry_list(&args.store).await?;
            for r in registries {
                let unsigned = if r.allow_unsigned != 0 {
                    "\tallows unsigned"
                } else {
                    ""
                };
                println!("registry\t{}\t{}{unsigned}", r.name, r.url);
            }
            for k in keys {
                println!("trusted key\t{}\t{}", k.name, k.public_key);
            }
            Ok(ExitCode::SUCCESS)
        }),
        RegistryCommand::Remove(args) => crate::block_on(async move {
            commands::registry_remove(&args.store, &args.name).await?;
            println!("removed registry {}", args.name);
            Ok(ExitCode::SUCCESS)
        }),
        RegistryCommand::Trust(args) => {
            let key = match std::fs::read_to_string(&args.key) {
                Ok(text) => text.trim().to_string(),
                Err(_) => args.key.clone(),
            };
            crate::block_on(async move {
                let row = commands::registry_trust(&args.store, &args.name, &key).await?;
                println!("trusting {} ({})", row.public_key, row.name);
                Ok(ExitCode::SUCCESS)
            })
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}
