//! The one error type of the attestation crate.

use std::path::PathBuf;

/// Every way attesting, or checking attestations, can fail.
///
/// An envelope that fails verification during a policy evaluation is not an error: it is
/// reported in the evaluation (see [`crate::evaluate`]). These errors are for the operations
/// that cannot go on (a key that cannot be loaded, a build that fails, a malformed policy).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The caller stopped an evaluation before every envelope was checked (a Cancel button).
    #[error("stopped before every envelope was checked: nothing was evaluated; run it again")]
    Stopped,
    /// No valid envelope by a trusted builder names a release.
    #[error("no valid envelope by a trusted builder names the release: pass --commit and --artifact-sha256 to see why each envelope does not count")]
    NoRelease,
    /// Trusted builders are split evenly between releases, so none can be chosen.
    #[error("trusted builders are split between {count} candidates ({candidates}); pass --commit and --artifact-sha256 to choose the release")]
    SplitRelease {
        /// How many releases tie.
        count: usize,
        /// The tied releases, listed.
        candidates: String,
    },
    /// A file that cannot be read, written or created.
    // The OS error is the source, not part of the message: printed with its chain it would
    // otherwise show twice.
    #[error("{action} {}", .path.display())]
    Io {
        /// What was being done ("cannot read", "cannot create" ...).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The rebuilt artifact would replace a file.
    #[error("{} exists: the rebuilt artifact never replaces a file; remove it or choose another directory", .path.display())]
    ArtifactExists {
        /// The file.
        path: PathBuf,
    },
    /// No builder key file where one was looked for.
    #[error("no builder key at {}: create one with `chainlock builder key new --out {}`, or pass --key FILE", .path.display(), .path.display())]
    KeyMissing {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// A builder key file that exists already: keys are never overwritten.
    #[error("{path} already exists; builder keys are never overwritten (choose another --out, or remove the old key yourself if it is truly unused)")]
    KeyExists {
        /// The file.
        path: PathBuf,
    },
    /// A builder key file that others than its owner can read.
    #[error("{path} has mode {mode:03o}: a builder key must be readable by its owner only (run `chmod 600 {path}`)")]
    KeyPermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A builder key file that is not an Ed25519 PKCS#8 private key.
    #[error("{path} is not an Ed25519 builder key: {reason}")]
    KeyFormat {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A public key that is not a valid Ed25519 key.
    #[error("invalid Ed25519 public key {what}: {reason}")]
    PublicKey {
        /// Which key ("policy builder 2", "envelope 1 builder id" ...).
        what: String,
        /// Why.
        reason: String,
    },
    /// An envelope that is not a well-formed DSSE envelope of this protocol.
    #[error("invalid envelope: {0}")]
    Envelope(String),
    /// A signature that does not verify.
    #[error("signature by builder key {key_id} does not verify")]
    BadSignature {
        /// The key id named by the signature.
        key_id: String,
    },
    /// A payload that is not the in-toto statement this protocol expects.
    #[error("invalid statement: {0}")]
    Statement(String),
    /// A release parameter (commit, artifact hash) that is malformed.
    #[error("invalid {what} {value}: {reason}")]
    Parameter {
        /// Which parameter.
        what: &'static str,
        /// The value given (truncated).
        value: String,
        /// Why.
        reason: String,
    },
    /// A git command that failed while fetching the source.
    #[error("git {action} failed for {repository}: {detail}")]
    Git {
        /// What was being done ("clone", "checkout" ...).
        action: &'static str,
        /// The repository URL.
        repository: String,
        /// What git said.
        detail: String,
    },
    /// The build command that failed.
    #[error("build command {command:?} failed ({status}) in the checkout of {commit}; its output is above")]
    Build {
        /// The command.
        command: String,
        /// The source commit.
        commit: String,
        /// How it ended.
        status: String,
    },
    /// The build sandbox cannot be used on this machine.
    #[error("cannot isolate the build: {problem}")]
    Sandbox {
        /// What is missing, and what to do.
        problem: String,
    },
    /// The build command ran past its time limit and was stopped.
    #[error("build command {command:?} ran longer than {seconds} s in the checkout of {commit} and was stopped with everything it started; if the build needs longer, raise --timeout")]
    BuildTimeout {
        /// The command.
        command: String,
        /// The source commit.
        commit: String,
        /// The limit, in seconds.
        seconds: u64,
    },
    /// An artifact pattern that matched no file, or several.
    #[error("artifact pattern {pattern:?} {problem}")]
    Artifact {
        /// The pattern.
        pattern: String,
        /// What went wrong ("matched nothing", "matched 3 files: ...").
        problem: String,
    },
    /// An error of the protocol core (canonical JSON, policy).
    #[error(transparent)]
    Protocol(#[from] chainlock_protocol::Error),
}

/// Result alias for the attestation crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn parameter(what: &'static str, value: &str, reason: impl Into<String>) -> Self {
        Error::Parameter {
            what,
            value: chainlock_protocol::text::quoted(value),
            reason: reason.into(),
        }
    }
}
