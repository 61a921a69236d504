//! `lathe migrate`.

use std::process::ExitCode;

use clap::Args;
use lathe_server::config::StoreArgs;

#[derive(Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    store: StoreArgs,
}

pub fn main(args: MigrateArgs) -> anyhow::Result<ExitCode> {
    crate::block_on(async {
        lathe_server::commands::migrate(&args.store).await?;
        println!("migrations applied");
        Ok(ExitCode::SUCCESS)
    })
}
