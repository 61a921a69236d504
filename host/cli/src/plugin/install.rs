//! `lathe plugin install|list|remove|rollback`: managing installed connectors on the store
//! directly, for whoever runs the server (the API does the same for instance admins).

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use clap::Args;
use lathe_server::commands::plugins::{self as commands, Proposal};
use lathe_server::config::{ConnectorArgs, StoreArgs};

#[derive(Args)]
pub struct InstallArgs {
    /// `ID` (the newest version that is not yanked) or `ID@VERSION`.
    spec: String,
    /// Install from this registry (by name) only.
    #[arg(long)]
    registry: Option<String>,
    /// Approve the capabilities the package requests without asking.
    #[arg(long)]
    yes: bool,
    /// With --yes: approve an update signed by another publisher than the installed
    /// version, naming its key (or `unsigned`). --yes alone never approves such a change.
    #[arg(long)]
    approve_publisher: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    connectors: ConnectorArgs,
}

pub fn install(args: InstallArgs) -> anyhow::Result<ExitCode> {
    let yes = args.yes;
    let approved_publisher = args.approve_publisher.clone();
    let approve = move |p: &Proposal| -> anyhow::Result<bool> {
        let signed = match &p.publisher {
            Some(key) => format!("signed by {key}"),
            None => "unsigned".to_string(),
        };
        let from = match &p.installed {
            Some(v) => format!(" (installed: {v})"),
            None => String::new(),
        };
        eprintln!(
            "{}@{} from registry `{}`, {signed}{from}",
            p.plugin, p.version, p.registry
        );
        if let Some(old) = &p.publisher_change {
            eprintln!("the publisher changes: the installed version is signed by {old}");
        }
        if p.capabilities.is_empty() {
            eprintln!("it requests no network access");
        } else {
            eprintln!("it may reach, for each datasource that uses it:");
            for capability in &p.capabilities {
                eprintln!("  {capability}");
            }
        }
        if yes {
            if p.publisher_change.is_some() {
                let new = p.publisher.as_deref().unwrap_or("unsigned");
                if approved_publisher.as_deref() != Some(new) {
                    anyhow::bail!(
                        "the publisher changes to {new}: approve that with --approve-publisher {new}"
                    );
                }
            }
            return Ok(true);
        }
        if !std::io::stdin().is_terminal() {
            anyhow::bail!("approve the capabilities with --yes (standard input is not a terminal)");
        }
        eprint!("approve and install? [y/N] ");
        std::io::stderr().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
    };
    crate::block_on(async move {
        let done = commands::plugin_install(
            &args.store,
            &args.connectors,
            &args.spec,
            args.registry.as_deref(),
            approve,
        )
        .await?;
        println!("{done}");
        Ok(ExitCode::SUCCESS)
    })
}

#[derive(Args)]
pub struct ListArgs {
    #[command(flatten)]
    store: StoreArgs,
}

pub fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    crate::block_on(async move {
        for row in commands::plugin_list(&args.store).await? {
            let approved: Vec<String> = serde_json::from_str(&row.approved).unwrap_or_default();
            println!(
                "{}@{}\t{}\tfrom {}\t{}\tmay reach: {}",
                row.plugin_id,
                row.version,
                row.digest,
                row.registry,
                row.publisher.as_deref().unwrap_or("unsigned"),
                if approved.is_empty() {
                    "nothing".to_string()
                } else {
                    approved.join(", ")
                }
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}

#[derive(Args)]
pub struct RemoveArgs {
    /// The plugin's id.
    id: String,
    /// Remove even though datasources use it; they are disabled.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    store: StoreArgs,
}

pub fn remove(args: RemoveArgs) -> anyhow::Result<ExitCode> {
    crate::block_on(async move {
        let disabled = commands::plugin_remove(&args.store, &args.id, args.force).await?;
        println!("removed {} ({disabled} datasource(s) disabled)", args.id);
        Ok(ExitCode::SUCCESS)
    })
}

#[derive(Args)]
pub struct RollbackArgs {
    /// The plugin's id.
    id: String,
    #[command(flatten)]
    store: StoreArgs,
}

pub fn rollback(args: RollbackArgs) -> anyhow::Result<ExitCode> {
    crate::block_on(async move {
        let row = commands::plugin_rollback(&args.store, &args.id).await?;
        println!(
            "{} is back at {} ({})",
            row.plugin_id, row.version, row.digest
        );
        Ok(ExitCode::SUCCESS)
    })
}
