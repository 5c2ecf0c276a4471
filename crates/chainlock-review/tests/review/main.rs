//! Integration tests of chainlock-review: one binary, one module per topic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod artifacts;
mod differentials;
mod evasion;
mod hostile;
mod packaging;
mod risk;
mod util;
