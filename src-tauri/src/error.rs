//! Errors of the desktop app.

/// Why the app could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A start-up step (building the tray, finding the main window, ...) failed.
    #[error("could not {step} while starting the ChainLock app")]
    Setup {
        /// What the app was doing, as a verb phrase ("build the tray menu").
        step: &'static str,
        /// The underlying Tauri error.
        #[source]
        source: tauri::Error,
    },
    /// The event loop could not be started (no display, no WebKit, ...).
    #[error("the ChainLock app could not open its window")]
    Run {
        /// The underlying Tauri error.
        #[source]
        source: tauri::Error,
    },
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
