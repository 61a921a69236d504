//! `lathe admin`: instance administrators.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use lathe_server::config::StoreArgs;

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Create an instance admin. The password is read from standard input (first line).
    Create(CreateArgs),
}

#[derive(Args)]
pub struct CreateArgs {
    /// The admin's email address.
    #[arg(long, env = "LATHE_ADMIN_EMAIL")]
    email: String,
    #[command(flatten)]
    store: StoreArgs,
}

pub fn main(command: AdminCommand) -> anyhow::Result<ExitCode> {
    match command {
        AdminCommand::Create(args) => {
            let password = lathe_server::commands::read_password(&mut std::io::stdin().lock())?;
            crate::block_on(async {
                let id = lathe_server::commands::admin_create(&args.store, &args.email, &password)
                    .await?;
                println!(
                    "created instance admin {} (user id {id})",
                    args.email.trim().to_lowercase()
                );
                Ok(ExitCode::SUCCESS)
            })
        }
    }
}
