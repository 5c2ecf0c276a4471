//! `chainlock record`.

use std::process::ExitCode;

/// Arguments of `chainlock record`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `chainlock record`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not built yet")
}
