//! Long work started from the window (computing a big review diff), with progress events
//! and a Cancel button.
//!
//! Each piece of work holds a [`Cancel`] token registered under its request id in
//! [`Shared`]; `cancel_work` sets it and the diff crate stops at the next file. A cancelled
//! diff keeps nothing: the index is only kept once complete, so the next open computes it
//! again from the start.

use std::sync::Arc;

use chainlock_diff::Cancel;
use chainlock_protocol::record::{Record, EMPTY_TREE};

use crate::ipc::{CommandError, ProgressEvent};
use crate::rows::DiffIndex;
use crate::state::Shared;

type Res<T> = Result<T, CommandError>;

/// At most this many progress events per piece of work (plus the first and the last): the
/// window redraws a bar, not every file.
const PROGRESS_STEPS: usize = 100;

/// The diff of request `id`, computed from my clone once and kept; `progress` hears each
/// stage and how far it is, `cancel` stops it between files.
pub fn diff(
    shared: &Shared,
    id: &str,
    cancel: &Cancel,
    mut progress: impl FnMut(ProgressEvent),
) -> Res<Arc<DiffIndex>> {
    if let Some(index) = shared.diff(id) {
        return Ok(index);
    }
    let (clone, base, head) = {
        let ws = shared.workspace();
        // A request opened from a file is not on the remote: its diff is computed alike.
        let req = match shared.file_request(id) {
            Some(req) => req,
            None => ws.request(id)?,
        };
        let Record::Release(rel) = &req.record else {
            return Err(CommandError::invalid(
                "only a release request has a source diff",
            ));
        };
        let package = chainlock_chain::PackageId::new(req.record.ecosystem(), req.record.package())
            .to_string();
        let clone = ws.config().find(&package)?.clone.clone();
        let base = (rel.source.base_commit != EMPTY_TREE).then(|| rel.source.base_commit.clone());
        (clone, base, rel.source.commit.clone())
    };
    let event = |stage: &str, done: usize, total: usize| ProgressEvent {
        work: id.to_owned(),
        stage: stage.to_owned(),
        done: u32::try_from(done).unwrap_or(u32::MAX),
        total: u32::try_from(total).unwrap_or(u32::MAX),
    };
    // Outside the workspace lock: a big range takes seconds and must not stall a sync.
    // The file tree marks each file's worst risk flag; a scan that cannot run marks none
    // (the review's own risk section says why).
    // The review just scanned the same range: its flags are reused when kept.
    let flags = match shared.risk_flags(id) {
        Some(flags) => flags,
        None => {
            progress(event("scanning the range for risk flags", 0, 0));
            Arc::new(
                chainlock_review::scan_range(
                    &clone,
                    base.as_deref(),
                    &head,
                    &chainlock_review::RangeOptions::default(),
                )
                .map(|scan| scan.flags)
                .unwrap_or_default(),
            )
        }
    };
    if cancel.is_cancelled() {
        return Err(cancelled());
    }
    let mut last = 0;
    let index = DiffIndex::compute_cancellable(
        &clone,
        base.as_deref(),
        &head,
        &flags,
        cancel,
        |done, total| {
            let step = (total / PROGRESS_STEPS).max(1);
            if done == 1 || done == total || done - last >= step {
                last = done;
                progress(event("diffing files", done, total));
            }
        },
    )
    .map_err(|e| match e {
        chainlock_diff::Error::Cancelled => cancelled(),
        other => CommandError::from(other),
    })?;
    let index = Arc::new(index);
    shared.keep_diff(id, Arc::clone(&index));
    Ok(index)
}

/// The error of cancelled work.
pub fn cancelled() -> CommandError {
    CommandError {
        kind: "cancelled".into(),
        message: "Cancelled: nothing was kept. Open the diff again to compute it.".into(),
    }
}
