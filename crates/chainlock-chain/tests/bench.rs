//! Throughput of the local ledger on this machine (`docs/benchmarks.md`). Ignored by default;
//! run with `cargo test -p chainlock-chain --test ledger --release bench -- --ignored --nocapture`.

use std::time::Instant;

use chainlock_chain::Chain;
use chainlock_protocol::tx::TxOut;

use crate::util::{p2pkh, record_tx, World, ALL_FORKID};

const TOP_UPS: usize = 1_000;
const RELEASES: usize = 200;

#[test]
#[ignore = "a benchmark: run it explicitly with --ignored --nocapture"]
fn bench_broadcasts_and_record_chain() {
    let w = World::new();
    let funding: Vec<_> = (0..TOP_UPS).map(|_| w.faucet(50_000)).collect();
    let txs: Vec<_> = funding
        .iter()
        .map(|f| {
            w.topup(
                f,
                vec![TxOut {
                    value: 49_000,
                    script_pubkey: p2pkh(&w.funder),
                }],
            )
        })
        .collect();
    let started = Instant::now();
    for tx in &txs {
        w.accept(tx, None);
    }
    let per_topup = started.elapsed() / TOP_UPS as u32;

    let (genesis, _) = w.publish_genesis();
    let custody = w.fund(&w.policy, RELEASES);
    let mut previous = genesis.digest().unwrap();
    let mut records = Vec::new();
    for (i, c) in custody.iter().enumerate() {
        let r = w.release_on(previous, &w.policy, &format!("1.0.{i}"));
        previous = r.digest().unwrap();
        records.push((record_tx(c, &r, &w.maintainers[..2], ALL_FORKID), r));
    }
    let started = Instant::now();
    for (tx, r) in &records {
        w.accept(tx, Some(r));
    }
    let per_release = started.elapsed() / RELEASES as u32;
    let started = Instant::now();
    let chain = w.ledger.record_chain(&w.package).unwrap();
    let chain_time = started.elapsed();
    assert_eq!(chain.records.len(), RELEASES + 1);
    let size = std::fs::metadata(w.path()).unwrap().len()
        + std::fs::metadata(w.path().with_extension("sqlite-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    println!(
        "top-up broadcast: {per_topup:?} each ({TOP_UPS}); release broadcast on a chain growing to \
         {RELEASES}: {per_release:?} each; record_chain of {} records: {chain_time:?}; file and WAL: {} KiB",
        RELEASES + 1,
        size / 1024
    );
}

const BUNDLES: usize = 1_000;

/// Verifying 1,000 release bundles offline: a genesis and 999 releases, each mined in the
/// local chain, their bundles (record, transaction, BEEF) verified back to the genesis
/// against the headers alone.
#[test]
#[ignore = "a benchmark: run it explicitly with --ignored --nocapture"]
fn bench_verify_bundles_offline() {
    use chainlock_chain::proof::record_beef;
    use chainlock_spv::bundle::{verify_chain, Bundle};

    let w = World::new();
    // Top-ups of ten custody outputs each, as a publisher funds ahead of releases.
    let custody: Vec<_> = (0..BUNDLES / 10)
        .flat_map(|_| w.fund(&w.policy, 10))
        .collect();
    let mut time = 1_700_000_000;
    w.ledger.mine(time).unwrap();
    let mut previous = None;
    let mut bundles = Vec::with_capacity(BUNDLES);
    for (i, c) in custody.iter().enumerate() {
        let record = match previous {
            None => w.genesis_of(&w.policy),
            Some(p) => w.release_on(p, &w.policy, &format!("1.0.{i}")),
        };
        let tx = record_tx(c, &record, &w.maintainers[..2], ALL_FORKID);
        w.accept(&tx, Some(&record));
        // Ten records a block.
        if i % 10 == 9 || i + 1 == BUNDLES {
            time += 600;
            w.ledger.mine(time).unwrap();
        }
        previous = Some(record.digest().unwrap());
        bundles.push((record, tx));
    }
    let bundles: Vec<Bundle> = bundles
        .into_iter()
        .map(|(record, tx)| Bundle {
            record_json: record.canonical_bytes().unwrap(),
            beef: record_beef(&w.ledger, &tx).unwrap().unwrap(),
            tx,
        })
        .collect();
    let headers = w.ledger.headers().unwrap();
    let genesis = chainlock_protocol::hash::Digest::of(&bundles[0].record_json);
    let beef_bytes: usize = bundles.iter().map(|b| b.beef.encode().unwrap().len()).sum();
    let started = Instant::now();
    let report = verify_chain(&bundles, &headers, &genesis).unwrap();
    let elapsed = started.elapsed();
    assert_eq!(report.chain.len(), BUNDLES);
    assert!(report.failures.is_empty());
    println!(
        "verify {BUNDLES} bundles offline ({} headers, {} KiB of BEEF): {:.3} s, {:.0} µs per release",
        headers.len(),
        beef_bytes / 1024,
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / BUNDLES as f64
    );
}
