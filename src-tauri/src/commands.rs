//! The commands the window may call, each a few lines over the co-signing crate.
//!
//! Every one is declared in `build.rs` (so it is denied unless a capability allows it) and
//! runs its work on the blocking pool. The window sends request ids and key ids, never key
//! material and never a transaction: `sign` re-reviews the request in the domain crate,
//! which signs only what its own verification hands out as ready.

use std::sync::Arc;

use tauri::{AppHandle, Runtime, State};

use chainlock_cosign::workspace::now;
use chainlock_signer::keychain::Keychain;

use crate::ipc::{
    shown, AppEvent, CommandError, DiffRow, DiffSummary, Filter, HistoryView, Inbox, KeyView,
    Outcome, ReviewView, SettingsView, SignerChoice, WatchAdded,
};
use crate::state::Shared;
use crate::{desktop, view, work};

type Res<T> = Result<T, CommandError>;

/// A request id from the window: 8 to 64 lowercase hex digits (a unique prefix will do).
fn request_id(id: &str) -> Res<String> {
    let ok = (8..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    ok.then(|| id.to_owned()).ok_or_else(|| {
        CommandError::invalid(format!(
            "{} is not a request id: expected 8 to 64 lowercase hex digits",
            shown(&id.chars().take(80).collect::<String>())
        ))
    })
}

/// The key URI for the signer the window chose; the key must be in my key index.
fn key_uri(shared: &Shared, choice: &SignerChoice) -> Res<String> {
    match choice {
        SignerChoice::Ledger => Ok("ledger://".to_owned()),
        SignerChoice::Keychain { key_id } => {
            let mine = shared.workspace().my_key_ids();
            if mine.iter().any(|k| k == key_id) {
                Ok(format!("keychain://{key_id}"))
            } else {
                Err(CommandError::invalid(format!(
                    "{} is not one of your keys: pick one from Settings > Keys",
                    shown(&key_id.chars().take(80).collect::<String>())
                )))
            }
        }
    }
}

/// The inbox under `filter`.
#[tauri::command]
pub async fn inbox(shared: State<'_, Arc<Shared>>, filter: Filter) -> Res<Inbox> {
    shared
        .blocking(move |s| view::inbox(s, filter, now()))
        .await
}

/// The review of `request`; the window hears its stages' progress and may cancel it
/// (`cancel_work`), which returns the `cancelled` error and keeps nothing.
#[tauri::command]
pub async fn review<R: Runtime>(
    app: AppHandle<R>,
    shared: State<'_, Arc<Shared>>,
    request: String,
) -> Res<ReviewView> {
    let id = request_id(&request)?;
    let cancel = shared.start_work(&id);
    let key = id.clone();
    let result = shared
        .blocking(move |s| {
            work::review(
                s,
                &id,
                &cancel,
                |p| desktop::emit(&app, AppEvent::Progress(p)),
                now(),
            )
        })
        .await;
    shared.end_work(&key);
    result
}

/// Computes (or reuses) the diff of `request` and returns its file tree; the window hears
/// its progress and may cancel it (`cancel_work`).
#[tauri::command]
pub async fn diff_summary<R: Runtime>(
    app: AppHandle<R>,
    shared: State<'_, Arc<Shared>>,
    request: String,
) -> Res<DiffSummary> {
    let id = request_id(&request)?;
    let cancel = shared.start_work(&id);
    let key = id.clone();
    let result = shared
        .blocking(move |s| {
            let index = work::diff(s, &id, &cancel, |p| {
                desktop::emit(&app, AppEvent::Progress(p));
            })?;
            Ok(index.summary.clone())
        })
        .await;
    shared.end_work(&key);
    result
}

/// Cancels the long work on `request` (its diff), or the sync (`"sync"`); false when none
/// runs.
#[tauri::command]
pub fn cancel_work(shared: State<'_, Arc<Shared>>, request: String) -> Res<bool> {
    let id = if request == desktop::SYNC_WORK {
        request
    } else {
        request_id(&request)?
    };
    Ok(shared.cancel_work(&id))
}

/// Rows `start..start + count` of the diff of `request` (computed by `diff_summary`).
#[tauri::command]
pub async fn diff_rows(
    shared: State<'_, Arc<Shared>>,
    request: String,
    start: u32,
    count: u32,
) -> Res<Vec<DiffRow>> {
    let id = request_id(&request)?;
    let index = shared.diff(&id).ok_or_else(|| {
        CommandError::invalid("open the diff first (diff_summary), then ask for its rows")
    })?;
    Ok(index.rows(start, count))
}

/// Signs `request` with the chosen key, after the domain crate re-verifies it.
#[tauri::command]
pub async fn sign<R: Runtime>(
    app: AppHandle<R>,
    shared: State<'_, Arc<Shared>>,
    request: String,
    signer: SignerChoice,
    accept_warnings: bool,
) -> Res<Outcome> {
    let id = request_id(&request)?;
    let outcome = shared
        .blocking(move |s| {
            let uri = key_uri(s, &signer)?;
            let doc = view::sign(s, &id, &uri, accept_warnings)?;
            Ok(Outcome {
                message: "Signed. Your signature is on the coordination remote.".into(),
                key_id: Some(doc.public_key.key_id()),
            })
        })
        .await?;
    desktop::inbox_changed(&app);
    Ok(outcome)
}

/// Rejects `request` with `reason`, a statement signed by the chosen key.
#[tauri::command]
pub async fn reject<R: Runtime>(
    app: AppHandle<R>,
    shared: State<'_, Arc<Shared>>,
    request: String,
    reason: String,
    signer: SignerChoice,
) -> Res<Outcome> {
    let id = request_id(&request)?;
    let outcome = shared
        .blocking(move |s| {
            let uri = key_uri(s, &signer)?;
            let ws = s.workspace();
            let rejection = ws.reject(&id, &reason, &uri, &s.open_options, now())?;
            Ok(Outcome {
                message: "Rejected. The other maintainers will see your reason.".into(),
                key_id: Some(rejection.public_key.key_id()),
            })
        })
        .await?;
    desktop::inbox_changed(&app);
    Ok(outcome)
}

/// Assembles the m signatures of `request` and broadcasts the record transaction.
#[tauri::command]
pub async fn finalize<R: Runtime>(
    app: AppHandle<R>,
    shared: State<'_, Arc<Shared>>,
    request: String,
) -> Res<Outcome> {
    let id = request_id(&request)?;
    let outcome = shared
        .blocking(move |s| {
            let doc = s.workspace().finalize(&id, now())?;
            Ok(Outcome {
                message: format!("Final: transaction {} ({}).", doc.txid, doc.status),
                key_id: None,
            })
        })
        .await?;
    desktop::inbox_changed(&app);
    Ok(outcome)
}

/// The audit log, its hash chain checked.
#[tauri::command]
pub async fn history(shared: State<'_, Arc<Shared>>) -> Res<HistoryView> {
    shared.blocking(view::history).await
}

/// Whether the app starts at login; without the autostart plugin (the mock runtime), no.
fn autostart<R: Runtime>(app: &AppHandle<R>) -> bool {
    use tauri::Manager;
    app.try_state::<tauri_plugin_autostart::AutoLaunchManager>()
        .and_then(|a| a.is_enabled().ok())
        .unwrap_or(false)
}

/// The settings screen.
#[tauri::command]
pub async fn settings<R: Runtime>(
    app: AppHandle<R>,
    shared: State<'_, Arc<Shared>>,
) -> Res<SettingsView> {
    let on = autostart(&app);
    shared.blocking(move |s| view::settings(s, on)).await
}

/// Turns starting at login on or off.
#[tauri::command]
pub async fn set_autostart<R: Runtime>(
    app: AppHandle<R>,
    shared: State<'_, Arc<Shared>>,
    on: bool,
) -> Res<SettingsView> {
    use tauri::Manager;
    let manager = app
        .try_state::<tauri_plugin_autostart::AutoLaunchManager>()
        .ok_or_else(|| CommandError::failed("starting at login is not available here"))?;
    let done = if on {
        manager.enable()
    } else {
        manager.disable()
    };
    done.map_err(|e| CommandError::failed(format!("could not change starting at login: {e}")))?;
    let now_on = autostart(&app);
    shared.blocking(move |s| view::settings(s, now_on)).await
}

/// Turns desktop notifications on or off.
#[tauri::command]
pub async fn set_notifications<R: Runtime>(
    app: AppHandle<R>,
    shared: State<'_, Arc<Shared>>,
    on: bool,
) -> Res<SettingsView> {
    desktop::set_notifications(&app, on);
    let auto = autostart(&app);
    shared.blocking(move |s| view::settings(s, auto)).await
}

/// Sets the background sync interval (60 seconds to a day).
#[tauri::command]
pub async fn set_sync_interval<R: Runtime>(
    app: AppHandle<R>,
    shared: State<'_, Arc<Shared>>,
    secs: u32,
) -> Res<SettingsView> {
    if !(60..=86_400).contains(&secs) {
        return Err(CommandError::invalid(
            "the sync interval must be between 60 seconds and one day (86400)",
        ));
    }
    shared
        .sync_interval
        .store(secs, std::sync::atomic::Ordering::Relaxed);
    let auto = autostart(&app);
    shared.blocking(move |s| view::settings(s, auto)).await
}

/// Creates a key in the OS keychain with `label`.
#[tauri::command]
pub async fn create_key(shared: State<'_, Arc<Shared>>, label: String) -> Res<KeyView> {
    // The same rule as every label the window sets (the key index's own limit).
    let label = crate::keys::label(&label)?;
    shared
        .blocking(move |s| {
            let dir = s.workspace().paths().config_dir.clone();
            let key = Keychain::new(Some(dir))?.generate(&label)?;
            Ok(KeyView::of(&key))
        })
        .await
}

/// Watches a package: its coordination `remote` (git URL) and my `clone` of its source
/// (cloned from the remote when the directory does not exist), pinning its genesis (trust on
/// first use). The window says where the pin came from, to compare with another maintainer.
#[tauri::command]
pub async fn watch_package<R: Runtime>(
    app: AppHandle<R>,
    shared: State<'_, Arc<Shared>>,
    remote: String,
    clone: String,
) -> Res<WatchAdded> {
    let remote = remote.trim().to_owned();
    if remote.is_empty() || remote.len() > 2048 || remote.chars().any(char::is_control) {
        return Err(CommandError::invalid(format!(
            "{} is not a git remote: give its URL, such as https://github.com/me/pad.git or \
             file:///srv/git/pad.git",
            shown(&remote.chars().take(80).collect::<String>())
        )));
    }
    let clone = file_path(&clone, "your clone", "/home/me/src/pad")?;
    let added = shared
        .blocking(move |s| {
            chainlock_cosign::publisher::clone_if_missing(&remote, &clone)?;
            let (watched, source) = s.workspace().watch_add(&remote, &clone)?;
            Ok(WatchAdded {
                watched: view::watched_view(&watched),
                pinned_from: shown(&source),
            })
        })
        .await?;
    desktop::inbox_changed(&app);
    Ok(added)
}

/// Syncs every watched package now; the window hears the result as events.
#[tauri::command]
pub async fn sync_now<R: Runtime>(app: AppHandle<R>) -> Res<()> {
    desktop::sync(&app).await;
    Ok(())
}

/// The review a `chainlock://review/<id>` launch asked for, once.
#[tauri::command]
pub fn opening_review(shared: State<'_, Arc<Shared>>) -> Option<String> {
    shared.take_review()
}

/// A file's path from the window: an absolute path (or `~/...`) of at most 4096 bytes
/// without NUL. Only a path: the domain crates read the file capped and parse it.
fn file_path(path: &str, what: &str, example: &str) -> Res<std::path::PathBuf> {
    let path = path.trim();
    let expanded = match path.strip_prefix("~/") {
        Some(rest) => std::env::var_os("HOME").map(|home| std::path::Path::new(&home).join(rest)),
        None => Some(std::path::PathBuf::from(path)),
    };
    match expanded {
        Some(p) if p.is_absolute() && path.len() <= 4096 && !path.contains('\0') => Ok(p),
        _ => Err(CommandError::invalid(format!(
            "{} is not a file path: give {what}'s full path, such as {example}",
            shown(&path.chars().take(80).collect::<String>())
        ))),
    }
}

/// The review of `request` with the artifact file at `artifact` compared with the source.
#[tauri::command]
pub async fn review_artifact(
    shared: State<'_, Arc<Shared>>,
    request: String,
    artifact: String,
) -> Res<ReviewView> {
    let id = request_id(&request)?;
    let artifact = file_path(&artifact, "the artifact file", "/home/me/pad-1.1.0.tgz")?;
    if !artifact.is_file() {
        return Err(CommandError::invalid(format!(
            "{} is not a file: give the published artifact (a .tgz, .whl, .crate, .zip or .tar.gz)",
            shown(&artifact.display().to_string())
        )));
    }
    shared
        .blocking(move |s| view::review_against(s, &id, Some(artifact), now()))
        .await
}

/// Reviews the signing request in the file at `path`: every check, never signable.
#[tauri::command]
pub async fn open_request_file(shared: State<'_, Arc<Shared>>, path: String) -> Res<ReviewView> {
    let path = file_path(&path, "the request file", "/home/me/request.json")?;
    shared
        .blocking(move |s| view::review_file(s, &path, now()))
        .await
}

/// The request file a `chainlock-app FILE` launch asked for, once.
#[tauri::command]
pub fn opening_request_file(shared: State<'_, Arc<Shared>>) -> Option<String> {
    shared.take_file().map(|p| p.display().to_string())
}
