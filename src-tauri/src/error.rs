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
    /// The co-signing workspace (or the first start's demo) could not be opened.
    #[error("could not open the co-signing workspace")]
    Workspace {
        /// The domain crate's error.
        #[source]
        source: chainlock_cosign::Error,
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

use crate::ipc::CommandError;

impl CommandError {
    /// Input from the window that cannot be acted on.
    pub fn invalid(message: impl Into<String>) -> Self {
        CommandError {
            kind: "invalid-input".into(),
            message: message.into(),
        }
    }

    /// Anything else that failed.
    pub fn failed(message: impl Into<String>) -> Self {
        CommandError {
            kind: "failed".into(),
            message: message.into(),
        }
    }
}

/// The message of `err` followed by its causes, one per `: `.
fn chain(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

impl From<chainlock_cosign::Error> for CommandError {
    fn from(err: chainlock_cosign::Error) -> Self {
        use chainlock_cosign::Error as E;
        let kind = match &err {
            E::UnknownRequest(_) | E::UnknownPackage(_) => "unknown-request",
            E::NotReady(_) => "not-ready",
            E::Warnings(_) => "warnings",
            E::Refused(_) => "refused",
            E::Signer(e) => signer_kind(e),
            E::Cancelled => "cancelled",
            _ => "failed",
        };
        CommandError {
            kind: kind.into(),
            message: chain(&err),
        }
    }
}

impl From<chainlock_signer::Error> for CommandError {
    fn from(err: chainlock_signer::Error) -> Self {
        CommandError {
            kind: signer_kind(&err).into(),
            message: chain(&err),
        }
    }
}

/// The kind the window branches on for a signer's error: the user refused on the device
/// (`rejected-on-device`), the device cannot be reached or is not ready
/// (`device-unreachable`: connect, unlock, open the app), or anything else (`signer`).
fn signer_kind(err: &chainlock_signer::Error) -> &'static str {
    match err.kind() {
        "rejected_on_device" => "rejected-on-device",
        "no_device" | "multiple_devices" | "device_locked" | "wrong_app" | "disconnected"
        | "timeout" | "transport" => "device-unreachable",
        _ => "signer",
    }
}

impl From<chainlock_diff::Error> for CommandError {
    fn from(err: chainlock_diff::Error) -> Self {
        CommandError::failed(chain(&err))
    }
}
