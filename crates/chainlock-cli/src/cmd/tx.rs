//! `chainlock tx`.

use std::process::ExitCode;

/// Arguments of `chainlock tx`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `chainlock tx`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not built yet")
}
