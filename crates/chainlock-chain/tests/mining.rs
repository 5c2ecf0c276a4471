//! The local chain: blocks mined on demand with real headers and merkle roots, proofs that
//! @bsv/sdk verifies against the ledger's own headers, and bundles verified offline, each
//! tamper refused with its reason.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use chainlock_chain::proof::record_beef;
use chainlock_chain::{Chain, TxStatus};
use chainlock_protocol::tx::Transaction;
use chainlock_spv::bundle::{verify_chain, Bundle, Failure, WindowStatus};
use chainlock_spv::{merkle_root, BlockHeader, HeaderChain, PathNode};
use serde_json::{json, Value};

use crate::util::*;

const T0: u64 = 1_700_000_000;

#[test]
fn mining_makes_transactions_mined_under_linked_headers_with_real_roots() {
    let w = World::new();
    let (_, genesis_txid) = w.publish_genesis();
    assert_eq!(
        w.ledger.tx_status(&genesis_txid).unwrap(),
        TxStatus::Accepted
    );
    assert!(w.ledger.merkle_path(&genesis_txid).unwrap().is_none());

    let block = w.ledger.mine(T0).unwrap();
    assert_eq!(block.height, 0);
    // The coinbase, the faucet, the top-up, the genesis.
    assert_eq!(block.txids.len(), 4);
    assert_eq!(
        w.ledger.tx_status(&genesis_txid).unwrap(),
        TxStatus::Mined {
            height: 0,
            block_time: T0
        }
    );
    let ids: Vec<[u8; 32]> = block.txids.iter().map(|t| t.0).collect();
    assert_eq!(block.header.merkle_root, merkle_root(&ids).unwrap());

    // An empty block, then time may not run backwards.
    let empty = w.ledger.mine(T0 + 600).unwrap();
    assert_eq!((empty.height, empty.txids.len()), (1, 1));
    assert_eq!(empty.header.prev_hash, block.header.hash());
    let err = w.ledger.mine(T0).unwrap_err().to_string();
    assert!(err.contains("before the tip"), "{err}");

    // Another connection sees the same chain; every path leads to its header's root.
    let other = w.reopen();
    let headers = other.headers().unwrap();
    assert_eq!(headers.len(), 2);
    assert_eq!(
        headers.at(1).unwrap().bits,
        chainlock_chain::local::LOCAL_BITS
    );
    for txid in &block.txids[1..] {
        let path = other.merkle_path(txid).unwrap().unwrap();
        assert_eq!(path.block_height, 0);
        assert_eq!(
            path.compute_root(txid).unwrap(),
            headers.at(0).unwrap().merkle_root
        );
    }
    // The headers file round-trips.
    assert_eq!(
        HeaderChain::from_bytes(&headers.to_bytes()).unwrap(),
        headers
    );
}

/// A package with a genesis, a release, a rotation and a release under the new policy, each
/// mined in its own block: its bundles and the ledger's headers.
struct Released {
    w: World,
    bundles: Vec<Bundle>,
    genesis: chainlock_protocol::hash::Digest,
    new_keys: Vec<chainlock_protocol::keys::SecretKey>,
}

fn bundle_of(w: &World, record: &chainlock_protocol::record::Record, tx: &Transaction) -> Bundle {
    Bundle {
        record_json: record.canonical_bytes().unwrap(),
        tx: tx.clone(),
        beef: record_beef(&w.ledger, tx).unwrap().expect("mined"),
    }
}

fn released() -> Released {
    let w = World::new();
    let mut time = T0;
    let mut mine = |w: &World| {
        time += 600;
        w.ledger.mine(time).unwrap();
    };
    let mut bundles = Vec::new();
    let custody = w.fund(&w.policy, 2);
    mine(&w);
    let genesis = w.genesis_of(&w.policy);
    let tx = record_tx(&custody[0], &genesis, &w.maintainers[..2], ALL_FORKID);
    w.accept(&tx, Some(&genesis));
    mine(&w);
    bundles.push(bundle_of(&w, &genesis, &tx));

    let release = w.release_on(genesis.digest().unwrap(), &w.policy, "1.0.0");
    let tx = record_tx(&custody[1], &release, &w.maintainers[1..], ALL_FORKID);
    w.accept(&tx, Some(&release));
    mine(&w);
    bundles.push(bundle_of(&w, &release, &tx));

    let new_keys = sorted(vec![key(4), key(5)]);
    let new_policy = policy_of(&new_keys, 2);
    let old_custody = w.fund(&w.policy, 1).remove(0);
    let new_custody = w.fund(&new_policy, 1).remove(0);
    let rotation = w.rotation_on(release.digest().unwrap(), &w.policy, &new_policy);
    let tx = record_tx(&old_custody, &rotation, &w.maintainers[..2], ALL_FORKID);
    w.accept(&tx, Some(&rotation));
    mine(&w);
    bundles.push(bundle_of(&w, &rotation, &tx));

    let release2 = w.release_on(rotation.digest().unwrap(), &new_policy, "2.0.0");
    let tx = record_tx(&new_custody, &release2, &new_keys, ALL_FORKID);
    w.accept(&tx, Some(&release2));
    mine(&w);
    bundles.push(bundle_of(&w, &release2, &tx));
    Released {
        genesis: genesis.digest().unwrap(),
        w,
        bundles,
        new_keys,
    }
}

#[test]
fn bundles_verify_offline_back_to_the_pinned_genesis_through_a_rotation() {
    let r = released();
    let headers = HeaderChain::from_bytes(&r.w.ledger.headers().unwrap().to_bytes()).unwrap();
    let report = verify_chain(&r.bundles, &headers, &r.genesis).unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert!(report.forks.is_empty());
    assert_eq!(report.chain.len(), 4);
    // The last release was signed under the rotated policy.
    assert_ne!(report.chain[3].signed_under, report.chain[1].signed_under);
    assert_eq!(report.chain[3].proven.height, 4);
    // The window (section 9): in-window until the block's time plus the policy's window.
    let release = &report.chain[1];
    let closes = u64::from(release.proven.block_time) + r.w.policy.challenge_window_secs;
    assert_eq!(release.window_secs, r.w.policy.challenge_window_secs);
    assert_eq!(
        release.window(closes - 1),
        WindowStatus::InWindow { closes_at: closes }
    );
    assert_eq!(
        release.window(closes),
        WindowStatus::Verified { closed_at: closes }
    );

    // @bsv/sdk reads every BEEF and verifies it against the ledger's headers.
    let cases: Vec<Value> = r
        .bundles
        .iter()
        .map(|b| {
            json!({"name": b.tx.txid().to_string(), "beef": hex::encode(b.beef.encode().unwrap()),
                   "subject": b.tx.txid().to_string()})
        })
        .collect();
    let headers_hex: Vec<String> = headers
        .headers()
        .iter()
        .map(|h| hex::encode(h.encode()))
        .collect();
    let out = ask_beef_judge(&json!({"headers": headers_hex, "cases": cases}));
    assert_eq!(out["headers_link"], true);
    for v in out["verdicts"].as_array().unwrap() {
        assert_eq!(v["verified"], true, "{v}");
        assert_eq!(v["subject_proven"], true, "{v}");
        assert_eq!(v["reencoded"], true, "{v}");
    }
}

fn failure_of(
    bundles: &[Bundle],
    headers: &HeaderChain,
    genesis: &chainlock_protocol::hash::Digest,
    index: usize,
) -> Failure {
    let digest = chainlock_protocol::hash::Digest::of(&bundles[index].record_json);
    let report = verify_chain(bundles, headers, genesis).unwrap();
    report
        .failures
        .iter()
        .find(|(d, _)| *d == digest)
        .map(|(_, f)| f.clone())
        .unwrap_or_else(|| panic!("bundle {index} was not refused: {report:?}"))
}

#[test]
fn tampered_bundles_each_fail_with_their_reason() {
    let r = released();
    let headers = r.w.ledger.headers().unwrap();

    // A merkle path changed: it leads to another root.
    let mut b = r.bundles.clone();
    let bump = &mut b[1].beef.bumps[1];
    let leaf = bump.levels[0]
        .iter_mut()
        .find(|l| matches!(l.node, PathNode::Hash(_)))
        .unwrap();
    leaf.node = PathNode::Hash([0x5a; 32]);
    let f = failure_of(&b, &headers, &r.genesis, 1);
    assert!(matches!(f, Failure::NotInBestChain { .. }), "{f}");
    assert!(
        f.to_string().contains("header not in the best chain"),
        "{f}"
    );

    // Headers of another chain: block 2 (the release's) replaced by a block with another root.
    let mut forged: Vec<BlockHeader> = headers.headers().to_vec();
    forged[2].merkle_root = [0x77; 32];
    for i in 3..forged.len() {
        forged[i].prev_hash = forged[i - 1].hash();
    }
    let forged = HeaderChain::new(forged).unwrap();
    let f = failure_of(&r.bundles, &forged, &r.genesis, 1);
    assert!(
        matches!(f, Failure::NotInBestChain { height: 2, .. }),
        "{f}"
    );
    // Headers that stop before the block.
    let short = HeaderChain::new(headers.headers()[..2].to_vec()).unwrap();
    let f = failure_of(&r.bundles, &short, &r.genesis, 1);
    assert!(f.to_string().contains("reach only height 1"), "{f}");

    // A record field changed: the record no longer matches the commitment.
    let mut b = r.bundles.clone();
    let text = String::from_utf8(b[1].record_json.clone())
        .unwrap()
        .replace("1.0.0", "1.0.1");
    b[1].record_json = text.into_bytes();
    let f = failure_of(&b, &headers, &r.genesis, 1);
    assert!(matches!(f, Failure::Commitment { .. }), "{f}");

    // A signature changed (the transaction too, so its path is rebuilt honestly in a block
    // of its own at the end of a header chain the verifier is given): refused on the signature.
    let mut b = r.bundles.clone();
    let mut tx = b[1].tx.clone();
    let mut script = tx.inputs[0].script_sig.as_bytes().to_vec();
    let last_sig_byte = script.len() - 2;
    script[last_sig_byte] ^= 1;
    tx.inputs[0].script_sig = chainlock_protocol::script::Script::from(script);
    let (b1, extended) = rebundle_in_new_block(&r, &headers, &b[1], tx);
    b[1] = b1;
    let f = failure_of(&b, &extended, &r.genesis, 1);
    assert!(matches!(f, Failure::Signature { .. }), "{f}");

    // Policy after rotation: a release spending an old-policy custody output, signed by the
    // old keys, after the rotation: wrong policy, even in a block of the best chain.
    let old_custody = r.w.fund(&r.w.policy, 1).remove(0);
    let release = r.w.release_on(
        chainlock_protocol::hash::Digest::of(&r.bundles[2].record_json),
        &r.w.policy,
        "2.0.0-evil",
    );
    let tx = record_tx(&old_custody, &release, &r.w.maintainers[..2], ALL_FORKID);
    r.w.ledger.mine(T0 + 100_000).unwrap();
    let headers = r.w.ledger.headers().unwrap();
    let template = Bundle {
        record_json: release.canonical_bytes().unwrap(),
        tx: tx.clone(),
        beef: r.bundles[3].beef.clone(),
    };
    let (evil, extended) = rebundle_in_new_block(&r, &headers, &template, tx);
    let mut b = r.bundles[..3].to_vec();
    b.push(evil);
    let f = failure_of(&b, &extended, &r.genesis, 3);
    assert!(matches!(f, Failure::PolicyDigest { .. }), "{f}");
    let _ = &r.new_keys;
}

/// `template` with `tx` as its record transaction, proven in a new block appended to
/// `headers` (the custody transaction keeps its real path): what a verifier would be shown.
fn rebundle_in_new_block(
    r: &Released,
    headers: &HeaderChain,
    template: &Bundle,
    tx: Transaction,
) -> (Bundle, HeaderChain) {
    let parent_txid = tx.inputs[0].prevout.txid;
    let parent = r.w.ledger.transaction(&parent_txid).unwrap().unwrap();
    let parent_path = r.w.ledger.merkle_path(&parent_txid).unwrap().unwrap();
    let height = headers.len() as u64;
    let ids = [[0x01; 32], tx.txid().0];
    let path = chainlock_spv::MerklePath::from_block(height, &ids, &[1]).unwrap();
    let last = headers.headers().last().unwrap();
    let mut all = headers.headers().to_vec();
    all.push(BlockHeader {
        version: 1,
        prev_hash: last.hash(),
        merkle_root: merkle_root(&ids).unwrap(),
        time: last.time + 600,
        bits: last.bits,
        nonce: 0,
    });
    let bundle = Bundle {
        record_json: template.record_json.clone(),
        tx: tx.clone(),
        beef: chainlock_spv::Beef::of_proven(vec![(parent, parent_path), (tx, path)]),
    };
    (bundle, HeaderChain::new(all).unwrap())
}

/// Runs `tests/judge/beef.mjs` (@bsv/sdk) over `input`.
fn ask_beef_judge(input: &Value) -> Value {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/judge");
    let mut child = Command::new("node")
        .arg("beef.mjs")
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs: npm ci --prefix tests/judge once");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&serde_json::to_vec(input).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
