//! `chainlock attest`: rebuild a release and sign what came out; `chainlock attest verify`:
//! check envelopes and the policy's builder agreement.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use chainlock_attest::dsse;
use chainlock_attest::evaluate::{self, Verdict};
use chainlock_attest::rebuild::{self, RebuildSpec};
use chainlock_attest::sandbox::{Isolation, Sandbox};
use chainlock_attest::{check_without_policy, choose_release};
use chainlock_attest::{BuilderKey, BuilderReport, EnvelopeInput};
use chainlock_protocol::policy::Policy;
use chainlock_protocol::text::unix_time;

use crate::output::{count, print_json, printable, quoted, read_input};

/// Arguments of `chainlock attest`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<AttestCommand>,
    #[command(flatten)]
    create: CreateArgs,
}

/// Rebuild from source and write a signed attestation (DSSE envelope).
#[derive(Debug, clap::Args)]
struct CreateArgs {
    /// The source repository URL (anything `git clone` takes; file:// works).
    #[arg(long, value_name = "URL", required = true)]
    repo: Option<String>,
    /// The source to build: a full commit id, a tag or a unique commit-id prefix. The full
    /// commit it resolves to in the fresh clone is what is built, attested and printed.
    #[arg(long, value_name = "REVISION", required = true)]
    commit: Option<String>,
    /// The build command, run by /bin/sh at the root of the checkout.
    #[arg(long, value_name = "CMD", required = true)]
    build: Option<String>,
    /// Glob (relative to the checkout) matching exactly one file: the artifact.
    #[arg(long, value_name = "GLOB", required = true)]
    artifact: Option<String>,
    /// The builder key file [default: $XDG_CONFIG_HOME/chainlock/builder-ed25519.pem, where
    /// `chainlock builder key new` writes it].
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// Stop the build (and attest nothing) after this long: seconds, or with s, m or h.
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_duration)]
    timeout: Duration,
    /// Show this path read-only inside the build sandbox, e.g. a toolchain under your home
    /// such as ~/.cargo or ~/.nvm (repeat for several).
    #[arg(long, value_name = "PATH")]
    expose: Vec<PathBuf>,
    /// Share this directory read-write with the build, e.g. a cache (repeat for several).
    #[arg(long, value_name = "DIR")]
    share: Vec<PathBuf>,
    /// Build without the bubblewrap sandbox. Only on a machine that is itself disposable:
    /// the build can then read everything your user can, the builder key included.
    #[arg(long, conflicts_with_all = ["expose", "share"])]
    no_sandbox: bool,
    /// After attesting, compare the rebuilt artifact with the record of this release of a
    /// watched package (PACKAGE@VERSION) and, when they differ, publish a blocking flag
    /// signed with the builder key (exit 1).
    #[arg(long, value_name = "PACKAGE@VERSION")]
    flag_on_mismatch: Option<String>,
    /// Write the envelope here (a new file) instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// With --out, print the summary as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
enum AttestCommand {
    /// Check attestation envelopes and, with --policy, the builder agreement for a release.
    Verify(VerifyArgs),
    /// Publish an envelope on the coordination remote, where publishers and co-signers find it.
    Publish(PublishArgs),
}

#[derive(Debug, clap::Args)]
struct PublishArgs {
    /// The envelope file `chainlock attest --out` wrote.
    envelope: PathBuf,
    /// The coordination remote (git URL).
    #[arg(long, value_name = "URL")]
    remote: String,
}

#[derive(Debug, clap::Args)]
struct VerifyArgs {
    /// Envelope files (repeat, or list several).
    #[arg(long, value_name = "FILE", required = true, num_args = 1..)]
    envelope: Vec<String>,
    /// The policy (JSON) whose trusted builders count.
    #[arg(long, value_name = "FILE")]
    policy: Option<String>,
    /// The release's source commit (default: the one the trusted envelopes attest).
    #[arg(long, value_name = "COMMIT")]
    commit: Option<String>,
    /// The release's artifact sha256 (default: the one most trusted builders attest).
    #[arg(long, value_name = "SHA256")]
    artifact_sha256: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `chainlock attest`.
pub fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        Some(AttestCommand::Verify(v)) => verify(v),
        Some(AttestCommand::Publish(p)) => {
            super::publish::publish_attestation(&p.envelope, &p.remote)
        }
        None => create(args.create),
    }
}

fn create(args: CreateArgs) -> Result<ExitCode> {
    let (Some(repository), Some(commit), Some(command), Some(artifact)) =
        (args.repo, args.commit, args.build, args.artifact)
    else {
        bail!(
            "attest needs --repo, --commit, --build and --artifact (see `chainlock attest --help`)"
        );
    };
    let key_path = match args.key {
        Some(path) => path,
        None => super::builder::default_key_path()?,
    };
    // Check the key and the output first: a build whose result cannot be signed or written
    // is not worth running.
    let key = BuilderKey::load(&key_path)?;
    if let Some(out) = &args.out {
        if out.symlink_metadata().is_ok() {
            bail!(
                "{} exists: choose another --out or remove it first (attest never overwrites a file)",
                out.display()
            );
        }
    }
    let sandbox = if args.no_sandbox {
        eprintln!("warning: --no-sandbox: the build can read everything your user can, the builder key included");
        Sandbox::None
    } else {
        Sandbox::Bubblewrap(Isolation {
            // The key stays out of the build's reach, wherever it is kept.
            hide: vec![key_path.clone()],
            expose: args.expose,
            share: args.share,
        })
    };
    let spec = RebuildSpec {
        repository,
        commit,
        command,
        artifact,
        timeout: args.timeout,
        sandbox,
    };
    let commit = spec.commit.clone();
    let (envelope, facts) = rebuild::attest(&spec, &key).context("nothing was signed")?;
    let text = dsse::to_json_pretty(&envelope)? + "\n";
    let summary = serde_json::json!({
        "artifact": facts.artifact_name,
        "artifact_sha256": hex::encode(facts.artifact_sha256),
        "commit": facts.commit,
        "source_date_epoch": facts.source_date_epoch,
        "builder_key_id": key.public_key().key_id(),
        "builder_public_key": key.public_key().to_hex(),
        "envelope_digest": hex::encode(dsse::digest(&envelope)?),
        "out": args.out.as_ref().map(|p| p.display().to_string()),
    });
    let resolved = if facts.commit == commit {
        String::new()
    } else {
        format!(" (resolved from {})", quoted(&commit))
    };
    let human = format!(
        "attested {} sha256 {}\n  commit {}{resolved}\n  SOURCE_DATE_EPOCH {}\n  builder public key {}",
        printable(&facts.artifact_name),
        hex::encode(facts.artifact_sha256),
        facts.commit,
        source_date(facts.source_date_epoch),
        key.public_key().to_hex()
    );
    match args.out {
        Some(path) => {
            // Evidence is never overwritten, even by a file created while the build ran.
            chainlock_fs::write(&path, text.as_bytes(), chainlock_fs::Options::NEW_PUBLIC)?;
            if args.json {
                print_json(&summary)?;
            } else {
                outln!("{human}\n  envelope written to {}", path.display());
            }
        }
        None => {
            out!("{text}");
            eprintln!("{human}");
        }
    }
    match &args.flag_on_mismatch {
        Some(release) => flag_on_mismatch(release, &key_path, &facts),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// Compares the rebuilt artifact with the release's record; flags the release (blocking,
/// signed with the builder key) when they differ.
fn flag_on_mismatch(
    release: &str,
    key_path: &std::path::Path,
    facts: &chainlock_attest::statement::RebuildFacts,
) -> Result<ExitCode> {
    let ws = super::cosign::workspace()?;
    ws.sync()?;
    let found = ws.find_release(release)?;
    let chainlock_protocol::record::Record::Release(record) = &found.record else {
        bail!("{release} is not a release");
    };
    let rebuilt = hex::encode(facts.artifact_sha256);
    let recorded = record.artifact.sha256.to_hex();
    if rebuilt == recorded {
        eprintln!("the rebuilt artifact matches the record of {release}: no flag");
        return Ok(ExitCode::SUCCESS);
    }
    let (_, key_id) = ws.flag(
        release,
        chainlock_cosign::flags::Severity::Blocking,
        &format!(
            "rebuilt commit {} and got sha256 {rebuilt}; the record says {recorded}",
            facts.commit
        ),
        vec![
            format!("commit {}", facts.commit),
            format!("rebuilt sha256 {rebuilt}"),
            format!("recorded sha256 {recorded}"),
        ],
        chainlock_cosign::FlagKey::Builder(key_path),
        &chainlock_signer::OpenOptions::default(),
        chainlock_cosign::workspace::now(),
    )?;
    eprintln!("MISMATCH: the rebuilt artifact differs from the record of {release}: blocking flag published by builder {key_id}");
    Ok(ExitCode::from(1))
}

pub(crate) fn read_envelope(path: &str) -> Result<EnvelopeInput> {
    // Read like every input (capped); one over the envelope limit is listed as invalid, not
    // fatal, so the other envelopes are still judged.
    let bytes = read_input(path)?;
    Ok(EnvelopeInput::from_bytes(path, &bytes))
}

fn verify(args: VerifyArgs) -> Result<ExitCode> {
    let inputs = args
        .envelope
        .iter()
        .map(|p| read_envelope(p))
        .collect::<Result<Vec<_>>>()?;
    let Some(policy_path) = &args.policy else {
        return verify_without_policy(&inputs, &args);
    };
    let policy = Policy::from_json(&read_input(policy_path)?).with_context(|| {
        format!(
            "{} is not a valid policy: check it against docs/protocol.md, section 6 (`chainlock \
             policy show FILE` reads one)",
            quoted(policy_path)
        )
    })?;
    let release = choose_release(
        &policy,
        &inputs,
        args.commit.as_deref(),
        args.artifact_sha256.as_deref(),
    )?;
    let report = evaluate::evaluate(&policy, &inputs, &release.commit, &release.artifact_sha256)?;
    if args.json {
        print_json(&report)?;
    } else {
        print_report(&report);
    }
    Ok(if report.passes() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Prints the report naming builders by their public keys, as the policy lists them.
fn print_report(r: &BuilderReport) {
    outln!(
        "release   commit {}  artifact sha256 {}",
        r.source_commit,
        r.artifact_sha256
    );
    outln!(
        "policy    {} trusted, at least {} must agree",
        count(r.trusted_builders, "builder", "builders"),
        r.min_builders
    );
    outln!();
    let public_keys: HashMap<&str, &str> = r
        .agreeing
        .iter()
        .map(|b| (b.key_id.as_str(), b.public_key.as_str()))
        .chain(
            r.disagreeing
                .iter()
                .map(|b| (b.key_id.as_str(), b.public_key.as_str())),
        )
        .collect();
    for e in &r.envelopes {
        let verdict = match e.verdict {
            Verdict::Agrees => "agrees",
            Verdict::Duplicate => "duplicate",
            Verdict::Disagrees => "DISAGREES",
            Verdict::Untrusted => "untrusted",
            Verdict::Invalid => "INVALID",
        };
        outln!("  {verdict:<10} {}", printable(&e.label));
        if let Some(k) = &e.key_id {
            match public_keys.get(k.as_str()) {
                Some(pk) => outln!("             builder {pk}"),
                None => outln!("             key id {k}"),
            }
        }
        if let Some(s) = &e.artifact_sha256 {
            outln!("             artifact sha256 {s}");
        }
        outln!("             {}", printable(&e.detail));
    }
    outln!();
    outln!(
        "agreeing builders: {} distinct (minimum {})",
        r.agreeing.len(),
        r.min_builders
    );
    for b in &r.agreeing {
        outln!("  {}", b.public_key);
    }
    if !r.disagreeing.is_empty() {
        outln!("disagreeing builders: {}", r.disagreeing.len());
        for b in &r.disagreeing {
            outln!(
                "  {} attests {}",
                b.public_key,
                b.artifact_sha256.join(" and ")
            );
        }
    }
    if !r.untrusted.is_empty() {
        outln!("untrusted envelopes: {}", r.untrusted.len());
    }
    if !r.invalid.is_empty() {
        outln!("invalid envelopes: {}", r.invalid.len());
    }
    match &r.attestation_digest {
        Some(d) => outln!(
            "attestation digest: {d} (over {})",
            count(r.relied_on.len(), "envelope", "envelopes")
        ),
        None => outln!("attestation digest: none (no trusted builder agrees)"),
    }
    if r.passes() {
        outln!(
            "result: minimum met ({} of {} required)",
            r.agreeing.len(),
            r.min_builders
        );
    } else {
        let mut why = Vec::new();
        if !r.minimum_met {
            why.push(format!(
                "only {} of the {} required trusted builders agree",
                r.agreeing.len(),
                r.min_builders
            ));
        }
        if !r.invalid.is_empty() {
            why.push(count(
                r.invalid.len(),
                "envelope is invalid",
                "envelopes are invalid",
            ));
        }
        outln!("result: FAILED: {}", why.join("; "));
        outln!("next: drop invalid envelopes and ask more trusted builders to rebuild (`chainlock attest`); a disagreeing builder means the build is not reproducible");
    }
}

/// Without a policy nobody is trusted: each envelope is checked against the key it names,
/// and against the release given with --commit / --artifact-sha256.
fn verify_without_policy(inputs: &[EnvelopeInput], args: &VerifyArgs) -> Result<ExitCode> {
    let checks = check_without_policy(
        inputs,
        args.commit.as_deref(),
        args.artifact_sha256.as_deref(),
    );
    let ok = checks.iter().all(|c| c.valid);
    if args.json {
        print_json(&serde_json::json!({ "policy": null, "envelopes": checks, "valid": ok }))?;
    } else {
        outln!("no --policy given: each signature is checked against the builder key its envelope names; no builder is trusted");
        for c in &checks {
            if c.valid {
                outln!("  valid      {}", printable(&c.label));
            } else {
                outln!("  INVALID    {}", printable(&c.label));
            }
            match (&c.builder, &c.key_id) {
                (Some(pk), _) => outln!("             builder {pk}"),
                (None, Some(k)) => outln!("             key id {k}"),
                (None, None) => {}
            }
            if let (Some(name), Some(sha), Some(commit)) =
                (&c.artifact_name, &c.artifact_sha256, &c.commit)
            {
                outln!(
                    "             {} sha256 {sha} at commit {commit}",
                    printable(name)
                );
            }
            if let Some(p) = &c.problem {
                outln!("             {}", printable(p));
            }
        }
        if ok {
            outln!("result: every envelope is well-formed and correctly signed; pass --policy to count trusted builders");
        } else {
            outln!("result: FAILED: some envelopes are invalid or attest another release");
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// SOURCE_DATE_EPOCH with its date.
fn source_date(epoch: i64) -> String {
    u64::try_from(epoch).map_or_else(|_| epoch.to_string(), |s| unix_time(s, None))
}

/// Parses `90`, `90s`, `15m` or `2h` (a positive whole number of seconds, minutes or hours).
fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => {
            return Err(format!(
                "{text:?}: use seconds, or a number with s, m or h (e.g. 45m)"
            ))
        }
    };
    let seconds = number
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| {
            format!("{text:?}: the duration must be a positive whole number, e.g. 45m")
        })?;
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_seconds_minutes_and_hours() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        for bad in [
            "",
            "0",
            "0m",
            "m",
            "1.5h",
            "-3",
            "10d",
            "99999999999999999999h",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
