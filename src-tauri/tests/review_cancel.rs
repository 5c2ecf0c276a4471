//! Cancelling the review itself: the demo made big (2,000 generated files) is reviewed and
//! cancelled through `cancel_work`'s state in each stage (the diff digest from my clone, the
//! builders' envelopes, the risk scan); the review returns the `cancelled` error, keeps
//! nothing, and the next review equals one never cancelled. (Its own test binary: the
//! keychain connects to one session bus per process.)

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use chainlock_app::state::Shared;
use chainlock_cosign::demo::{self, DemoOptions};
use chainlock_cosign::workspace::now;
use chainlock_cosign::Workspace;
use chainlock_diff::Cancel;
use chainlock_signer::testing::SecretServiceSession;

const DIGEST: &str = "Recomputing the diff digest from your clone";
const SCAN: &str = "Scanning for risky changes";
const BUILDERS: &str = "Checking the builders' attestations";

#[test]
fn a_cancelled_review_keeps_nothing_and_the_next_is_whole() {
    let session = SecretServiceSession::start();
    for (name, value) in session.envs() {
        std::env::set_var(name, value);
    }
    let dir = tempfile::tempdir().unwrap();
    let options = DemoOptions {
        extra_files: 2_000,
        ..DemoOptions::default()
    };
    let world = demo::create_with(&dir.path().join("demo"), now(), &options, |_| {}).unwrap();
    let pending = world.pending.to_hex();
    let at = now();

    // A review never cancelled, in its own state: what every later review must equal.
    let fresh = Shared::new(Workspace::open(world.you.clone()).unwrap());
    let mut whole_events = Vec::new();
    let whole = chainlock_app::work::review(
        &fresh,
        &pending,
        &Cancel::new(),
        |p| whole_events.push(p),
        at,
    )
    .unwrap();
    assert!(whole.can_sign, "the demo's request is ready for me");
    let whole = serde_json::to_value(&whole).unwrap();
    for (stage, unit) in [(DIGEST, "files"), (SCAN, "files"), (BUILDERS, "envelopes")] {
        let last = whole_events
            .iter()
            .rev()
            .find(|p| p.stage == stage)
            .unwrap();
        assert_eq!(last.done, last.total, "{stage} ran to its end");
        assert_eq!(last.unit, unit);
    }
    let files = whole_events
        .iter()
        .find(|p| p.stage == DIGEST)
        .unwrap()
        .total;
    assert!(files > 2_000, "{files} files");
    assert!(
        whole_events.len() < 3 * 110,
        "about a hundred events per stage, not one per file: {}",
        whole_events.len()
    );

    for stage in [DIGEST, BUILDERS, SCAN] {
        // A fresh app state each round: the previous round's whole review kept its flags.
        let shared = Shared::new(Workspace::open(world.you.clone()).unwrap());
        let cancel = shared.start_work(&pending);
        let mut events = Vec::new();
        let err = chainlock_app::work::review(
            &shared,
            &pending,
            &cancel,
            |p| {
                // The window's Cancel: `cancel_work` finds the running review by its id.
                if p.stage == stage && (p.done * 2 >= p.total || stage == BUILDERS) {
                    assert!(shared.cancel_work(&pending), "the review is running");
                }
                events.push(p);
            },
            at,
        )
        .unwrap_err();
        shared.end_work(&pending);
        assert_eq!(err.kind, "cancelled", "{stage}: {}", err.message);
        assert!(
            err.message.contains("nothing can be signed"),
            "{}",
            err.message
        );
        let last = events.last().unwrap();
        assert_eq!(last.stage, stage, "no stage ran after the cancel: {last:?}");
        if stage != BUILDERS {
            assert!(last.done < last.total, "stopped mid-way: {last:?}");
        }
        assert!(
            shared.risk_flags(&pending).is_none(),
            "a cancelled review keeps no risk flags"
        );
        assert!(!shared.cancel_work(&pending), "no work runs any more");

        // The next open computes it all again and equals the uncancelled review.
        let again =
            chainlock_app::work::review(&shared, &pending, &Cancel::new(), |_| {}, at).unwrap();
        assert_eq!(
            serde_json::to_value(&again).unwrap(),
            whole,
            "after {stage}"
        );
        assert!(
            shared.risk_flags(&pending).is_some(),
            "a whole review keeps its flags"
        );
    }
    demo::clean(&world.dir).unwrap();
}
