//! `chainlock flag`, `chainlock flag withdraw` and `chainlock status`: flags on a release and
//! where it stands in its challenge window (PROTOCOL.md section 9).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use chainlock_cosign::flags::{FlagSigner, ReleaseStatus, SeenFlag, Severity};
use chainlock_cosign::workspace::now;
use chainlock_cosign::{FlagKey, Workspace};
use chainlock_protocol::text::{duration, shown, utc_date};
use chainlock_signer::OpenOptions;

use crate::cmd::cosign::workspace;

/// Arguments of `chainlock flag`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Sub>,
    /// The release: PACKAGE@VERSION of a watched package (npm:left-pad@1.0.0), or its
    /// bundle directory (record.json, tx.hex, proof.beef, as `verify-record` reads it).
    release: Option<String>,
    /// `blocking` (stops the release from becoming verified) or `advisory` (shown only).
    #[arg(long)]
    severity: Option<String>,
    /// Why, for the maintainers and consumers who will read it.
    #[arg(long)]
    reason: Option<String>,
    /// Evidence: a link, a hash, a log line (repeat for more).
    #[arg(long)]
    evidence: Vec<String>,
    #[command(flatten)]
    key: KeyArgs,
}

#[derive(Debug, clap::Args)]
struct KeyArgs {
    /// A maintainer key (`keychain://<id>`, `ledger://...`).
    #[arg(long, conflicts_with = "builder_key")]
    key: Option<String>,
    /// A builder's Ed25519 key file.
    #[arg(long)]
    builder_key: Option<PathBuf>,
}

impl KeyArgs {
    fn key(&self) -> Result<FlagKey<'_>> {
        match (&self.key, &self.builder_key) {
            (Some(uri), None) => Ok(FlagKey::Maintainer(uri)),
            (None, Some(path)) => Ok(FlagKey::Builder(path)),
            _ => bail!(
                "sign with --key URI (a maintainer key) or --builder-key FILE (a builder key)"
            ),
        }
    }
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Withdraw your flag on a release.
    Withdraw {
        /// The release: PACKAGE@VERSION, or its bundle directory.
        release: String,
        #[command(flatten)]
        key: KeyArgs,
    },
}

/// Runs `chainlock flag`.
pub fn run(args: Args) -> Result<ExitCode> {
    let ws = workspace()?;
    let options = OpenOptions::default();
    if let Some(Sub::Withdraw { release, key }) = &args.command {
        let key_id = ws.withdraw_flag(release, key.key()?, &options)?;
        println!("flag by {key_id} on {release} withdrawn");
        return Ok(ExitCode::SUCCESS);
    }
    let Some(release) = &args.release else {
        bail!("give the release: `chainlock flag PACKAGE@VERSION|BUNDLE-DIR --severity blocking|advisory --reason TEXT --key URI`");
    };
    let severity = match args.severity.as_deref() {
        Some("blocking") => Severity::Blocking,
        Some("advisory") => Severity::Advisory,
        Some(other) => bail!("--severity is blocking or advisory, not {}", shown(other)),
        None => bail!("give --severity blocking or --severity advisory"),
    };
    let Some(reason) = &args.reason else {
        bail!("give --reason: the other maintainers and consumers will read it");
    };
    let (flag, key_id) = ws.flag(
        release,
        severity,
        reason,
        args.evidence.clone(),
        args.key.key()?,
        &options,
        now(),
    )?;
    println!(
        "{} flag by {key_id} on {release} (record {}) published",
        match flag.severity {
            Severity::Blocking => "blocking",
            Severity::Advisory => "advisory",
        },
        flag.record
    );
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `chainlock status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The release: PACKAGE@VERSION of a watched package, or its bundle directory.
    release: String,
}

/// Runs `chainlock status`: exit 0 verified or in-window, 1 flagged, 3 pending.
pub fn status(args: StatusArgs) -> Result<ExitCode> {
    let ws = workspace()?;
    ws.sync()?;
    print_status(&ws, &args.release)
}

/// Prints a release's status and its flags; the exit code says flagged (1) or pending (3).
pub fn print_status(ws: &Workspace, release: &str) -> Result<ExitCode> {
    let now = now();
    let (r, status, seen) = ws.release_status(release, now)?;
    let code = match &status {
        ReleaseStatus::Pending => {
            println!("{release}: pending (its record transaction is not in a block yet)");
            ExitCode::from(3)
        }
        ReleaseStatus::InWindow { closes_at } => {
            println!(
                "{release}: in-window: the challenge window closes {} ({} left)",
                utc_date(*closes_at),
                duration(closes_at.saturating_sub(now))
            );
            ExitCode::SUCCESS
        }
        ReleaseStatus::Verified => {
            println!("{release}: verified (the challenge window closed with no standing flag)");
            ExitCode::SUCCESS
        }
        ReleaseStatus::Flagged { by } => {
            println!("{release}: FLAGGED by {}", by.join(", "));
            ExitCode::from(1)
        }
    };
    for f in &seen {
        print_flag(f, &r.policy);
    }
    Ok(code)
}

fn print_flag(f: &SeenFlag, policy: &chainlock_protocol::policy::Policy) {
    let Some(flag) = &f.flag else {
        println!(
            "  INVALID flag under {} (not counted): unreadable",
            f.key_id
        );
        return;
    };
    let severity = match flag.severity {
        Severity::Blocking => "blocking",
        Severity::Advisory => "advisory",
    };
    let who = match &f.signer {
        Err(e) => format!("INVALID signature (not counted): {e}"),
        Ok(s) if !s.in_policy(policy) => format!("{}: UNKNOWN key (not counted)", s.key_id()),
        Ok(FlagSigner::Maintainer(_)) => format!("maintainer {}", f.key_id),
        Ok(FlagSigner::Builder(_)) => format!("trusted builder {}", f.key_id),
    };
    println!(
        "  {severity} flag, {}{}: {} [{who}]",
        utc_date(flag.created_at),
        if f.withdrawn { ", WITHDRAWN" } else { "" },
        shown(&flag.reason)
    );
    for e in &flag.evidence {
        println!("    evidence: {}", shown(e));
    }
}
