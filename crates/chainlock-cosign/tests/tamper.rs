//! Every way a request can be wrong, published on a real coordination remote by a
//! compromised publisher (or arriving as garbage), each refused by the co-signer with its
//! reason: no signature written, no audit entry, nothing half-written.
//!
//! The world is `chainlock demo`'s: a real package, real rebuilds, real keychain keys (a
//! private gnome-keyring), one local ledger. One test function, since the Secret Service
//! address is process-wide.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use chainlock_chain::{Chain, LocalLedger, PackageId};
use chainlock_cosign::coord::Coord;
use chainlock_cosign::demo::{self, DemoWorld};
use chainlock_cosign::publisher::{Publisher, DEFAULT_LIFETIME_SECS};
use chainlock_cosign::{Paths, Workspace};
use chainlock_protocol::bsm::StatementKind;
use chainlock_protocol::hash::Digest;
use chainlock_protocol::keys::SecretKey;
use chainlock_protocol::policy::Policy;
use chainlock_protocol::record::{Ecosystem, Record, EMPTY_TREE};
use chainlock_protocol::request::SigningRequest;
use chainlock_protocol::verify::{CheckId, Status};
use chainlock_signer::keychain::Keychain;
use chainlock_signer::testing::SecretServiceSession;
use chainlock_signer::OpenOptions;

const NOW: u64 = 1_796_000_000;

struct World {
    demo: DemoWorld,
    you: Workspace,
    ledger: LocalLedger,
}

impl World {
    fn alice_publisher(&self) -> Publisher<'_> {
        let config = self.demo.dir.join("alice/config");
        let keys = Keychain::new(Some(config.clone())).unwrap().list().unwrap();
        let alice = keys.iter().find(|k| k.label.ends_with(": alice")).unwrap();
        let funding = keys
            .iter()
            .find(|k| k.label.ends_with("alice funding"))
            .unwrap();
        let paths = Paths {
            config_dir: config.clone(),
            data_dir: self.demo.dir.join("alice/data"),
        };
        Publisher {
            chain: &self.ledger,
            config_dir: config.clone(),
            coord: Coord::open(&paths.mirror("npm:pad"), &self.demo.remote).unwrap(),
            publisher_key: alice.uri(),
            funding_key: funding.key_id.clone(),
            options: OpenOptions {
                config_dir: Some(config),
                ..OpenOptions::default()
            },
        }
    }

    fn your_uri(&self) -> String {
        format!("keychain://{}", self.demo.your_key)
    }

    /// Signs `id` as you and asserts it is refused naming `check`, with nothing written.
    fn refused(&self, name: &str, id: &Digest, check: CheckId, now: u64) {
        self.you.sync().unwrap();
        let review = self.you.review(&id.to_hex(), now).unwrap();
        let c = review
            .report
            .get(check)
            .unwrap_or_else(|| panic!("{name}: no {check}"));
        assert_eq!(
            c.status(),
            Status::Failed,
            "{name}: {check}: {}\n{}",
            c.detail(),
            review.report
        );
        let before = self.you.history().unwrap().entries.len();
        let sig_ref = format!("refs/chainlock/req/{id}/sig/{}", self.demo.your_key);
        let ref_before = remote_ref(&self.demo, &sig_ref);
        let err = self
            .you
            .sign(
                &id.to_hex(),
                &self.your_uri(),
                &OpenOptions::default(),
                now,
                true,
            )
            .unwrap_err();
        assert_eq!(err.kind(), "not_ready", "{name}: {err}");
        assert!(err.to_string().contains(check.title()), "{name}: {err}");
        assert_eq!(
            self.you.history().unwrap().entries.len(),
            before,
            "{name}: logged"
        );
        assert_eq!(
            remote_ref(&self.demo, &sig_ref),
            ref_before,
            "{name}: a signature reached the remote"
        );
    }
}

fn remote_ref(demo: &DemoWorld, refname: &str) -> Option<git2::Oid> {
    let path = demo.remote.trim_start_matches("file://");
    git2::Repository::open_bare(path)
        .unwrap()
        .refname_to_id(refname)
        .ok()
}

/// The honest 1.1.0 release record (what the pending request carries).
fn honest_release(world: &World) -> (Record, Policy, Vec<chainlock_protocol::request::Envelope>) {
    let req = world.you.request(&world.demo.pending.to_hex()).unwrap();
    (req.record, req.policy, req.attestations)
}

fn edit(record: &Record, f: impl FnOnce(&mut chainlock_protocol::record::Release)) -> Record {
    let mut r = record.clone();
    if let Record::Release(rel) = &mut r {
        f(rel);
    }
    r
}

/// Publishes a request document as is (a publisher bypassing `Publisher::request`).
fn publish_raw(world: &World, req: &SigningRequest) -> Digest {
    let id = req.id().unwrap();
    let bytes = serde_json::to_vec_pretty(req).unwrap();
    world
        .alice_publisher()
        .coord
        .publish(
            &format!("refs/chainlock/req/{id}/request"),
            &[("request.json", &bytes)],
            "test",
        )
        .unwrap();
    id
}

#[test]
fn every_tampered_request_is_refused_with_its_reason() {
    let session = SecretServiceSession::start();
    for (name, value) in session.envs() {
        std::env::set_var(name, value);
    }
    let dir = tempfile::tempdir().unwrap();
    let demo = demo::create(&dir.path().join("demo"), NOW, |_| {}).unwrap();
    let you = Workspace::open(demo.you.clone()).unwrap();
    let ledger = LocalLedger::open(&demo.dir.join("ledger.sqlite")).unwrap();
    let world = World { demo, you, ledger };
    let (honest, policy, envelopes) = honest_release(&world);
    let publisher = world.alice_publisher();
    publisher.fund(&policy, 8, 10_000).unwrap();

    // The demo's own tampered request: another artifact and a diff not of the tag.
    world.refused(
        "demo tampered (diff)",
        &world.demo.tampered,
        CheckId::DiffDigest,
        NOW,
    );
    world.refused(
        "demo tampered (builders)",
        &world.demo.tampered,
        CheckId::BuilderAgreement,
        NOW,
    );

    // base_commit skips release 1.0.0 (its diff digest honest for that longer range).
    let skip = edit(&honest, |r| {
        r.source.base_commit = EMPTY_TREE.into();
        let clone = world.you.config().packages[0].clone.clone();
        r.diff_digest = Digest(
            chainlock_diff::diff_digest(&clone, None, &r.source.commit)
                .unwrap()
                .digest,
        );
    });
    let id = publisher
        .request(skip, &policy, envelopes.clone(), NOW, DEFAULT_LIFETIME_SECS)
        .unwrap()
        .id()
        .unwrap();
    world.refused("base skips a release", &id, CheckId::RecordChain, NOW);

    // `previous` names the genesis, not the head (a fork).
    let genesis = world
        .ledger
        .record_chain(&PackageId::new(Ecosystem::Npm, "pad"))
        .unwrap()
        .genesis()
        .unwrap()
        .digest;
    let fork = edit(&honest, |r| r.previous = genesis);
    let id = publisher
        .request(fork, &policy, envelopes.clone(), NOW, DEFAULT_LIFETIME_SECS)
        .unwrap()
        .id()
        .unwrap();
    world.refused("previous is not the head", &id, CheckId::RecordChain, NOW);

    // Only one of the two agreeing builders' envelopes: below the minimum.
    let one = vec![envelopes[0].clone()];
    let id = publisher
        .request(honest.clone(), &policy, one, NOW + 2, DEFAULT_LIFETIME_SECS)
        .unwrap()
        .id()
        .unwrap();
    world.refused(
        "builders below the minimum",
        &id,
        CheckId::BuilderAgreement,
        NOW,
    );

    // Valid for 8 days.
    let id = publisher
        .request(
            honest.clone(),
            &policy,
            envelopes.clone(),
            NOW + 3,
            8 * 86_400,
        )
        .unwrap()
        .id()
        .unwrap();
    world.refused("over-long lifetime", &id, CheckId::Lifetime, NOW);

    // The pending request, reviewed after it expired.
    world.refused(
        "expired",
        &world.demo.pending,
        CheckId::Expiry,
        NOW + DEFAULT_LIFETIME_SECS + 1,
    );

    // A record shown that is not the one the transaction commits to (edited, re-signed).
    let mut shown = world.you.request(&world.demo.pending.to_hex()).unwrap();
    shown.record = edit(&shown.record, |r| r.version = "1.1.1".into());
    shown.signature = None;
    // Only Alice's key could re-sign; the compromised publisher does.
    let alice_req = {
        let mut signer =
            chainlock_signer::open(&publisher.publisher_key, &publisher.options).unwrap();
        let id = shown.id().unwrap();
        let sig = chainlock_signer::sign_statement(signer.as_mut(), StatementKind::Request, &id.0)
            .unwrap();
        shown.attach_signature(sig).unwrap();
        shown
    };
    let id = publish_raw(&world, &alice_req);
    world.refused("record field vs shown", &id, CheckId::Commitment, NOW);

    // Another policy: a different set of maintainers signs for the package.
    let outsider = SecretKey::from_bytes(&[0x77; 32]).unwrap();
    let mut other = world.you.request(&world.demo.pending.to_hex()).unwrap();
    other.policy = Policy::new(
        vec![outsider.public_key()],
        1,
        policy.builders.clone(),
        1,
        60,
    )
    .unwrap();
    other.publisher = outsider.public_key();
    other.signature = None;
    let sid = other.id().unwrap();
    other.signature = Some(outsider.sign_statement(StatementKind::Request, &sid.0));
    let id = publish_raw(&world, &other);
    world.refused("another policy", &id, CheckId::PolicyInForce, NOW);

    // A statement by a key that is not a maintainer of the request's own policy: the ref is
    // listed as invalid and the request never appears.
    let mut forged = world.you.request(&world.demo.pending.to_hex()).unwrap();
    forged.publisher = outsider.public_key();
    forged.signature = None;
    let fid = forged.id().unwrap();
    forged.signature = Some(outsider.sign_statement(StatementKind::Request, &fid.0));
    publish_raw(&world, &forged);
    // Garbage refs: bad JSON, a signature under the wrong key, an unknown path.
    let coord = &publisher.coord;
    coord.publish("refs/chainlock/req/0000000000000000000000000000000000000000000000000000000000000000/request", &[("request.json", b"{not json")], "junk").unwrap();
    coord
        .publish(
            &format!(
                "refs/chainlock/req/{}/sig/{}",
                world.demo.pending,
                "ab".repeat(32)
            ),
            &[("signature.json", b"{}")],
            "junk",
        )
        .unwrap();
    coord
        .publish("refs/chainlock/whatever/x", &[("x", b"x")], "junk")
        .unwrap();
    let summary = world.you.sync().unwrap();
    let invalid = &summary[0].invalid;
    assert!(invalid.len() >= 4, "{invalid:?}");
    assert!(
        invalid
            .iter()
            .any(|r| r.reason.contains("not a maintainer")),
        "{invalid:?}"
    );
    assert!(
        invalid.iter().any(|r| r.reason.contains("not a path")),
        "{invalid:?}"
    );
    assert!(
        world.you.review(&fid.to_hex(), NOW).is_err(),
        "a forged request is not reviewable"
    );
    let pending = world.you.pending(NOW).unwrap();
    assert!(pending.iter().all(|p| p.request != fid.to_hex()));
    // The honest request is still ready despite the garbage.
    let review = world.you.review(&world.demo.pending.to_hex(), NOW).unwrap();
    assert!(review.report.ready_to_sign(), "{}", review.report);

    // The pending request is ready, but one trusted builder got another artifact: that is
    // a warning, and nothing is signed until it is acknowledged.
    let review = world.you.review(&world.demo.pending.to_hex(), NOW).unwrap();
    assert_eq!(review.warnings.len(), 1, "{:?}", review.warnings);
    let err = world
        .you
        .sign(
            &world.demo.pending.to_hex(),
            &world.your_uri(),
            &OpenOptions::default(),
            NOW,
            false,
        )
        .unwrap_err();
    assert_eq!(err.kind(), "warnings", "{err}");
    assert!(
        err.to_string().contains("rebuilt another artifact"),
        "{err}"
    );
    assert!(world.you.history().unwrap().entries.is_empty());

    // A damaged audit log: nothing is signed that could not be logged.
    let log = world.demo.you.data_dir.join("history.jsonl");
    std::fs::write(&log, b"{\"not\": \"an entry\"}\n").unwrap();
    let err = world
        .you
        .sign(
            &world.demo.pending.to_hex(),
            &world.your_uri(),
            &OpenOptions::default(),
            NOW,
            true,
        )
        .unwrap_err();
    assert!(err.to_string().contains("audit log"), "{err}");
    let sig_ref = format!(
        "refs/chainlock/req/{}/sig/{}",
        world.demo.pending, world.demo.your_key
    );
    assert!(remote_ref(&world.demo, &sig_ref).is_none());
    std::fs::remove_file(&log).unwrap();

    // The remote goes away mid-push: the signature stays in the outbox, the error says to
    // sync; once the remote is back, sync delivers it.
    let remote_path = world.demo.remote.trim_start_matches("file://").to_string();
    let moved = format!("{remote_path}.away");
    std::fs::rename(&remote_path, &moved).unwrap();
    let err = world
        .you
        .sign(
            &world.demo.pending.to_hex(),
            &world.your_uri(),
            &OpenOptions::default(),
            NOW,
            true,
        )
        .unwrap_err();
    assert!(err.to_string().contains("chainlock sync"), "{err}");
    std::fs::rename(&moved, &remote_path).unwrap();
    let summary = world.you.sync().unwrap();
    assert_eq!(summary[0].pushed, 1);
    let sig_ref = format!(
        "refs/chainlock/req/{}/sig/{}",
        world.demo.pending, world.demo.your_key
    );
    assert!(remote_ref(&world.demo, &sig_ref).is_some());

    // Finalize; then the same request, and another spending the same custody output, are
    // refused: final exists, custody spent.
    let fin = world
        .you
        .finalize(&world.demo.pending.to_hex(), NOW)
        .unwrap();
    assert_eq!(fin.status, "accepted");
    world.refused(
        "replay after final",
        &world.demo.pending,
        CheckId::NotFinalized,
        NOW,
    );
    let mut same_custody = world.you.request(&world.demo.pending.to_hex()).unwrap();
    same_custody.created_at += 5; // another request id, same custody output
    same_custody.signature = None;
    let mut signer = chainlock_signer::open(&publisher.publisher_key, &publisher.options).unwrap();
    let sid = same_custody.id().unwrap();
    same_custody.signature = Some(
        chainlock_signer::sign_statement(signer.as_mut(), StatementKind::Request, &sid.0).unwrap(),
    );
    let id = publish_raw(&world, &same_custody);
    world.refused("custody already spent", &id, CheckId::CustodyUnspent, NOW);

    // The audit log holds exactly the one signature, its chain intact.
    let history = world.you.history().unwrap();
    assert_eq!(history.entries.len(), 1);
    assert_eq!(history.broken, None);
    let _ = Path::new(&remote_path);
    drop(session);
}
