//! The review diff as a flat row index, served to the window in windows of rows.
//!
//! The word diff itself is `chainlock_diff`'s; this module only lays its files, hunks and
//! lines out one after another so the window can ask for rows `start..start + count` and
//! render only what is visible (WebKitGTK takes seconds to mount 10,000 rows).

use std::collections::BTreeMap;
use std::path::Path;

use chainlock_diff::{Cancel, Content, FileDiff, LineKind, ReviewOptions};
use chainlock_review::{Flag, Severity};

use crate::ipc::{shown, DiffFile, DiffRow, DiffSummary, RowKind, Segment};

/// Most rows one `diff_rows` call returns: a screen holds well under this.
pub const MAX_WINDOW: u32 = 2_000;

/// A computed review diff: the file tree and every row.
#[derive(Debug, Clone, Default)]
pub struct DiffIndex {
    /// The file tree and totals.
    pub summary: DiffSummary,
    rows: Vec<DiffRow>,
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn severity_rank(s: Severity) -> u8 {
    match s {
        Severity::High => 3,
        Severity::Medium => 2,
        Severity::Low => 1,
    }
}

/// The worst flag per file path.
fn worst_per_file(flags: &[Flag]) -> BTreeMap<&str, Severity> {
    let mut worst: BTreeMap<&str, Severity> = BTreeMap::new();
    for flag in flags {
        let entry = worst.entry(flag.file.as_str()).or_insert(flag.severity);
        if severity_rank(flag.severity) > severity_rank(*entry) {
            *entry = flag.severity;
        }
    }
    worst
}

/// Why a file's lines are not shown, if they are not.
fn collapsed(file: &FileDiff) -> Option<String> {
    let size = |s: Option<u64>| s.map_or("absent".to_owned(), |b| format!("{b} bytes"));
    match file.content {
        Content::Text { .. } | Content::ModeOnly => {
            generated(&file.display_path()).then(|| "generated file: collapsed".to_owned())
        }
        Content::Binary { old_size, new_size } => Some(format!(
            "binary file ({} before, {} after): not shown",
            size(old_size),
            size(new_size)
        )),
        Content::TooLarge { old_size, new_size } => Some(format!(
            "file too large to show ({} before, {} after)",
            size(old_size),
            size(new_size)
        )),
        Content::Submodule => Some("submodule: only its commit changed".to_owned()),
    }
}

/// Lock files and minified bundles are written by tools: shown collapsed, counted.
fn generated(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    matches!(
        name,
        "package-lock.json" | "Cargo.lock" | "yarn.lock" | "pnpm-lock.yaml" | "poetry.lock"
    ) || name.ends_with(".min.js")
        || name.ends_with(".min.css")
}

impl DiffIndex {
    /// Computes the review diff of `base..head` in `repo` and lays it out as rows; `flags`
    /// mark the files they are about.
    pub fn compute(
        repo: &Path,
        base: Option<&str>,
        head: &str,
        flags: &[Flag],
    ) -> Result<Self, chainlock_diff::Error> {
        Self::compute_cancellable(repo, base, head, flags, &Cancel::new(), |_, _| {})
    }

    /// [`DiffIndex::compute`], stopping with `Cancelled` once `cancel` is set (checked
    /// between files); `progress` hears `(files done, files in all)`. A cancelled diff
    /// returns nothing: no partial index exists to be kept.
    pub fn compute_cancellable(
        repo: &Path,
        base: Option<&str>,
        head: &str,
        flags: &[Flag],
        cancel: &Cancel,
        progress: impl FnMut(usize, usize),
    ) -> Result<Self, chainlock_diff::Error> {
        let worst = worst_per_file(flags);
        let mut index = DiffIndex::default();
        let changes = chainlock_diff::changes(repo, base, head)?;
        changes.review_cancellable::<chainlock_diff::Error, _>(
            &ReviewOptions::default(),
            cancel,
            progress,
            |file| {
                index.push(&file, worst.get(file.display_path().as_ref()).copied());
                Ok(())
            },
        )?;
        index.summary.total_rows = count(index.rows.len());
        Ok(index)
    }

    fn push(&mut self, file: &FileDiff, risk: Option<Severity>) {
        let number = count(self.summary.files.len());
        let path = shown(&file.display_path());
        let hidden = collapsed(file);
        self.summary.additions += count(file.additions.unwrap_or(0));
        self.summary.deletions += count(file.deletions.unwrap_or(0));
        self.summary.files.push(DiffFile {
            path: path.clone(),
            status: file.status.letter().to_string(),
            additions: file.additions.map(count),
            deletions: file.deletions.map(count),
            collapsed: hidden.clone(),
            first_row: count(self.rows.len()),
            risk: risk.map(|s| s.as_str().to_owned()),
        });
        let row = |kind, text: String| DiffRow {
            kind,
            file: number,
            old_line: None,
            new_line: None,
            segments: vec![Segment {
                text,
                changed: false,
            }],
        };
        self.rows.push(row(RowKind::File, path));
        if let Some(note) = hidden {
            self.rows.push(row(RowKind::Note, note));
            return;
        }
        if matches!(file.content, Content::ModeOnly) {
            self.rows.push(row(
                RowKind::Note,
                format!("mode changed: {} to {}", file.old_mode, file.new_mode),
            ));
        }
        for hunk in &file.hunks {
            self.rows.push(row(
                RowKind::Hunk,
                format!(
                    "@@ -{},{} +{},{} @@",
                    hunk.old_start, hunk.old_lines, hunk.new_start, hunk.new_lines
                ),
            ));
            for line in &hunk.lines {
                self.rows.push(DiffRow {
                    kind: match line.kind {
                        LineKind::Context => RowKind::Context,
                        LineKind::Added => RowKind::Added,
                        LineKind::Removed => RowKind::Removed,
                    },
                    file: number,
                    old_line: line.old_line.map(count),
                    new_line: line.new_line.map(count),
                    segments: line
                        .segments
                        .iter()
                        .map(|s| Segment {
                            text: s.text.clone(),
                            changed: s.changed,
                        })
                        .collect(),
                });
            }
        }
    }

    /// Rows `start..start + count` (fewer at the end; at most [`MAX_WINDOW`]).
    pub fn rows(&self, start: u32, count: u32) -> Vec<DiffRow> {
        let start = usize::try_from(start)
            .unwrap_or(usize::MAX)
            .min(self.rows.len());
        let count = usize::try_from(count.min(MAX_WINDOW)).unwrap_or(0);
        let end = start.saturating_add(count).min(self.rows.len());
        self.rows[start..end].to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index_of(rows: usize) -> DiffIndex {
        let mut index = DiffIndex::default();
        for i in 0..rows {
            index.rows.push(DiffRow {
                kind: RowKind::Context,
                file: 0,
                old_line: Some(count(i)),
                new_line: Some(count(i)),
                segments: vec![],
            });
        }
        index
    }

    #[test]
    fn windows_are_clamped_to_the_index_and_the_maximum() {
        let index = index_of(5_000);
        assert_eq!(index.rows(0, 10).len(), 10);
        assert_eq!(index.rows(4_995, 10).len(), 5);
        assert_eq!(index.rows(9_999, 10).len(), 0);
        assert_eq!(index.rows(u32::MAX, u32::MAX).len(), 0);
        assert_eq!(index.rows(0, u32::MAX).len(), MAX_WINDOW as usize);
        assert_eq!(index.rows(100, 1)[0].old_line, Some(100));
    }

    #[test]
    fn each_file_gets_its_worst_flag() {
        let flag = |file: &str, severity| Flag {
            rule: chainlock_review::Rule::InstallHook,
            severity,
            file: file.into(),
            line: None,
            message: String::new(),
        };
        let flags = [
            flag("a.js", Severity::Low),
            flag("a.js", Severity::High),
            flag("a.js", Severity::Medium),
            flag("b.js", Severity::Medium),
        ];
        let worst = worst_per_file(&flags);
        assert_eq!(worst.get("a.js"), Some(&Severity::High));
        assert_eq!(worst.get("b.js"), Some(&Severity::Medium));
        assert_eq!(worst.get("c.js"), None);
    }

    #[test]
    fn lock_files_and_minified_bundles_are_generated() {
        assert!(generated("a/package-lock.json"));
        assert!(generated("dist/app.min.js"));
        assert!(!generated("src/index.js"));
    }
}
