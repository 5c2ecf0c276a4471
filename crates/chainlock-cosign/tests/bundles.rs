//! `chainlock demo`'s world leaves verification bundles on its coordination remote: every
//! final record's ref holds `record.json`, `tx.hex` and `proof.beef`, mined in the local
//! chain, and the bundles verify offline against the local chain's headers back to the
//! genesis the ledger knows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chainlock_chain::{Chain, LocalLedger, PackageId, TxStatus};
use chainlock_cosign::coord::Coord;
use chainlock_cosign::demo;
use chainlock_protocol::record::Ecosystem;
use chainlock_protocol::tx::Transaction;
use chainlock_signer::testing::SecretServiceSession;
use chainlock_spv::bundle::{verify_chain, Bundle};
use chainlock_spv::{Beef, HeaderChain};

const NOW: u64 = 1_796_000_000;

#[test]
fn the_demo_leaves_complete_bundles_that_verify_offline() {
    let session = SecretServiceSession::start();
    for (name, value) in session.envs() {
        std::env::set_var(name, value);
    }
    let dir = tempfile::tempdir().unwrap();
    let demo = demo::create(&dir.path().join("demo"), NOW, |_| {}).unwrap();
    let ledger = LocalLedger::open(&demo.dir.join("ledger.sqlite")).unwrap();
    let chain = ledger
        .record_chain(&PackageId::new(Ecosystem::Npm, "pad"))
        .unwrap();
    assert!(chain.records.len() >= 2, "{chain:?}");
    for r in &chain.records {
        assert!(
            matches!(r.status, TxStatus::Mined { block_time, .. } if block_time == NOW),
            "{r:?}"
        );
    }

    let coord = Coord::open(&dir.path().join("consumer"), &demo.remote).unwrap();
    coord.fetch().unwrap();
    let mut bundles = Vec::new();
    for (name, oid) in coord.refs().unwrap() {
        if !name.starts_with("refs/chainlock/record/") {
            continue;
        }
        let read = |file: &str| {
            coord
                .read_file(oid, file)
                .unwrap_or_else(|e| panic!("{name} {file}: {e}"))
        };
        let tx = Transaction::from_hex(std::str::from_utf8(&read("tx.hex")).unwrap()).unwrap();
        bundles.push(Bundle {
            record_json: read("record.json"),
            tx,
            beef: Beef::decode(&read("proof.beef")).unwrap(),
        });
    }
    assert_eq!(bundles.len(), chain.records.len());

    // Offline: only the headers file and the pinned genesis.
    let headers = HeaderChain::from_bytes(&ledger.headers().unwrap().to_bytes()).unwrap();
    let genesis = chain.genesis().unwrap().digest;
    let report = verify_chain(&bundles, &headers, &genesis).unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert!(report.forks.is_empty());
    assert_eq!(report.chain.len(), chain.records.len());

    // @bsv/sdk reads every proof.beef the demo wrote (the genesis's custody transaction and
    // record share a block: two BUMPs of one height) and verifies it against our headers.
    let cases: Vec<serde_json::Value> = bundles
        .iter()
        .map(|b| serde_json::json!({"name": b.tx.txid().to_string(), "beef": hex::encode(b.beef.encode().unwrap()), "subject": b.tx.txid().to_string()}))
        .collect();
    let headers_hex: Vec<String> = headers
        .headers()
        .iter()
        .map(|h| hex::encode(h.encode()))
        .collect();
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/judge");
    let mut child = std::process::Command::new("node")
        .arg("beef.mjs")
        .current_dir(&dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node runs: npm ci --prefix tests/judge once");
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        serde_json::json!({"headers": headers_hex, "cases": cases})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["headers_link"], true);
    for verdict in v["verdicts"].as_array().unwrap() {
        assert_eq!(verdict["verified"], true, "{verdict}");
        assert_eq!(verdict["subject_proven"], true, "{verdict}");
    }
}
