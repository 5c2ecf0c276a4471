//! The challenge window and flags (PROTOCOL.md section 9) on the demo's release 1.0.0: a
//! blocking flag by a maintainer inside the window makes it flagged; advisory flags, flags
//! by unknown keys and flags made after the window do not; a withdrawn flag stops standing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chainlock_attest::BuilderKey;
use chainlock_cosign::demo;
use chainlock_cosign::flags::{ReleaseStatus, Severity};
use chainlock_cosign::{FlagKey, Paths, Workspace};
use chainlock_signer::keychain::Keychain;
use chainlock_signer::testing::SecretServiceSession;
use chainlock_signer::OpenOptions;

const NOW: u64 = 1_796_000_000;
const WINDOW: u64 = 86_400;

#[test]
fn flags_stand_only_when_blocking_in_window_by_the_policy_and_not_withdrawn() {
    let session = SecretServiceSession::start();
    for (name, value) in session.envs() {
        std::env::set_var(name, value);
    }
    let dir = tempfile::tempdir().unwrap();
    let demo = demo::create(&dir.path().join("demo"), NOW, |_| {}).unwrap();
    let you = Workspace::open(demo.you.clone()).unwrap();
    you.sync().unwrap();
    let alice_paths = Paths {
        config_dir: demo.dir.join("alice/config"),
        data_dir: demo.dir.join("alice/data"),
    };
    let alice = Workspace::open(alice_paths.clone()).unwrap();
    let alice_key = Keychain::new(Some(alice_paths.config_dir.clone()))
        .unwrap()
        .list()
        .unwrap()
        .into_iter()
        .find(|k| k.label.ends_with(": alice"))
        .unwrap()
        .uri();
    let your_uri = format!("keychain://{}", demo.your_key);
    let opts = OpenOptions::default();
    let release = "npm:pad@1.0.0";
    let status = |ws: &Workspace, now| {
        ws.sync().unwrap();
        ws.release_status(release, now).unwrap()
    };

    let (r, s, seen) = status(&you, NOW + 1);
    assert_eq!(r.block_time, Some(NOW));
    assert_eq!(
        s,
        ReleaseStatus::InWindow {
            closes_at: NOW + WINDOW
        }
    );
    assert!(seen.is_empty());
    // The 1.1.0 request is not final: pending is for releases not in a block.
    assert!(you.release_status("npm:pad@1.1.0", NOW).is_err());

    // An advisory flag by a maintainer: shown, status unchanged.
    alice
        .flag(
            release,
            Severity::Advisory,
            "odd build log",
            vec!["https://ci/log/1".into()],
            FlagKey::Maintainer(&alice_key),
            &opts,
            NOW + 10,
        )
        .unwrap();
    // A blocking flag by a builder key the policy does not trust: shown, never counted.
    let stranger = dir.path().join("stranger.pem");
    BuilderKey::generate()
        .unwrap()
        .write_new(&stranger)
        .unwrap();
    you.flag(
        release,
        Severity::Blocking,
        "I rebuilt it and got another hash",
        vec![],
        FlagKey::Builder(&stranger),
        &opts,
        NOW + 20,
    )
    .unwrap();
    let (_, s, seen) = status(&you, NOW + 30);
    assert_eq!(
        s,
        ReleaseStatus::InWindow {
            closes_at: NOW + WINDOW
        }
    );
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|f| f.signer.is_ok()), "{seen:?}");

    // A blocking flag by a maintainer inside the window: flagged, even after the window.
    let (flag, key_id) = you
        .flag(
            release,
            Severity::Blocking,
            "the diff hides a postinstall script",
            vec![],
            FlagKey::Maintainer(&your_uri),
            &opts,
            NOW + 40,
        )
        .unwrap();
    assert_eq!(flag.created_at, NOW + 40);
    let (_, s, _) = status(&alice, NOW + 50);
    assert_eq!(
        s,
        ReleaseStatus::Flagged {
            by: vec![key_id.clone()]
        }
    );
    let (_, s, _) = status(&alice, NOW + WINDOW + 1);
    assert_eq!(
        s,
        ReleaseStatus::Flagged {
            by: vec![key_id.clone()]
        }
    );
    // Only its signer withdraws it: Alice has no flag of that kind to withdraw... hers is
    // advisory; withdrawing with a key that never flagged is refused.
    let bob_less = dir.path().join("nobody.pem");
    BuilderKey::generate()
        .unwrap()
        .write_new(&bob_less)
        .unwrap();
    assert!(you
        .withdraw_flag(release, FlagKey::Builder(&bob_less), &opts)
        .is_err());
    you.withdraw_flag(release, FlagKey::Maintainer(&your_uri), &opts)
        .unwrap();
    let (_, s, seen) = status(&alice, NOW + 60);
    assert_eq!(
        s,
        ReleaseStatus::InWindow {
            closes_at: NOW + WINDOW
        }
    );
    assert!(seen.iter().any(|f| f.key_id == key_id && f.withdrawn));
    // After the window: verified.
    let (_, s, _) = status(&alice, NOW + WINDOW);
    assert_eq!(s, ReleaseStatus::Verified);

    // The release named by its bundle directory, as `verify-record` reads it.
    let consumer = dir.path().join("consumer.pem");
    BuilderKey::generate()
        .unwrap()
        .write_new(&consumer)
        .unwrap();
    let (by_name, _, _) = alice.release_status("npm:pad@1.0.0", NOW + 1).unwrap();
    // The release's bundle, as `verify-record` reads it, written from its record ref.
    let bundle = dir.path().join("bundle");
    std::fs::create_dir_all(&bundle).unwrap();
    let remote = demo.dir.join("remote/pad.git");
    let name = format!("refs/chainlock/record/{}", by_name.digest);
    for file in ["record.json", "tx.hex", "proof.beef"] {
        let out = std::process::Command::new("git")
            .arg("--git-dir")
            .arg(&remote)
            .args(["show", &format!("{name}:{file}")])
            .output()
            .unwrap();
        assert!(out.status.success(), "{file}");
        std::fs::write(bundle.join(file), out.stdout).unwrap();
    }
    let target = bundle.to_str().unwrap();
    let (by_dir, now_status, _) = alice.release_status(target, NOW + 1).unwrap();
    assert_eq!(by_dir.digest, by_name.digest);
    assert_eq!(
        now_status,
        ReleaseStatus::InWindow {
            closes_at: NOW + WINDOW
        }
    );
    let (flag, key_id) = alice
        .flag(
            target,
            Severity::Advisory,
            "flagged from the bundle a consumer holds",
            vec![],
            FlagKey::Builder(&consumer),
            &opts,
            NOW + 70,
        )
        .unwrap();
    assert_eq!(flag.record, by_name.digest);
    let (_, _, seen) = status(&you, NOW + 71);
    assert!(seen.iter().any(|f| f.key_id == key_id), "{seen:?}");
    // A directory that is no bundle, and a record the chain does not hold, say so.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let err = you
        .release_status(empty.to_str().unwrap(), NOW)
        .unwrap_err()
        .to_string();
    assert!(err.contains("without record.json"), "{err}");
    let record = std::fs::read_to_string(bundle.join("record.json")).unwrap();
    std::fs::write(bundle.join("record.json"), record.replace("1.0.0", "9.9.9")).unwrap();
    let err = alice.release_status(target, NOW).unwrap_err().to_string();
    assert!(err.contains("has no release"), "{err}");
}

#[test]
fn a_blocking_flag_made_after_the_window_does_not_stand() {
    use chainlock_cosign::flags::{stands, Flag, FlagSigner, FlagTag, SeenFlag};
    use chainlock_protocol::hash::Digest;
    use chainlock_protocol::keys::SecretKey;
    use chainlock_protocol::policy::Policy;
    use chainlock_protocol::record::ProtocolVersion;
    let key = SecretKey::from_bytes(&[7; 32]).unwrap();
    let policy = Policy::new(vec![key.public_key()], 1, vec!["b".repeat(64)], 1, WINDOW).unwrap();
    let at = |created_at| SeenFlag {
        key_id: key.public_key().key_id(),
        flag: Some(Flag {
            protocol: ProtocolVersion::V1,
            kind: FlagTag::Flag,
            record: Digest([1; 32]),
            severity: Severity::Blocking,
            reason: "r".into(),
            evidence: vec![],
            created_at,
        }),
        signer: Ok(FlagSigner::Maintainer(key.public_key())),
        withdrawn: false,
    };
    assert!(stands(&at(NOW + WINDOW), &policy, NOW));
    assert!(!stands(&at(NOW + WINDOW + 1), &policy, NOW));
    assert!(!stands(&at(NOW - 1), &policy, NOW));
    let mut wrong_ref = at(NOW + 1);
    wrong_ref.key_id = "someone-else".into();
    assert!(
        !stands(&wrong_ref, &policy, NOW),
        "a flag under another key's ref is not counted"
    );
}

#[test]
fn every_flag_says_why_it_counts_or_not() {
    use chainlock_cosign::flags::{standing, stands, Flag, FlagSigner, FlagTag, SeenFlag};
    use chainlock_protocol::hash::Digest;
    use chainlock_protocol::keys::SecretKey;
    use chainlock_protocol::policy::Policy;
    use chainlock_protocol::record::ProtocolVersion;
    let key = SecretKey::from_bytes(&[7; 32]).unwrap();
    let stranger = SecretKey::from_bytes(&[8; 32]).unwrap();
    let policy = Policy::new(vec![key.public_key()], 1, vec!["b".repeat(64)], 1, WINDOW).unwrap();
    let flag = |severity, created_at| Flag {
        protocol: ProtocolVersion::V1,
        kind: FlagTag::Flag,
        record: Digest([1; 32]),
        severity,
        reason: "r".into(),
        evidence: vec![],
        created_at,
    };
    let seen = |k: &SecretKey, severity, created_at, withdrawn| SeenFlag {
        key_id: k.public_key().key_id(),
        flag: Some(flag(severity, created_at)),
        signer: Ok(FlagSigner::Maintainer(k.public_key())),
        withdrawn,
    };
    let why = |s: &SeenFlag, block: Option<u64>| {
        let judged = standing(s, &policy, block);
        // The words and the rule never disagree.
        assert_eq!(judged.is_ok(), block.is_some_and(|b| stands(s, &policy, b)));
        match judged {
            Ok(w) | Err(w) => w,
        }
    };
    let counted = seen(&key, Severity::Blocking, NOW + 5, false);
    assert!(why(&counted, Some(NOW)).starts_with("counted: a blocking flag by a maintainer"));
    assert!(why(&counted, None).contains("not in a block"));
    assert!(
        why(&seen(&key, Severity::Advisory, NOW + 5, false), Some(NOW)).starts_with("advisory")
    );
    assert!(why(&seen(&key, Severity::Blocking, NOW + 5, true), Some(NOW)).contains("withdrawn"));
    assert!(why(
        &seen(&key, Severity::Blocking, NOW + WINDOW + 1, false),
        Some(NOW)
    )
    .contains("after the challenge window"));
    assert!(why(&seen(&key, Severity::Blocking, NOW - 1, false), Some(NOW)).contains("before"));
    assert!(why(
        &seen(&stranger, Severity::Blocking, NOW + 5, false),
        Some(NOW)
    )
    .contains("neither a maintainer nor a trusted builder"));
    let mut forged = counted.clone();
    forged.signer = Err("bad signature".into());
    assert!(why(&forged, Some(NOW)).contains("does not verify (bad signature)"));
    let mut moved = counted.clone();
    moved.key_id = "someone-else".into();
    assert!(why(&moved, Some(NOW)).contains("another key than its ref"));
    let mut unreadable = counted;
    unreadable.flag = None;
    assert!(why(&unreadable, Some(NOW)).contains("malformed"));
}
