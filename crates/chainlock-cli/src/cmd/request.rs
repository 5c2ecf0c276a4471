//! `chainlock request`: check signing requests.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use chainlock_protocol::hash::Digest;
use chainlock_protocol::request::SigningRequest;
use chainlock_protocol::verify::{self, verify_request};

use crate::output::{print_json, read_input};

/// Arguments of `chainlock request`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Run every check of a signing request that this machine can run, and print the report.
    ///
    /// Exits 1 when any check fails, 0 otherwise; the report says whether the request is
    /// ready to sign (every check ran and passed).
    Check {
        /// The request file (JSON), or - for standard input.
        file: String,
        /// Digest of the policy you trust for this package (from its `.chainlock/genesis`
        /// and the chain): a file holding it, or the 64 hex digits.
        #[arg(long, value_name = "DIGEST|FILE")]
        policy_digest: Option<String>,
        /// Your own clone of the package's repository: the diff digest is recomputed from it.
        #[arg(long, value_name = "DIR")]
        repo: Option<std::path::PathBuf>,
        /// Check expiry as of this Unix time instead of now.
        #[arg(long, value_name = "UNIX_SECONDS")]
        now: Option<u64>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Publisher: build, sign and publish the request for a release tag.
    Create(Box<super::publish::CreateArgs>),
    /// Print a request's id: SHA-256 of its canonical JSON without the signature.
    Id {
        /// The request file (JSON), or - for standard input.
        file: String,
    },
}

/// Runs `chainlock request`.
pub fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        Sub::Check {
            file,
            policy_digest,
            repo,
            now,
            json,
        } => {
            let request = parse(&file)?;
            let trusted_policy = policy_digest.as_deref().map(parse_digest_arg).transpose()?;
            let now = match now {
                Some(n) => n,
                None => SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .context("the system clock is before 1970")?
                    .as_secs(),
            };
            // Offline: this command knows nothing of the package's record chain, the chain
            // backend or the coordination remote, so those checks do not run and the request
            // is never ready to sign here (`chainlock review` runs them all).
            let ctx = verify::Context {
                trusted_policy,
                ..verify::Context::offline(now)
            };
            let mut verification = verify_request(&request, &ctx);
            // The diff digest from the clone and the builders' agreement, in the same report.
            chainlock_review::evidence::complete(&request, &mut verification, repo.as_deref());
            let report = verification.report();
            if json {
                print_json(&serde_json::json!({
                    "request_id": report.request_id(),
                    "record_digest": report.record_digest(),
                    "record": report.record_fields(),
                    "ready_to_sign": report.ready_to_sign(),
                    "checks": report.checks(),
                }))?;
            } else {
                println!("{report}");
            }
            Ok(if report.no_failures() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Sub::Create(args) => super::publish::create(*args),
        Sub::Id { file } => {
            println!("{}", parse(&file)?.id()?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn parse(file: &str) -> Result<SigningRequest> {
    let bytes = read_input(file)?;
    SigningRequest::from_json(&bytes).with_context(|| {
        format!(
            "{file} is not a valid chainlock/1 signing request: ask the publisher to re-create it"
        )
    })
}

fn parse_digest_arg(arg: &str) -> Result<Digest> {
    let text = if chainlock_protocol::hash::is_lower_hex(arg, &[64]) {
        arg.to_string()
    } else {
        let bytes = crate::output::read_capped(arg, 4096).with_context(|| {
            "--policy-digest takes 64 lowercase hex digits or a file holding them"
        })?;
        String::from_utf8_lossy(&bytes).trim().to_string()
    };
    Digest::from_hex("policy digest", &text).with_context(|| {
        format!(
            "--policy-digest {}: the file must hold 64 lowercase hex digits",
            crate::output::quoted(arg)
        )
    })
}
