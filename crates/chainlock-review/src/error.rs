//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while reading an artifact or a source tree.
///
/// Every variant names where: the archive entry, the repository path or the revision.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The work was cancelled (a Cancel button); nothing partial is returned.
    #[error("cancelled: nothing partial was kept; open the review again to compute it")]
    Cancelled,
    /// The artifact file could not be read.
    #[error("cannot read artifact {path}: {source}")]
    ReadArtifact {
        /// The artifact path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The artifact is not a format this crate knows.
    #[error("unrecognised artifact format: {0}")]
    UnknownFormat(String),
    /// The archive is damaged or not what its format says.
    #[error("malformed archive at entry {entry:?}: {reason}")]
    Malformed {
        /// The entry being read (empty when the archive itself is bad).
        entry: String,
        /// What was wrong.
        reason: String,
    },
    /// An entry's path is absolute, climbs with `..`, or is otherwise unsafe.
    #[error("unsafe path in archive: {entry:?} ({reason})")]
    UnsafePath {
        /// The entry's path as written in the archive.
        entry: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A symbolic or hard link points outside the archive's tree.
    #[error("link {entry:?} points outside the archive: {target:?}")]
    LinkOutOfTree {
        /// The link entry.
        entry: String,
        /// Its target as written.
        target: String,
    },
    /// A hard link to a symlink: extracted, it is a symlink read from the hard link's place.
    #[error("hard link {entry:?} points at the symlink {target:?}: installed, it becomes a symlink resolved from its own place, which nothing checked; the archive is crafted: do not sign it, ask the publisher")]
    HardLinkToSymlink {
        /// The hard link entry.
        entry: String,
        /// The symlink it names.
        target: String,
    },
    /// An entry, or a symlink's target, passes through a symlink of the same archive, which
    /// an installer follows, so it lands wherever that symlink leads.
    #[error("archive entry {entry:?} passes through the symlink {link:?} of the same archive, so installing it writes or reads wherever that link leads; the archive is crafted: do not sign it, ask the publisher")]
    ThroughSymlink {
        /// The entry (normalised path).
        entry: String,
        /// The symlink it passes through (normalised path).
        link: String,
    },
    /// An entry type that a release artifact has no business holding (device, fifo).
    #[error("unsupported entry type in archive: {entry:?} ({kind})")]
    SpecialEntry {
        /// The entry.
        entry: String,
        /// Its kind.
        kind: String,
    },
    /// Two entries with the same path: which one would an installer use?
    #[error("duplicate entry in archive: {entry:?} is the same path as the earlier entry {first:?}; an installer keeps one of them, so do not sign, ask the publisher")]
    DuplicateEntry {
        /// The later entry, as written in the archive.
        entry: String,
        /// The earlier entry it collides with, as written in the archive.
        first: String,
    },
    /// The archive is built so that other readers (npm's node-tar, Python's tarfile and
    /// zipfile, pip) would see other files than this crate does: what we compare would not be
    /// what gets installed.
    #[error("archive entry {entry:?} would be read differently by npm or pip: {reason}; the archive is malformed or crafted: do not sign it, ask the publisher")]
    Ambiguous {
        /// The entry being read (empty when the container itself is at fault).
        entry: String,
        /// What is ambiguous, and which readers disagree.
        reason: String,
    },
    /// A hard limit was exceeded (zip bomb, absurd entry count).
    #[error("archive exceeds a safety limit at entry {entry:?}: {what} (limit {limit})")]
    LimitExceeded {
        /// The entry being read when the limit was hit.
        entry: String,
        /// The limit that was hit.
        what: &'static str,
        /// Its value.
        limit: u64,
    },
    /// The archive holds no file at all: nothing was published, so nothing can match.
    #[error("{artifact} holds no files (an empty archive): there is nothing to compare with the source, and nothing to co-sign")]
    EmptyArchive {
        /// The artifact's file name.
        artifact: String,
    },
    /// The content is not the format its name or `--format` claims.
    #[error("{artifact} is not a {claimed}: {reason}")]
    FormatMismatch {
        /// The artifact's file name.
        artifact: String,
        /// The format claimed by the name or by the caller.
        claimed: &'static str,
        /// What the content is instead.
        reason: String,
    },
    /// A release range could not be read.
    #[error("cannot read the range {range} in {repo}: {message}")]
    Range {
        /// The repository path.
        repo: PathBuf,
        /// `base..head` as given.
        range: String,
        /// What went wrong.
        message: String,
    },
    /// The repository could not be opened, or a revision not resolved.
    #[error("git error in {repo} at {rev:?}: {message}")]
    Git {
        /// The repository path.
        repo: PathBuf,
        /// The revision being resolved or read (may be empty).
        rev: String,
        /// libgit2's message.
        message: String,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
