//! The domain crate's results turned into the window's views ([`crate::ipc`]).
//!
//! Nothing is decided here: verdicts, checks and the builders' agreement come from
//! `chainlock-cosign`; this module only reshapes them (failures first) and escapes text.

use chainlock_cosign::workspace::{Review, ReviewOptions, ReviewProgress};
use chainlock_cosign::{Pending, Workspace};
use chainlock_diff::Cancel;
use chainlock_protocol::record::Record;
use chainlock_protocol::request::SigningRequest;
use chainlock_protocol::verify::{Report, Status};
use chainlock_signer::keychain::Keychain;

use crate::ipc::{
    detail, shown, ArtifactView, BuildersView, CheckStatus, CheckView, CommandError, DifferingView,
    EnvelopeView, FieldView, Filter, FlagView, HistoryEntry, HistoryView, Inbox, InboxItem,
    KeyView, LedgerScreen, MaintainerAct, ReviewView, SettingsView, TxView, Verdict, WatchedView,
    ARTIFACT_DIFF_CHARS,
};
use crate::state::Shared;

type Res<T> = Result<T, CommandError>;

/// The verdict of a report in one word.
pub fn verdict_of(report: &Report) -> Verdict {
    if report.ready_to_sign() {
        Verdict::Ready
    } else if report.no_failures() {
        Verdict::Waiting
    } else {
        Verdict::Failing
    }
}

fn check_status(s: Status) -> CheckStatus {
    match s {
        Status::Passed => CheckStatus::Passed,
        Status::Failed => CheckStatus::Failed,
        Status::NotRun => CheckStatus::NotRun,
    }
}

/// Whether `p` passes `filter`.
fn wanted(p: &Pending, mine: &[String], filter: Filter, now: u64) -> bool {
    let needs_me = !p.my_keys_to_sign.is_empty() && p.expires_at > now;
    match filter {
        Filter::NeedsMe => needs_me,
        Filter::All => true,
        Filter::SignedByMe => p.signed_by.iter().any(|k| mine.contains(k)),
        Filter::Final => p.finalized,
        Filter::Rejected => !p.rejected_by.is_empty(),
    }
}

/// The inbox under `filter`; requests needing my signature carry the verdict of a review.
pub fn inbox(shared: &Shared, filter: Filter, now: u64) -> Res<Inbox> {
    let ws = shared.workspace();
    let mine = ws.my_key_ids();
    let all = ws.requests()?;
    let needs_me = all
        .iter()
        .filter(|p| wanted(p, &mine, Filter::NeedsMe, now))
        .count();
    let mut items = Vec::new();
    for p in all.into_iter().filter(|p| wanted(p, &mine, filter, now)) {
        items.push(item(&ws, p, &mine, now));
    }
    let status = shared
        .sync_status
        .lock()
        .map(|s| s.clone())
        .unwrap_or_default();
    Ok(Inbox {
        items,
        needs_me: u32::try_from(needs_me).unwrap_or(u32::MAX),
        demo: ws.config().demo,
        synced_at: status.at,
        sync_error: status.error,
    })
}

fn item(ws: &Workspace, p: Pending, mine: &[String], now: u64) -> InboxItem {
    let needs_me = !p.my_keys_to_sign.is_empty() && p.expires_at > now;
    // Only requests awaiting me are reviewed here: the verdict is what the inbox is for.
    let review = needs_me.then(|| ws.review(&p.request, now));
    let (verdict, problems, builders) = match &review {
        Some(Ok(r)) => (
            Some(verdict_of(&r.report)),
            r.report
                .problems()
                .map(|c| format!("{}: {}", c.title(), c.detail()))
                .collect(),
            r.builders.as_ref(),
        ),
        Some(Err(e)) => (
            Some(Verdict::Waiting),
            vec![format!("could not review: {e}")],
            None,
        ),
        None => (None, Vec::new(), None),
    };
    let release_status = crate::status::of_pending(ws, &p, now);
    InboxItem {
        release_status,
        signed_by_me: p.signed_by.iter().any(|k| mine.contains(k)),
        builders_agreeing: builders.map(|b| u32::try_from(b.agreeing.len()).unwrap_or(u32::MAX)),
        builders_min: builders.map(|b| b.min_builders),
        highest_risk: match &review {
            Some(Ok(r)) => r.risk.as_ref().and_then(|scan| {
                ["high", "medium", "low"]
                    .into_iter()
                    .find(|level| scan.all_flags().any(|f| f.severity.as_str() == *level))
                    .map(str::to_owned)
            }),
            _ => None,
        },
        verdict,
        problems,
        package: p.package,
        request: p.request,
        what: p.what,
        publisher: p.publisher,
        created_at: p.created_at,
        expires_at: p.expires_at,
        signed_by: p.signed_by,
        threshold: p.threshold,
        rejected_by: p.rejected_by,
        finalized: p.finalized,
        my_keys_to_sign: p.my_keys_to_sign,
    }
}

fn builders_view(b: &chainlock_attest::BuilderReport) -> BuildersView {
    let trusted: Vec<&str> = b
        .agreeing
        .iter()
        .map(|a| a.key_id.as_str())
        .chain(b.disagreeing.iter().map(|d| d.key_id.as_str()))
        .collect();
    let n = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    BuildersView {
        artifact_sha256: b.artifact_sha256.clone(),
        min: b.min_builders,
        trusted: n(b.trusted_builders),
        agreeing: n(b.agreeing.len()),
        disagreeing: n(b.disagreeing.len()),
        passes: b.passes(),
        envelopes: b
            .envelopes
            .iter()
            .map(|e| EnvelopeView {
                label: shown(&e.label),
                verdict: serde_json::to_value(&e.verdict)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                trusted: e.key_id.as_deref().is_some_and(|k| trusted.contains(&k))
                    || !b.untrusted.contains(&e.index),
                key_id: e.key_id.clone(),
                artifact_sha256: e.artifact_sha256.clone(),
                detail: detail(&e.detail),
            })
            .collect(),
    }
}

/// The review of request `id`, failures first.
pub fn review(shared: &Shared, id: &str, now: u64) -> Res<ReviewView> {
    review_against(shared, id, None, now)
}

/// The review of request `id` with the published artifact at `artifact` (a file the user
/// chose, untrusted: the review crate reads archives with its caps) compared with the
/// source; without one, the demo's own artifact when there is one.
pub fn review_against(
    shared: &Shared,
    id: &str,
    artifact: Option<std::path::PathBuf>,
    now: u64,
) -> Res<ReviewView> {
    review_cancellable(shared, id, artifact, &Cancel::new(), &mut |_| {}, now)
}

/// [`review_against`] whose long stages report to `progress` and stop once `cancel` is set
/// (`cancelled` kind): a cancelled review keeps nothing, not even its risk flags.
pub fn review_cancellable(
    shared: &Shared,
    id: &str,
    artifact: Option<std::path::PathBuf>,
    cancel: &Cancel,
    progress: &mut dyn FnMut(ReviewProgress),
    now: u64,
) -> Res<ReviewView> {
    let ws = shared.workspace();
    let mut options = review_options(&ws, id);
    if artifact.is_some() {
        options.artifact = artifact;
    }
    let r: Review = ws.review_cancellable(id, now, &options, cancel, progress)?;
    let req = ws.request(id)?;
    keep_flags(shared, &r, id);
    review_view(&ws, r, &req, &options, id, now)
}

/// The review of the signing request in the file at `path` (untrusted input): every check,
/// against this machine's knowledge, and never signable. Its diff is served like a remote
/// request's, from the request kept in `shared`.
pub fn review_file(shared: &Shared, path: &std::path::Path, now: u64) -> Res<ReviewView> {
    let ws = shared.workspace();
    let options = ReviewOptions::default();
    let (req, r) = ws.review_file(path, now, &options)?;
    let id = req
        .id()
        .map_err(|e| CommandError::failed(e.to_string()))?
        .to_hex();
    keep_flags(shared, &r, &id);
    let mut view = review_view(&ws, r, &req, &options, &id, now)?;
    // Signing happens only for requests on the coordination remote, through `sign`, which
    // looks the id up there: nothing from a file is offered for signing or rejecting.
    view.can_sign = false;
    view.can_finalize = false;
    view.my_keys_to_sign.clear();
    view.from_file = Some(shown(&path.display().to_string()));
    shared.keep_file_request(&id, req);
    Ok(view)
}

/// The range's risk flags just scanned by the review, for its diff's file tree: a big range
/// is then scanned once, not again when the Diff tab opens.
fn keep_flags(shared: &Shared, r: &Review, id: &str) {
    if let (Some(scan), Some(full)) = (&r.risk, r.report.request_id()) {
        // Under the full id, and the id the window used (the diff is asked by either).
        shared.keep_risk_flags(full, scan.flags.clone());
        if full != id {
            shared.keep_risk_flags(id, scan.flags.clone());
        }
    }
}

fn review_view(
    ws: &Workspace,
    r: Review,
    req: &SigningRequest,
    options: &ReviewOptions,
    id: &str,
    now: u64,
) -> Res<ReviewView> {
    let pending = ws
        .requests()?
        .into_iter()
        .find(|p| Some(p.request.as_str()) == r.report.request_id());
    // The key index, read once: ids for "mine", labels for the custody keys.
    let my_keys = ws.my_keys();
    let mine: Vec<String> = my_keys.iter().map(|k| k.key_id.clone()).collect();
    let mut checks: Vec<CheckView> = r
        .report
        .checks()
        .iter()
        .map(|c| CheckView {
            id: c.id().as_str().to_owned(),
            title: c.title().to_owned(),
            status: check_status(c.status()),
            detail: detail(c.detail()),
        })
        .collect();
    let rank = |s: CheckStatus| match s {
        CheckStatus::Failed => 0,
        CheckStatus::NotRun => 1,
        CheckStatus::Passed => 2,
    };
    checks.sort_by_key(|c| rank(c.status));
    let field = |name: &str| {
        r.report
            .record_fields()
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.clone())
    };
    let release = match &req.record {
        Record::Release(rel) => Some(rel),
        _ => None,
    };
    let verdict = verdict_of(&r.report);
    let my_keys_to_sign = pending
        .as_ref()
        .map(|p| p.my_keys_to_sign.clone())
        .unwrap_or_default();
    let finalized = pending.as_ref().is_some_and(|p| p.finalized);
    let (release_status, release_flags) = finalized
        .then(|| crate::status::of_request(ws, &r.package, req, now))
        .flatten()
        .map_or((None, Vec::new()), |(s, f)| (Some(s), f));
    let policy_changes = match &req.record {
        Record::Rotation(rot) => {
            chainlock_cosign::rotation::policy_changes(&req.policy, &rot.policy)
        }
        _ => Vec::new(),
    };
    Ok(ReviewView {
        release_status,
        release_flags,
        policy_changes,
        from_file: None,
        package: r.package.clone(),
        request: r.report.request_id().unwrap_or(id).to_owned(),
        what: pending
            .as_ref()
            .map(|p| p.what.clone())
            .unwrap_or_else(|| req.record.kind().to_string()),
        version: field("version"),
        tag: field("source.tag"),
        commit: field("source.commit"),
        publisher: req.publisher.key_id(),
        created_at: req.created_at,
        expires_at: req.expires_at,
        record_digest: r.report.record_digest().map(str::to_owned),
        verdict,
        verdict_line: r.report.verdict().to_owned(),
        checks,
        fields: r
            .report
            .record_fields()
            .iter()
            .map(|f| FieldView {
                name: f.name.clone(),
                value: f.value.clone(),
            })
            .collect(),
        diff_digest_claimed: release.map(|rel| rel.diff_digest.to_hex()),
        diff_digest_computed: r.diff_digest.clone(),
        builders: r.builders.as_ref().map(builders_view),
        transaction: r.transaction.as_ref().map(|t| TxView {
            txid: t.txid.clone(),
            custody_outpoint: t.custody_outpoint.clone(),
            custody_satoshis: t.custody_satoshis,
            custody: t.custody.clone(),
            commits_to: t.commits_to.clone(),
            change_address: t.change_address.clone(),
            change_satoshis: t.change.as_ref().map(|c| c.1),
            fee: t.fee,
            sighash: t.sighash.clone(),
        }),
        risk: r
            .risk
            .as_ref()
            .map(|scan| scan.all_flags().map(flag_view).collect())
            .unwrap_or_default(),
        risk_error: r.risk_error.as_deref().map(shown),
        ledger_screens: chainlock_cosign::objects::request_record_tx(req)
            .map(|rtx| {
                let path = chainlock_signer::ledger::DerivationPath::chainlock_default();
                chainlock_signer::ledger::screens::record_tx(&rtx, &path)
                    .into_iter()
                    .map(|screen| LedgerScreen {
                        text: screen.text,
                        action: serde_json::to_value(screen.action)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        warnings: r.warnings.iter().map(|w| detail(w)).collect(),
        artifact: r.risk.as_ref().and_then(|scan| {
            let a = scan.artifact.as_ref()?;
            Some(ArtifactView {
                file: options
                    .artifact
                    .as_ref()
                    .map(|p| shown(&p.display().to_string()))
                    .unwrap_or_default(),
                sha256: a.artifact_sha256.clone(),
                identical: u32::try_from(a.identical).unwrap_or(u32::MAX),
                only_in_artifact: a.only_in_artifact.iter().map(|p| shown(p)).collect(),
                differing: a.differing.iter().map(differing_view).collect(),
                tool_written: a
                    .expected
                    .iter()
                    .map(|e| format!("{}: {}", shown(&e.path), shown(&e.reason)))
                    .collect(),
            })
        }),
        signatures: r
            .signatures
            .iter()
            .map(|s| MaintainerAct {
                mine: mine.contains(&s.key_id),
                key_id: s.key_id.clone(),
                reason: None,
            })
            .collect(),
        rejections: r
            .rejections
            .iter()
            .map(|j| {
                let key_id = j.public_key.key_id();
                MaintainerAct {
                    mine: mine.contains(&key_id),
                    key_id,
                    reason: Some(shown(&j.reason)),
                }
            })
            .collect(),
        threshold: r.threshold,
        can_sign: verdict == Verdict::Ready && !my_keys_to_sign.is_empty(),
        can_finalize: !finalized
            && r.signatures.len() >= usize::from(r.threshold)
            && r.rejections.is_empty(),
        my_keys_to_sign,
        finalized,
        maintainer_labels: r
            .maintainers
            .iter()
            .map(|k| {
                my_keys
                    .iter()
                    .find(|i| &i.key_id == k)
                    .map(|i| shown(&i.label))
            })
            .collect(),
        maintainers: r.maintainers.clone(),
        invalid: r
            .invalid
            .iter()
            .map(|i| format!("{}: {}", shown(&i.name), shown(&i.reason)))
            .collect(),
    })
}

/// Signs through the domain crate, which reviews the request again and signs only if ready.
pub fn sign(
    shared: &Shared,
    id: &str,
    uri: &str,
    accept_warnings: bool,
) -> Res<chainlock_cosign::objects::SignatureDoc> {
    let ws = shared.workspace();
    let options = review_options(&ws, id);
    Ok(ws.sign_with(
        id,
        uri,
        &shared.open_options,
        chainlock_cosign::workspace::now(),
        accept_warnings,
        &options,
    )?)
}

/// The demo publishes its artifacts under `<demo dir>/artifacts/`: with the demo workspace,
/// the review compares the release's artifact archive, when there is one, with the source. Other
/// workspaces have no artifact file (the user would pick one: untrusted input, not done yet).
fn review_options(ws: &Workspace, id: &str) -> ReviewOptions {
    let mut options = ReviewOptions::default();
    if !ws.config().demo {
        return options;
    }
    let Ok(req) = ws.request(id) else {
        return options;
    };
    let Record::Release(rel) = &req.record else {
        return options;
    };
    let demo_dir = ws.paths().config_dir.parent().and_then(|p| p.parent());
    // Only archives compare with a source tree (the demo's own single-file `.js` artifact
    // does not: its risk scan would fail as a whole).
    if let Some(dir) = demo_dir {
        options.artifact = ["tgz", "tar.gz", "crate", "tar", "whl", "zip"]
            .iter()
            .map(|ext| {
                dir.join("artifacts")
                    .join(format!("{}-{}.{ext}", rel.package, rel.version))
            })
            .find(|file| file.is_file());
    }
    options
}

/// A differing artifact file: its diff's lines escaped one by one (the file's content is
/// the archive's: untrusted), the whole cut at a length the window shows comfortably.
fn differing_view(d: &chainlock_review::DifferingFile) -> DifferingView {
    let mut diff = String::new();
    let mut cut = false;
    for line in d.diff.lines() {
        if diff.len() + line.len() > ARTIFACT_DIFF_CHARS {
            cut = true;
            break;
        }
        diff.push_str(&chainlock_protocol::text::printable(line));
        diff.push('\n');
    }
    DifferingView {
        path: shown(&d.artifact_path),
        binary: d.binary,
        diff,
        truncated: d.truncated || cut,
    }
}

fn flag_view(f: &chainlock_review::Flag) -> FlagView {
    FlagView {
        severity: f.severity.as_str().to_owned(),
        code: f.rule.to_string(),
        // A flag about the whole artifact names no file.
        path: (!f.file.is_empty()).then(|| match f.line {
            Some(line) => format!("{}:{line}", shown(&f.file)),
            None => shown(&f.file),
        }),
        detail: detail(&f.message),
    }
}

/// The audit log, newest first.
pub fn history(shared: &Shared) -> Res<HistoryView> {
    let h = shared.workspace().history()?;
    Ok(HistoryView {
        entries: h
            .entries
            .iter()
            .rev()
            .map(|e| HistoryEntry {
                action: serde_json::to_value(e.action)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                package: e.package.clone(),
                request: e.request.to_hex(),
                key_id: e.key_id.clone(),
                time: e.time,
                report: e.report.map(|d| d.to_hex()),
                reason: e.reason.as_deref().map(shown),
            })
            .collect(),
        broken: h.broken,
    })
}

/// The settings screen; `autostart` is what the platform says (the app cannot know it alone).
pub fn settings(shared: &Shared, autostart: bool) -> Res<SettingsView> {
    let ws = shared.workspace();
    let keys = Keychain::new(Some(ws.paths().config_dir.clone()))?.list()?;
    Ok(SettingsView {
        packages: ws.config().packages.iter().map(watched_view).collect(),
        keys: keys.iter().map(KeyView::of).collect(),
        sync_interval_secs: shared
            .sync_interval
            .load(std::sync::atomic::Ordering::Relaxed),
        notifications: shared.notifying(),
        autostart,
        demo: ws.config().demo,
        config_dir: shown(&ws.paths().config_dir.display().to_string()),
    })
}

/// A watched package as Settings shows it (remote and clone path escaped).
pub fn watched_view(w: &chainlock_cosign::config::Watched) -> WatchedView {
    WatchedView {
        package: w.package.clone(),
        remote: shown(&w.remote),
        clone: shown(&w.clone.display().to_string()),
        genesis: w.genesis.to_hex(),
    }
}
