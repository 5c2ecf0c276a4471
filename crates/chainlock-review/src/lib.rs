//! Artifact against source, and risk flags over a release's changes.
//!
//! Two kinds of review evidence for a co-signer:
//!
//! - [`compare`]: unpack a published artifact (npm `.tgz`, Python wheel or sdist, `.crate`,
//!   plain tar or zip) in memory and compare it with the source tree at a commit: files only
//!   in the artifact, files that differ (with a content diff), files only in the source. What
//!   each packaging tool writes itself is listed as expected, not reported as noise.
//! - [`scan_change`]: risk flags on one changed file (install-time hooks, dependency
//!   changes, binaries and opaque content, added lines that reach the network, spawn
//!   processes, `eval`, or read credentials). It knows nothing of git, so the range scan
//!   (over `chainlock-diff`'s changes) and the artifact comparison share it.
//! - [`scan_range`]: every change of a release range through [`scan_file_change`], and
//!   optionally the artifact comparison at its head: what `chainlock diff risk` and the
//!   desktop app show.
//! - [`compare_with`]: [`compare`] with agreeing rebuilds ([`Reproduction`], from
//!   `chainlock_attest::evaluate`) that cover the build output no source file matches.
//!
//! This crate must never write an archive's entries to disk, never follow a link out of an
//! archive, and never hold more than [`Limits`] allow: artifacts are hostile input. It reads
//! repositories and never writes to them. Flags are pointers for a human, not verdicts.

mod archive;
mod compare;
mod error;
pub mod evidence;
mod python;
mod range;
mod rebuilt;
mod risk;
mod source;

pub use archive::{Archive, Entry, EntryKind, Format, Limits};
pub use compare::{
    compare, compare_with, ArtifactReport, BuildOutput, CompareOptions, DifferingFile,
    ExpectedFile, Reproduction,
};
pub use error::{Error, Result};
pub use range::{scan_range, scan_range_cancellable, RangeOptions, RangeScan};
pub use risk::{is_hidden_char, scan_change, scan_file_change, sort_flags, Flag, Rule, Severity};
pub use source::{SourceFile, SourceTree};
