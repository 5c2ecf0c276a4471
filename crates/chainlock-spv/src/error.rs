//! The one error type of the SPV crate: why bytes do not decode, or why a proof does not hold.

use chainlock_protocol::tx::Txid;

/// Every way SPV data can be malformed or fail to prove what it claims.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bytes that do not decode (a header, a BUMP, a BEEF, a transaction in it).
    #[error(transparent)]
    Decode(#[from] chainlock_protocol::Error),
    /// A merkle path that is well formed but does not describe a path for this transaction.
    #[error("merkle path at block height {height}: {reason}")]
    Path {
        /// The block height the path names.
        height: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A header chain whose headers do not link.
    #[error("header {height} does not follow header {}: its previous hash is {found}, not {expected}; the headers file is not one chain", height - 1)]
    HeadersDoNotLink {
        /// The height of the header that does not link.
        height: u64,
        /// The hash of the header before it.
        expected: String,
        /// The previous hash it names.
        found: String,
    },
    /// A headers file whose length is not a multiple of 80 bytes.
    #[error("a headers file holds 80-byte headers back to back, but this one is {len} bytes (not a multiple of 80): it is truncated or not a headers file")]
    HeadersLength {
        /// Its length.
        len: usize,
    },
    /// A transaction a BEEF was asked for is not in it.
    #[error("transaction {txid} is not in the BEEF")]
    MissingTx {
        /// The transaction.
        txid: Txid,
    },
    /// A BEEF whose structure is inconsistent (a bump index out of range, a transaction its
    /// bump does not list, a transaction before its parents).
    #[error("BEEF is inconsistent: {0}")]
    Beef(String),
}

/// Result alias for the SPV crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
