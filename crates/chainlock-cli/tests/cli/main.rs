//! Integration tests of the `chainlock` binary: one module per topic, shared helpers in `util`.
#![allow(clippy::expect_used, clippy::unwrap_used)] // tests fail loudly on setup errors

mod artifact;
mod attest;
mod cosign;
mod diff;
mod key;
mod request;
mod tx;
mod util;
