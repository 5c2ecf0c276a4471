//! The one error type of the protocol crate.

use std::fmt;

/// Where in a byte string a decoder stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offset(pub usize);

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "byte {}", self.0)
    }
}

/// Every way the protocol core can refuse its input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bytes that do not decode as the structure expected.
    #[error("cannot decode {what} at {at}: {reason}")]
    Decode {
        /// The structure being decoded ("transaction", "input 2 script" ...).
        what: String,
        /// Where decoding stopped.
        at: Offset,
        /// Why.
        reason: String,
    },
    /// Text that is not valid hex.
    #[error("invalid hex in {what}: {reason}")]
    Hex {
        /// Which value.
        what: String,
        /// Why.
        reason: String,
    },
    /// A script that does not match the template the protocol requires.
    #[error("script is not a {template}: {reason}")]
    Template {
        /// The template expected.
        template: &'static str,
        /// Why it does not match.
        reason: String,
    },
    /// Parameters outside the protocol's limits (threshold, key count, output size ...).
    #[error("{0}")]
    Invalid(String),
    /// A key or signature that is malformed or does not verify.
    #[error("{0}")]
    Crypto(String),
    /// JSON that is malformed, non-canonical, or carries unknown or missing fields.
    #[error("{what}: {reason}")]
    Json {
        /// Which document.
        what: String,
        /// Why.
        reason: String,
    },
}

/// Result alias for the protocol crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn decode(what: impl Into<String>, at: usize, reason: impl Into<String>) -> Self {
        Error::Decode {
            what: what.into(),
            at: Offset(at),
            reason: reason.into(),
        }
    }
}
