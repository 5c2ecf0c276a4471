//! The risk scan of a release range: every changed file of `base..head` through the risk
//! rules, and optionally the published artifact compared with the source at `head`.
//!
//! One typed entry point, [`scan_range`] (and [`scan_range_cancellable`] for a window with
//! a Cancel button), so the CLI and the desktop app show the same flags.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chainlock_diff::Cancel;
use serde::Serialize;

use crate::archive::{Archive, Format, Limits};
use crate::compare::{compare_with, ArtifactReport, CompareOptions};
use crate::error::{Error, Result};
use crate::risk::{scan_file_change, sort_flags, Flag, Severity};
use crate::source::SourceTree;

/// What [`scan_range`] should look at besides the range.
#[derive(Debug, Clone, Default)]
pub struct RangeOptions {
    /// A published artifact to compare with the source at `head`.
    pub artifact: Option<PathBuf>,
    /// Its format, when detection from its name and layout should be overridden.
    pub format: Option<Format>,
    /// Agreeing rebuilds of that artifact.
    pub compare: CompareOptions,
    /// Limits on reading the artifact.
    pub limits: Limits,
}

/// The risk flags of a release range.
#[derive(Debug, Clone, Serialize)]
pub struct RangeScan {
    /// The resolved base commit (hex), `None` for the empty tree.
    pub base: Option<String>,
    /// The resolved head commit (hex).
    pub head: String,
    /// How many changed files were scanned.
    pub files_scanned: usize,
    /// The flags of the changed files, most severe first.
    pub flags: Vec<Flag>,
    /// The artifact comparison, when an artifact was given.
    pub artifact: Option<ArtifactReport>,
}

impl RangeScan {
    /// Every flag: the range's, then the artifact comparison's.
    pub fn all_flags(&self) -> impl Iterator<Item = &Flag> {
        self.flags
            .iter()
            .chain(self.artifact.iter().flat_map(|r| r.flags.iter()))
    }

    /// Whether any flag (of the range or of the artifact) is high: do not sign unread.
    pub fn has_high(&self) -> bool {
        self.all_flags().any(|f| f.severity == Severity::High)
    }

    /// The number of flags per severity (`high`, `medium`, `low`), all three always present.
    pub fn severity_counts(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::from([("high", 0), ("medium", 0), ("low", 0)]);
        for flag in self.all_flags() {
            *counts.entry(flag.severity.as_str()).or_default() += 1;
        }
        counts
    }
}

/// Scans every change of `base..head` in `repo` (`base` `None`: from the empty tree) and, with
/// [`RangeOptions::artifact`], compares that artifact with the source at `head`.
pub fn scan_range(
    repo: &Path,
    base: Option<&str>,
    head: &str,
    options: &RangeOptions,
) -> Result<RangeScan> {
    scan_range_cancellable(repo, base, head, options, &Cancel::new(), |_, _| {})
}

/// [`scan_range`], stopping with [`Error::Cancelled`] at the first file after `cancel` is
/// set (and before the artifact comparison); `progress` hears `(files scanned, changed files
/// in all)` after each file. A cancelled scan returns no flags at all, never those of part
/// of the range.
pub fn scan_range_cancellable(
    repo: &Path,
    base: Option<&str>,
    head: &str,
    options: &RangeOptions,
    cancel: &Cancel,
    mut progress: impl FnMut(usize, usize),
) -> Result<RangeScan> {
    let range_error = |e: chainlock_diff::Error| match e {
        chainlock_diff::Error::Cancelled => Error::Cancelled,
        e => Error::Range {
            repo: repo.to_path_buf(),
            range: format!("{}..{head}", base.unwrap_or("(empty tree)")),
            message: e.to_string(),
        },
    };
    if cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }
    let mut flags: Vec<Flag> = Vec::new();
    let mut files = 0usize;
    let changes = chainlock_diff::changes(repo, base, head).map_err(range_error)?;
    let total = changes.entries.len();
    changes
        .for_each(None, |change| -> Result<(), chainlock_diff::Error> {
            // Checked between files: the workers stop with the first error returned here.
            if cancel.is_cancelled() {
                return Err(chainlock_diff::Error::Cancelled);
            }
            files += 1;
            let path = String::from_utf8_lossy(change.path);
            let executable = change.new_mode == chainlock_diff::Mode::EXECUTABLE;
            flags.extend(scan_file_change(&path, executable, change.old, change.new));
            progress(files, total);
            Ok(())
        })
        .map_err(range_error)?;
    let range = changes.range;
    sort_flags(&mut flags);
    let head_hex = range.head.to_hex();
    if cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }
    let artifact = match &options.artifact {
        Some(path) => {
            let archive = Archive::open(path, options.format, &options.limits)?;
            let source = SourceTree::open(repo, &head_hex)?;
            Some(compare_with(&archive, &source, &options.compare)?)
        }
        None => None,
    };
    Ok(RangeScan {
        base: range.base.map(|id| id.to_hex()),
        head: head_hex,
        files_scanned: files,
        flags,
        artifact,
    })
}
