//! Integration tests of the `chainlock` binary: one module per topic, shared helpers in `util`.
#![allow(clippy::expect_used, clippy::unwrap_used)] // tests fail loudly on setup errors

mod artifact;
mod attest;
mod corpus_attacks;
mod cosign;
mod diff;
mod hostile;
mod key;
mod ledger;
mod policy;
mod request;
mod tx;
mod util;
mod verify_record;
