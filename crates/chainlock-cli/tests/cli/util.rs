//! Helpers shared by the CLI tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// The `chainlock` binary cargo built for these tests.
pub fn chainlock() -> Command {
    Command::new(env!("CARGO_BIN_EXE_chainlock"))
}

/// Runs `chainlock` with `args` and returns its output.
pub fn run(args: &[&str]) -> Output {
    chainlock().args(args).output().expect("chainlock runs")
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// `../shared/vectors` beside the checkout (CI puts shared/ there).
pub fn shared_vectors() -> PathBuf {
    workspace_root().join("../shared/vectors")
}
