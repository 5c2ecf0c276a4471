//! Rebuild attestations (DSSE, Ed25519) and the policy's builder agreement.
//!
//! Independent builders rebuild a release from its tagged source and sign what they got: a
//! DSSE envelope ([`dsse`]) holding an in-toto Statement v1 with SLSA Provenance v1
//! ([`statement`]), signed with the builder's Ed25519 key ([`key`]). [`rebuild`] is the
//! builder's side: clone at a commit, build in a scrubbed environment inside a sandbox
//! ([`sandbox`]), hash, sign.
//! [`evaluate`] is the verifier's side ([`release`] when the release is not given): which distinct trusted builders agree on a release's
//! artifact, which disagree, which envelopes are untrusted or invalid, whether the policy's
//! minimum is met, and the attestation digest a record commits to (PROTOCOL.md section 5).
//!
//! What this crate must never do:
//! - count one builder key twice, or count an envelope it could not verify;
//! - accept a builder key in any other role, or touch maintainer keys and the keychain;
//! - let the caller's environment (tokens, credentials) or the builder key into a build;
//! - sign anything when the clone, the build or the artifact match failed.

pub mod dsse;
pub mod error;
pub mod evaluate;
pub mod key;
pub mod rebuild;
pub mod release;
pub mod sandbox;
pub mod statement;

pub use error::{Error, Result};
pub use evaluate::{evaluate, evaluate_with, BuilderReport, EnvelopeInput};
pub use key::{BuilderKey, BuilderPublicKey};
pub use release::{check_without_policy, choose_release, EnvelopeCheck, Release};
