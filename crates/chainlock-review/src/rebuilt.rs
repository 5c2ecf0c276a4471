//! Build output and the rebuilds that cover it: files of the artifact no source file matches
//! (`tsc` to `dist/`, bundles) are grouped per directory, and covered when enough trusted
//! builders reproduced this exact artifact from this commit (`chainlock_attest::evaluate`).

use std::collections::BTreeMap;

use chainlock_attest::BuilderReport;
use serde::Serialize;

use crate::archive::{Archive, Entry};
use crate::compare::{short, ArtifactReport};
use crate::risk::{scan_change, Flag, Rule, Severity};
use crate::source::SourceTree;

/// Independent rebuilds that reproduced this exact artifact from this commit: at least the
/// policy's minimum of distinct trusted builders attest its SHA-256. They cover the build
/// output (`tsc` to `dist/`, bundles), which no source file can be compared with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reproduction {
    /// The commit the builders rebuilt (hex).
    pub commit: String,
    /// The artifact SHA-256 they agree on (lowercase hex).
    pub artifact_sha256: String,
    /// The agreeing trusted builders' key ids.
    pub builders: Vec<String>,
    /// The policy's minimum of agreeing builders.
    pub min_builders: u32,
}

impl Reproduction {
    /// The reproduction a builder report establishes, or `None` when it does not pass (fewer
    /// than the minimum agree, or an envelope is invalid). The report comes from
    /// `chainlock_attest::evaluate`, which verified every signature against the policy.
    pub fn from_report(report: &BuilderReport) -> Option<Reproduction> {
        report.passes().then(|| Reproduction {
            commit: report.source_commit.clone(),
            artifact_sha256: report.artifact_sha256.clone(),
            builders: report.agreeing.iter().map(|b| b.key_id.clone()).collect(),
            min_builders: report.min_builders,
        })
    }
}

/// What the comparison may take as given besides the artifact and the source.
#[derive(Debug, Clone, Default)]
pub struct CompareOptions {
    /// Agreeing rebuilds of the artifact, if the caller evaluated attestations.
    pub reproduction: Option<Reproduction>,
}

/// Files of the artifact under one directory that no source file matches: build output.
#[derive(Debug, Clone, Serialize)]
pub struct BuildOutput {
    /// The directory in the archive (`package/dist/`), or the archive root (`package/`).
    pub dir: String,
    /// Its files (archive paths).
    pub files: Vec<String>,
    /// The agreeing builders (key ids) whose rebuilds reproduced the whole artifact; empty
    /// when no rebuild covers it (then it is a high flag).
    pub reproduced_by: Vec<String>,
}

/// The reproduction in `options` when it is about this artifact and commit; a reproduction
/// of something else is a high flag (the caller passed the wrong attestations, or the
/// artifact is not the one the builders rebuilt), and covers nothing.
pub(crate) fn usable_reproduction(
    options: &CompareOptions,
    archive: &Archive,
    source: &SourceTree,
    flags: &mut Vec<Flag>,
) -> Option<Reproduction> {
    let r = options.reproduction.as_ref()?;
    let problem = if r.artifact_sha256 != archive.sha256 {
        Some(format!(
            "the agreeing rebuilds produced sha256 {}, this artifact is {}: it is not what the builders rebuilt",
            r.artifact_sha256, archive.sha256
        ))
    } else if r.commit != source.commit() {
        Some(format!(
            "the agreeing rebuilds are of commit {}, not {}",
            short(&r.commit),
            short(source.commit())
        ))
    } else if r.builders.len() < r.min_builders as usize || r.builders.is_empty() {
        Some(format!(
            "{} agreeing builders, fewer than the policy's minimum of {}",
            r.builders.len(),
            r.min_builders
        ))
    } else {
        None
    };
    match problem {
        Some(message) => {
            flags.push(Flag {
                rule: Rule::ArtifactOnlyFile,
                severity: Severity::High,
                file: String::new(),
                line: None,
                message,
            });
            None
        }
        None => Some(r.clone()),
    }
}

/// Groups the files no source file matches by their top directory under the package root:
/// covered by agreeing rebuilds, they are listed with the builders; otherwise each directory
/// is one high flag, not one per file. Either way the content rules that matter in build
/// output (install hooks, `.pth`, hidden Unicode, eval of decoded data) scan every file.
pub(crate) fn group_build_output(report: &mut ArtifactReport, unmatched: &[&Entry], commit: &str) {
    let root = report
        .archive_root
        .as_ref()
        .map_or_else(String::new, |r| format!("{r}/"));
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for entry in unmatched {
        let rel = entry.path.strip_prefix(&root).unwrap_or(&entry.path);
        let dir = match rel.split_once('/') {
            Some((top, _)) => format!("{root}{top}/"),
            None => root.clone(),
        };
        groups.entry(dir).or_default().push(entry.path.clone());
        report.flags.extend(
            scan_change(&entry.path, None, Some(&entry.data))
                .into_iter()
                .filter(|f| f.severity == Severity::High),
        );
    }
    let builders = report
        .reproduction
        .as_ref()
        .map(|r| r.builders.clone())
        .unwrap_or_default();
    for (dir, files) in groups {
        if builders.is_empty() {
            let place = if dir == root {
                "at the top of the package".to_owned()
            } else {
                format!("under `{dir}`")
            };
            // One file is named as itself; a directory by its path.
            let file = match files.as_slice() {
                [one] => one.clone(),
                _ => dir.clone(),
            };
            report.flags.push(Flag {
                rule: Rule::ArtifactOnlyFile,
                severity: Severity::High,
                file,
                line: None,
                message: format!(
                    "{} file{} {place} not in the source at {}: build output no rebuild reproduced, or put there by hand (pass agreeing rebuild attestations, or ask the publisher who put {} there)",
                    files.len(),
                    if files.len() == 1 { "" } else { "s" },
                    short(commit),
                    if files.len() == 1 { "it" } else { "them" },
                ),
            });
            report.only_in_artifact.extend(files.iter().cloned());
        }
        report.build_output.push(BuildOutput {
            dir,
            files,
            reproduced_by: builders.clone(),
        });
    }
}
