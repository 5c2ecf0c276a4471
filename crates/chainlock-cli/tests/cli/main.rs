//! Integration tests of the `chainlock` binary: one module per topic, shared helpers in `util`.
#![allow(clippy::expect_used, clippy::unwrap_used)] // tests fail loudly on setup errors

mod artifact;
// The fake ARC and the fake network of the chain crate's tests, with their @bsv/sdk judge.
#[path = "../../../chainlock-chain/tests/arc_server.rs"]
#[allow(dead_code)]
mod arc_server;
mod attest;
mod corpus_attacks;
mod cosign;
mod diff;
mod hostile;
#[path = "../../../chainlock-chain/tests/judge.rs"]
mod judge;
mod key;
mod ledger;
mod network;
#[path = "../../../chainlock-chain/tests/network_server.rs"]
#[allow(dead_code)]
mod network_server;
mod policy;
mod request;
mod tx;
mod util;
mod verify_record;
