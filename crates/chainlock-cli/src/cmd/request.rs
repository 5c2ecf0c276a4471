//! `chainlock request`.

use std::process::ExitCode;

/// Arguments of `chainlock request`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `chainlock request`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not built yet")
}
