//! The ChainLock protocol, version 1 (`shared/PROTOCOL.md`), as a library with no I/O.
//!
//! Design goals:
//! - **No windows, devices or keychains.** Everything here is pure computation over bytes and
//!   JSON, so the desktop app, the CLI, the builders and the verifiers share one tested core.
//! - **Hostile input never panics.** Every parser takes untrusted bytes, bounds every
//!   allocation by the input's own length, and returns an error that says where it failed.
//! - **Only the protocol's shapes can be built.** The record-transaction builder cannot
//!   produce a transaction that co-signers or the Ledger app would refuse.
//!
//! What this crate must never do: sign a digest handed in from outside. Signing functions
//! take the transaction and compute the digest themselves.

// Tests may panic on setup failures; the library itself may not.
#![cfg_attr(test, allow(clippy::expect_used, clippy::unwrap_used))]

pub mod bsm;
pub mod checker;
pub mod encode;
pub mod error;
pub mod hash;
pub mod jcs;
pub mod keys;
pub mod policy;
pub mod record;
pub mod record_tx;
pub mod request;
pub mod script;
pub mod sighash;
pub mod text;
pub mod tx;
pub mod verify;

pub use error::{Error, Result};

#[cfg(feature = "test-support")]
pub mod testing;
