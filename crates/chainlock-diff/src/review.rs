//! The review diff: what a co-signer reads before signing.
//!
//! Per changed file: status, modes, line counts and unified hunks (3 lines of context by
//! default) whose modified lines carry word-level segments. Binary files, very large files and
//! submodules are marked, never dumped. Unlike the diff digest this depends on a diff
//! algorithm (Myers, as git uses by default), so it is evidence for people, never hashed.

use std::borrow::Cow;
use std::path::Path;

use git2::Repository;
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use similar::{Algorithm, ChangeTag, DiffOp, DiffTag, InlineChangeOptions, TextDiff};

use crate::change::{self, clone_open_error, Changes, Entry, Mode, ObjectId, Range, Status};
use crate::error::{Error, Result};
use crate::parallel;

/// How git decides a blob is binary: a NUL byte among its first 8000 bytes.
const BINARY_SNIFF_BYTES: usize = 8000;

/// Settings of the review diff.
#[derive(Clone, Copy, Debug)]
pub struct ReviewOptions {
    /// Unchanged lines shown around each change (git's default is 3).
    pub context: usize,
    /// A side larger than this many bytes is marked as too large instead of diffed.
    pub max_file_bytes: u64,
    /// Worker threads; `None` for one per core.
    pub threads: Option<usize>,
}

impl Default for ReviewOptions {
    fn default() -> Self {
        Self {
            context: 3,
            max_file_bytes: 1 << 20,
            threads: None,
        }
    }
}

/// What kind of content a changed file has, and so how it is shown.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Content {
    /// Text, shown as hunks. `lossy` when a side is not valid UTF-8 and is shown with
    /// replacement characters.
    Text {
        /// Whether invalid UTF-8 was replaced for display.
        lossy: bool,
    },
    /// Same content, only the mode changed (for example a file made executable).
    ModeOnly,
    /// At least one side is binary (a NUL byte in its first 8000 bytes); not shown.
    Binary {
        /// The base side's size in bytes, if present.
        old_size: Option<u64>,
        /// The head side's size in bytes, if present.
        new_size: Option<u64>,
    },
    /// At least one side exceeds [`ReviewOptions::max_file_bytes`]; not shown.
    TooLarge {
        /// The base side's size in bytes, if present.
        old_size: Option<u64>,
        /// The head side's size in bytes, if present.
        new_size: Option<u64>,
    },
    /// A submodule: only the commit ids changed (see the file's `old_id`/`new_id`).
    Submodule,
}

/// Whether a line is unchanged context, added or removed.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// Present on both sides.
    Context,
    /// Only in the head.
    Added,
    /// Only in the base.
    Removed,
}

/// A run of a line's text; `changed` runs are the words that differ inside a modified line.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Segment {
    /// The text (no line terminator).
    pub text: String,
    /// Whether this run is a word-level change within a modified line.
    pub changed: bool,
}

/// One line of a hunk.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Line {
    /// Context, added or removed.
    pub kind: LineKind,
    /// 1-based line number in the base, for context and removed lines.
    pub old_line: Option<usize>,
    /// 1-based line number in the head, for context and added lines.
    pub new_line: Option<usize>,
    /// The line's text as segments; one unchanged segment unless the line was modified.
    pub segments: Vec<Segment>,
    /// The line is the last of its file and has no newline at its end.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_newline: bool,
}

impl Line {
    /// The line's whole text.
    pub fn text(&self) -> String {
        self.segments.iter().map(|s| s.text.as_str()).collect()
    }
}

/// A unified diff hunk.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Hunk {
    /// First base line of the hunk (1-based; the line before when `old_lines` is 0).
    pub old_start: usize,
    /// Base lines covered.
    pub old_lines: usize,
    /// First head line of the hunk (1-based; the line before when `new_lines` is 0).
    pub new_start: usize,
    /// Head lines covered.
    pub new_lines: usize,
    /// The lines, in order.
    pub lines: Vec<Line>,
}

/// One changed file of the review diff.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FileDiff {
    /// The path's raw bytes.
    pub path: Vec<u8>,
    /// Added, deleted or modified.
    pub status: Status,
    /// The base side's mode.
    pub old_mode: Mode,
    /// The head side's mode.
    pub new_mode: Mode,
    /// The base side's object id.
    pub old_id: Option<ObjectId>,
    /// The head side's object id.
    pub new_id: Option<ObjectId>,
    /// How the content is shown.
    pub content: Content,
    /// Added lines; `None` when the content is not shown as text.
    pub additions: Option<usize>,
    /// Removed lines; `None` when the content is not shown as text.
    pub deletions: Option<usize>,
    /// The hunks (empty unless the content is text).
    pub hunks: Vec<Hunk>,
}

impl FileDiff {
    /// The path for display (invalid UTF-8 replaced).
    pub fn display_path(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.path)
    }
}

/// The JSON form the desktop app renders: `path` for display, plus `path_hex` (the raw bytes)
/// when the path is not valid UTF-8, so nothing is lost.
impl Serialize for FileDiff {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let raw_hex = std::str::from_utf8(&self.path).is_err();
        let mut s = serializer.serialize_struct("FileDiff", if raw_hex { 11 } else { 10 })?;
        s.serialize_field("path", &self.display_path())?;
        if raw_hex {
            s.serialize_field("path_hex", &hex::encode(&self.path))?;
        }
        s.serialize_field("status", &self.status.letter().to_string())?;
        s.serialize_field("old_mode", &self.old_mode.to_string())?;
        s.serialize_field("new_mode", &self.new_mode.to_string())?;
        s.serialize_field("old_id", &self.old_id.map(|id| id.to_hex()))?;
        s.serialize_field("new_id", &self.new_id.map(|id| id.to_hex()))?;
        s.serialize_field("content", &self.content)?;
        s.serialize_field("additions", &self.additions)?;
        s.serialize_field("deletions", &self.deletions)?;
        s.serialize_field("hunks", &self.hunks)?;
        s.end()
    }
}

/// Totals of a review diff.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize)]
pub struct ReviewSummary {
    /// Changed files.
    pub files: usize,
    /// Added lines over all text files.
    pub additions: usize,
    /// Removed lines over all text files.
    pub deletions: usize,
    /// Files not shown as text (binary, too large, submodule).
    pub not_shown: usize,
}

fn blob_size(
    repo: &Repository,
    entry: &Entry,
    id: Option<ObjectId>,
    mode: Mode,
) -> Result<Option<u64>> {
    let Some(id) = id.filter(|_| mode.has_blob()) else {
        return Ok(None);
    };
    let odb = repo.odb().map_err(|source| Error::ReadBlob {
        path: entry.display_path(),
        id: id.to_hex(),
        source,
    })?;
    // The header alone gives the size without inflating a huge blob.
    let (size, _) = odb
        .read_header(id.to_oid())
        .map_err(|source| Error::ReadBlob {
            path: entry.display_path(),
            id: id.to_hex(),
            source,
        })?;
    Ok(Some(size as u64))
}

fn is_binary(bytes: &[u8]) -> bool {
    bytes[..bytes.len().min(BINARY_SNIFF_BYTES)].contains(&0)
}

/// Computes the review of one changed path.
pub(crate) fn review_entry(
    repo: &Repository,
    entry: &Entry,
    options: &ReviewOptions,
) -> Result<FileDiff> {
    let mut file = FileDiff {
        path: entry.path.clone(),
        status: entry.status,
        old_mode: entry.old_mode,
        new_mode: entry.new_mode,
        old_id: entry.old_id,
        new_id: entry.new_id,
        content: Content::Submodule,
        additions: None,
        deletions: None,
        hunks: Vec::new(),
    };
    if entry.old_mode.is_submodule() || entry.new_mode.is_submodule() {
        return Ok(file);
    }
    if entry.old_id.is_some() && entry.old_id == entry.new_id {
        file.content = Content::ModeOnly;
        file.additions = Some(0);
        file.deletions = Some(0);
        return Ok(file);
    }
    let old_size = blob_size(repo, entry, entry.old_id, entry.old_mode)?;
    let new_size = blob_size(repo, entry, entry.new_id, entry.new_mode)?;
    if old_size.max(new_size).unwrap_or(0) > options.max_file_bytes {
        file.content = Content::TooLarge { old_size, new_size };
        return Ok(file);
    }
    let read = |id: Option<ObjectId>| -> Result<Option<git2::Blob<'_>>> {
        id.map(|id| change::read_blob(repo, entry, id)).transpose()
    };
    let (old_blob, new_blob) = (read(entry.old_id)?, read(entry.new_id)?);
    let old = old_blob.as_ref().map_or(&[][..], |b| b.content());
    let new = new_blob.as_ref().map_or(&[][..], |b| b.content());
    if is_binary(old) || is_binary(new) {
        file.content = Content::Binary { old_size, new_size };
        return Ok(file);
    }
    let (old_text, new_text) = (String::from_utf8_lossy(old), String::from_utf8_lossy(new));
    let lossy = matches!(old_text, Cow::Owned(_)) || matches!(new_text, Cow::Owned(_));
    let (hunks, additions, deletions) = text_hunks(&old_text, &new_text, options.context);
    file.content = Content::Text { lossy };
    file.additions = Some(additions);
    file.deletions = Some(deletions);
    file.hunks = hunks;
    Ok(file)
}

/// Splits a segment list's final line terminator off; `true` when there was none.
fn finish_segments(mut segments: Vec<Segment>) -> (Vec<Segment>, bool) {
    let mut no_newline = true;
    if let Some(last) = segments.last_mut() {
        if last.text.ends_with('\n') {
            last.text.pop();
            no_newline = false;
        }
    }
    segments.retain(|s| !s.text.is_empty());
    // Adjacent runs of the same kind read as one.
    let mut merged: Vec<Segment> = Vec::with_capacity(segments.len());
    for segment in segments {
        match merged.last_mut() {
            Some(last) if last.changed == segment.changed => last.text.push_str(&segment.text),
            _ => merged.push(segment),
        }
    }
    (merged, no_newline)
}

fn line(
    tag: ChangeTag,
    old_index: Option<usize>,
    new_index: Option<usize>,
    segments: Vec<Segment>,
) -> Line {
    let (segments, no_newline) = finish_segments(segments);
    Line {
        kind: match tag {
            ChangeTag::Equal => LineKind::Context,
            ChangeTag::Insert => LineKind::Added,
            ChangeTag::Delete => LineKind::Removed,
        },
        old_line: old_index.map(|i| i + 1),
        new_line: new_index.map(|i| i + 1),
        segments,
        no_newline,
    }
}

/// Unified hunks of a line diff with word-level segments in replaced lines, and the counts
/// of added and removed lines.
pub(crate) fn text_hunks(old: &str, new: &str, context: usize) -> (Vec<Hunk>, usize, usize) {
    // Myers in similar 3 bounds expensive searches the way git does (non-minimal splits):
    // deterministic, unlike a wall-clock deadline, and never quadratic on hostile input.
    let diff = TextDiff::configure()
        .algorithm(Algorithm::Myers)
        .diff_lines(old, new);
    let (mut additions, mut deletions) = (0, 0);
    for op in diff.ops() {
        match op.tag() {
            DiffTag::Insert => additions += op.new_range().len(),
            DiffTag::Delete => deletions += op.old_range().len(),
            DiffTag::Replace => {
                additions += op.new_range().len();
                deletions += op.old_range().len();
            }
            DiffTag::Equal => {}
        }
    }
    let mut inline = InlineChangeOptions::new();
    inline.algorithm(Algorithm::Myers);
    let mut hunks = Vec::new();
    for group in diff.grouped_ops(context) {
        if group.iter().all(|op| op.tag() == DiffTag::Equal) {
            continue;
        }
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        let old_range = first.old_range().start..last.old_range().end;
        let new_range = first.new_range().start..last.new_range().end;
        let start = |r: &std::ops::Range<usize>| if r.is_empty() { r.start } else { r.start + 1 };
        let mut lines = Vec::with_capacity(old_range.len() + new_range.len());
        for op in &group {
            if let DiffOp::Replace { .. } = op {
                // No deadline: the same input always yields the same highlights.
                for change in diff.iter_inline_changes_with_options_deadline(op, inline, None) {
                    let segments = change
                        .values()
                        .iter()
                        .map(|(changed, text)| Segment {
                            text: (*text).to_owned(),
                            changed: *changed,
                        })
                        .collect();
                    lines.push(line(
                        change.tag(),
                        change.old_index(),
                        change.new_index(),
                        segments,
                    ));
                }
            } else {
                for change in diff.iter_changes(op) {
                    let segments = vec![Segment {
                        text: change.value().to_owned(),
                        changed: false,
                    }];
                    lines.push(line(
                        change.tag(),
                        change.old_index(),
                        change.new_index(),
                        segments,
                    ));
                }
            }
        }
        hunks.push(Hunk {
            old_start: start(&old_range),
            old_lines: old_range.len(),
            new_start: start(&new_range),
            new_lines: new_range.len(),
            lines,
        });
    }
    (hunks, additions, deletions)
}

impl Changes {
    /// Computes the review diff and hands each file to `f` in byte order of the path.
    ///
    /// Files are diffed on worker threads within a bounded window, so a release touching
    /// thousands of files streams in near-constant memory.
    pub fn review<E, F>(&self, options: &ReviewOptions, mut f: F) -> Result<ReviewSummary, E>
    where
        E: From<Error>,
        F: FnMut(FileDiff) -> Result<(), E>,
    {
        let threads = options.threads.unwrap_or_else(parallel::default_threads);
        let mut summary = ReviewSummary::default();
        parallel::ordered_map(
            self.entries.len(),
            threads,
            8 * threads,
            || change::open(&self.repo_path),
            |repo, i| -> Result<FileDiff> {
                let repo = repo.as_ref().map_err(clone_open_error)?;
                review_entry(repo, &self.entries[i], options)
            },
            |_, file| {
                let file = file?;
                summary.files += 1;
                summary.additions += file.additions.unwrap_or(0);
                summary.deletions += file.deletions.unwrap_or(0);
                if !matches!(file.content, Content::Text { .. } | Content::ModeOnly) {
                    summary.not_shown += 1;
                }
                f(file)
            },
        )?;
        Ok(summary)
    }
}

impl Changes {
    /// [`Changes::review`], stopping with [`Error::Cancelled`] at the first file after
    /// `cancel` is set; `progress` hears `(files done, files in all)` after each file.
    pub fn review_cancellable<E, F>(
        &self,
        options: &ReviewOptions,
        cancel: &Cancel,
        mut progress: impl FnMut(usize, usize),
        mut f: F,
    ) -> Result<ReviewSummary, E>
    where
        E: From<Error>,
        F: FnMut(FileDiff) -> Result<(), E>,
    {
        let total = self.entries.len();
        let mut done = 0;
        if cancel.is_cancelled() {
            return Err(Error::Cancelled.into());
        }
        self.review(options, |file| {
            // Checked between files: the workers stop with the first error returned here.
            if cancel.is_cancelled() {
                return Err(Error::Cancelled.into());
            }
            f(file)?;
            done += 1;
            progress(done, total);
            Ok(())
        })
    }
}

/// A cancellation token for long work: cloned to the thread that may cancel, checked by the
/// work between files.
#[derive(Clone, Debug, Default)]
pub struct Cancel(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Cancel {
    /// A token not yet cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the work to stop at its next check.
    pub fn cancel(&self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether [`Cancel::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Computes the review diff of `base..head` (`base` `None` for the empty tree), handing each
/// changed file to `f` in byte order of the path; returns the resolved commits and totals.
pub fn review<E, F>(
    repo: &Path,
    base: Option<&str>,
    head: &str,
    options: &ReviewOptions,
    f: F,
) -> Result<(Range, ReviewSummary), E>
where
    E: From<Error>,
    F: FnMut(FileDiff) -> Result<(), E>,
{
    let changes = change::changes(repo, base, head)?;
    let summary = changes.review(options, f)?;
    Ok((changes.range, summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(hunks: &[Hunk]) -> String {
        let mut out = String::new();
        for h in hunks {
            out += &format!(
                "@@ -{},{} +{},{} @@\n",
                h.old_start, h.old_lines, h.new_start, h.new_lines
            );
            for l in &h.lines {
                let sign = match l.kind {
                    LineKind::Context => ' ',
                    LineKind::Added => '+',
                    LineKind::Removed => '-',
                };
                out += &format!("{sign}{}\n", l.text());
            }
        }
        out
    }

    #[test]
    fn hunks_carry_three_lines_of_context_like_git() {
        let old: String = (1..=20).map(|i| format!("line {i}\n")).collect();
        let new = old.replace("line 10\n", "line ten\n");
        let (hunks, add, del) = text_hunks(&old, &new, 3);
        assert_eq!((add, del), (1, 1));
        assert_eq!(
            render(&hunks),
            "@@ -7,7 +7,7 @@\n line 7\n line 8\n line 9\n-line 10\n+line ten\n line 11\n line 12\n line 13\n"
        );
    }

    #[test]
    fn modified_lines_carry_word_level_segments() {
        let (hunks, _, _) = text_hunks(
            "let total = price * count;\n",
            "let total = price * quantity;\n",
            3,
        );
        let lines = &hunks[0].lines;
        assert_eq!(lines.len(), 2);
        let changed = |l: &Line| {
            l.segments
                .iter()
                .filter(|s| s.changed)
                .map(|s| s.text.clone())
                .collect::<Vec<_>>()
        };
        // Words are runs between whitespace, as in `git diff --word-diff`.
        assert_eq!(changed(&lines[0]), ["count;"]);
        assert_eq!(changed(&lines[1]), ["quantity;"]);
        assert_eq!(lines[1].text(), "let total = price * quantity;");
        assert!(!lines[1].segments[0].changed);
    }

    #[test]
    fn a_missing_final_newline_is_flagged() {
        let (hunks, add, del) = text_hunks("a\nb", "a\nb\n", 3);
        assert_eq!((add, del), (1, 1));
        let lines = &hunks[0].lines;
        assert!(lines
            .iter()
            .any(|l| l.kind == LineKind::Removed && l.no_newline && l.text() == "b"));
        assert!(lines
            .iter()
            .any(|l| l.kind == LineKind::Added && !l.no_newline && l.text() == "b"));
    }

    #[test]
    fn an_added_file_is_one_hunk_from_line_zero() {
        let (hunks, add, del) = text_hunks("", "x\ny\n", 3);
        assert_eq!((add, del), (2, 0));
        assert_eq!(render(&hunks), "@@ -0,0 +1,2 @@\n+x\n+y\n");
        assert_eq!(hunks[0].lines[1].new_line, Some(2));
    }

    #[test]
    fn identical_text_has_no_hunks() {
        let (hunks, add, del) = text_hunks("same\n", "same\n", 3);
        assert!(hunks.is_empty());
        assert_eq!((add, del), (0, 0));
    }

    #[test]
    fn binary_sniffing_looks_at_the_first_8000_bytes_like_git() {
        assert!(is_binary(b"abc\0def"));
        let mut late_nul = vec![b'a'; 9000];
        late_nul[8500] = 0;
        assert!(!is_binary(&late_nul));
        assert!(!is_binary(b""));
    }
}
