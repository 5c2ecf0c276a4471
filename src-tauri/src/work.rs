//! Long work started from the window (opening a review, computing a big review diff), with
//! progress events and a Cancel button.
//!
//! Each piece of work holds a [`Cancel`] token registered under its request id in
//! [`Shared`]; `cancel_work` sets it and the domain crates stop at the next file or
//! envelope. Cancelled work keeps nothing: a diff index and a review's risk flags are only
//! kept once complete, so the next open computes them again from the start.

use std::sync::Arc;

use chainlock_diff::Cancel;
use chainlock_protocol::record::{Record, EMPTY_TREE};

use chainlock_cosign::workspace::ReviewProgress;

use crate::ipc::{CommandError, ProgressEvent, ReviewView};
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
    let at = |stage: &str, done: usize, total: usize| event(id, stage, "files", done, total);
    // Outside the workspace lock: a big range takes seconds and must not stall a sync.
    // The file tree marks each file's worst risk flag; a scan that cannot run marks none
    // (the review's own risk section says why).
    // The review just scanned the same range: its flags are reused when kept.
    let flags = match shared.risk_flags(id) {
        Some(flags) => flags,
        None => {
            progress(at("scanning the range for risk flags", 0, 0));
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
                progress(at("diffing files", done, total));
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

/// The review of request `id` for the window: its long stages (the diff digest from my
/// clone, the builders' envelopes, the risk scan) are heard by `progress`, and `cancel`
/// stops them between files or envelopes. A cancelled review returns the `cancelled` error
/// and keeps nothing; nothing can be signed from it (signing reviews again, whole).
pub fn review(
    shared: &Shared,
    id: &str,
    cancel: &Cancel,
    mut progress: impl FnMut(ProgressEvent),
    now: u64,
) -> Res<ReviewView> {
    let mut throttle = Throttle::default();
    let mut hear = |p: ReviewProgress| {
        if throttle.due(p.stage.describe(), p.done, p.total) {
            progress(event(
                id,
                p.stage.describe(),
                p.stage.unit(),
                p.done,
                p.total,
            ));
        }
    };
    crate::view::review_cancellable(shared, id, None, cancel, &mut hear, now).map_err(|e| {
        if e.kind == "cancelled" {
            CommandError {
                kind: "cancelled".into(),
                message: "Review cancelled: nothing was checked or kept, and nothing can be \
                          signed from it. Open the request again to review it."
                    .into(),
            }
        } else {
            e
        }
    })
}

/// One progress event of the work on `id`.
fn event(id: &str, stage: &str, unit: &str, done: usize, total: usize) -> ProgressEvent {
    ProgressEvent {
        work: id.to_owned(),
        stage: stage.to_owned(),
        done: u32::try_from(done).unwrap_or(u32::MAX),
        total: u32::try_from(total).unwrap_or(u32::MAX),
        unit: unit.to_owned(),
    }
}

/// Lets through the first and last step of each stage and about [`PROGRESS_STEPS`] in
/// between: the window redraws a bar, not every file.
#[derive(Default)]
struct Throttle {
    stage: String,
    last: usize,
}

impl Throttle {
    fn due(&mut self, stage: &str, done: usize, total: usize) -> bool {
        let step = (total / PROGRESS_STEPS).max(1);
        let new_stage = self.stage != stage;
        if new_stage || done <= 1 || done >= total || done - self.last >= step {
            if new_stage {
                stage.clone_into(&mut self.stage);
            }
            self.last = done;
            return true;
        }
        false
    }
}
