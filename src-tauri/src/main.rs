//! The `chainlock-app` binary: starts the ChainLock desktop co-signer.
// No console window behind the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::error::Error as _;
use std::process::ExitCode;

use chainlock_diff::{limit_libgit2_memory, Libgit2Limits};

fn main() -> ExitCode {
    // First, while this is the only thread: bound libgit2's pack windows and object cache,
    // which a review of a big range would otherwise let grow without limit.
    if let Err(err) = limit_libgit2_memory(Libgit2Limits::default()) {
        eprintln!("warning: libgit2's memory limits were not applied: {err}");
    }
    match chainlock_app::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            let mut source = err.source();
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            eprintln!(
                "help: the app needs a graphical session (DISPLAY or WAYLAND_DISPLAY) and \
                 WebKitGTK 4.1; run scripts/setup to install what is missing"
            );
            ExitCode::FAILURE
        }
    }
}
