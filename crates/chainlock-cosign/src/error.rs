//! The one error type of the co-signing loop.

use std::path::PathBuf;

/// Every way the co-signing loop can fail. Messages say what to do next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done ("cannot read", "cannot write").
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A configuration or state file that does not parse.
    #[error("{} is damaged: {reason}; fix or remove it (it is rebuilt by `chainlock sync` where it is only a cache)", path.display())]
    Damaged {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A git operation on the coordination remote or a local mirror failed.
    #[error("git: {action}: {message}")]
    Git {
        /// What was being done.
        action: String,
        /// libgit2's message.
        message: String,
    },
    /// The package named is not watched.
    #[error("no watched package named {0:?}: see `chainlock watch list`, or `chainlock watch add <remote> --clone <dir>`")]
    UnknownPackage(String),
    /// No request, or more than one, matches an id prefix.
    #[error("{0}")]
    UnknownRequest(String),
    /// The request is not ready to sign: the report says why.
    #[error("not signing: {0}")]
    NotReady(String),
    /// Warnings that were not acknowledged: nothing was signed.
    #[error("not signing: {} warning(s) need your acknowledgement (read them, then sign with --accept-warnings): {}", .0.len(), .0.join("; "))]
    Warnings(Vec<String>),
    /// Something the user asked for that cannot be done, with what to do instead.
    #[error("{0}")]
    Refused(String),
    /// The protocol core refused something.
    #[error(transparent)]
    Protocol(#[from] chainlock_protocol::Error),
    /// The signer failed (device, keychain, wrong key).
    #[error(transparent)]
    Signer(#[from] chainlock_signer::Error),
    /// The chain backend failed.
    #[error(transparent)]
    Chain(#[from] chainlock_chain::Error),
    /// SPV data (a BEEF) could not be written.
    #[error(transparent)]
    Spv(#[from] chainlock_spv::Error),
    /// Attestations could not be read.
    #[error(transparent)]
    Attest(#[from] chainlock_attest::Error),
    /// The diff could not be computed.
    #[error(transparent)]
    Diff(#[from] chainlock_diff::Error),
    /// Long work (a sync) was cancelled between two of its steps; each finished step is
    /// whole, nothing is half-written.
    #[error("cancelled: what finished before the cancel is kept; sync again to finish")]
    Cancelled,
}

impl Error {
    /// A stable kind for the window and JSON output (`{kind, message}`).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Io { .. } => "io",
            Error::Damaged { .. } => "damaged",
            Error::Git { .. } => "git",
            Error::UnknownPackage(_) => "unknown_package",
            Error::UnknownRequest(_) => "unknown_request",
            Error::NotReady(_) => "not_ready",
            Error::Warnings(_) => "warnings",
            Error::Refused(_) => "refused",
            Error::Protocol(_) => "protocol",
            Error::Signer(e) => e.kind(),
            Error::Chain(_) => "chain",
            Error::Spv(_) => "spv",
            Error::Attest(_) => "attest",
            Error::Diff(_) => "diff",
            Error::Cancelled => "cancelled",
        }
    }

    pub(crate) fn git(action: impl Into<String>, e: &git2::Error) -> Self {
        Error::Git {
            action: action.into(),
            message: e.message().to_string(),
        }
    }

    pub(crate) fn io(action: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
