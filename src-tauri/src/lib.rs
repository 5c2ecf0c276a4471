//! The ChainLock desktop co-signing app: a Tauri 2 window, a tray icon and notifications
//! over the co-signing loop of `chainlock-cosign`.
//!
//! This crate is a thin shell. The decisions (what a signing request means, whether a record
//! verifies, what may be signed) belong to the domain crates, which know nothing of windows;
//! the commands ([`commands`]) only hand the window views of their results ([`ipc`]) and pass
//! a request id and a key id back to them. Nothing here signs what the domain crate did not
//! verify, and the window never holds key material or a transaction.

#![cfg_attr(test, allow(clippy::expect_used, clippy::unwrap_used))]

mod error;

pub mod commands;
pub mod desktop;
pub mod ipc;
mod ipc_status;
pub mod keys;
pub mod rows;
pub mod state;
pub mod status;
pub mod tray;
pub mod view;
pub mod work;

use std::path::Path;
use std::sync::Arc;

use tauri::ipc::Invoke;
use tauri::{AppHandle, Manager, Runtime, WindowEvent};

use chainlock_cosign::{demo, Paths, Workspace};

pub use error::{Error, Result};
use state::Shared;

/// The label of the co-signer window, as declared in `tauri.conf.json`.
pub const MAIN_WINDOW: &str = "main";

/// Every command the window may call. `build.rs` declares the same names, so each is
/// denied unless `capabilities/default.json` allows it.
pub fn handler<R: Runtime>() -> impl Fn(Invoke<R>) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        commands::inbox,
        commands::review,
        commands::diff_summary,
        commands::diff_rows,
        commands::sign,
        commands::reject,
        commands::finalize,
        commands::history,
        commands::settings,
        commands::set_notifications,
        commands::set_sync_interval,
        commands::set_autostart,
        commands::create_key,
        commands::sync_now,
        commands::opening_review,
        keys::read_ledger_key,
        keys::add_ledger_key,
        keys::set_key_label,
        commands::review_artifact,
        commands::cancel_work,
        commands::open_request_file,
        commands::opening_request_file,
        commands::watch_package,
    ]
}

/// The workspace to open: the user's own when configured; otherwise the demo world, created
/// on first start in the app's data dir (its config says `demo`, and the window says so).
pub fn open_workspace(data_dir: &Path) -> std::result::Result<Workspace, chainlock_cosign::Error> {
    let paths = Paths::from_env()?;
    if paths.config_file().exists() {
        return Workspace::open(paths);
    }
    let dir = data_dir.join("demo");
    let you = Paths {
        config_dir: dir.join("you").join("config"),
        data_dir: dir.join("you").join("data"),
    };
    if !you.config_file().exists() {
        if dir.exists() {
            // A demo whose creation was interrupted: start it again from nothing.
            demo::clean(&dir)?;
        }
        demo::create_with(
            &dir,
            chainlock_cosign::workspace::now(),
            &demo_options()?,
            |_| {},
        )?;
    }
    Workspace::open(you)
}

/// Set to `1` to make the first start's demo use the connected Ledger as *you* (its key at
/// the default ChainLock path in the demo policy), like `chainlock demo --ledger`.
pub const DEMO_LEDGER_ENV: &str = "CHAINLOCK_DEMO_LEDGER";

/// A number of generated files for the first start's demo to add to its package, like
/// `chainlock demo --extra-files N` (a big review to try; the 10,000-file benchmark uses it).
pub const DEMO_EXTRA_FILES_ENV: &str = "CHAINLOCK_DEMO_EXTRA_FILES";

/// The first start's demo options: with [`DEMO_LEDGER_ENV`], the Ledger (over USB, or the
/// Speculos of `CHAINLOCK_LEDGER_TCP`) is you; [`DEMO_EXTRA_FILES_ENV`] makes its release big.
fn demo_options() -> std::result::Result<demo::DemoOptions, chainlock_cosign::Error> {
    let extra_files = match std::env::var(DEMO_EXTRA_FILES_ENV) {
        Ok(n) if !n.is_empty() => n.parse().map_err(|_| {
            chainlock_cosign::Error::Refused(format!(
                "{DEMO_EXTRA_FILES_ENV}={} is not a number of files",
                chainlock_protocol::text::quoted(&n)
            ))
        })?,
        _ => 0,
    };
    Ok(demo::DemoOptions {
        ledger: (std::env::var(DEMO_LEDGER_ENV).as_deref() == Ok("1"))
            .then(chainlock_signer::OpenOptions::from_env),
        extra_files,
    })
}

/// Manages the state, installs the tray and starts the background sync.
pub fn setup<R: Runtime>(app: &AppHandle<R>) -> Result<()> {
    let data_dir = app.path().app_data_dir().map_err(|source| Error::Setup {
        step: "find the app's data directory",
        source,
    })?;
    let mut workspace = open_workspace(&data_dir).map_err(|source| Error::Workspace { source })?;
    let queue = Arc::new(desktop::EventQueue::default());
    let sink = Arc::clone(&queue);
    workspace.subscribe(move |event| {
        if let Ok(mut events) = sink.0.lock() {
            events.push(event.clone());
        }
    });
    let shared = Shared::new(workspace);
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(request) = args.iter().find_map(|a| desktop::review_link(a)) {
        shared.open_at(request);
    } else if let Some(path) = std::env::current_dir()
        .ok()
        .and_then(|cwd| args.iter().find_map(|a| desktop::request_file_arg(a, &cwd)))
    {
        shared.open_file_at(path);
    }
    app.manage(shared);
    app.manage(queue);
    app.manage(desktop::Notified::load(Some(
        data_dir.join("notified.json"),
    )));
    tray::install(app)?;
    desktop::start_background_sync(app);
    Ok(())
}

/// `err` and its causes, joined by `: `.
fn causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The window-state plugin: the main window's size and position (not whether it is shown:
/// the co-signer may live in the tray) are restored when it is created.
pub fn window_state<R: Runtime>() -> tauri::plugin::TauriPlugin<R> {
    use tauri_plugin_window_state::StateFlags;
    tauri_plugin_window_state::Builder::default()
        .with_state_flags(StateFlags::SIZE | StateFlags::POSITION | StateFlags::MAXIMIZED)
        .build()
}

fn save_window_state<R: Runtime>(app: &AppHandle<R>) {
    use tauri_plugin_window_state::{AppHandleExt, StateFlags};
    // Best effort: a lost size is re-chosen by the user, never a reason to stop.
    let _ = app.save_window_state(StateFlags::SIZE | StateFlags::POSITION | StateFlags::MAXIMIZED);
}

/// Opens the co-signer window and the tray icon, and runs until the user quits.
pub fn run() -> Result<()> {
    tauri::Builder::default()
        // First: a second launch (a `chainlock://review/<id>` link) hands its arguments to
        // the running app and exits.
        .plugin(tauri_plugin_single_instance::init(|app, args, cwd| {
            desktop::open_links(app, &args, std::path::Path::new(&cwd));
        }))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            None,
        ))
        .plugin(window_state())
        .invoke_handler(handler())
        .setup(|app| {
            if let Err(err) = setup(app.handle()) {
                // Tauri turns a setup error into a panic that shows only the outermost
                // message; the cause is what says what to do ("connect the Ledger, ...").
                eprintln!("error: {}", causes(&err));
                std::process::exit(1);
            }
            Ok(())
        })
        .on_window_event(|window, event| match event {
            // Closing the window keeps the co-signer in the tray; Quit is in its menu.
            WindowEvent::CloseRequested { api, .. } => {
                api.prevent_close();
                save_window_state(window.app_handle());
                let _ = window.hide();
            }
            // Saved as it changes: the app may end without an exit event (a logout, a kill).
            WindowEvent::Resized(_) | WindowEvent::Moved(_) => {
                save_window_state(window.app_handle())
            }
            _ => {}
        })
        .run(tauri::generate_context!())
        .map_err(|source| Error::Run { source })
}
