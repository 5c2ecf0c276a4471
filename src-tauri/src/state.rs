//! The app's shared state: the co-signer's workspace behind a mutex, the computed diffs,
//! and the user's desktop settings.
//!
//! Commands run their work on Tauri's blocking pool ([`Shared::blocking`]), never on the UI
//! thread; the workspace mutex makes two of them (a sync and a sign, say) take turns.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use chainlock_cosign::Workspace;
use chainlock_diff::Cancel;
use chainlock_protocol::request::SigningRequest;
use chainlock_review::Flag;
use chainlock_signer::OpenOptions;

use crate::ipc::CommandError;
use crate::rows::DiffIndex;

/// Seconds between background syncs unless the user picks another interval.
pub const DEFAULT_SYNC_SECS: u32 = 300;

/// The last sync's outcome, for the inbox header.
#[derive(Debug, Clone, Default)]
pub struct SyncStatus {
    /// Unix seconds of the last successful sync.
    pub at: Option<u64>,
    /// Why the last sync failed.
    pub error: Option<String>,
}

/// Everything the commands share.
pub struct Shared {
    workspace: Mutex<Workspace>,
    diffs: Mutex<HashMap<String, Arc<DiffIndex>>>,
    /// Desktop notifications on (the tray's pause entry and Settings switch them).
    pub notifications: AtomicBool,
    /// Seconds between background syncs.
    pub sync_interval: AtomicU32,
    /// The last sync's outcome.
    pub sync_status: Mutex<SyncStatus>,
    /// A review to open when the window asks (a `chainlock://review/<id>` at launch).
    pending_review: Mutex<Option<String>>,
    /// How signers are opened (a Speculos port from `CHAINLOCK_LEDGER_TCP`, ...).
    pub open_options: OpenOptions,
    /// Requests opened from files, by id: only their diffs are served from here; they are
    /// never signed (signing looks requests up on the coordination remote).
    files: Mutex<HashMap<String, SigningRequest>>,
    /// A request file to open when the window asks (`chainlock-app FILE` at launch).
    pending_file: Mutex<Option<PathBuf>>,
    /// Cancellation tokens of the long work running now, by request id.
    work: Mutex<HashMap<String, Cancel>>,
    /// The risk flags of the latest reviews' ranges, by request id (for their diffs).
    risk_flags: Mutex<HashMap<String, Arc<Vec<Flag>>>>,
}

impl Shared {
    /// Shared state over `workspace`, opening signers as the environment says
    /// (`CHAINLOCK_LEDGER_TCP` reaches a Speculos emulator, as it does for the CLI).
    pub fn new(workspace: Workspace) -> Arc<Self> {
        Self::with_open_options(workspace, OpenOptions::from_env())
    }

    /// Shared state over `workspace`, opening signers with `open_options`.
    pub fn with_open_options(workspace: Workspace, open_options: OpenOptions) -> Arc<Self> {
        Arc::new(Shared {
            workspace: Mutex::new(workspace),
            diffs: Mutex::new(HashMap::new()),
            notifications: AtomicBool::new(true),
            sync_interval: AtomicU32::new(DEFAULT_SYNC_SECS),
            sync_status: Mutex::new(SyncStatus::default()),
            pending_review: Mutex::new(None),
            open_options,
            files: Mutex::new(HashMap::new()),
            pending_file: Mutex::new(None),
            work: Mutex::new(HashMap::new()),
            risk_flags: Mutex::new(HashMap::new()),
        })
    }

    /// The workspace, locked. A panic while it was held leaves it usable: every workspace
    /// operation writes atomically, so no half-written state can be behind the poison.
    pub fn workspace(&self) -> MutexGuard<'_, Workspace> {
        self.workspace
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The computed diff of `request`, if any.
    pub fn diff(&self, request: &str) -> Option<Arc<DiffIndex>> {
        self.diffs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(request)
            .cloned()
    }

    /// Keeps the computed diff of `request` (only the latest few: diffs can be large).
    pub fn keep_diff(&self, request: &str, index: Arc<DiffIndex>) {
        let mut diffs = self
            .diffs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if diffs.len() >= 4 {
            diffs.clear();
        }
        diffs.insert(request.to_owned(), index);
    }

    /// Remembers `request` as the review to open first.
    pub fn open_at(&self, request: String) {
        if let Ok(mut pending) = self.pending_review.lock() {
            *pending = Some(request);
        }
    }

    /// Takes the review to open first, if any.
    pub fn take_review(&self) -> Option<String> {
        self.pending_review.lock().ok().and_then(|mut p| p.take())
    }

    /// Keeps a request opened from a file (the latest few), for its diff.
    pub fn keep_file_request(&self, id: &str, request: SigningRequest) {
        let mut files = self
            .files
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if files.len() >= 4 {
            files.clear();
        }
        files.insert(id.to_owned(), request);
    }

    /// The request opened from a file with id `id` (or a unique prefix of it), if any.
    pub fn file_request(&self, id: &str) -> Option<SigningRequest> {
        let files = self
            .files
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut hits = files.iter().filter(|(k, _)| k.starts_with(id));
        match (hits.next(), hits.next()) {
            (Some((_, req)), None) => Some(req.clone()),
            _ => None,
        }
    }

    /// Remembers `path` as the request file to open first.
    pub fn open_file_at(&self, path: PathBuf) {
        if let Ok(mut pending) = self.pending_file.lock() {
            *pending = Some(path);
        }
    }

    /// Takes the request file to open first, if any.
    pub fn take_file(&self) -> Option<PathBuf> {
        self.pending_file.lock().ok().and_then(|mut p| p.take())
    }

    /// Keeps the risk flags a review of `id` scanned (only the latest few).
    pub fn keep_risk_flags(&self, id: &str, flags: Vec<Flag>) {
        let mut kept = self
            .risk_flags
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if kept.len() >= 8 {
            kept.clear();
        }
        kept.insert(id.to_owned(), Arc::new(flags));
    }

    /// The risk flags a review of `id` scanned, if kept.
    pub fn risk_flags(&self, id: &str) -> Option<Arc<Vec<Flag>>> {
        self.risk_flags
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(id)
            .cloned()
    }

    /// A fresh cancellation token for work on `id` (a later start replaces an earlier one).
    pub fn start_work(&self, id: &str) -> Cancel {
        let cancel = Cancel::new();
        self.work
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id.to_owned(), cancel.clone());
        cancel
    }

    /// Forgets the token of work on `id`.
    pub fn end_work(&self, id: &str) {
        self.work
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(id);
    }

    /// Cancels the work on `id`; false when none runs.
    pub fn cancel_work(&self, id: &str) -> bool {
        let work = self
            .work
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        work.get(id).map(Cancel::cancel).is_some()
    }

    /// Whether notifications are on.
    pub fn notifying(&self) -> bool {
        self.notifications.load(Ordering::Relaxed)
    }

    /// Runs `f` on Tauri's blocking pool and returns its result.
    pub async fn blocking<T, F>(self: &Arc<Self>, f: F) -> Result<T, CommandError>
    where
        T: Send + 'static,
        F: FnOnce(&Shared) -> Result<T, CommandError> + Send + 'static,
    {
        let shared = Arc::clone(self);
        tauri::async_runtime::spawn_blocking(move || f(&shared))
            .await
            .map_err(|e| CommandError::failed(format!("the background task stopped: {e}")))?
    }
}
