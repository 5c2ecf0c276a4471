//! The `chainlock-app` binary: starts the ChainLock desktop co-signer.
// No console window behind the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::error::Error as _;
use std::process::ExitCode;

fn main() -> ExitCode {
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
