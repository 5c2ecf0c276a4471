//! @bsv/sdk judges our SPV data (`tests/judge/beef.mjs`, @bsv/sdk pinned to 2.1.0): it parses
//! every BEEF we write and verifies it against a chain tracker fed only our 80-byte headers;
//! and every BEEF it writes (V1, V2, compound BUMPs, duplicated nodes) round-trips through
//! our decoder and encoder byte for byte, with the same merkle roots.
//!
//! Needs `node` (18 or later) and `npm ci --prefix tests/judge` run once from the workspace root.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use chainlock_protocol::hash::sha256d;
use chainlock_protocol::script::Script;
use chainlock_protocol::tx::{OutPoint, Transaction, TxIn, TxOut, Txid};
use chainlock_spv::{
    merkle_root, Beef, BeefTx, BeefVersion, BlockHash, BlockHeader, HeaderChain, MerklePath,
};
use serde_json::{json, Value};

const NPM_HINT: &str =
    "run `npm ci --prefix tests/judge` from the workspace root (needs node 18+ and npm)";

fn ask_sdk(input: &Value) -> Value {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/judge");
    assert!(
        dir.join("node_modules/@bsv/sdk/package.json").is_file(),
        "the @bsv/sdk judge is not installed in {}: {NPM_HINT}",
        dir.display()
    );
    let mut child = Command::new("node")
        .arg("beef.mjs")
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `node` ({e}): {NPM_HINT}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&serde_json::to_vec(input).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "judge failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the judge prints JSON")
}

fn tx(seed: u8, spends: OutPoint) -> Transaction {
    Transaction {
        version: 1,
        inputs: vec![TxIn {
            prevout: spends,
            script_sig: Script::from(vec![0x51]),
            sequence: u32::MAX,
        }],
        outputs: vec![TxOut {
            value: 1000 + u64::from(seed),
            script_pubkey: Script::p2pkh(&[seed; 20]),
        }],
        lock_time: 0,
    }
}

/// Blocks of `filler` other transactions plus the given ones, and their linked headers.
struct World {
    blocks: Vec<Vec<[u8; 32]>>,
    headers: Vec<BlockHeader>,
}

impl World {
    fn new() -> Self {
        World {
            blocks: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// Mines a block of `filler` made-up txids then `txs`; returns its height.
    fn mine(&mut self, filler: u8, txs: &[&Transaction]) -> u64 {
        let height = self.blocks.len() as u64;
        let mut ids: Vec<[u8; 32]> = (0..filler).map(|i| sha256d(&[i, height as u8])).collect();
        ids.extend(txs.iter().map(|t| t.txid().0));
        let header = BlockHeader {
            version: 1,
            prev_hash: self
                .headers
                .last()
                .map_or(BlockHash([0; 32]), BlockHeader::hash),
            merkle_root: merkle_root(&ids).unwrap(),
            time: 1_700_000_000 + height as u32,
            bits: 0x207f_ffff,
            nonce: 0,
        };
        self.blocks.push(ids);
        self.headers.push(header);
        height
    }

    fn path(&self, height: u64, txid: Txid) -> MerklePath {
        let ids = &self.blocks[height as usize];
        let i = ids.iter().position(|t| *t == txid.0).unwrap();
        MerklePath::from_block(height, ids, &[i]).unwrap()
    }

    fn headers_hex(&self) -> Vec<String> {
        self.headers
            .iter()
            .map(|h| hex::encode(h.encode()))
            .collect()
    }
}

#[test]
fn sdk_parses_and_verifies_every_beef_we_write() {
    let mut world = World::new();
    let parent = tx(
        1,
        OutPoint {
            txid: Txid([9; 32]),
            vout: 0,
        },
    );
    let child = tx(
        2,
        OutPoint {
            txid: parent.txid(),
            vout: 0,
        },
    );
    world.mine(1, &[]);
    let h_parent = world.mine(4, &[&parent]);
    let h_child = world.mine(6, &[&child]);
    world.mine(2, &[]);

    // Both proven (the bundle's shape), version 1 and 2.
    let proven = Beef::of_proven(vec![
        (parent.clone(), world.path(h_parent, parent.txid())),
        (child.clone(), world.path(h_child, child.txid())),
    ]);
    let mut v2 = proven.clone();
    v2.version = BeefVersion::V2;
    // The child unproven, carried by its proven parent.
    let carried = Beef {
        version: BeefVersion::V1,
        bumps: vec![world.path(h_parent, parent.txid())],
        txs: vec![
            BeefTx::Raw {
                tx: parent.clone(),
                bump: Some(0),
            },
            BeefTx::Raw {
                tx: child.clone(),
                bump: None,
            },
        ],
    };
    // A compound BUMP: two transactions of one block.
    let sibling = tx(
        3,
        OutPoint {
            txid: Txid([8; 32]),
            vout: 1,
        },
    );
    let h_both = world.mine(3, &[&sibling, &parent]);
    let ids = &world.blocks[h_both as usize];
    let compound = Beef {
        version: BeefVersion::V1,
        bumps: vec![MerklePath::from_block(h_both, ids, &[3, 4]).unwrap()],
        txs: vec![
            BeefTx::Raw {
                tx: sibling.clone(),
                bump: Some(0),
            },
            BeefTx::Raw {
                tx: parent.clone(),
                bump: Some(0),
            },
        ],
    };
    let cases: Vec<Value> = [
        ("proven v1", &proven, child.txid()),
        ("proven v2", &v2, child.txid()),
        ("carried", &carried, parent.txid()),
        ("compound", &compound, sibling.txid()),
    ]
    .iter()
    .map(|(name, beef, subject)| {
        let bytes = beef.encode().unwrap();
        assert_eq!(
            Beef::decode(&bytes).unwrap(),
            **beef,
            "{name}: our own round trip"
        );
        json!({"name": name, "beef": hex::encode(bytes), "subject": subject.to_string()})
    })
    .collect();
    let out = ask_sdk(&json!({"headers": world.headers_hex(), "cases": cases}));
    assert_eq!(
        out["headers_link"], true,
        "the SDK reads our headers as one chain"
    );
    for v in out["verdicts"].as_array().unwrap() {
        assert_eq!(v["error"], Value::Null, "{v}");
        assert_eq!(v["parsed"], true, "{v}");
        assert_eq!(
            v["reencoded"], true,
            "the SDK writes our BEEF back byte for byte: {v}"
        );
        assert_eq!(v["valid"], true, "{v}");
        assert_eq!(v["verified"], true, "verified against our headers: {v}");
        assert_eq!(v["subject_proven"], true, "{v}");
    }

    // The judge can say no: a header chain whose block 1 has another root.
    let mut forged = world.headers.clone();
    forged[1].merkle_root = [0x42; 32];
    for i in 2..forged.len() {
        forged[i].prev_hash = forged[i - 1].hash();
    }
    let forged_hex: Vec<String> = forged.iter().map(|h| hex::encode(h.encode())).collect();
    let out = ask_sdk(&json!({"headers": forged_hex, "cases": [cases[0].clone()]}));
    assert_eq!(out["verdicts"][0]["verified"], false, "{out}");
    // And a BEEF whose BUMP was changed does not verify.
    let mut bent = proven.clone();
    bent.bumps[1].levels[0][0].node = chainlock_spv::PathNode::Hash([7; 32]);
    let bent_hex = hex::encode(bent.encode().unwrap());
    let out = ask_sdk(
        &json!({"headers": world.headers_hex(), "cases": [{"name": "bent", "beef": bent_hex}]}),
    );
    assert_eq!(out["verdicts"][0]["verified"], false, "{out}");
}

#[test]
fn beef_written_by_the_sdk_round_trips_through_ours_byte_for_byte() {
    let out = ask_sdk(&json!({"headers": [], "cases": []}));
    let made = out["made"].as_array().unwrap();
    assert!(made.len() >= 4, "{out}");
    for m in made {
        let name = m["name"].as_str().unwrap();
        let bytes = hex::decode(m["beef"].as_str().unwrap()).unwrap();
        let beef = Beef::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(beef.encode().unwrap(), bytes, "{name}: byte for byte");
        let txids: Vec<String> = beef.txs.iter().map(|t| t.txid().to_string()).collect();
        let sdk_txids: Vec<String> = m["txids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_string())
            .collect();
        assert_eq!(txids, sdk_txids, "{name}");
        // Every proven txid leads to the root the SDK computes for its block.
        for bump in &beef.bumps {
            let sdk_root = m["roots"][bump.block_height.to_string()].as_str().unwrap();
            for txid in bump.txids() {
                let root = bump.compute_root(&txid).unwrap();
                assert_eq!(Txid(root).to_string(), sdk_root, "{name}: {txid}");
            }
        }
    }
}

#[test]
fn a_header_chain_round_trips_as_a_file() {
    let mut world = World::new();
    world.mine(1, &[]);
    world.mine(2, &[]);
    let chain = HeaderChain::new(world.headers.clone()).unwrap();
    assert_eq!(HeaderChain::from_bytes(&chain.to_bytes()).unwrap(), chain);
}
