//! `lathe migrate`.

use clap::Args;
use lathe_server::config::StoreArgs;

#[derive(Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    store: StoreArgs,
}

pub async fn run(args: MigrateArgs) -> anyhow::Result<()> {
    lathe_server::commands::migrate(&args.store).await?;
    println!("migrations applied");
    Ok(())
}
