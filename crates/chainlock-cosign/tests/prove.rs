//! `Workspace::prove`: a record ref published before its transaction was mined (by an older
//! chainlock, or on a network backend) gains `proof.beef` as a fast-forward child commit.
//! Its own test binary: the Secret Service connection is process-wide.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chainlock_chain::{Chain, LocalLedger, PackageId, TxStatus};
use chainlock_cosign::coord::Coord;
use chainlock_cosign::demo;
use chainlock_protocol::record::Ecosystem;
use chainlock_signer::testing::SecretServiceSession;
use chainlock_spv::bundle::{verify_chain, Bundle};

const NOW: u64 = 1_796_000_000;

#[test]
fn prove_completes_a_record_ref_published_before_its_block() {
    use chainlock_cosign::bundle::Proved;
    use chainlock_cosign::Workspace;
    let session = SecretServiceSession::start();
    for (name, value) in session.envs() {
        std::env::set_var(name, value);
    }
    let dir = tempfile::tempdir().unwrap();
    let demo = demo::create(&dir.path().join("demo"), NOW, |_| {}).unwrap();
    let ledger = LocalLedger::open(&demo.dir.join("ledger.sqlite")).unwrap();
    let you = Workspace::open(demo.you.clone()).unwrap();
    you.sync().unwrap();
    // 1.1.0 (signed by Bob) signed by you, broadcast but not mined, and its record ref
    // published without proof.beef, as an older chainlock or a network backend leaves it.
    let id = demo.pending.to_hex();
    you.sign(
        &id,
        &format!("keychain://{}", demo.your_key),
        &chainlock_signer::OpenOptions::default(),
        NOW + 1,
        true,
    )
    .unwrap();
    let req = you.request(&id).unwrap();
    let rtx = chainlock_cosign::objects::request_record_tx(&req).unwrap();
    let sigs: Vec<Vec<u8>> = you
        .review(&id, NOW + 2)
        .unwrap()
        .signatures
        .iter()
        .map(|s| s.signature.clone())
        .collect();
    let tx = chainlock_signer::combine(&rtx, &sigs)
        .unwrap()
        .tx
        .tx()
        .clone();
    ledger.broadcast(&tx, Some(&req.record)).unwrap();
    let digest = req.record.digest().unwrap();
    let old = Coord::open(&dir.path().join("old"), &demo.remote).unwrap();
    old.publish(
        &format!("refs/chainlock/record/{digest}"),
        &[
            ("record.json", &req.record.canonical_bytes().unwrap()),
            ("tx.hex", tx.to_hex().as_bytes()),
        ],
        "chainlock: record",
    )
    .unwrap();

    let proved = you.prove(NOW + 100).unwrap();
    let mine = proved
        .iter()
        .find(|(_, d, _)| *d == digest.to_hex())
        .unwrap();
    assert_eq!(mine.2, Proved::Added, "{proved:?}");
    assert_eq!(
        proved
            .iter()
            .filter(|(_, _, p)| *p == Proved::Complete)
            .count(),
        2,
        "{proved:?}"
    );
    assert!(
        matches!(ledger.tx_status(&tx.txid()).unwrap(), TxStatus::Mined { block_time, .. } if block_time == NOW + 100)
    );

    // A consumer sees three complete bundles, and the ref kept its first commit as parent.
    let consumer = Coord::open(&dir.path().join("consumer"), &demo.remote).unwrap();
    consumer.fetch().unwrap();
    let bundles: Vec<Bundle> = chainlock_cosign::bundle::read_bundles(&consumer)
        .unwrap()
        .into_iter()
        .map(|(d, b)| b.unwrap_or_else(|e| panic!("{d}: {e}")))
        .collect();
    assert_eq!(bundles.len(), 3);
    let chain = ledger
        .record_chain(&PackageId::new(Ecosystem::Npm, "pad"))
        .unwrap();
    let report = verify_chain(
        &bundles,
        &ledger.headers().unwrap(),
        &chain.genesis().unwrap().digest,
    )
    .unwrap();
    assert_eq!(report.chain.len(), 3, "{report:?}");
    let repo = git2::Repository::open_bare(demo.dir.join("remote/pad.git")).unwrap();
    let commit = repo
        .find_reference(&format!("refs/chainlock/record/{digest}"))
        .unwrap()
        .peel_to_commit()
        .unwrap();
    assert_eq!(commit.parent_count(), 1, "a fast-forward, never a rewrite");
    // Run again: nothing left to do.
    assert!(you
        .prove(NOW + 200)
        .unwrap()
        .iter()
        .all(|(_, _, p)| *p == Proved::Complete));
}
