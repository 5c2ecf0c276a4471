//! A review cancelled in each of its long stages (the diff digest from the clone, the risk
//! scan, the builders' envelopes) returns `Error::Cancelled` and nothing else, hears no
//! progress after the cancel, and the next review is whole and identical to one that was
//! never cancelled; nothing is signed or logged on the way.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chainlock_cosign::demo::{self, DemoOptions};
use chainlock_cosign::workspace::{ReviewProgress, ReviewStage};
use chainlock_cosign::{Error, ReviewOptions, Workspace};
use chainlock_diff::Cancel;
use chainlock_signer::testing::SecretServiceSession;

const NOW: u64 = 1_796_000_000;
/// Generated files beside the demo's own: enough to cancel each file stage mid-way.
const EXTRA: usize = 400;

#[test]
fn a_review_cancelled_in_any_stage_returns_nothing_and_the_next_is_whole() {
    let session = SecretServiceSession::start();
    for (name, value) in session.envs() {
        std::env::set_var(name, value);
    }
    let dir = tempfile::tempdir().unwrap();
    let options = DemoOptions {
        extra_files: EXTRA,
        ..DemoOptions::default()
    };
    let world = demo::create_with(&dir.path().join("demo"), NOW, &options, |_| {}).unwrap();
    let you = Workspace::open(world.you.clone()).unwrap();
    let id = world.pending.to_hex();

    // An uncancelled review: every stage heard to its end, and ready to sign.
    let mut stages: Vec<ReviewProgress> = Vec::new();
    let whole = you
        .review_cancellable(
            &id,
            NOW,
            &ReviewOptions::default(),
            &Cancel::new(),
            &mut |p| stages.push(p),
        )
        .unwrap();
    assert!(whole.report.ready_to_sign(), "{}", whole.report);
    let files = whole.risk.as_ref().unwrap().files_scanned;
    assert!(files > EXTRA, "{files} files in the range");
    for stage in [
        ReviewStage::DiffDigest,
        ReviewStage::RiskScan,
        ReviewStage::Builders,
    ] {
        let last = stages.iter().rev().find(|p| p.stage == stage).unwrap();
        assert_eq!(last.done, last.total, "{stage:?} ran to its end");
    }
    assert_eq!(
        stages
            .iter()
            .find(|p| p.stage == ReviewStage::DiffDigest)
            .unwrap()
            .total,
        files,
        "the digest counts every changed file"
    );
    let whole_json = serde_json::to_value(&whole).unwrap();
    assert_eq!(
        whole_json,
        serde_json::to_value(you.review(&id, NOW).unwrap()).unwrap(),
        "two whole reviews are identical"
    );

    let mid = files / 2;
    for (stage, at) in [
        (ReviewStage::DiffDigest, mid),
        (ReviewStage::Builders, 1),
        (ReviewStage::RiskScan, mid),
    ] {
        let cancel = Cancel::new();
        let mut heard: Vec<ReviewProgress> = Vec::new();
        let err = you
            .review_cancellable(&id, NOW, &ReviewOptions::default(), &cancel, &mut |p| {
                heard.push(p);
                if p.stage == stage && p.done == at {
                    cancel.cancel();
                }
            })
            .unwrap_err();
        assert!(matches!(err, Error::Cancelled), "{stage:?}: {err}");
        assert_eq!(err.kind(), "cancelled");
        let last = heard.last().unwrap();
        assert_eq!(
            (last.stage, last.done),
            (stage, at),
            "nothing ran after the cancel"
        );

        // The next review computes everything again and equals the uncancelled one.
        let again = you
            .review_cancellable(
                &id,
                NOW,
                &ReviewOptions::default(),
                &Cancel::new(),
                &mut |_| {},
            )
            .unwrap();
        assert_eq!(
            serde_json::to_value(&again).unwrap(),
            whole_json,
            "{stage:?}"
        );
    }

    // A token cancelled before the start: nothing is computed at all.
    let cancel = Cancel::new();
    cancel.cancel();
    let mut heard = 0;
    let err = you
        .review_cancellable(&id, NOW, &ReviewOptions::default(), &cancel, &mut |_| {
            heard += 1
        })
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");
    assert_eq!(heard, 0);

    // Reviews sign nothing: the audit log is still empty.
    assert!(you.history().unwrap().entries.is_empty());
    demo::clean(&world.dir).unwrap();
}
