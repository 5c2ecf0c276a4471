//! A rotation request's review through the commands (Tauri's mock runtime) on the demo's
//! package: Alice requests a rotation that removes my key, shortens the window and makes it
//! 2 of 2; the review the window gets lists those changes in words (from
//! `chainlock_cosign::rotation::policy_changes`, as `chainlock review` prints them).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod mock;

use serde_json::{json, Value};

use chainlock_app::state::Shared;
use chainlock_chain::{Chain, LocalLedger, PackageId};
use chainlock_cosign::coord::Coord;
use chainlock_cosign::publisher::{Publisher, DEFAULT_LIFETIME_SECS};
use chainlock_cosign::workspace::now;
use chainlock_cosign::{demo, Paths, Workspace};
use chainlock_protocol::policy::Policy;
use chainlock_protocol::record::{Ecosystem, Record};
use chainlock_signer::keychain::Keychain;
use chainlock_signer::testing::SecretServiceSession;
use chainlock_signer::OpenOptions;
use mock::MockApp;

#[test]
fn a_rotation_review_lists_the_policy_changes_in_words() {
    let session = SecretServiceSession::start();
    for (name, value) in session.envs() {
        std::env::set_var(name, value);
    }
    let dir = tempfile::tempdir().unwrap();
    let world = demo::create(&dir.path().join("demo"), now(), |_| {}).unwrap();
    let ledger = LocalLedger::open(&world.dir.join("ledger.sqlite")).unwrap();
    let package = PackageId::new(Ecosystem::Npm, "pad");
    let alice_config = world.dir.join("alice/config");
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
        data_dir: world.dir.join("alice/data"),
    };
    let publisher = Publisher {
        chain: &ledger,
        config_dir: alice_config.clone(),
        coord: Coord::open(&alice_paths.mirror("npm:pad"), &world.remote).unwrap(),
        publisher_key: alice.uri(),
        funding_key: funding.key_id.clone(),
        options: OpenOptions {
            config_dir: Some(alice_config.clone()),
            ..OpenOptions::default()
        },
    };
    let old = match &ledger
        .record_chain(&package)
        .unwrap()
        .genesis()
        .unwrap()
        .record
    {
        Record::Genesis(g) => g.policy.clone(),
        _ => unreachable!("the chain starts at the genesis"),
    };
    publisher.fund(&old, 1, 10_000).unwrap();
    let kept: Vec<_> = old
        .maintainers
        .iter()
        .filter(|k| k.key_id() != world.your_key)
        .copied()
        .collect();
    let new = Policy::new(kept, 2, old.builders.clone(), old.min_builders, 3_600).unwrap();
    let (record, _) = publisher.rotation(&package, &new).unwrap();
    let id = publisher
        .request(record, &old, vec![], now(), DEFAULT_LIFETIME_SECS)
        .unwrap()
        .id()
        .unwrap()
        .to_hex();

    let you = Workspace::open(world.you.clone()).unwrap();
    you.sync().unwrap();
    let app = MockApp::new(Shared::new(you));
    let review = app.ok("review", json!({ "request": id }));
    assert_eq!(review["what"], json!("rotation"), "{review:#}");
    let changes: Vec<&str> = review["policy_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(
        changes.contains(
            &format!(
                "maintainer key {} is REMOVED: it will count for nothing after the rotation",
                world.your_key
            )
            .as_str()
        ),
        "{changes:#?}"
    );
    assert!(
        changes.contains(&"signatures needed: 2 of 3 becomes 2 of 2"),
        "{changes:#?}"
    );
    assert!(
        changes.contains(&"challenge window: 86400 s becomes 3600 s"),
        "{changes:#?}"
    );
    assert_eq!(review["release_status"], Value::Null, "not a release");
    drop(app);
    demo::clean(&world.dir).unwrap();
}
