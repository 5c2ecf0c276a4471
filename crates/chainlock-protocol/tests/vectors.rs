//! The BSV node's signature-hash vectors (`shared/vectors/bsv/sighash.json`, from
//! `src/test/data/sighash.json` of bitcoin-sv) against [`sighash_forkid`].
//!
//! Only rows whose hash type has FORKID (0x40) set and bit 0x20 clear use the BIP143-style
//! digest; there are 254 of them, and every one must match. The node's test computes them
//! with an amount of 0 and prints the digest byte-reversed, as a uint256 is printed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic

use std::path::PathBuf;

use chainlock_protocol::script::Script;
use chainlock_protocol::sighash::sighash_forkid;
use chainlock_protocol::tx::Transaction;

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors")
}

fn load_rows() -> Vec<serde_json::Value> {
    let path = vectors_dir().join("bsv/sighash.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}. The shared vectors must sit beside the checkout \
             (shared/ next to the repository root), as CI places them.",
            path.display()
        )
    });
    let serde_json::Value::Array(rows) = serde_json::from_str(&text).expect("sighash.json is JSON")
    else {
        panic!("sighash.json is not an array");
    };
    rows
}

#[test]
fn all_254_forkid_vectors_match() {
    let rows = load_rows();
    assert!(rows.len() > 1, "no rows");
    let mut checked = 0;
    let mut failures = Vec::new();
    // Row 0 is the header.
    for (n, row) in rows.iter().enumerate().skip(1) {
        let row = row
            .as_array()
            .unwrap_or_else(|| panic!("row {n} is not an array"));
        assert_eq!(row.len(), 6, "row {n} has {} fields", row.len());
        let raw_tx = row[0].as_str().unwrap();
        let script_code = row[1].as_str().unwrap();
        let input_index = usize::try_from(row[2].as_u64().unwrap()).unwrap();
        let hash_type = row[3].as_i64().unwrap() as i32 as u32;
        if hash_type & 0x40 == 0 || hash_type & 0x20 != 0 {
            continue;
        }
        let tx = Transaction::from_hex(raw_tx).unwrap_or_else(|e| panic!("row {n}: {e}"));
        // The decoder is exact: what it read, it writes back byte for byte.
        assert_eq!(
            tx.to_hex(),
            raw_tx,
            "row {n} does not re-encode identically"
        );
        let script = Script::from_hex(script_code).unwrap();
        let mut expected = hex::decode(row[4].as_str().unwrap()).unwrap();
        expected.reverse();
        let got = sighash_forkid(&tx, input_index, &script, 0, hash_type).unwrap();
        if got[..] != expected[..] {
            failures.push(format!(
                "row {n} (hash type {hash_type:#010x}): got {}",
                hex::encode(got)
            ));
        }
        checked += 1;
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} FORKID vectors differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(checked, 254, "the file holds 254 FORKID rows");
}

#[test]
fn a_changed_amount_changes_the_digest() {
    // Guards against a sighash that ignores the amount: BIP143-style digests commit to it.
    let rows = load_rows();
    let row = rows
        .iter()
        .skip(1)
        .filter_map(|r| r.as_array())
        .find(|r| (r[3].as_i64().unwrap() as i32 as u32) & 0x60 == 0x40)
        .expect("a FORKID row");
    let tx = Transaction::from_hex(row[0].as_str().unwrap()).unwrap();
    let script = Script::from_hex(row[1].as_str().unwrap()).unwrap();
    let idx = usize::try_from(row[2].as_u64().unwrap()).unwrap();
    let t = row[3].as_i64().unwrap() as i32 as u32;
    assert_ne!(
        sighash_forkid(&tx, idx, &script, 0, t).unwrap(),
        sighash_forkid(&tx, idx, &script, 1, t).unwrap()
    );
}
