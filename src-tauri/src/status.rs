//! Final releases in their challenge window: the status and flags the window shows, and the
//! notices for flags on releases I signed.
//!
//! Nothing is judged here: the status and whether each flag counts (and why) come from
//! `chainlock_cosign::flags`; this module only reshapes them and escapes their text.

use chainlock_cosign::flags::{self, FlagSigner, ReleaseStatus, SeenFlag, Severity};
use chainlock_cosign::{Pending, Workspace};
use chainlock_protocol::record::Record;
use chainlock_protocol::request::SigningRequest;

use crate::ipc::{detail, shown, ReleaseFlagView, ReleaseState, ReleaseStatusView};

/// The longest flag reason a notification carries (the review shows it whole).
const NOTICE_REASON_CHARS: usize = 200;

/// The status of the final release `req` of `package`, and every flag on it; None for a
/// request that is not a release or whose record the chain backend does not know yet.
pub fn of_request(
    ws: &Workspace,
    package: &str,
    req: &SigningRequest,
    now: u64,
) -> Option<(ReleaseStatusView, Vec<ReleaseFlagView>)> {
    if !matches!(req.record, Record::Release(_)) {
        return None;
    }
    let digest = req.record.digest().ok()?;
    let (release, status, seen) = ws
        .release_status(&format!("{package}@{}", digest.to_hex()), now)
        .ok()?;
    let flags = seen
        .iter()
        .map(|f| flag_view(f, &release.policy, release.block_time))
        .collect();
    Some((status_view(&status), flags))
}

/// The status of a pending request's release, when it is final.
pub fn of_pending(ws: &Workspace, p: &Pending, now: u64) -> Option<ReleaseStatusView> {
    if !p.finalized {
        return None;
    }
    let req = ws.request(&p.request).ok()?;
    of_request(ws, &p.package, &req, now).map(|(status, _)| status)
}

fn status_view(status: &ReleaseStatus) -> ReleaseStatusView {
    let (state, closes_at, flagged_by) = match status {
        ReleaseStatus::Pending => (ReleaseState::Pending, None, Vec::new()),
        ReleaseStatus::InWindow { closes_at } => {
            (ReleaseState::InWindow, Some(*closes_at), Vec::new())
        }
        ReleaseStatus::Verified => (ReleaseState::Verified, None, Vec::new()),
        ReleaseStatus::Flagged { by } => (ReleaseState::Flagged, None, by.clone()),
    };
    ReleaseStatusView {
        state,
        closes_at,
        flagged_by,
    }
}

fn flag_view(
    f: &SeenFlag,
    policy: &chainlock_protocol::policy::Policy,
    block_time: Option<u64>,
) -> ReleaseFlagView {
    let standing = flags::standing(f, policy, block_time);
    let who = match &f.signer {
        Err(_) => "unverified",
        Ok(s) if !s.in_policy(policy) => "unknown key",
        Ok(FlagSigner::Maintainer(_)) => "maintainer",
        Ok(FlagSigner::Builder(_)) => "trusted builder",
    };
    ReleaseFlagView {
        severity: match f.flag.as_ref().map(|flag| flag.severity) {
            Some(Severity::Blocking) => "blocking",
            Some(Severity::Advisory) => "advisory",
            None => "unreadable",
        }
        .into(),
        key_id: shown(&f.key_id),
        who: who.into(),
        counted: standing.is_ok(),
        why: match standing {
            Ok(why) | Err(why) => detail(&why),
        },
        reason: f
            .flag
            .as_ref()
            .map(|flag| detail(&flag.reason))
            .unwrap_or_default(),
        evidence: f
            .flag
            .as_ref()
            .map(|flag| flag.evidence.iter().map(|e| shown(e)).collect())
            .unwrap_or_default(),
        created_at: f.flag.as_ref().map(|flag| flag.created_at),
        withdrawn: f.withdrawn,
    }
}

/// A desktop notice about a flag that counts against a release I signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagNotice {
    /// Identifies the flag (`flag:<request>/<key id>`): one notice per flag, ever.
    pub id: String,
    /// The notification's title.
    pub title: String,
    /// The notification's body.
    pub body: String,
}

/// A notice for every counted flag on a final release signed by one of `mine`.
pub fn flag_notices(
    ws: &Workspace,
    requests: &[Pending],
    mine: &[String],
    now: u64,
) -> Vec<FlagNotice> {
    let mut out = Vec::new();
    for p in requests
        .iter()
        .filter(|p| p.finalized && p.signed_by.iter().any(|k| mine.contains(k)))
    {
        let Some((_, flags)) = ws
            .request(&p.request)
            .ok()
            .and_then(|req| of_request(ws, &p.package, &req, now))
        else {
            continue;
        };
        for f in flags.iter().filter(|f| f.counted) {
            let key: String = f.key_id.chars().take(16).collect();
            out.push(FlagNotice {
                id: format!("flag:{}/{}", p.request, f.key_id),
                title: format!("FLAGGED: {} {}", shown(&p.package), shown(&p.what)),
                body: format!(
                    "A release you signed was flagged by {} {key}…: {}",
                    f.who,
                    chainlock_protocol::text::printable_cut(&f.reason, NOTICE_REASON_CHARS)
                ),
            });
        }
    }
    out
}
