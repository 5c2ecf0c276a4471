//! The one error type of atomic writes.

use std::path::PathBuf;

/// Why a file could not be written. Nothing is left under the target's name in any case.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The target exists and the write must not replace it.
    #[error("{} exists already and is never overwritten: choose another name, or move the old file away yourself", .path.display())]
    Exists {
        /// The target.
        path: PathBuf,
    },
    /// An I/O failure, with what was being done and to which file.
    // The OS error is part of the message and deliberately not a `source`: a message
    // printed with its chain would otherwise show it twice.
    #[error("{action} {}: {error}", .path.display())]
    Io {
        /// What was being done ("cannot write", "cannot create a file in" ...).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
}

impl Error {
    pub(crate) fn io(action: &'static str, path: &std::path::Path, error: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            error,
        }
    }
}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        let kind = match &e {
            Error::Exists { .. } => std::io::ErrorKind::AlreadyExists,
            Error::Io { error, .. } => error.kind(),
        };
        std::io::Error::new(kind, e)
    }
}
