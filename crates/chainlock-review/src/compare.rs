//! The published artifact against the source tree it claims to be built from.
//!
//! Each format's layout is known, so that what the packaging tool itself writes (a wheel's
//! `*.dist-info/`, an sdist's `PKG-INFO` and `*.egg-info/`, a crate's normalized `Cargo.toml`
//! and `.cargo_vcs_info.json`) is listed as expected rather than reported as noise, while
//! every other byte of the artifact must come from the source at the commit.

use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::archive::{single_top_dir, Archive, Entry, EntryKind, Format};
use crate::error::Result;
use crate::python::{check_metadata, check_record, is_version_file, Declared};
use crate::rebuilt::{group_build_output, usable_reproduction};
pub use crate::rebuilt::{BuildOutput, CompareOptions, Reproduction};
use crate::risk::{
    cargo_dependency_names, scan_change, sort_flags, toml_value, Flag, Rule, Severity,
};
use crate::source::SourceTree;

/// At most this many lines of content diff per differing file.
const MAX_DIFF_LINES: usize = 400;

/// The comparison of an artifact with the source tree at a commit.
#[derive(Debug, Clone, Serialize)]
pub struct ArtifactReport {
    /// The artifact's format.
    pub format: Format,
    /// The commit compared against (hex).
    pub commit: String,
    /// The archive's top directory that was stripped (`package`, `name-1.0`), if any.
    pub archive_root: Option<String>,
    /// Where the package sits in the source tree (`""` for the repository root).
    pub source_root: String,
    /// Number of files identical in both.
    pub identical: usize,
    /// Files whose content differs, with a content diff.
    pub differing: Vec<DifferingFile>,
    /// Files present only in the artifact (archive paths).
    pub only_in_artifact: Vec<String>,
    /// Files present only in the source (source paths under `source_root`).
    pub only_in_source: Vec<String>,
    /// Artifact files the packaging tool writes itself, and why they are not compared.
    pub expected: Vec<ExpectedFile>,
    /// Artifact-only files grouped by top directory, covered by agreeing rebuilds or not.
    pub build_output: Vec<BuildOutput>,
    /// The agreeing rebuilds that cover the build output, when given and for this artifact.
    pub reproduction: Option<Reproduction>,
    /// SHA-256 of the artifact file (lowercase hex).
    pub artifact_sha256: String,
    /// Risk flags raised by the comparison, most severe first.
    pub flags: Vec<Flag>,
}

impl ArtifactReport {
    /// True when every artifact file is identical to the source, expected, or build output
    /// that agreeing rebuilds reproduced, and no rule raised a high-severity flag.
    pub fn matches_source(&self) -> bool {
        self.differing.is_empty()
            && self.only_in_artifact.is_empty()
            && !self.flags.iter().any(|f| f.severity == Severity::High)
    }
}

/// A file present in both whose content differs.
#[derive(Debug, Clone, Serialize)]
pub struct DifferingFile {
    /// The path in the archive.
    pub artifact_path: String,
    /// The path in the source tree.
    pub source_path: String,
    /// Whether either side is binary (then `diff` is empty).
    pub binary: bool,
    /// SHA-256 of the source side (hex).
    pub source_sha256: String,
    /// SHA-256 of the artifact side (hex).
    pub artifact_sha256: String,
    /// Unified diff, source to artifact, 3 lines of context.
    pub diff: String,
    /// Whether `diff` was cut at the line limit.
    pub truncated: bool,
}

/// An artifact file written by the packaging tool, not copied from the source.
#[derive(Debug, Clone, Serialize)]
pub struct ExpectedFile {
    /// The path in the archive.
    pub path: String,
    /// Why it is expected.
    pub reason: String,
}

/// How one artifact entry is treated.
enum Role {
    /// Compared with the source file at this path (relative to the source root).
    Compare(String),
    /// Written by the packaging tool.
    Expected(String),
}

/// Compares `archive` with the tree in `source`, with no rebuild evidence.
pub fn compare(archive: &Archive, source: &SourceTree) -> Result<ArtifactReport> {
    compare_with(archive, source, &CompareOptions::default())
}

/// Compares `archive` with the tree in `source`; agreeing rebuilds in `options` cover the
/// files no source file matches (build output), when they attest this artifact and commit.
pub fn compare_with(
    archive: &Archive,
    source: &SourceTree,
    options: &CompareOptions,
) -> Result<ArtifactReport> {
    let root = match archive.format {
        Format::Npm | Format::Sdist | Format::Crate => {
            single_top_dir(&archive.entries).map(str::to_owned)
        }
        Format::Wheel => None,
        Format::Tar | Format::Zip => {
            // A plain archive may or may not wrap everything in one directory: keep whichever
            // reading matches more of the source.
            let top = single_top_dir(&archive.entries).map(str::to_owned);
            top.filter(|t| {
                let stripped = roles(archive, Some(t));
                let kept = roles(archive, None);
                detect_prefix(&stripped, source).1 > detect_prefix(&kept, source).1
            })
        }
    };
    let roles = roles(archive, root.as_deref());
    let (prefix, _) = detect_prefix(&roles, source);

    let mut report = ArtifactReport {
        format: archive.format,
        commit: source.commit().to_owned(),
        archive_root: root,
        source_root: prefix.trim_end_matches('/').to_owned(),
        identical: 0,
        differing: Vec::new(),
        only_in_artifact: Vec::new(),
        only_in_source: Vec::new(),
        expected: Vec::new(),
        build_output: Vec::new(),
        reproduction: None,
        artifact_sha256: archive.sha256.clone(),
        flags: Vec::new(),
    };
    report.reproduction = usable_reproduction(options, archive, source, &mut report.flags);
    let mut matched: BTreeSet<String> = BTreeSet::new();
    let mut unmatched: Vec<&Entry> = Vec::new();
    // What the source's Python manifests declare, read once for all the metadata files.
    let python = OnceCell::new();
    if archive.format == Format::Wheel {
        report.flags.extend(check_record(&archive.entries));
    }
    for (entry, role) in &roles {
        let rel = match role {
            Role::Expected(reason) => {
                report.flags.extend(check_expected(
                    archive.format,
                    entry,
                    source,
                    &prefix,
                    &python,
                ));
                report.expected.push(ExpectedFile {
                    path: entry.path.clone(),
                    reason: reason.clone(),
                });
                continue;
            }
            Role::Compare(rel) => rel,
        };
        let source_path = format!("{prefix}{rel}");
        let Some(original) = source.read(&source_path)? else {
            if let Some(reason) = tool_written(
                archive.format,
                rel,
                &source_path,
                entry,
                source,
                &prefix,
                &python,
            ) {
                report.expected.push(ExpectedFile {
                    path: entry.path.clone(),
                    reason,
                });
                continue;
            }
            unmatched.push(entry);
            continue;
        };
        matched.insert(source_path.clone());
        let source_link = source
            .files()
            .get(&source_path)
            .is_some_and(|f| f.mode == 0o120_000);
        let same_kind = matches!(entry.kind, EntryKind::Symlink { .. }) == source_link;
        if original == entry.data && same_kind {
            report.identical += 1;
            continue;
        }
        // An sdist built from a checkout follows the repository's own symlinks: the file it
        // holds is the link's target, which is compared instead.
        if source_link && matches!(entry.kind, EntryKind::File { .. }) {
            if let Some(target) = resolve_link(source, &source_path)? {
                if target == entry.data {
                    report.identical += 1;
                    continue;
                }
            }
        }
        if let Some(reason) = equivalent(archive.format, rel, &original, &entry.data) {
            report.expected.push(ExpectedFile {
                path: entry.path.clone(),
                reason,
            });
            continue;
        }
        report.flags.push(Flag {
            rule: Rule::ArtifactModified,
            severity: Severity::High,
            file: entry.path.clone(),
            line: None,
            message: format!("differs from {source_path} at {}: the artifact was not built from this source alone", short(source.commit())),
        });
        report
            .flags
            .extend(scan_change(&entry.path, Some(&original), Some(&entry.data)));
        report
            .differing
            .push(differing(entry, &source_path, &original));
    }
    group_build_output(&mut report, &unmatched, source.commit());
    for path in source.files().keys() {
        if path.starts_with(prefix.as_str()) && !matched.contains(path) {
            report.only_in_source.push(path.clone());
        }
    }
    sort_flags(&mut report.flags);
    Ok(report)
}

/// Files the packaging tool writes that have no source file: `cargo package`'s `Cargo.lock`,
/// the version file a VCS plugin writes where `pyproject.toml` says, and the `setup.cfg` that
/// setuptools writes holding only its `[egg_info]` block.
fn tool_written(
    format: Format,
    rel: &str,
    source_path: &str,
    entry: &Entry,
    source: &SourceTree,
    prefix: &str,
    python: &OnceCell<Declared>,
) -> Option<String> {
    match format {
        Format::Crate if rel == "Cargo.lock" => {
            Some("generated by `cargo package` (not tracked in the source)".to_owned())
        }
        Format::Sdist if rel == "setup.cfg" => {
            let text = std::str::from_utf8(&entry.data).ok()?;
            (text.contains("[egg_info]") && ini_items(text).is_empty())
                .then(|| "written by setuptools: only its [egg_info] block".to_owned())
        }
        Format::Wheel | Format::Sdist if rel.ends_with(".py") && is_version_file(&entry.data) => {
            let declared = python.get_or_init(|| Declared::read(source, prefix));
            // A wheel drops the `src/` of the path the manifest names; the source prefix
            // found for the wheel puts it back.
            declared
                .version_files
                .contains(source_path)
                .then(|| "version file written by the VCS plugin the pyproject.toml names; it assigns only the version".to_owned())
        }
        _ => None,
    }
}

/// The content of the file a source symlink points at, when it stays inside the tree.
fn resolve_link(source: &SourceTree, link: &str) -> Result<Option<Vec<u8>>> {
    let mut path = link.to_owned();
    // A chain of links inside the tree: a few hops, never a loop.
    for _ in 0..8 {
        let Some(file) = source.files().get(&path) else {
            return Ok(None);
        };
        if file.mode != 0o120_000 {
            return source.read(&path);
        }
        let Some(target) = source.read(&path)? else {
            return Ok(None);
        };
        let target = String::from_utf8_lossy(&target).into_owned();
        let mut parts: Vec<&str> = path.split('/').collect();
        parts.pop();
        for part in target.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    if parts.pop().is_none() {
                        return Ok(None);
                    }
                }
                p => parts.push(p),
            }
        }
        if target.starts_with('/') {
            return Ok(None);
        }
        path = parts.join("/");
    }
    Ok(None)
}

pub(crate) fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

/// Decides, per format, which entries are compared (and with which source path) and which
/// the packaging tool writes.
fn roles<'a>(archive: &'a Archive, root: Option<&str>) -> Vec<(&'a Entry, Role)> {
    let mut out = Vec::new();
    for entry in &archive.entries {
        let rel = match root {
            Some(r) => entry
                .path
                .strip_prefix(r)
                .and_then(|p| p.strip_prefix('/'))
                .unwrap_or(&entry.path),
            None => entry.path.as_str(),
        };
        let first = rel.split('/').next().unwrap_or(rel);
        let role = match archive.format {
            Format::Wheel if first.ends_with(".dist-info") && is_dist_info_file(rel) => {
                Role::Expected("wheel metadata written by the build backend".to_owned())
            }
            Format::Wheel if first.ends_with(".data") => {
                // `name.data/purelib/pkg/x.py` installs as `pkg/x.py`.
                let rest: Vec<&str> = rel.splitn(3, '/').collect();
                Role::Compare(rest.get(2).copied().unwrap_or(rel).to_owned())
            }
            Format::Sdist if rel == "PKG-INFO" => {
                Role::Expected("sdist metadata written by the build backend".to_owned())
            }
            Format::Sdist if is_egg_info_file(rel) => {
                Role::Expected("egg-info metadata written by setuptools".to_owned())
            }
            Format::Crate if rel == "Cargo.toml" => Role::Expected(
                "normalized by `cargo package`; the original is compared as Cargo.toml.orig"
                    .to_owned(),
            ),
            Format::Crate if rel == "Cargo.toml.orig" => Role::Compare("Cargo.toml".to_owned()),
            Format::Crate if rel == ".cargo_vcs_info.json" => {
                Role::Expected("written by `cargo package`; its commit is checked".to_owned())
            }
            _ => Role::Compare(rel.to_owned()),
        };
        out.push((entry, role));
    }
    out
}

/// The files a build backend writes into a wheel's `name-version.dist-info/` (PEP 427,
/// PEP 639 licenses); anything else there is compared like any file, so it cannot hide code.
fn is_dist_info_file(rel: &str) -> bool {
    let mut parts = rel.splitn(2, '/');
    let (Some(_dir), Some(file)) = (parts.next(), parts.next()) else {
        return false;
    };
    matches!(
        file,
        "METADATA" | "WHEEL" | "RECORD" | "entry_points.txt" | "top_level.txt" | "zip-safe"
    ) || (file.starts_with("licenses/") && !file.ends_with(".pth") && !file.ends_with(".py"))
        || (!file.contains('/') && is_license_name(file))
}

/// The files setuptools writes into an sdist's `name.egg-info/`, at the top of the sdist or
/// one directory down (`src/name.egg-info/`); anything else there is compared.
fn is_egg_info_file(rel: &str) -> bool {
    let parts: Vec<&str> = rel.split('/').collect();
    let (dir, file) = match parts.as_slice() {
        [dir, file] | [_, dir, file] => (*dir, *file),
        _ => return false,
    };
    dir.ends_with(".egg-info")
        && matches!(
            file,
            "PKG-INFO"
                | "SOURCES.txt"
                | "dependency_links.txt"
                | "requires.txt"
                | "top_level.txt"
                | "entry_points.txt"
                | "not-zip-safe"
                | "zip-safe"
                | "namespace_packages.txt"
        )
}

fn is_license_name(file: &str) -> bool {
    let upper = file.to_ascii_uppercase();
    ["LICENSE", "LICENCE", "COPYING", "NOTICE", "AUTHORS"]
        .iter()
        .any(|p| upper.starts_with(p))
        && !file.ends_with(".py")
        && !file.ends_with(".pth")
}

/// Finds where the package sits in the source tree: the directory under which the most
/// compared artifact paths exist (ties go to the shallowest).
fn detect_prefix(roles: &[(&Entry, Role)], source: &SourceTree) -> (String, usize) {
    let mut by_name: HashMap<&str, Vec<&str>> = HashMap::new();
    for path in source.files().keys() {
        let name = path.rsplit('/').next().unwrap_or(path);
        by_name.entry(name).or_default().push(path);
    }
    let mut votes: BTreeMap<String, usize> = BTreeMap::new();
    for (_, role) in roles {
        let Role::Compare(rel) = role else { continue };
        let name = rel.rsplit('/').next().unwrap_or(rel);
        let Some(candidates) = by_name.get(name) else {
            continue;
        };
        let mut seen = BTreeSet::new();
        for cand in candidates {
            if let Some(prefix) = cand.strip_suffix(rel.as_str()) {
                if prefix.is_empty() || prefix.ends_with('/') {
                    seen.insert(prefix.to_owned());
                }
            }
        }
        for prefix in seen {
            *votes.entry(prefix).or_default() += 1;
        }
    }
    votes
        .into_iter()
        .max_by(|(pa, va), (pb, vb)| {
            va.cmp(vb)
                .then_with(|| pb.matches('/').count().cmp(&pa.matches('/').count()))
                .then_with(|| pb.cmp(pa))
        })
        .unwrap_or_default()
}

/// Checks what can be checked in a tool-written file, since the installer acts on it:
/// - a crate's `.cargo_vcs_info.json` must name the commit, clean;
/// - a crate's normalized `Cargo.toml` (what cargo builds with) may only name dependencies
///   and a build script that the source's `Cargo.toml` names;
/// - the dependencies (`Requires-Dist`, `requires.txt`) and entry points (console scripts,
///   plugins) of Python metadata must be named somewhere in the source's manifests.
fn check_expected(
    format: Format,
    entry: &Entry,
    source: &SourceTree,
    prefix: &str,
    python: &OnceCell<Declared>,
) -> Vec<Flag> {
    let name = entry.path.rsplit('/').next().unwrap_or(&entry.path);
    let text = String::from_utf8_lossy(&entry.data);
    let flag = |message: String| Flag {
        rule: Rule::ArtifactModified,
        severity: Severity::High,
        file: entry.path.clone(),
        line: None,
        message,
    };
    match (format, name) {
        (Format::Crate, ".cargo_vcs_info.json") => check_vcs_info(entry, source)
            .map(flag)
            .into_iter()
            .collect(),
        (Format::Crate, "Cargo.toml") => {
            let manifest = source
                .read(&format!("{prefix}Cargo.toml"))
                .ok()
                .flatten()
                .unwrap_or_default();
            let manifest = String::from_utf8_lossy(&manifest);
            let (built_with, declared_deps) = match (
                cargo_dependency_names(&text),
                cargo_dependency_names(&manifest),
            ) {
                (Ok(a), Ok(b)) => (a, b),
                (Err(why), _) | (_, Err(why)) => {
                    return vec![flag(format!(
                        "cannot read the normalized manifest or the source's Cargo.toml ({why}): compare them by hand"
                    ))]
                }
            };
            let mut flags: Vec<Flag> = built_with
                .difference(&declared_deps)
                .map(|dep| {
                    flag(format!(
                        "the normalized manifest cargo builds with adds dependency `{dep}`, which the source's Cargo.toml does not name"
                    ))
                })
                .collect();
            if let Some(build) = toml_value(&text, &["package"], "build") {
                let declared = toml_value(&manifest, &["package"], "build");
                let implicit = build == "build.rs"
                    && declared.is_none()
                    && source.files().contains_key(&format!("{prefix}build.rs"));
                if declared.as_deref() != Some(build.as_str()) && !implicit && build != "false" {
                    flags.push(flag(format!(
                        "the normalized manifest runs `{build}` as the build script; the source declares {}",
                        declared.map_or("none".to_owned(), |d| format!("`{d}`"))
                    )));
                }
            }
            flags
        }
        (
            Format::Wheel | Format::Sdist,
            "METADATA" | "PKG-INFO" | "requires.txt" | "entry_points.txt",
        ) => check_metadata(
            name,
            entry,
            python.get_or_init(|| Declared::read(source, prefix)),
        ),
        _ => Vec::new(),
    }
}

/// What is wrong with a crate's `.cargo_vcs_info.json`, if anything.
fn check_vcs_info(entry: &Entry, source: &SourceTree) -> Option<String> {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&entry.data) else {
        return Some("is not valid JSON: cargo writes it itself".to_owned());
    };
    let git = value.get("git");
    let Some(sha1) = git.and_then(|g| g.get("sha1")).and_then(|s| s.as_str()) else {
        return Some(
            "names no git commit: the crate was not packaged from this repository's history"
                .to_owned(),
        );
    };
    if sha1 != source.commit() {
        return Some(format!(
            "packaged from commit {}, not {}",
            short(sha1),
            short(source.commit())
        ));
    }
    if git
        .and_then(|g| g.get("dirty"))
        .and_then(serde_json::Value::as_bool)
        == Some(true)
    {
        return Some(
            "packaged with uncommitted changes (`dirty`): not from the commit alone".to_owned(),
        );
    }
    None
}

/// Differences the packaging tool is known to make, checked semantically: npm may rewrite
/// `package.json` formatting, setuptools rewrites `setup.cfg` and appends `[egg_info]`.
fn equivalent(format: Format, rel: &str, source: &[u8], artifact: &[u8]) -> Option<String> {
    match (format, rel) {
        (Format::Npm, "package.json") => {
            let a: serde_json::Value = serde_json::from_slice(source).ok()?;
            let b: serde_json::Value = serde_json::from_slice(artifact).ok()?;
            (a == b).then(|| "reformatted by npm; the same JSON".to_owned())
        }
        (Format::Sdist, "setup.cfg") => {
            let a = ini_items(std::str::from_utf8(source).ok()?);
            let b = ini_items(std::str::from_utf8(artifact).ok()?);
            (a == b).then(|| "rewritten by setuptools (formatting and an [egg_info] section); the same settings".to_owned())
        }
        _ => None,
    }
}

/// The settings of an INI file as (section, line) pairs, whitespace-normalised, without the
/// `[egg_info]` section setuptools adds to an sdist.
fn ini_items(text: &str) -> Vec<(String, String)> {
    let mut section = String::new();
    let mut items = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        if t.starts_with('[') {
            section = t.to_owned();
            continue;
        }
        if section == "[egg_info]" {
            continue;
        }
        let normalised = match t.split_once('=') {
            Some((k, v)) => format!("{} = {}", k.trim(), v.trim()),
            None => t.to_owned(),
        };
        items.push((section.clone(), normalised));
    }
    items
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn differing(entry: &Entry, source_path: &str, original: &[u8]) -> DifferingFile {
    let texts = (
        std::str::from_utf8(original).ok(),
        std::str::from_utf8(&entry.data).ok(),
    );
    let binary =
        original.contains(&0) || entry.data.contains(&0) || texts.0.is_none() || texts.1.is_none();
    let (mut diff, mut truncated) = (String::new(), false);
    if let (false, Some(old), Some(new)) = (binary, texts.0, texts.1) {
        let text_diff = similar::TextDiff::configure()
            .timeout(std::time::Duration::from_secs(2))
            .diff_lines(old, new);
        let full = text_diff
            .unified_diff()
            .context_radius(3)
            .header(
                &format!("source/{source_path}"),
                &format!("artifact/{}", entry.path),
            )
            .to_string();
        let mut lines = full.lines();
        for line in lines.by_ref().take(MAX_DIFF_LINES) {
            diff.push_str(line);
            diff.push('\n');
        }
        truncated = lines.next().is_some();
    }
    DifferingFile {
        artifact_path: entry.path.clone(),
        source_path: source_path.to_owned(),
        binary,
        source_sha256: sha256_hex(original),
        artifact_sha256: sha256_hex(&entry.data),
        diff,
        truncated,
    }
}
