//! `chainlock policy`: read a policy (PROTOCOL.md section 6, docs/protocol.md) and print its
//! digest, the value a co-signer trusts.
//!
//! A policy travels in full inside the package's genesis record (and in rotation records), so
//! both commands take either a policy file or such a record.

use std::process::ExitCode;

use anyhow::{anyhow, Result};
use chainlock_protocol::policy::Policy;
use chainlock_protocol::record::Record;
use serde_json::json;

use crate::output::{count, input_name, print_json, read_input};

/// Arguments of `chainlock policy`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Print a policy's digest: SHA-256 of its canonical JSON (RFC 8785), what records and
    /// requests name and what `request check --policy-digest` takes.
    Digest {
        /// A policy (JSON), or a genesis or rotation record holding one, or - for standard input.
        file: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show a policy: its maintainers and threshold, trusted builders, minimum agreement,
    /// challenge window and digest.
    Show {
        /// A policy (JSON), or a genesis or rotation record holding one, or - for standard input.
        file: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `chainlock policy`.
pub fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        Sub::Digest { file, json } => {
            let (policy, from) = load(&file)?;
            let digest = policy.digest()?;
            if json {
                print_json(&json!({ "policy_digest": digest, "from": from }))?;
            } else {
                outln!("{digest}");
            }
        }
        Sub::Show { file, json } => {
            let (policy, from) = load(&file)?;
            let digest = policy.digest()?;
            if json {
                print_json(&json!({
                    "policy_digest": digest,
                    "from": from,
                    "policy": policy,
                    "maintainer_key_ids": policy.maintainers.iter().map(|k| k.key_id()).collect::<Vec<_>>(),
                }))?;
            } else {
                show(&policy, &digest.to_hex(), from);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The policy in `file`, and where it was found (`policy`, `genesis record`, `rotation record`).
fn load(file: &str) -> Result<(Policy, &'static str)> {
    let bytes = read_input(file)?;
    let as_policy = match Policy::from_json(&bytes) {
        Ok(policy) => return Ok((policy, "policy")),
        Err(e) => e,
    };
    match Record::from_json(&bytes) {
        Ok(Record::Genesis(g)) => Ok((g.policy, "genesis record")),
        Ok(Record::Rotation(r)) => Ok((r.policy, "rotation record")),
        Ok(other) => Err(anyhow!(
            "{} is a {} record, which names a policy only by its digest: give the policy, or \
             the package's genesis record",
            input_name(file),
            other.kind()
        )),
        Err(as_record) => Err(anyhow!(
            "{} is neither a policy ({as_policy}) nor a genesis or rotation record \
             ({as_record}): see docs/protocol.md, sections 3 and 6, and the example in \
             docs/examples/policy.json",
            input_name(file)
        )),
    }
}

fn show(policy: &Policy, digest: &str, from: &str) {
    outln!("policy digest  {digest}  (from the {from})");
    outln!(
        "maintainers    {} of {} must co-sign a release",
        policy.threshold,
        policy.maintainers.len()
    );
    for key in &policy.maintainers {
        outln!("  {}  key id {}", key.to_hex(), key.key_id());
    }
    outln!(
        "builders       {} trusted, at least {} must agree on the artifact",
        count(policy.builders.len(), "builder", "builders"),
        policy.min_builders
    );
    for key in &policy.builders {
        outln!("  {key}");
    }
    outln!(
        "challenge      {} s after the record is mined ({})",
        policy.challenge_window_secs,
        span(policy.challenge_window_secs)
    );
}

/// `1 day`, `3 days 2 h`, `45 min`.
fn span(secs: u64) -> String {
    let (d, h, m) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60);
    let mut parts = Vec::new();
    if d > 0 {
        parts.push(count(
            usize::try_from(d).unwrap_or(usize::MAX),
            "day",
            "days",
        ));
    }
    if h > 0 {
        parts.push(format!("{h} h"));
    }
    if m > 0 || parts.is_empty() {
        parts.push(format!("{m} min"));
    }
    parts.join(" ")
}
