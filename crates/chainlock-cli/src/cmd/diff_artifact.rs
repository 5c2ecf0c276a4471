//! `chainlock diff artifact` and `chainlock diff risk`: the published artifact against its
//! source, and the risk flags of a release range.
//!
//! Exit codes: 0 clean, 1 findings (the artifact does not match its source; a high-severity
//! flag), 2 the check could not run.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::anyhow;
use chainlock_review::{
    compare, sort_flags, Archive, ArtifactReport, Flag, Format, Limits, Severity, SourceTree,
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
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `chainlock diff risk`.
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
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `chainlock diff artifact`.
pub fn run_artifact(args: ArtifactArgs) -> anyhow::Result<ExitCode> {
    let report = artifact_report(&args.repo, &args.commit, &args.artifact, args.format)?;
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
    let mut flags: Vec<Flag> = Vec::new();
    let mut files = 0usize;
    let range = chainlock_diff::for_each_change(&args.range.repo, args.range.base.as_deref(), &args.range.head, |change| -> Result<(), chainlock_diff::Error> {
        files += 1;
        let path = String::from_utf8_lossy(change.path);
        let executable = change.new_mode == chainlock_diff::Mode::EXECUTABLE;
        flags.extend(chainlock_review::scan_file_change(&path, executable, change.old, change.new));
        Ok(())
    })
    .map_err(|e| {
        anyhow!(
            "cannot read the range {}..{} in {}: {e}\nnext: check that both revisions exist in the clone (git fetch --tags) and that --repo is a git repository",
            args.range.base.as_deref().unwrap_or("(empty tree)"),
            args.range.head,
            args.range.repo.display()
        )
    })?;
    sort_flags(&mut flags);
    let report = match &args.artifact {
        Some(path) => Some(artifact_report(
            &args.range.repo,
            &range.head.to_hex(),
            path,
            args.format,
        )?),
        None => None,
    };
    let all: Vec<&Flag> = flags
        .iter()
        .chain(report.iter().flat_map(|r| r.flags.iter()))
        .collect();
    let high = all.iter().any(|f| f.severity == Severity::High);
    if args.json {
        crate::output::print_json(&serde_json::json!({
            "repo": args.range.repo.display().to_string(),
            "base": range.base.map(|id| id.to_hex()),
            "base_rev": args.range.base,
            "head": range.head.to_hex(),
            "head_rev": args.range.head,
            "files_scanned": files,
            "flags": flags,
            "artifact": report.as_ref().map(|r| {
                let mut value = serde_json::to_value(r).unwrap_or_default();
                if let (Some(map), Some(path)) = (value.as_object_mut(), &args.artifact) {
                    map.insert("artifact".to_owned(), path.display().to_string().into());
                    map.insert("matches_source".to_owned(), r.matches_source().into());
                }
                value
            }),
            "summary": severity_counts(&all),
        }))?;
    } else {
        let mut out = String::new();
        let base = range.base.map_or_else(
            || "empty tree".to_owned(),
            |id| label(&id.to_hex(), args.range.base.as_deref()),
        );
        let _ = writeln!(out, "base     {base}");
        let _ = writeln!(
            out,
            "head     {}",
            label(&range.head.to_hex(), Some(&args.range.head))
        );
        let _ = writeln!(out, "scanned  {files} changed files");
        write_flags(&mut out, "range flags", &flags);
        if let (Some(report), Some(path)) = (&report, &args.artifact) {
            out.push('\n');
            write_artifact(&mut out, path, &args.range.head, report, false);
            write_flags(&mut out, "artifact flags", &report.flags);
        }
        let counts = severity_counts(&all);
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

fn severity_counts(flags: &[&Flag]) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::from([("high", 0), ("medium", 0), ("low", 0)]);
    for flag in flags {
        *counts.entry(flag.severity.as_str()).or_default() += 1;
    }
    counts
}

fn label(id: &str, rev: Option<&str>) -> String {
    match rev {
        Some(rev) if rev != id => format!("{id} ({rev})"),
        _ => id.to_owned(),
    }
}

/// Reads the artifact and the source tree and compares them, with errors that say what to do.
fn artifact_report(
    repo: &Path,
    rev: &str,
    artifact: &Path,
    format: Option<FormatArg>,
) -> anyhow::Result<ArtifactReport> {
    let archive = Archive::open(artifact, format.map(FormatArg::format), &Limits::default())
        .map_err(|e| explain(e, repo, artifact))?;
    let source = SourceTree::open(repo, rev).map_err(|e| explain(e, repo, artifact))?;
    compare(&archive, &source).map_err(|e| explain(e, repo, artifact))
}

fn explain(err: chainlock_review::Error, repo: &Path, artifact: &Path) -> anyhow::Error {
    use chainlock_review::Error as E;
    let next = match &err {
        E::ReadArtifact { .. } => "check the --artifact path and its permissions".to_owned(),
        E::UnknownFormat(_) => "give an npm .tgz, a wheel, an sdist, a .crate, a tar or a zip (or pass --format)".to_owned(),
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
        E::Git { .. } => format!(
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
    write_list(out, "only in the artifact", &report.only_in_artifact);
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
            "result: the artifact matches the source at {} (only tool-written files differ)",
            report.commit
        );
    } else {
        let _ = writeln!(
            out,
            "result: the artifact does NOT match the source at {}: {} files only in the artifact, {} differ, {} high flags\nnext: do not co-sign; ask the publisher how these files got into the artifact and rebuild it from the tagged source",
            report.commit,
            report.only_in_artifact.len(),
            report.differing.len(),
            report
                .flags
                .iter()
                .filter(|f| f.severity == Severity::High)
                .count()
        );
    }
}
