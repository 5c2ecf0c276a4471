//! The local ledger, over real SQLite files in temporary directories: what it accepts (and
//! the @bsv/sdk interpreter accepts too), what it refuses and why, and the file itself:
//! concurrent writers, refused broadcasts leaving it unchanged, foreign and damaged files.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
#![allow(dead_code)] // each topic uses a part of the shared helpers

mod arc;
mod arc_server;
mod bench;
mod concurrency;
mod files;
mod judge;
mod mining;
mod network;
mod network_server;
mod records;
mod spends;
mod util;
