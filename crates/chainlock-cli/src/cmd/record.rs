//! `chainlock record`: work with release records.

use std::process::ExitCode;

use anyhow::{Context, Result};
use chainlock_protocol::record::Record;

use crate::output::{print_json, read_input};

/// Arguments of `chainlock record`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Print a record's digest: SHA-256 of its canonical JSON (RFC 8785), what the chain commits to.
    Digest {
        /// The record file (JSON), or - for standard input.
        file: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `chainlock record`.
pub fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        Sub::Digest { file, json } => {
            let bytes = read_input(&file)?;
            let record = Record::from_json(&bytes).with_context(|| {
                format!(
                    "{} is not a valid chainlock/1 record (docs/protocol.md, section 3); \
                     what is wrong follows",
                    crate::output::input_name(&file)
                )
            })?;
            let digest = record.digest()?;
            if json {
                print_json(&serde_json::json!({
                    "digest": digest,
                    "type": record.kind(),
                    "package": record.package(),
                }))?;
            } else {
                outln!("{digest}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
