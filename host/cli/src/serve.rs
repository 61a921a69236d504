//! `lathe serve`.

use lathe_server::config::ServeArgs;

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    lathe_server::init_logging(args.log_format);
    lathe_server::serve(args).await
}
