//! Desktop integration driven from Rust: background sync, notifications, the tray's count
//! and menu, deep links, and events to the window.
//!
//! The window never polls: after a sync, a sign or a reject it hears
//! [`AppEvent::InboxChanged`] on the [`EVENT`] channel and fetches what it shows again.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tauri::{AppHandle, Emitter, Manager, Runtime};
use tauri_plugin_notification::NotificationExt;

use chainlock_cosign::workspace::{now, Event};

use crate::ipc::{AppEvent, ProgressEvent, EVENT};
use crate::state::Shared;
use crate::tray;

/// The name of the sync's work: `cancel_work("sync")` cancels it between packages.
pub const SYNC_WORK: &str = "sync";

/// Events the workspace raised during a sync, waiting to be turned into notifications.
#[derive(Default)]
pub struct EventQueue(pub Mutex<Vec<Event>>);

/// The requests already notified, kept in the app's data dir so "once" holds across starts.
pub struct Notified {
    path: Option<PathBuf>,
    seen: Mutex<BTreeSet<String>>,
}

impl Notified {
    /// The set stored at `path` (empty when absent or unreadable: at worst, one more notice).
    pub fn load(path: Option<PathBuf>) -> Self {
        let seen = path
            .as_ref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Notified {
            path,
            seen: Mutex::new(seen),
        }
    }

    /// Marks `request` (or another notice's id) notified; true the first time.
    pub fn first_time(&self, request: &str) -> bool {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !seen.insert(request.to_owned()) {
            return false;
        }
        if let (Some(path), Ok(bytes)) = (&self.path, serde_json::to_vec(&*seen)) {
            // Best effort: losing the set means one repeated notice, never a lost one.
            let _ = chainlock_fs::write(path, &bytes, chainlock_fs::Options::REPLACE_PRIVATE);
        }
        true
    }
}

/// Sends `event` to the window.
pub fn emit<R: Runtime>(app: &AppHandle<R>, event: AppEvent) {
    // No window listening (closed to the tray) is not an error: it fetches on show.
    let _ = app.emit(EVENT, event);
}

/// Tells the window to fetch the inbox again, and refreshes the tray.
pub fn inbox_changed<R: Runtime>(app: &AppHandle<R>) {
    emit(app, AppEvent::InboxChanged);
    refresh_tray(app);
}

/// Turns notifications on or off (Settings and the tray's pause entry).
pub fn set_notifications<R: Runtime>(app: &AppHandle<R>, on: bool) {
    if let Some(shared) = app.try_state::<Arc<Shared>>() {
        shared.notifications.store(on, Ordering::Relaxed);
    }
    refresh_tray(app);
}

fn notify<R: Runtime>(app: &AppHandle<R>, title: &str, body: &str) {
    let on = app
        .try_state::<Arc<Shared>>()
        .is_some_and(|s| s.notifying());
    if on {
        // A missing notification daemon must not stop a sync; the inbox still shows it.
        let _ = app.notification().builder().title(title).body(body).show();
    }
}

/// Syncs every watched package, then notifies, updates the tray and tells the window.
pub async fn sync<R: Runtime>(app: &AppHandle<R>) {
    let Some(shared) = app.try_state::<Arc<Shared>>().map(|s| Arc::clone(&s)) else {
        return;
    };
    emit(app, AppEvent::SyncStarted);
    let queue = app.try_state::<Arc<EventQueue>>().map(|q| Arc::clone(&q));
    let cancel = shared.start_work(SYNC_WORK);
    let progress_app = app.clone();
    let result = shared
        .blocking(move |s| {
            let ws = s.workspace();
            let synced = ws
                .sync_with(&cancel, |done, total| {
                    let n = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
                    emit(
                        &progress_app,
                        AppEvent::Progress(ProgressEvent {
                            work: SYNC_WORK.into(),
                            stage: "syncing packages".into(),
                            done: n(done),
                            total: n(total),
                            unit: "packages".into(),
                        }),
                    );
                })
                .map(|_| ());
            let requests = ws.requests()?;
            let events = queue
                .map(|q| std::mem::take(&mut *q.0.lock().unwrap_or_else(|e| e.into_inner())))
                .unwrap_or_default();
            let mine = ws.my_key_ids();
            let flagged = crate::status::flag_notices(&ws, &requests, &mine, now());
            Ok((synced, requests, events, mine, flagged))
        })
        .await;
    let error = match result {
        Err(e) => Some(e.message),
        Ok((synced, requests, events, mine, flagged)) => {
            let t = now();
            if let Some(notified) = app.try_state::<Notified>() {
                // Once per flag, remembered across starts, like new requests.
                for notice in flagged {
                    if notified.first_time(&notice.id) {
                        notify(app, &notice.title, &notice.body);
                    }
                }
            }
            if let Some(notified) = app.try_state::<Notified>() {
                for p in requests
                    .iter()
                    .filter(|p| !p.my_keys_to_sign.is_empty() && p.expires_at > t)
                {
                    if notified.first_time(&p.request) {
                        notify(
                            app,
                            &format!("Signature needed: {} {}", p.package, p.what),
                            "A release waits for your review in ChainLock.",
                        );
                    }
                }
            }
            for event in events {
                let (request, outcome) = match &event {
                    Event::Finalized { request, .. } => (request, "is final"),
                    Event::Rejected { request, .. } => (request, "was rejected"),
                    Event::NewRequest { .. } => continue,
                };
                let signed = requests
                    .iter()
                    .find(|p| &p.request == request)
                    .filter(|p| p.signed_by.iter().any(|k| mine.contains(k)));
                if let Some(p) = signed {
                    notify(
                        app,
                        &format!("{} {} {outcome}", p.package, p.what),
                        "A request you signed changed.",
                    );
                }
            }
            synced
                .err()
                .map(|e| crate::ipc::CommandError::from(e).message)
        }
    };
    shared.end_work(SYNC_WORK);
    if let Ok(mut status) = shared.sync_status.lock() {
        if error.is_none() {
            status.at = Some(now());
        }
        status.error = error.clone();
    }
    emit(app, AppEvent::SyncEnded { error });
    inbox_changed(app);
}

/// Syncs now, then every `sync_interval` seconds, on Tauri's async runtime.
pub fn start_background_sync<R: Runtime>(app: &AppHandle<R>) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        loop {
            sync(&app).await;
            let secs = app
                .try_state::<Arc<Shared>>()
                .map_or(crate::state::DEFAULT_SYNC_SECS, |s| {
                    s.sync_interval.load(Ordering::Relaxed)
                });
            tokio::time::sleep(Duration::from_secs(u64::from(secs.max(60)))).await;
        }
    });
}

/// Rebuilds the tray's menu and tooltip from the inbox (off the UI thread).
pub fn refresh_tray<R: Runtime>(app: &AppHandle<R>) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let Some(shared) = app.try_state::<Arc<Shared>>().map(|s| Arc::clone(&s)) else {
            return;
        };
        let waiting = shared
            .blocking(|s| {
                let t = now();
                Ok(s.workspace()
                    .requests()?
                    .into_iter()
                    .filter(|p| !p.my_keys_to_sign.is_empty() && p.expires_at > t)
                    .map(|p| (p.request, format!("{} {}", p.package, p.what)))
                    .collect::<Vec<_>>())
            })
            .await
            .unwrap_or_default();
        let paused = !shared.notifying();
        // Menus are built on the main thread (GTK is not thread-safe).
        let handle = app.clone();
        let _ = app.run_on_main_thread(move || tray::update(&handle, &waiting, paused));
    });
}

/// The request id in a `chainlock://review/<id>` link, if it is one: 8 to 64 hex digits.
/// Links are untrusted input: they can open a review, never sign.
pub fn review_link(link: &str) -> Option<String> {
    let id = link
        .strip_prefix("chainlock://review/")?
        .trim_end_matches('/');
    let ok = (8..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then(|| id.to_ascii_lowercase())
}

/// A request file named on the command line (`chainlock-app FILE`): an argument that is
/// neither an option nor a link, resolved against `cwd`. Only a path: the file is read,
/// capped and parsed when the review opens, and can never be signed.
pub fn request_file_arg(arg: &str, cwd: &Path) -> Option<PathBuf> {
    if arg.is_empty() || arg.starts_with('-') || arg.contains("://") {
        return None;
    }
    Some(cwd.join(arg))
}

/// Opens the review named by the first review link in `args` (the program's arguments,
/// its name first), or the first request file, bringing the window forward.
pub fn open_links<R: Runtime>(app: &AppHandle<R>, args: &[String], cwd: &Path) {
    show_window(app);
    let args = args.get(1..).unwrap_or_default();
    if let Some(request) = args.iter().find_map(|a| review_link(a)) {
        emit(app, AppEvent::OpenReview { request });
    } else if let Some(path) = args.iter().find_map(|a| request_file_arg(a, cwd)) {
        emit(
            app,
            AppEvent::OpenRequestFile {
                path: path.display().to_string(),
            },
        );
    }
}

/// Shows and focuses the co-signer window.
pub fn show_window<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window(crate::MAIN_WINDOW) {
        // Best effort: a window manager may refuse focus; nothing depends on it.
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
}

#[cfg(test)]
mod tests {
    use super::review_link;

    #[test]
    fn request_files_are_paths_that_are_neither_options_nor_links() {
        use super::request_file_arg;
        use std::path::Path;
        let cwd = Path::new("/home/me");
        assert_eq!(
            request_file_arg("request.json", cwd),
            Some(Path::new("/home/me/request.json").to_path_buf())
        );
        assert_eq!(
            request_file_arg("/tmp/r.json", cwd),
            Some(Path::new("/tmp/r.json").to_path_buf())
        );
        assert_eq!(request_file_arg("--verbose", cwd), None);
        assert_eq!(request_file_arg("chainlock://review/abcdef12", cwd), None);
        assert_eq!(request_file_arg("", cwd), None);
    }

    #[test]
    fn only_review_links_with_a_hex_id_open_anything() {
        let id = "a".repeat(64);
        assert_eq!(
            review_link(&format!("chainlock://review/{id}")),
            Some(id.clone())
        );
        assert_eq!(
            review_link("chainlock://review/ABCDEF12/"),
            Some("abcdef12".into())
        );
        assert_eq!(review_link("chainlock://sign/abcdef12"), None);
        assert_eq!(review_link("chainlock://review/abc"), None);
        assert_eq!(review_link("chainlock://review/../../etc"), None);
        assert_eq!(review_link("https://review/abcdef12"), None);
        assert_eq!(review_link(&format!("chainlock://review/{id}0")), None);
    }
}
