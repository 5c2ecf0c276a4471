//! Property tests and fuzzing of the parsers that take hostile bytes.
//!
//! - Round trips: arbitrary transactions and scripts encode and decode back to themselves.
//! - Fuzzing: arbitrary bytes and mutations of valid encodings never make a parser panic,
//!   and whatever decodes re-encodes to exactly the bytes it came from (the decoders are
//!   exact, so one transaction has one encoding and one txid).
//!
//! Tens of thousands of cases in all, sized to stay well under 20 seconds in a debug build.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic

use chainlock_protocol::bsm::{verify_statement, StatementKind};
use chainlock_protocol::checker::check_input;
use chainlock_protocol::keys::{parse_der_strict, PublicKey, SecretKey};
use chainlock_protocol::script::{is_minimal_push, op, Builder, Instruction, Script};
use chainlock_protocol::tx::{OutPoint, SpentOutput, Transaction, TxIn, TxOut, Txid};
use proptest::prelude::*;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        max_shrink_iters: 2_000,
        ..ProptestConfig::default()
    }
}

fn arb_script(max: usize) -> impl Strategy<Value = Script> {
    prop::collection::vec(any::<u8>(), 0..max).prop_map(Script::from)
}

fn arb_txin() -> impl Strategy<Value = TxIn> {
    (
        any::<[u8; 32]>(),
        any::<u32>(),
        arb_script(120),
        any::<u32>(),
    )
        .prop_map(|(txid, vout, script_sig, sequence)| TxIn {
            prevout: OutPoint {
                txid: Txid(txid),
                vout,
            },
            script_sig,
            sequence,
        })
}

fn arb_txout() -> impl Strategy<Value = TxOut> {
    (any::<u64>(), arb_script(120)).prop_map(|(value, script_pubkey)| TxOut {
        value,
        script_pubkey,
    })
}

fn arb_tx() -> impl Strategy<Value = Transaction> {
    (
        any::<u32>(),
        prop::collection::vec(arb_txin(), 0..4),
        prop::collection::vec(arb_txout(), 0..4),
        any::<u32>(),
    )
        .prop_map(|(version, inputs, outputs, lock_time)| Transaction {
            version,
            inputs,
            outputs,
            lock_time,
        })
}

/// One edit of a byte string: flip, overwrite, insert, delete or truncate.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
}

fn arb_mutations() -> impl Strategy<Value = Vec<Mutation>> {
    let one = prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        // Bytes that matter to decoders: varint prefixes, push opcodes, length extremes.
        (
            any::<usize>(),
            prop::sample::select(vec![
                0x00, 0x01, 0x4b, 0x4c, 0x4d, 0x4e, 0xfc, 0xfd, 0xfe, 0xff
            ])
        )
            .prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..9))
            .prop_map(|(i, v)| Mutation::Insert(i, v)),
        (any::<usize>(), 1..9usize).prop_map(|(i, n)| Mutation::Delete(i, n)),
        any::<usize>().prop_map(Mutation::Truncate),
    ];
    prop::collection::vec(one, 1..4)
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len();
        match m {
            Mutation::Flip(i, b) if len > 0 => bytes[i % len] ^= b,
            Mutation::Set(i, b) if len > 0 => bytes[i % len] = *b,
            Mutation::Insert(i, v) => {
                let at = i % (len + 1);
                bytes.splice(at..at, v.iter().copied());
            }
            Mutation::Delete(i, n) if len > 0 => {
                let at = i % len;
                bytes.drain(at..(at + n).min(len));
            }
            Mutation::Truncate(i) => bytes.truncate(i % (len + 1)),
            _ => {}
        }
    }
    bytes
}

/// Decoding never panics, and whatever decodes re-encodes to the same bytes.
fn decode_is_exact(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(tx) = Transaction::decode(bytes) {
        prop_assert_eq!(tx.encode(), bytes.to_vec());
    }
    Ok(())
}

/// Every script reader tolerates the bytes, and each template that parses rebuilds exactly.
fn script_readers_are_consistent(script: &Script) -> Result<(), TestCaseError> {
    let parsed = script.parse();
    let _ = script.to_string();
    if parsed.is_err() {
        prop_assert!(!script.is_push_only());
    }
    if let Ok(c) = script.parse_custody() {
        prop_assert_eq!(&Script::custody(c.threshold, &c.keys).unwrap(), script);
    }
    if let Ok(h) = script.parse_p2pkh() {
        prop_assert_eq!(&Script::p2pkh(&h), script);
    }
    if let Ok(d) = script.parse_commitment() {
        prop_assert_eq!(&Script::commitment(&d), script);
    }
    Ok(())
}

/// The value an instruction leaves on the stack, for comparing built and parsed scripts.
fn pushed_value(ins: &Instruction<'_>) -> Option<Vec<u8>> {
    match ins {
        Instruction::Push(d) => Some(d.to_vec()),
        Instruction::Op(op::OP_1NEGATE) => Some(vec![0x81]),
        Instruction::Op(o) if (op::OP_1..=op::OP_16).contains(o) => Some(vec![o - op::OP_1 + 1]),
        Instruction::Op(_) => None,
    }
}

proptest! {
    #![proptest_config(config(4_000))]

    #[test]
    fn transactions_round_trip(tx in arb_tx()) {
        let bytes = tx.encode();
        let back = Transaction::decode(&bytes).unwrap();
        prop_assert_eq!(&back, &tx);
        prop_assert_eq!(back.txid(), tx.txid());
        prop_assert_eq!(Transaction::from_hex(&tx.to_hex()).unwrap(), tx);
    }

    #[test]
    fn built_scripts_round_trip(items in prop::collection::vec(
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..80).prop_map(Some),
            prop::collection::vec(any::<u8>(), 250..300).prop_map(Some),
            prop::sample::select(vec![vec![], vec![0], vec![1], vec![16], vec![17], vec![0x81]]).prop_map(Some),
            Just(None),
        ],
        0..12,
    )) {
        // None stands for OP_CHECKSIG, a non-push opcode.
        let mut b = Builder::new();
        for item in &items {
            match item {
                Some(data) => b.push(data),
                None => b.op(op::OP_CHECKSIG),
            };
        }
        let script = b.into_script();
        let parsed = script.parse().unwrap();
        prop_assert_eq!(parsed.len(), items.len());
        for (ins, item) in parsed.iter().zip(&items) {
            prop_assert_eq!(pushed_value(ins), item.clone());
        }
        prop_assert_eq!(script.is_push_only(), items.iter().all(Option::is_some));
        prop_assert_eq!(Script::from_hex(&script.to_hex()).unwrap(), script.clone());
        // Every push the builder makes is minimal.
        for data in items.iter().flatten() {
            let mut one = Builder::new();
            one.push(data);
            prop_assert!(is_minimal_push(data, one.into_script().as_bytes()));
        }
    }
}

proptest! {
    #![proptest_config(config(25_000))]

    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        decode_is_exact(&bytes)?;
        script_readers_are_consistent(&Script::from(bytes.clone()))?;
        let _ = parse_der_strict(&bytes);
        let _ = PublicKey::from_bytes(&bytes);
    }

    #[test]
    fn mutated_transactions_never_panic_the_decoder(tx in arb_tx(), mutations in arb_mutations()) {
        let bytes = mutate(tx.encode(), &mutations);
        decode_is_exact(&bytes)?;
    }
}

/// A small valid-looking transaction header with hostile counts: a decoder must refuse the
/// count before allocating for it.
#[test]
fn hostile_counts_are_refused_quickly() {
    for count in [
        &[0xfd, 0xff, 0xff][..],
        &[0xfe, 0xff, 0xff, 0xff, 0xff],
        &[0xff; 9],
    ] {
        let mut bytes = vec![1, 0, 0, 0];
        bytes.extend_from_slice(count);
        bytes.extend_from_slice(&[0; 64]);
        let err = Transaction::decode(&bytes).unwrap_err();
        assert!(err.to_string().contains("cannot fit"), "{err}");
    }
}

fn signed_custody_spend() -> (Transaction, SpentOutput) {
    // Signed once: signing per case would dominate the run time.
    static SPEND: std::sync::OnceLock<(Transaction, SpentOutput)> = std::sync::OnceLock::new();
    SPEND.get_or_init(sign_custody_spend).clone()
}

fn sign_custody_spend() -> (Transaction, SpentOutput) {
    let mut ks: Vec<SecretKey> = (1..=3u8)
        .map(|i| {
            let mut b = [0x33; 32];
            b[31] = i;
            SecretKey::from_bytes(&b).unwrap()
        })
        .collect();
    ks.sort_by_key(|k| k.public_key());
    let keys: Vec<_> = ks.iter().map(|k| k.public_key().to_bytes()).collect();
    let spent = SpentOutput {
        script_pubkey: Script::custody(2, &keys).unwrap(),
        value: 9_000,
    };
    let mut tx = Transaction {
        version: 1,
        inputs: vec![TxIn {
            prevout: OutPoint {
                txid: Txid([1; 32]),
                vout: 0,
            },
            script_sig: Script::default(),
            sequence: 0xffff_ffff,
        }],
        outputs: vec![TxOut {
            value: 0,
            script_pubkey: Script::commitment(&[2; 32]),
        }],
        lock_time: 0,
    };
    let s0 = chainlock_protocol::testing::sign_unverified_input(&ks[0], &tx, 0, &spent).unwrap();
    let s2 = chainlock_protocol::testing::sign_unverified_input(&ks[2], &tx, 0, &spent).unwrap();
    let mut b = Builder::new();
    b.push(&[]).push(&s0).push(&s2);
    tx.inputs[0].script_sig = b.into_script();
    (tx, spent)
}

proptest! {
    #![proptest_config(config(10_000))]

    /// The checker judges mutated unlocking scripts without panicking, and a mutation never
    /// turns the signed spend into a different valid spend of the same transaction unless the
    /// script bytes are unchanged.
    #[test]
    fn checker_survives_mutated_unlocking_scripts(mutations in arb_mutations()) {
        let (tx, spent) = signed_custody_spend();
        let original = tx.inputs[0].script_sig.as_bytes().to_vec();
        let mutated = mutate(original.clone(), &mutations);
        let mut t = tx.clone();
        t.inputs[0].script_sig = Script::from(mutated.clone());
        let verdict = check_input(&t, 0, &spent);
        if verdict.is_valid() {
            prop_assert_eq!(mutated, original, "a mutated unlocking script was accepted");
        }
    }

    #[test]
    fn checker_survives_arbitrary_scripts(sig in arb_script(200), lock in arb_script(120)) {
        let (mut tx, spent) = signed_custody_spend();
        tx.inputs[0].script_sig = sig.clone();
        prop_assert!(!check_input(&tx, 0, &spent).is_valid());
        let other = SpentOutput { script_pubkey: lock, value: 1 };
        let _ = check_input(&tx, 0, &other);
        let _ = check_input(&tx, 5, &other);
    }
}

proptest! {
    #![proptest_config(config(3_000))]

    #[test]
    fn statement_verification_never_panics(text in "[A-Za-z0-9+/=]{0,100}") {
        let pk = SecretKey::from_bytes(&[7; 32]).unwrap().public_key();
        prop_assert!(verify_statement(&pk, StatementKind::Request, &[0; 32], &text).is_err());
    }
}

#[test]
fn the_signed_spend_used_above_is_valid() {
    // Guards the mutation test: it only means something if the unmutated spend is valid.
    let (tx, spent) = signed_custody_spend();
    assert!(check_input(&tx, 0, &spent).is_valid());
}
