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
