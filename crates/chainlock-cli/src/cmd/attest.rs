//! `chainlock attest`: rebuild a release and sign what came out; `chainlock attest verify`:
//! check envelopes and the policy's builder agreement.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use chainlock_attest::dsse::{self, MAX_ENVELOPE_BYTES};
use chainlock_attest::evaluate::{self, Examined, Verdict};
use chainlock_attest::rebuild::{self, RebuildSpec};
use chainlock_attest::sandbox::{Isolation, Sandbox};
use chainlock_attest::{BuilderKey, BuilderReport, EnvelopeInput};
use chainlock_protocol::policy::Policy;
use serde::Serialize;

use crate::output::{print_json, read_input};

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
    /// The full source commit id to build.
    #[arg(long, value_name = "COMMIT", required = true)]
    commit: Option<String>,
    /// The build command, run by /bin/sh at the root of the checkout.
    #[arg(long, value_name = "CMD", required = true)]
    build: Option<String>,
    /// Glob (relative to the checkout) matching exactly one file: the artifact.
    #[arg(long, value_name = "GLOB", required = true)]
    artifact: Option<String>,
    /// The builder key file (see `chainlock builder key new`).
    #[arg(long, value_name = "FILE", required = true)]
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
    let (Some(repository), Some(commit), Some(command), Some(artifact), Some(key_path)) =
        (args.repo, args.commit, args.build, args.artifact, args.key)
    else {
        bail!("attest needs --repo, --commit, --build, --artifact and --key (see `chainlock attest --help`)");
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
    let (envelope, facts) = rebuild::attest(&spec, &key).context("nothing was signed")?;
    let text = dsse::to_json_pretty(&envelope)? + "\n";
    let summary = serde_json::json!({
        "artifact": facts.artifact_name,
        "artifact_sha256": hex::encode(facts.artifact_sha256),
        "commit": facts.commit,
        "source_date_epoch": facts.source_date_epoch,
        "builder_key_id": key.public_key().key_id(),
        "envelope_digest": hex::encode(dsse::digest(&envelope)?),
        "out": args.out.as_ref().map(|p| p.display().to_string()),
    });
    let human = format!(
        "attested {} sha256 {}\n  commit {} (SOURCE_DATE_EPOCH {})\n  builder key id {}",
        facts.artifact_name,
        hex::encode(facts.artifact_sha256),
        facts.commit,
        facts.source_date_epoch,
        key.public_key().key_id()
    );
    match args.out {
        Some(path) => {
            write_atomically(&path, text.as_bytes())?;
            if args.json {
                print_json(&summary)?;
            } else {
                println!("{human}\n  envelope written to {}", path.display());
            }
        }
        None => {
            print!("{text}");
            eprintln!("{human}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes a file through a temporary sibling and a rename: never half-written.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    tmp.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist_noclobber(path).with_context(|| {
        format!(
            "cannot write {}: does it exist already? (attest never overwrites a file)",
            path.display()
        )
    })?;
    Ok(())
}

fn read_envelope(path: &str) -> Result<EnvelopeInput> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {path}: check the path"))?;
    let mut bytes = Vec::new();
    // One byte over the limit is enough for the parser to refuse it by size.
    file.take(MAX_ENVELOPE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {path}"))?;
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
        format!("{policy_path} is not a valid policy: check it against PROTOCOL.md section 6")
    })?;
    let (commit, sha) = choose_release(&policy, &inputs, &args)?;
    let report = evaluate::evaluate(&policy, &inputs, &commit, &sha)?;
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

/// The release to evaluate: as given, or the (commit, artifact) most trusted builders attest.
fn choose_release(
    policy: &Policy,
    inputs: &[EnvelopeInput],
    args: &VerifyArgs,
) -> Result<(String, String)> {
    if let (Some(c), Some(s)) = (&args.commit, &args.artifact_sha256) {
        return Ok((c.clone(), s.clone()));
    }
    let candidates: Vec<_> = evaluate::candidates(policy, inputs)?
        .into_iter()
        .filter(|c| args.commit.as_ref().is_none_or(|x| *x == c.commit))
        .filter(|c| {
            args.artifact_sha256
                .as_ref()
                .is_none_or(|x| *x == c.artifact_sha256)
        })
        .collect();
    match candidates.as_slice() {
        [] => bail!(
            "no valid envelope by a trusted builder names the release: pass --commit and --artifact-sha256 to see why each envelope does not count"
        ),
        [first, second, ..] if first.builders == second.builders => bail!(
            "trusted builders are split between {} candidates ({}); pass --commit and --artifact-sha256 to choose the release",
            candidates.iter().filter(|c| c.builders == first.builders).count(),
            candidates
                .iter()
                .map(|c| format!("{} at {}: {}", &c.artifact_sha256, &c.commit, c.builders))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        [first, ..] => Ok((
            args.commit.clone().unwrap_or_else(|| first.commit.clone()),
            args.artifact_sha256.clone().unwrap_or_else(|| first.artifact_sha256.clone()),
        )),
    }
}

fn print_report(r: &BuilderReport) {
    println!(
        "release   commit {}  artifact sha256 {}",
        r.source_commit, r.artifact_sha256
    );
    println!(
        "policy    {} trusted builders, at least {} must agree",
        r.trusted_builders, r.min_builders
    );
    println!();
    for e in &r.envelopes {
        let verdict = match e.verdict {
            Verdict::Agrees => "agrees",
            Verdict::Duplicate => "duplicate",
            Verdict::Disagrees => "DISAGREES",
            Verdict::Untrusted => "untrusted",
            Verdict::Invalid => "INVALID",
        };
        println!("  {verdict:<10} {}", e.label);
        if let Some(k) = &e.key_id {
            println!("             key id {k}");
        }
        if let Some(s) = &e.artifact_sha256 {
            println!("             artifact sha256 {s}");
        }
        println!("             {}", e.detail);
    }
    println!();
    println!(
        "agreeing builders: {} distinct (minimum {})",
        r.agreeing.len(),
        r.min_builders
    );
    for b in &r.agreeing {
        println!("  {}", b.key_id);
    }
    if !r.disagreeing.is_empty() {
        println!("disagreeing builders: {}", r.disagreeing.len());
        for b in &r.disagreeing {
            println!("  {} attests {}", b.key_id, b.artifact_sha256.join(" and "));
        }
    }
    if !r.untrusted.is_empty() {
        println!("untrusted envelopes: {}", r.untrusted.len());
    }
    if !r.invalid.is_empty() {
        println!("invalid envelopes: {}", r.invalid.len());
    }
    match &r.attestation_digest {
        Some(d) => println!(
            "attestation digest: {d} (over {} envelopes)",
            r.relied_on.len()
        ),
        None => println!("attestation digest: none (no trusted builder agrees)"),
    }
    if r.passes() {
        println!(
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
            why.push(format!("{} envelope(s) are invalid", r.invalid.len()));
        }
        println!("result: FAILED: {}", why.join("; "));
        println!("next: drop invalid envelopes and ask more trusted builders to rebuild (`chainlock attest`); a disagreeing builder means the build is not reproducible");
    }
}

#[derive(Serialize)]
struct SelfCheck {
    label: String,
    valid: bool,
    key_id: Option<String>,
    builder: Option<String>,
    artifact_name: Option<String>,
    artifact_sha256: Option<String>,
    commit: Option<String>,
    repository: Option<String>,
    envelope_digest: Option<String>,
    problem: Option<String>,
}

/// Without a policy nobody is trusted: each envelope is checked against the key it names,
/// and against the release given with --commit / --artifact-sha256.
fn verify_without_policy(inputs: &[EnvelopeInput], args: &VerifyArgs) -> Result<ExitCode> {
    let nobody = HashMap::new();
    let mut checks = Vec::new();
    for input in inputs {
        let mut c = SelfCheck {
            label: input.label.clone(),
            valid: false,
            key_id: None,
            builder: None,
            artifact_name: None,
            artifact_sha256: None,
            commit: None,
            repository: None,
            envelope_digest: None,
            problem: None,
        };
        match evaluate::examine(input, &nobody) {
            Examined::Invalid { key_id, reason } => {
                c.key_id = key_id;
                c.problem = Some(reason);
            }
            Examined::Untrusted { attested, digest } | Examined::Trusted { attested, digest } => {
                let mut problems = Vec::new();
                if args.commit.as_ref().is_some_and(|x| *x != attested.commit) {
                    problems.push(format!(
                        "attests commit {}, not {}",
                        attested.commit,
                        args.commit.as_deref().unwrap_or("")
                    ));
                }
                if args
                    .artifact_sha256
                    .as_ref()
                    .is_some_and(|x| *x != attested.artifact_sha256)
                {
                    problems.push(format!(
                        "attests sha256 {}, not {}",
                        attested.artifact_sha256,
                        args.artifact_sha256.as_deref().unwrap_or("")
                    ));
                }
                c.valid = problems.is_empty();
                c.problem = (!problems.is_empty()).then(|| problems.join("; "));
                c.key_id = Some(attested.builder.key_id());
                c.builder = Some(attested.builder.to_hex());
                c.artifact_name = Some(attested.artifact_name);
                c.artifact_sha256 = Some(attested.artifact_sha256);
                c.commit = Some(attested.commit);
                c.repository = Some(attested.repository);
                c.envelope_digest = Some(hex::encode(digest));
            }
        }
        checks.push(c);
    }
    let ok = checks.iter().all(|c| c.valid);
    if args.json {
        print_json(&serde_json::json!({ "policy": null, "envelopes": checks, "valid": ok }))?;
    } else {
        println!("no --policy given: each signature is checked against the builder key its envelope names; no builder is trusted");
        for c in &checks {
            if c.valid {
                println!("  valid      {}", c.label);
            } else {
                println!("  INVALID    {}", c.label);
            }
            if let Some(k) = &c.key_id {
                println!("             key id {k}");
            }
            if let (Some(name), Some(sha), Some(commit)) =
                (&c.artifact_name, &c.artifact_sha256, &c.commit)
            {
                println!("             {name} sha256 {sha} at commit {commit}");
            }
            if let Some(p) = &c.problem {
                println!("             {p}");
            }
        }
        if ok {
            println!("result: every envelope is well-formed and correctly signed; pass --policy to count trusted builders");
        } else {
            println!("result: FAILED: some envelopes are invalid or attest another release");
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
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
