//! Review evidence from git: the protocol's diff digest and the human review diff.
//!
//! - [`diff_digest`] computes the diff digest of PROTOCOL.md section 4 (diff manifest v1) for a
//!   release range `base..head`: exact to the byte, independent of any diff algorithm, so
//!   anyone with git and sha256 reproduces it.
//! - [`review`] computes what a co-signer reads: per changed file, status, line counts and
//!   unified hunks with word-level changes, binary and very large files marked, not dumped.
//! - [`for_each_change`] streams the changed files of a range with their content, for other
//!   evidence (artifact comparison, risk flags).
//!
//! The crate only reads a local repository: it never fetches, never writes to the repository,
//! and never interprets path bytes (non-UTF-8 paths are hashed raw and shown lossily). It
//! streams: memory is bounded by a few blobs at a time, not by the size of the range, once a
//! program has called [`limit_libgit2_memory`] at start-up (libgit2's own defaults let its
//! pack mappings grow with the part of the pack a range touches).

// Tests may panic on setup failures; the library itself may not.
#![cfg_attr(test, allow(clippy::expect_used, clippy::unwrap_used))]

mod change;
mod digest;
mod error;
mod limits;
mod parallel;
mod review;

pub use change::{
    changes, for_each_change, Changes, Entry, FileChange, Mode, ObjectId, Range, Status,
    EMPTY_TREE_SHA1, EMPTY_TREE_SHA256,
};
pub use digest::{
    diff_digest, diff_digest_cancellable, manifest_entry, DiffDigest, MANIFEST_HEADER,
};
pub use error::{Error, Result};
pub use limits::{limit_libgit2_memory, Applied, Libgit2Limits};
pub use review::{
    review, Cancel, Content, FileDiff, Hunk, Line, LineKind, ReviewOptions, ReviewSummary, Segment,
};
