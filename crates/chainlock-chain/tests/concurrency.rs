//! Several writers on one ledger file, as two co-signers' CLIs on one machine would be: two
//! connections in one process, and two processes. Every write lands whole, each output is
//! spent exactly once, and the file passes SQLite's integrity check afterwards.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::thread;

use chainlock_chain::{Chain, Error, LocalLedger};
use chainlock_protocol::tx::{OutPoint, TxOut, Txid};

use crate::util::{judge_ledger, key, p2pkh, spend_p2pkh, World};

/// Faucet outputs of the funding key that every writer races to spend.
const CONTESTED: usize = 12;
/// Faucet-and-spend rounds each writer makes on its own.
const OWN_ROUNDS: usize = 15;

/// Spends `outpoint` (a faucet output of the funding key, `key(9)`), paying a little less the
/// higher `writer` is, so each writer's spend is a different transaction.
fn contest(ledger: &LocalLedger, outpoint: OutPoint, writer: u8) -> Result<Txid, Error> {
    let prev = ledger
        .transaction(&outpoint.txid)?
        .expect("faucet transaction");
    let out = prev.outputs[outpoint.vout as usize].clone();
    let value = out.value - 100 - u64::from(writer);
    let tx = spend_p2pkh(
        &key(9),
        &[(outpoint, out)],
        vec![TxOut {
            value,
            script_pubkey: p2pkh(&key(80 + writer)),
        }],
    );
    ledger.broadcast(&tx, None).map(|b| b.txid())
}

/// One writer's work: race for every contested output, then faucet-and-spend on its own.
/// Returns, per contested output, the txid that spent it as this writer saw it and whether
/// this writer's spend won.
fn write_many(path: &Path, contested: &[OutPoint], writer: u8) -> Vec<(OutPoint, Txid, bool)> {
    let ledger = LocalLedger::open(path).unwrap();
    let mut seen = Vec::new();
    for &outpoint in contested {
        match contest(&ledger, outpoint, writer) {
            Ok(txid) => seen.push((outpoint, txid, true)),
            Err(Error::DoubleSpend { spent_by, .. }) => seen.push((outpoint, spent_by, false)),
            Err(other) => panic!("writer {writer}: {other}"),
        }
    }
    for _ in 0..OWN_ROUNDS {
        let tx = ledger.faucet(&p2pkh(&key(9)), 5_000).unwrap();
        let funding = (
            OutPoint {
                txid: tx.txid(),
                vout: 0,
            },
            tx.outputs[0].clone(),
        );
        let spend = spend_p2pkh(
            &key(9),
            &[funding],
            vec![TxOut {
                value: 4_900,
                script_pubkey: p2pkh(&key(90 + writer)),
            }],
        );
        ledger.broadcast(&spend, None).unwrap();
    }
    seen
}

fn contested_outputs(w: &World) -> Vec<OutPoint> {
    (0..CONTESTED).map(|_| w.faucet(10_000).0).collect()
}

/// Each contested output was won by exactly one writer, and every writer saw that winner.
fn check_outcome(w: &World, contested: &[OutPoint], reports: &[Vec<(OutPoint, Txid, bool)>]) {
    let ledger = w.reopen(); // runs the integrity check
    for outpoint in contested {
        let winners: Vec<Txid> = reports
            .iter()
            .flatten()
            .filter(|(o, _, won)| o == outpoint && *won)
            .map(|(_, t, _)| *t)
            .collect();
        assert_eq!(winners.len(), 1, "{outpoint}: winners {winners:?}");
        for (_, seen, _) in reports.iter().flatten().filter(|(o, ..)| o == outpoint) {
            assert_eq!(*seen, winners[0], "{outpoint}");
        }
        assert_eq!(
            ledger.output_state(outpoint).unwrap(),
            chainlock_chain::OutputState::Spent { by: winners[0] }
        );
    }
    let writers = reports.len();
    // Per writer: its own faucet transactions and spends; plus the contested faucets and
    // their winning spends.
    let expected = 2 * CONTESTED + writers * 2 * OWN_ROUNDS;
    assert_eq!(ledger.history().unwrap().len(), expected);
    let mut per_key: HashMap<u8, usize> = HashMap::new();
    for writer in 0..writers as u8 {
        let own = ledger.unspent_outputs(&p2pkh(&key(90 + writer))).unwrap();
        per_key.insert(writer, own.len());
    }
    assert!(per_key.values().all(|&n| n == OWN_ROUNDS), "{per_key:?}");
    assert_eq!(judge_ledger(&ledger), CONTESTED + writers * OWN_ROUNDS);
}

#[test]
fn two_connections_writing_at_once_spend_each_output_once() {
    let w = World::new();
    let contested = contested_outputs(&w);
    let path = w.path();
    let reports: Vec<_> = thread::scope(|s| {
        let handles: Vec<_> = (0..2u8)
            .map(|writer| {
                let (path, contested) = (&path, &contested);
                s.spawn(move || write_many(path, contested, writer))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    check_outcome(&w, &contested, &reports);
}

#[test]
fn several_connections_creating_one_new_ledger_at_once_all_succeed() {
    // Creating a file races on the WAL switch and on the header and schema reads; each round
    // catches a regression only sometimes (about one round in fifteen), hence thirty rounds.
    let dir = tempfile::tempdir().unwrap();
    for round in 0..30 {
        let path = dir.path().join(format!("new-{round}.sqlite"));
        let barrier = std::sync::Barrier::new(4);
        let txids: Vec<Txid> = thread::scope(|s| {
            let handles: Vec<_> = (0..4u8)
                .map(|i| {
                    let (path, barrier) = (&path, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        let ledger = LocalLedger::open(path).unwrap();
                        ledger.faucet(&p2pkh(&key(100 + i)), 1_000).unwrap().txid()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let ledger = LocalLedger::open(&path).unwrap();
        let history: Vec<Txid> = ledger
            .history()
            .unwrap()
            .iter()
            .map(|(t, _)| t.txid())
            .collect();
        assert_eq!(history.len(), 4);
        assert!(txids.iter().all(|t| history.contains(t)));
    }
}

const CHILD_LEDGER: &str = "CHAINLOCK_TEST_CHILD_LEDGER";
const CHILD_WRITER: &str = "CHAINLOCK_TEST_CHILD_WRITER";
const CHILD_CONTESTED: &str = "CHAINLOCK_TEST_CHILD_CONTESTED";
const REPORT: &str = "LEDGER-REPORT";

/// The body of a child process in the two-process test; does nothing when run on its own.
#[test]
#[ignore = "run by two_processes_writing_at_once_spend_each_output_once as a child process"]
fn child_writer() {
    let (Ok(path), Ok(writer), Ok(contested)) = (
        std::env::var(CHILD_LEDGER),
        std::env::var(CHILD_WRITER),
        std::env::var(CHILD_CONTESTED),
    ) else {
        return;
    };
    let contested: Vec<OutPoint> = contested
        .split(',')
        .map(|o| {
            let (txid, vout) = o.split_once(':').unwrap();
            OutPoint {
                txid: Txid::from_display_hex(txid).unwrap(),
                vout: vout.parse().unwrap(),
            }
        })
        .collect();
    for (outpoint, txid, won) in write_many(Path::new(&path), &contested, writer.parse().unwrap()) {
        println!("{REPORT} {outpoint} {txid} {won}");
    }
}

#[test]
fn two_processes_writing_at_once_spend_each_output_once() {
    let w = World::new();
    let contested = contested_outputs(&w);
    let list: Vec<String> = contested.iter().map(ToString::to_string).collect();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..2u8)
        .map(|writer| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "concurrency::child_writer",
                    "--ignored",
                    "--nocapture",
                ])
                .env(CHILD_LEDGER, w.path())
                .env(CHILD_WRITER, writer.to_string())
                .env(CHILD_CONTESTED, list.join(","))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let reports: Vec<Vec<(OutPoint, Txid, bool)>> = children
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "child failed: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            stdout
                .lines()
                .filter_map(|l| l.strip_prefix(REPORT))
                .map(|l| {
                    let parts: Vec<&str> = l.split_whitespace().collect();
                    let (txid, vout) = parts[0].split_once(':').unwrap();
                    (
                        OutPoint {
                            txid: Txid::from_display_hex(txid).unwrap(),
                            vout: vout.parse().unwrap(),
                        },
                        Txid::from_display_hex(parts[1]).unwrap(),
                        parts[2] == "true",
                    )
                })
                .collect()
        })
        .collect();
    assert!(
        reports.iter().all(|r| r.len() == CONTESTED),
        "each child reports every contested output: {reports:?}"
    );
    check_outcome(&w, &contested, &reports);
}
