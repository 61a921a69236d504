//! `lathe serve`.

use std::process::ExitCode;

use lathe_server::config::ServeArgs;

pub fn main(args: ServeArgs) -> anyhow::Result<ExitCode> {
    lathe_server::init_logging(args.log_format);
    crate::block_on(async {
        lathe_server::serve(args).await?;
        Ok(ExitCode::SUCCESS)
    })
}
