//! The ChainLock co-signing loop over git, as one typed API for the CLI and the desktop app.
//!
//! - [`workspace::Workspace`]: the co-signer's watched packages, sync, pending list, review
//!   bundle, sign (only through the protocol's signing gate), reject, finalize, the audit
//!   log, and events for the app to subscribe to.
//! - [`publisher::Publisher`]: the policy and genesis, custody top-ups, release requests.
//! - [`coord`]: the coordination remote (PROTOCOL.md section 8) mirrored locally, pushed and
//!   fetched with git2 and the user's own credentials; [`view`] verifies every object.
//!
//! What this crate must never do: sign anything a verification did not hand out as ready;
//! take the record chain, the custody state, the diff or the builders' agreement from a
//! request instead of this machine's own knowledge; leave a half-written file or ref.

#![cfg_attr(test, allow(clippy::expect_used, clippy::unwrap_used))]

pub mod bundle;
pub mod config;
pub mod coord;
pub mod demo;
pub mod error;
pub mod flags;
pub mod fsio;
pub mod history;
pub mod objects;
pub mod publisher;
pub mod records;
pub mod rotation;
pub mod view;
pub mod workspace;

pub use config::{ChainConfig, Config, Paths, Watched};
pub use error::{Error, Result};
pub use workspace::{
    Event, FlagKey, Pending, ReleaseRef, Review, ReviewOptions, Verdict, Workspace,
};
