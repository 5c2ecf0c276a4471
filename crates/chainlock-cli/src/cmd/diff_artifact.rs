//! `chainlock diff artifact` and `chainlock diff risk`: the published artifact against its
//! source, and the risk flags of a release range.
//!
//! Exit codes: 0 clean, 1 findings (the artifact does not match its source; a high-severity
//! flag), 2 the check could not run.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use chainlock_protocol::policy::Policy;
use chainlock_review::{
    compare_with, scan_range, Archive, ArtifactReport, CompareOptions, Flag, Format, Limits,
    RangeOptions, Reproduction, Severity, SourceTree,
};

use crate::output::printable;

/// An artifact format, when detection should be overridden.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    /// npm tarball (`npm pack`), files under `package/`.
    Npm,
    /// Python wheel.
    Wheel,
    /// Python source distribution.
    Sdist,
    /// Rust `.crate` (`cargo package`).
    Crate,
    /// Any tar or gzip'd tar.
    Tar,
    /// Any zip.
    Zip,
}

impl FormatArg {
    fn format(self) -> Format {
        match self {
            FormatArg::Npm => Format::Npm,
            FormatArg::Wheel => Format::Wheel,
            FormatArg::Sdist => Format::Sdist,
            FormatArg::Crate => Format::Crate,
            FormatArg::Tar => Format::Tar,
            FormatArg::Zip => Format::Zip,
        }
    }
}

/// Arguments of `chainlock diff artifact`.
#[derive(Debug, clap::Args)]
pub struct ArtifactArgs {
    /// The git repository (work tree or bare).
    #[arg(long, value_name = "DIR", default_value = ".")]
    repo: PathBuf,
    /// The source revision the artifact claims to be built from (tag, branch or commit).
    #[arg(long, value_name = "REV")]
    commit: String,
    /// The published artifact: npm .tgz, wheel, sdist, .crate, tar or zip.
    #[arg(long, value_name = "FILE")]
    artifact: PathBuf,
    /// The artifact's format; detected from its name and layout when omitted.
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    #[command(flatten)]
    rebuilds: RebuildArgs,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Rebuild attestations that may cover the artifact's build output.
#[derive(Debug, Clone, clap::Args)]
pub struct RebuildArgs {
    /// Rebuild attestations (DSSE envelopes from `chainlock attest`): when at least the
    /// policy's minimum of trusted builders reproduced this artifact from this commit, its
    /// build output (dist/, bundles) is covered by the rebuilds.
    #[arg(long, value_name = "ENVELOPE", num_args = 1.., requires = "policy")]
    attestations: Vec<String>,
    /// The policy naming the trusted builders and their minimum (with --attestations).
    #[arg(long, value_name = "FILE", requires = "attestations")]
    policy: Option<String>,
}
#[derive(Debug, clap::Args)]
pub struct RiskArgs {
    #[command(flatten)]
    range: super::diff::RangeArgs,
    /// Also compare this published artifact with the source at --head and add its flags.
    #[arg(long, value_name = "FILE")]
    artifact: Option<PathBuf>,
    /// The artifact's format; detected from its name and layout when omitted.
    #[arg(long, value_enum, requires = "artifact")]
    format: Option<FormatArg>,
    #[command(flatten)]
    rebuilds: RebuildArgs,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `chainlock diff artifact`.
pub fn run_artifact(args: ArtifactArgs) -> anyhow::Result<ExitCode> {
    let report = artifact_report(
        &args.repo,
        &args.commit,
        &args.artifact,
        args.format,
        &args.rebuilds,
    )?;
    if args.json {
        let mut value = serde_json::to_value(&report)?;
        if let Some(map) = value.as_object_mut() {
            map.insert(
                "artifact".to_owned(),
                args.artifact.display().to_string().into(),
            );
            map.insert("commit_rev".to_owned(), args.commit.clone().into());
            map.insert("matches_source".to_owned(), report.matches_source().into());
        }
        crate::output::print_json(&value)?;
    } else {
        let mut out = String::new();
        write_artifact(&mut out, &args.artifact, &args.commit, &report, true);
        write_flags(&mut out, "flags", &report.flags);
        write_artifact_verdict(&mut out, &report);
        print!("{out}");
    }
    Ok(if report.matches_source() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Runs `chainlock diff risk`.
pub fn run_risk(args: RiskArgs) -> anyhow::Result<ExitCode> {
    if args.artifact.is_none() && args.rebuilds.policy.is_some() {
        anyhow::bail!(
            "--attestations and --policy cover an artifact's build output: add --artifact FILE (the release's published artifact)"
        );
    }
    let (base, head) = (args.range.base.as_deref(), args.range.head.as_str());
    let compare = match &args.artifact {
        Some(path) => {
            let archive = open_archive(path, args.format, &args.range.repo)?;
            let source = SourceTree::open(&args.range.repo, head)
                .map_err(|e| explain(e, &args.range.repo, path))?;
            compare_options(&args.rebuilds, &archive, &source)?
        }
        None => CompareOptions::default(),
    };
    let options = RangeOptions {
        artifact: args.artifact.clone(),
        format: args.format.map(FormatArg::format),
        compare,
        limits: Limits::default(),
    };
    let scan = scan_range(&args.range.repo, base, head, &options).map_err(|e| match e {
        chainlock_review::Error::Range { .. } => anyhow!(
            "{e}\nnext: check that both revisions exist in the clone (git fetch --tags) and that --repo is a git repository"
        ),
        e => explain(e, &args.range.repo, args.artifact.as_deref().unwrap_or(Path::new(""))),
    })?;
    let (flags, report) = (&scan.flags, scan.artifact.as_ref());
    let all: Vec<&Flag> = scan.all_flags().collect();
    let high = scan.has_high();
    if args.json {
        crate::output::print_json(&serde_json::json!({
            "repo": args.range.repo.display().to_string(),
            "base": scan.base,
            "base_rev": args.range.base,
            "head": scan.head,
            "head_rev": args.range.head,
            "files_scanned": scan.files_scanned,
            "flags": flags,
            "artifact": report.map(|r| {
                let mut value = serde_json::to_value(r).unwrap_or_default();
                if let (Some(map), Some(path)) = (value.as_object_mut(), &args.artifact) {
                    map.insert("artifact".to_owned(), path.display().to_string().into());
                    map.insert("matches_source".to_owned(), r.matches_source().into());
                }
                value
            }),
            "summary": scan.severity_counts(),
        }))?;
    } else {
        let mut out = String::new();
        let base = scan.base.as_ref().map_or_else(
            || "empty tree".to_owned(),
            |id| label(id, args.range.base.as_deref()),
        );
        let _ = writeln!(out, "base     {base}");
        let _ = writeln!(
            out,
            "head     {}",
            label(&scan.head, Some(&args.range.head))
        );
        let _ = writeln!(out, "scanned  {} changed files", scan.files_scanned);
        write_flags(&mut out, "range flags", flags);
        if let (Some(report), Some(path)) = (report, &args.artifact) {
            out.push('\n');
            write_artifact(&mut out, path, &args.range.head, report, false);
            write_flags(&mut out, "artifact flags", &report.flags);
        }
        let counts = scan.severity_counts();
        let _ = writeln!(
            out,
            "\n{} flags: {} high, {} medium, {} low",
            all.len(),
            counts.get("high").unwrap_or(&0),
            counts.get("medium").unwrap_or(&0),
            counts.get("low").unwrap_or(&0)
        );
        if high {
            let _ = writeln!(
                out,
                "next: read every high flag and the lines it names before you co-sign this release"
            );
        }
        print!("{out}");
    }
    Ok(if high {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn label(id: &str, rev: Option<&str>) -> String {
    match rev {
        Some(rev) if rev != id => format!("{id} ({rev})"),
        _ => id.to_owned(),
    }
}

fn open_archive(
    artifact: &Path,
    format: Option<FormatArg>,
    repo: &Path,
) -> anyhow::Result<Archive> {
    Archive::open(artifact, format.map(FormatArg::format), &Limits::default())
        .map_err(|e| explain(e, repo, artifact))
}

/// The comparison's options: with `--attestations`, the builder agreement that
/// `chainlock_attest::evaluate` finds for this commit and this artifact's sha256.
fn compare_options(
    rebuilds: &RebuildArgs,
    archive: &Archive,
    source: &SourceTree,
) -> anyhow::Result<CompareOptions> {
    let Some(policy_path) = &rebuilds.policy else {
        return Ok(CompareOptions::default());
    };
    let policy =
        Policy::from_json(&crate::output::read_input(policy_path)?).with_context(|| {
            format!("{policy_path} is not a valid policy: check it against PROTOCOL.md section 6")
        })?;
    let inputs = rebuilds
        .attestations
        .iter()
        .map(|p| super::attest::read_envelope(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let report =
        chainlock_attest::evaluate::evaluate(&policy, &inputs, source.commit(), &archive.sha256)
            .context("cannot evaluate the attestations")?;
    let reproduction = Reproduction::from_report(&report);
    if reproduction.is_none() {
        eprintln!(
            "note: {} of at least {} trusted builders reproduced this artifact ({} invalid envelopes): its build output is not covered by rebuilds (see `chainlock attest verify`)",
            report.agreeing.len(),
            report.min_builders,
            report.invalid.len()
        );
    }
    Ok(CompareOptions { reproduction })
}

/// Reads the artifact and the source tree and compares them, with errors that say what to do.
fn artifact_report(
    repo: &Path,
    rev: &str,
    artifact: &Path,
    format: Option<FormatArg>,
    rebuilds: &RebuildArgs,
) -> anyhow::Result<ArtifactReport> {
    let archive = open_archive(artifact, format, repo)?;
    let source = SourceTree::open(repo, rev).map_err(|e| explain(e, repo, artifact))?;
    let options = compare_options(rebuilds, &archive, &source)?;
    compare_with(&archive, &source, &options).map_err(|e| explain(e, repo, artifact))
}

fn explain(err: chainlock_review::Error, repo: &Path, artifact: &Path) -> anyhow::Error {
    use chainlock_review::Error as E;
    let next = match &err {
        E::ReadArtifact { .. } => "check the --artifact path and its permissions".to_owned(),
        E::UnknownFormat(_) => "give an npm .tgz, a wheel, an sdist, a .crate, a tar or a zip (or pass --format)".to_owned(),
        E::FormatMismatch { .. } => format!(
            "check that {} is the file the registry serves, under its own name; pass --format only for what the content is. Do not install or co-sign a file whose name lies about its content",
            artifact.display()
        ),
        E::EmptyArchive { .. } => format!(
            "{} was cut or packed from an empty directory: fetch it again and compare its hash with the release record; an empty package is nothing to co-sign",
            artifact.display()
        ),
        E::UnsafePath { .. }
        | E::LinkOutOfTree { .. }
        | E::SpecialEntry { .. }
        | E::DuplicateEntry { .. }
        | E::Ambiguous { .. }
        | E::HardLinkToSymlink { .. }
        | E::ThroughSymlink { .. } => format!(
            "do not install or sign {}: a release artifact never needs this; report it to the publisher",
            artifact.display()
        ),
        E::LimitExceeded { .. } => format!(
            "do not unpack {} with other tools either: it inflates or multiplies beyond what any \
             package needs (a decompression bomb, or a package far larger than ChainLock reviews); \
             do not co-sign it, and ask the publisher to ship a smaller artifact",
            artifact.display()
        ),
        E::Malformed { .. } => format!(
            "if the download was cut, fetch it again and compare its hash with the release record; \
             if not, {} was crafted or broken: do not install or co-sign it, and report it to the publisher",
            artifact.display()
        ),
        E::Git { .. } | E::Range { .. } => format!(
            "check that --repo {} is a git clone holding that revision (git fetch --tags)",
            repo.display()
        ),
        _ => "report this if it persists".to_owned(),
    };
    anyhow!("{err}\nnext: {next}")
}

/// At most this many paths per list in the human output; `--json` has them all.
const MAX_LISTED: usize = 100;

fn write_list(out: &mut String, title: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "{title} ({}):", items.len());
    for item in items.iter().take(MAX_LISTED) {
        let _ = writeln!(out, "  {}", printable(item));
    }
    if items.len() > MAX_LISTED {
        let _ = writeln!(
            out,
            "  ... and {} more (see --json)",
            items.len() - MAX_LISTED
        );
    }
}

fn write_artifact(
    out: &mut String,
    path: &Path,
    rev: &str,
    report: &ArtifactReport,
    with_diffs: bool,
) {
    let root = report
        .archive_root
        .as_ref()
        .map_or_else(String::new, |r| format!(", root {}/", printable(r)));
    let _ = writeln!(
        out,
        "artifact          {} ({}{root})",
        path.display(),
        report.format.as_str()
    );
    let _ = writeln!(
        out,
        "source            {}",
        label(&report.commit, Some(rev))
    );
    let place = if report.source_root.is_empty() {
        "repository root".to_owned()
    } else {
        format!("{}/", printable(&report.source_root))
    };
    let _ = writeln!(out, "package in source {place}");
    let _ = writeln!(out, "identical         {} files", report.identical);
    if !report.expected.is_empty() {
        let _ = writeln!(
            out,
            "written by the packaging tool ({}):",
            report.expected.len()
        );
        for e in report.expected.iter().take(MAX_LISTED) {
            let _ = writeln!(out, "  {}: {}", printable(&e.path), e.reason);
        }
        if report.expected.len() > MAX_LISTED {
            let _ = writeln!(
                out,
                "  ... and {} more (see --json)",
                report.expected.len() - MAX_LISTED
            );
        }
    }
    for group in report
        .build_output
        .iter()
        .filter(|g| !g.reproduced_by.is_empty())
    {
        let _ = writeln!(
            out,
            "build output      {} ({} files): reproduced by {} agreeing builders ({})",
            printable(&group.dir),
            group.files.len(),
            group.reproduced_by.len(),
            group.reproduced_by.join(", ")
        );
    }
    // Files no source file matches, one line per directory (`--json` lists every file).
    let unreproduced: Vec<String> = report
        .build_output
        .iter()
        .filter(|g| g.reproduced_by.is_empty())
        .map(|g| match g.files.as_slice() {
            [one] => one.clone(),
            files => format!("{} ({} files)", g.dir, files.len()),
        })
        .collect();
    if !unreproduced.is_empty() {
        let _ = writeln!(
            out,
            "only in the artifact ({}):",
            report.only_in_artifact.len()
        );
        for line in &unreproduced {
            let _ = writeln!(out, "  {}", printable(line));
        }
    }
    if !report.differing.is_empty() {
        let _ = writeln!(out, "differ ({}):", report.differing.len());
        for d in &report.differing {
            let kind = if d.binary { ", binary" } else { "" };
            let _ = writeln!(
                out,
                "  {} (source {}{kind})",
                printable(&d.artifact_path),
                printable(&d.source_path)
            );
            if with_diffs && !d.binary {
                for line in d.diff.lines() {
                    let _ = writeln!(out, "    {}", printable(line));
                }
                if d.truncated {
                    let _ = writeln!(out, "    ... diff cut (see --json)");
                }
            }
            if d.binary {
                let _ = writeln!(
                    out,
                    "    sha256 source {} artifact {}",
                    d.source_sha256, d.artifact_sha256
                );
            }
        }
    }
    write_list(out, "only in the source", &report.only_in_source);
}

fn write_flags(out: &mut String, title: &str, flags: &[Flag]) {
    if flags.is_empty() {
        let _ = writeln!(out, "{title}: none");
        return;
    }
    let _ = writeln!(out, "{title} ({}):", flags.len());
    for flag in flags {
        let _ = writeln!(out, "  {}", printable(&flag.to_string()));
    }
}

fn write_artifact_verdict(out: &mut String, report: &ArtifactReport) {
    if report.matches_source() {
        let _ = writeln!(
            out,
            "result: the artifact matches the source at {} (only tool-written files differ{})",
            report.commit,
            if report.build_output.is_empty() {
                ""
            } else {
                "; build output reproduced by agreeing rebuilds"
            }
        );
    } else {
        let _ = writeln!(
            out,
            "result: the artifact does NOT match the source at {}: {} files only in the artifact, {} differ, {} high flags\nnext: do not co-sign; ask the publisher how these files got into the artifact and rebuild it from the tagged source{}",
            report.commit,
            report.only_in_artifact.len(),
            report.differing.len(),
            report
                .flags
                .iter()
                .filter(|f| f.severity == Severity::High)
                .count(),
            if report.only_in_artifact.is_empty() {
                ""
            } else {
                " (files built from the source are covered when independent builders reproduce the artifact: pass their envelopes with --attestations and the policy with --policy)"
            }
        );
    }
}
