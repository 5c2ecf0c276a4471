//! `chainlock verify-record`: checks a release's verification bundle offline, given block
//! headers, back to the package's pinned genesis (ADR 0008).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use chainlock_chain::PackageId;
use chainlock_cosign::bundle::read_bundles;
use chainlock_cosign::coord::Coord;
use chainlock_protocol::hash::Digest;
use chainlock_protocol::record::Record;
use chainlock_protocol::text::{duration, shown, utc_date};
use chainlock_spv::bundle::{verify_chain, Bundle, WindowStatus};
use chainlock_spv::HeaderChain;

use crate::cmd::cosign::workspace;

/// Arguments of `chainlock verify-record`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A bundle directory (holding record.json, tx.hex, proof.beef; the package's other
    /// bundles are read from the directories beside it), or PACKAGE@VERSION of a watched
    /// package (read from its coordination mirror: run `chainlock sync` first), such as
    /// npm:left-pad@1.0.0.
    target: String,
    /// The block headers: 80-byte headers back to back from height 0 (`chainlock chain
    /// headers --out FILE` writes them). Default: the configured chain backend's headers.
    #[arg(long)]
    headers: Option<PathBuf>,
    /// The package's pinned genesis record digest. Default: the watched package's pin, or
    /// for a bundle directory, the one genesis among the bundles (said so).
    #[arg(long)]
    genesis: Option<String>,
}

/// Runs `chainlock verify-record`.
pub fn run(args: Args) -> Result<ExitCode> {
    let dir = Path::new(&args.target);
    let (bundles, target, mut genesis) = if dir.is_dir() {
        from_directory(dir)?
    } else {
        from_watched(&args.target)?
    };
    if let Some(text) = &args.genesis {
        genesis = Some(
            Digest::from_hex("--genesis", text)
                .context("--genesis takes the genesis record digest: 64 lowercase hex digits")?,
        );
    }
    let genesis = match genesis {
        Some(g) => g,
        None => {
            let found: Vec<Digest> = bundles
                .iter()
                .filter(|b| Record::from_json(&b.record_json).is_ok_and(|r| r.previous().is_none()))
                .map(Bundle::claimed_digest)
                .collect();
            match found.as_slice() {
                [one] => {
                    println!("genesis {one}: the one genesis among the bundles (not pinned: pass --genesis to pin it)");
                    *one
                }
                [] => bail!("no genesis among the bundles: pass --genesis DIGEST"),
                _ => bail!("{} genesis records among the bundles (a fork): pass --genesis DIGEST, the one the package pins", found.len()),
            }
        }
    };
    let headers = match &args.headers {
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("cannot read the headers file {}", path.display()))?;
            HeaderChain::from_bytes(&bytes)
                .with_context(|| format!("{} is not a headers file", path.display()))?
        }
        None => {
            let ws = workspace()?;
            println!("headers from {}", ws.chain().describe());
            ws.chain().headers()?
        }
    };
    let report = verify_chain(&bundles, &headers, &genesis)
        .with_context(|| format!("the genesis {genesis} does not verify"))?;
    for fork in &report.forks {
        println!("FORK (flagged): record {fork} names a previous record another record already continues");
    }
    for (digest, failure) in &report.failures {
        if *digest != target {
            println!("  other bundle {digest} does not verify: {failure}");
        }
    }
    if let Some(entry) = report.entry(&target) {
        let p = &entry.proven;
        let what = match &p.record {
            Record::Release(r) => format!("release {}@{}", r.package, r.version),
            other => format!("{} of {}", other.kind(), other.package()),
        };
        println!(
            "VERIFIED {what}: record {}, transaction {}, block {} ({}), signed under policy {}, {} record(s) back to genesis {genesis}",
            p.digest,
            p.tx.txid(),
            p.height,
            utc_date(u64::from(p.block_time)),
            entry.signed_under,
            report.chain.iter().position(|e| e.proven.digest == target).unwrap_or(0) + 1,
        );
        if !dir.is_dir() {
            // A watched package: the window with the flags on its coordination mirror.
            let ws = workspace()?;
            return crate::cmd::flag::print_status(&ws, &args.target);
        }
        let now = chainlock_cosign::workspace::now();
        match entry.window(now) {
            WindowStatus::InWindow { closes_at } => println!(
                "status: in-window: the challenge window closes {} ({} left); flags are read for watched packages (PACKAGE@VERSION)",
                utc_date(closes_at),
                duration(closes_at - now)
            ),
            WindowStatus::Verified { closed_at } => println!(
                "status: verified: the challenge window closed {}; flags are read for watched packages (PACKAGE@VERSION)",
                utc_date(closed_at)
            ),
        }
        return Ok(ExitCode::SUCCESS);
    }
    match report.failures.iter().find(|(d, _)| *d == target) {
        Some((_, failure)) => println!("NOT VERIFIED {target}: {failure}"),
        None if report.forks.contains(&target) => {
            println!("NOT VERIFIED {target}: it is on a fork of the record chain, not on the chain")
        }
        None => {
            println!("NOT VERIFIED {target}: it is not on the record chain from genesis {genesis}")
        }
    }
    Ok(ExitCode::from(1))
}

/// The bundle in `dir` and every bundle directory beside it.
fn from_directory(dir: &Path) -> Result<(Vec<Bundle>, Digest, Option<Digest>)> {
    let read_one = |d: &Path| -> Result<Bundle> {
        let read = |name: &str| {
            std::fs::read(d.join(name))
                .with_context(|| format!("cannot read {}", d.join(name).display()))
        };
        let [record, tx, beef] = Bundle::FILES;
        Bundle::from_files(read(record)?, &read(tx)?, &read(beef)?)
            .map_err(|e| anyhow::anyhow!("{}: {e}", d.display()))
    };
    let target = read_one(dir)?;
    let digest = target.claimed_digest();
    let mut bundles = vec![target];
    if let Some(parent) = dir.canonicalize()?.parent() {
        for entry in std::fs::read_dir(parent)? {
            let path = entry?.path();
            if path.is_dir() && path.join("record.json").is_file() && path != dir.canonicalize()? {
                match read_one(&path) {
                    Ok(b) => bundles.push(b),
                    Err(e) => println!("  skipped {}: {e:#}", shown(&path.display().to_string())),
                }
            }
        }
    }
    Ok((bundles, digest, None))
}

/// The bundles of a watched package from its coordination mirror, and the release's digest.
fn from_watched(target: &str) -> Result<(Vec<Bundle>, Digest, Option<Digest>)> {
    let Some((package, version)) = target.rsplit_once('@') else {
        bail!(
            "{} is neither a bundle directory nor PACKAGE@VERSION (such as npm:left-pad@1.0.0)",
            shown(target)
        );
    };
    let id: PackageId = package.parse()?;
    let ws = workspace()?;
    let watched = ws
        .config()
        .find(&id.to_string())
        .with_context(|| {
            format!("{id} is not watched: `chainlock watch add <remote> --clone <dir>`")
        })?
        .clone();
    let coord = Coord::open(&ws.paths().mirror(&watched.package), &watched.remote)?;
    let mut bundles = Vec::new();
    let mut target_digest = None;
    for (digest, bundle) in read_bundles(&coord)? {
        match bundle {
            Ok(b) => {
                if let Ok(Record::Release(r)) = Record::from_json(&b.record_json) {
                    if r.version == version {
                        target_digest = Some(b.claimed_digest());
                    }
                }
                bundles.push(b);
            }
            Err(e) => println!("  record {digest} has no complete bundle: {e}"),
        }
    }
    let Some(target_digest) = target_digest else {
        bail!("no bundle of {id} version {} in the coordination mirror: run `chainlock sync`, or wait until its record transaction is mined", shown(version));
    };
    Ok((bundles, target_digest, Some(watched.genesis)))
}
