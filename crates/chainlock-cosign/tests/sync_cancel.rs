//! A sync that is cancelled stops before its next package and fetches nothing more; the
//! next sync fetches everything, telling its progress package by package.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chainlock_cosign::flags::Severity;
use chainlock_cosign::{demo, Error, FlagKey, Paths, Workspace};
use chainlock_diff::Cancel;
use chainlock_signer::keychain::Keychain;
use chainlock_signer::testing::SecretServiceSession;
use chainlock_signer::OpenOptions;

const NOW: u64 = 1_796_000_000;

#[test]
fn a_cancelled_sync_fetches_nothing_and_the_next_one_everything() {
    let session = SecretServiceSession::start();
    for (name, value) in session.envs() {
        std::env::set_var(name, value);
    }
    let dir = tempfile::tempdir().unwrap();
    let world = demo::create(&dir.path().join("demo"), NOW, |_| {}).unwrap();
    let you = Workspace::open(world.you.clone()).unwrap();
    let alice_paths = Paths {
        config_dir: world.dir.join("alice/config"),
        data_dir: world.dir.join("alice/data"),
    };
    let alice = Workspace::open(alice_paths.clone()).unwrap();
    alice.sync().unwrap();
    let alice_key = Keychain::new(Some(alice_paths.config_dir))
        .unwrap()
        .list()
        .unwrap()
        .into_iter()
        .find(|k| k.label.ends_with(": alice"))
        .unwrap();
    // Something new on the remote: Alice's flag on 1.0.0.
    alice
        .flag(
            "npm:pad@1.0.0",
            Severity::Advisory,
            "odd build log",
            vec![],
            FlagKey::Maintainer(&alice_key.uri()),
            &OpenOptions::default(),
            NOW + 10,
        )
        .unwrap();
    let flags_seen = |ws: &Workspace| {
        ws.release_status("npm:pad@1.0.0", NOW + 20)
            .unwrap()
            .2
            .len()
    };

    let cancel = Cancel::new();
    cancel.cancel();
    let mut steps = Vec::new();
    let err = you
        .sync_with(&cancel, |done, total| steps.push((done, total)))
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");
    assert_eq!(err.kind(), "cancelled");
    assert!(steps.is_empty(), "no package was started: {steps:?}");
    assert_eq!(flags_seen(&you), 0, "a cancelled sync fetched nothing");

    let mut steps = Vec::new();
    you.sync_with(&Cancel::new(), |done, total| steps.push((done, total)))
        .unwrap();
    assert_eq!(steps, [(0, 1), (1, 1)]);
    assert_eq!(flags_seen(&you), 1, "the next sync fetched the flag");
    demo::clean(&world.dir).unwrap();
}
