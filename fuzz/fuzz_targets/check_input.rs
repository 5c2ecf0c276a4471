//! The input checker on arbitrary unlocking scripts against a 2-of-3 custody output: never a
//! panic, and never valid (no key's signature can come out of a fuzzer).
#![no_main]

use chainlock_protocol::checker::check_input;
use chainlock_protocol::script::Script;
use chainlock_protocol::tx::{OutPoint, SpentOutput, Transaction, TxIn, TxOut, Txid};
use libfuzzer_sys::fuzz_target;

/// Three points on the curve (the public keys of secret keys 1, 2 and 3), in byte order.
const KEYS: [&str; 3] = [
    "02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5",
    "02f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9",
    "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
];

fuzz_target!(|data: &[u8]| {
    let mut keys: Vec<[u8; 33]> = KEYS
        .iter()
        .filter_map(|k| Script::from_hex(k).ok())
        .filter_map(|s| s.as_bytes().try_into().ok())
        .collect();
    keys.sort_unstable();
    let Ok(script_pubkey) = Script::custody(2, &keys) else { return };
    let spent = SpentOutput { script_pubkey, value: 10_000 };
    let tx = Transaction {
        version: 1,
        inputs: vec![TxIn {
            prevout: OutPoint { txid: Txid([1; 32]), vout: 0 },
            script_sig: Script::from(data),
            sequence: 0xffff_ffff,
        }],
        outputs: vec![TxOut { value: 0, script_pubkey: Script::commitment(&[2; 32]) }],
        lock_time: 0,
    };
    assert!(!check_input(&tx, 0, &spent).is_valid());
});
