//! The one error type of this crate.

use std::path::PathBuf;

/// What went wrong while reading a release range out of a git repository.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The repository could not be opened.
    #[error("cannot open git repository {path}")]
    OpenRepository {
        /// The path that was given.
        path: PathBuf,
        /// What libgit2 reported.
        #[source]
        source: git2::Error,
    },
    /// A revision (tag, branch, commit id) did not resolve to a commit.
    #[error("cannot resolve revision {spec:?} to a commit in {path}")]
    Revision {
        /// The revision as given.
        spec: String,
        /// The repository searched.
        path: PathBuf,
        /// What libgit2 reported.
        #[source]
        source: git2::Error,
    },
    /// Comparing the two trees failed.
    #[error("cannot compare the trees of {base} and {head} in {path}")]
    TreeDiff {
        /// The base commit, or `empty tree`.
        base: String,
        /// The head commit.
        head: String,
        /// The repository.
        path: PathBuf,
        /// What libgit2 reported.
        #[source]
        source: git2::Error,
    },
    /// A blob named by a tree could not be read.
    #[error("cannot read blob {id} of {path:?}")]
    ReadBlob {
        /// The changed path (lossy UTF-8).
        path: String,
        /// The blob id.
        id: String,
        /// What libgit2 reported.
        #[source]
        source: git2::Error,
    },
    /// A tree entry carries a mode the diff manifest cannot express.
    #[error("unexpected git file mode {mode:06o} at {path:?}")]
    UnexpectedMode {
        /// The changed path (lossy UTF-8).
        path: String,
        /// The mode git reported.
        mode: u32,
    },
    /// The tree comparison reported a kind of change a tree-to-tree diff cannot produce.
    #[error("unexpected change kind {kind} at {path:?}")]
    UnexpectedDelta {
        /// The changed path (lossy UTF-8).
        path: String,
        /// The kind libgit2 reported.
        kind: String,
    },
    /// One path was reported twice in a way that is neither a type change nor a modification.
    #[error("the tree comparison reported {path:?} twice ({first} and {second})")]
    DuplicatePath {
        /// The path (lossy UTF-8).
        path: String,
        /// The first status seen.
        first: char,
        /// The second status seen.
        second: char,
    },
    /// libgit2 refused a process-wide setting (see [`crate::limit_libgit2_memory`]).
    #[error("libgit2 refused a memory limit setting")]
    Libgit2Option {
        /// What libgit2 reported.
        #[source]
        source: git2::Error,
    },
    /// The work was cancelled (the user pressed Cancel); nothing partial was kept.
    #[error("cancelled")]
    Cancelled,
}

/// This crate's `Result`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
