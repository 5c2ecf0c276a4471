//! A rotation through the loop on the demo's package: requested by Alice, the review's
//! policy changes in words, signed by two of the old policy's keys, finalized and mined;
//! afterwards the old policy's pending release request fails, and the bundles verify
//! offline through the rotation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chainlock_chain::{Chain, LocalLedger, PackageId};
use chainlock_cosign::coord::Coord;
use chainlock_cosign::demo;
use chainlock_cosign::publisher::{Publisher, DEFAULT_LIFETIME_SECS};
use chainlock_cosign::rotation::policy_changes;
use chainlock_cosign::{Paths, Workspace};
use chainlock_protocol::policy::Policy;
use chainlock_protocol::record::{Ecosystem, Record};
use chainlock_signer::keychain::Keychain;
use chainlock_signer::testing::SecretServiceSession;
use chainlock_signer::OpenOptions;
use chainlock_spv::bundle::verify_chain;

const NOW: u64 = 1_796_000_000;

#[test]
fn a_rotation_goes_through_the_loop_and_the_old_keys_then_count_for_nothing() {
    let session = SecretServiceSession::start();
    for (name, value) in session.envs() {
        std::env::set_var(name, value);
    }
    let dir = tempfile::tempdir().unwrap();
    let demo = demo::create(&dir.path().join("demo"), NOW, |_| {}).unwrap();
    let ledger = LocalLedger::open(&demo.dir.join("ledger.sqlite")).unwrap();
    let package = PackageId::new(Ecosystem::Npm, "pad");
    let alice_config = demo.dir.join("alice/config");
    let keys = Keychain::new(Some(alice_config.clone()))
        .unwrap()
        .list()
        .unwrap();
    let alice = keys.iter().find(|k| k.label.ends_with(": alice")).unwrap();
    let funding = keys
        .iter()
        .find(|k| k.label.ends_with("alice funding"))
        .unwrap();
    let alice_paths = Paths {
        config_dir: alice_config.clone(),
        data_dir: demo.dir.join("alice/data"),
    };
    let publisher = Publisher {
        chain: &ledger,
        config_dir: alice_config.clone(),
        coord: Coord::open(&alice_paths.mirror("npm:pad"), &demo.remote).unwrap(),
        publisher_key: alice.uri(),
        funding_key: funding.key_id.clone(),
        options: OpenOptions {
            config_dir: Some(alice_config.clone()),
            ..OpenOptions::default()
        },
    };
    let head = ledger.record_chain(&package).unwrap();
    let old = match &head.genesis().unwrap().record {
        Record::Genesis(g) => g.policy.clone(),
        _ => unreachable!(),
    };
    publisher.fund(&old, 2, 10_000).unwrap();
    // The new policy: Alice and Bob only (you are removed), 2 of 2, a shorter window.
    let you_key = old
        .maintainers
        .iter()
        .find(|k| k.key_id() == demo.your_key)
        .copied()
        .unwrap();
    let kept: Vec<_> = old
        .maintainers
        .iter()
        .filter(|k| **k != you_key)
        .copied()
        .collect();
    let new = Policy::new(kept, 2, old.builders.clone(), old.min_builders, 3_600).unwrap();
    let (record, in_force) = publisher.rotation(&package, &new).unwrap();
    assert_eq!(in_force, old);
    let changes = policy_changes(&old, &new).join("\n");
    assert!(
        changes.contains(&format!("maintainer key {} is REMOVED", demo.your_key)),
        "{changes}"
    );
    assert!(changes.contains("2 of 3 becomes 2 of 2"), "{changes}");
    assert!(
        changes.contains("challenge window: 86400 s becomes 3600 s"),
        "{changes}"
    );
    assert!(
        publisher.rotation(&package, &old).is_err(),
        "rotating to the same policy"
    );
    let req = publisher
        .request(record, &old, vec![], NOW + 5, DEFAULT_LIFETIME_SECS)
        .unwrap();
    let id = req.id().unwrap().to_hex();

    // You and Alice, keys of the old policy, review and sign; you finalize.
    let you = Workspace::open(demo.you.clone()).unwrap();
    you.sync().unwrap();
    let review = you.review(&id, NOW + 10).unwrap();
    assert!(review.report.ready_to_sign(), "{}", review.report);
    you.sign(
        &id,
        &format!("keychain://{}", demo.your_key),
        &OpenOptions::default(),
        NOW + 10,
        false,
    )
    .unwrap();
    let alice_ws = Workspace::open(alice_paths).unwrap();
    alice_ws.sync().unwrap();
    alice_ws
        .sign(&id, &alice.uri(), &publisher.options, NOW + 11, false)
        .unwrap();
    you.sync().unwrap();
    you.finalize(&id, NOW + 20).unwrap();
    let chain = ledger.record_chain(&package).unwrap();
    assert!(matches!(chain.head().unwrap().record, Record::Rotation(_)));

    // The old policy's pending request (1.1.0, signed by Bob) can no longer be finalized:
    // its record names the old policy and a previous that is no longer the head.
    you.sync().unwrap();
    let pending = demo.pending.to_hex();
    let err = you
        .sign(
            &pending,
            &format!("keychain://{}", demo.your_key),
            &OpenOptions::default(),
            NOW + 30,
            true,
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("is not the one in force"), "{err}");

    // Offline, the bundles verify through the rotation.
    let consumer = Coord::open(&dir.path().join("consumer"), &demo.remote).unwrap();
    consumer.fetch().unwrap();
    let bundles: Vec<_> = chainlock_cosign::bundle::read_bundles(&consumer)
        .unwrap()
        .into_iter()
        .map(|(_, b)| b.unwrap())
        .collect();
    let report = verify_chain(
        &bundles,
        &ledger.headers().unwrap(),
        &chain.genesis().unwrap().digest,
    )
    .unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.chain.len(), 3);
    assert_eq!(
        report.chain[2].window_secs, 86_400,
        "the rotation is signed under the old policy"
    );
}
