//! The ChainLock desktop co-signing app: a Tauri 2 window and a tray icon.
//!
//! This crate is a thin shell. It opens the co-signer window and the tray menu; the
//! decisions (what a signing request means, whether a record verifies, what may be signed)
//! belong to the domain crates, which know nothing of windows. It must never hold protocol
//! logic of its own, and never sign anything the domain crates have not verified.
//!
//! For now the window only says that the co-signer is open and that no signing requests
//! are pending; later issues connect it to requests and signers.

mod error;
pub mod tray;

pub use error::{Error, Result};

/// The label of the co-signer window, as declared in `tauri.conf.json`.
pub const MAIN_WINDOW: &str = "main";

/// Opens the co-signer window and the tray icon, and runs until the user quits.
pub fn run() -> Result<()> {
    tauri::Builder::default()
        .setup(|app| {
            tray::install(app.handle())?;
            Ok(())
        })
        .run(tauri::generate_context!())
        .map_err(|source| Error::Run { source })
}
