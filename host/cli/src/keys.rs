//! `lathe keys`: master keys for the secrets Lathe stores.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use lathe_server::config::{KeyArgs, StoreArgs};

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Print a fresh master key (base64 of 32 random bytes) for LATHE_MASTER_KEY.
    Generate,
    /// Seal every stored secret with a new data key, and every data key with the current
    /// master key. With a key file, a new master key is first added to the file. Servers keep
    /// running throughout.
    Rotate(RotateArgs),
}

#[derive(Args)]
pub struct RotateArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    keys: KeyArgs,
    /// Keep the key file's current master key; only add data keys and re-seal.
    #[arg(long)]
    keep_master_key: bool,
}

pub fn main(command: KeysCommand) -> anyhow::Result<ExitCode> {
    match command {
        KeysCommand::Generate => {
            println!("{}", lathe_server::vault::keyring::generate());
            Ok(ExitCode::SUCCESS)
        }
        KeysCommand::Rotate(args) => crate::block_on(async move {
            let report =
                lathe_server::commands::keys_rotate(&args.store, &args.keys, !args.keep_master_key)
                    .await?;
            println!(
                "re-sealed {} secret(s) and {} data key(s) in {} workspace(s) under master key {}",
                report.secrets_resealed,
                report.data_keys_resealed,
                report.workspaces,
                report.master_key_id
            );
            Ok(ExitCode::SUCCESS)
        }),
    }
}
