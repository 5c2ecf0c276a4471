//! `chainlock tx decode` and `chainlock tx verify` on spends signed by the protocol crate.

use chainlock_protocol::keys::SecretKey;
use chainlock_protocol::script::{Builder, Script};
use chainlock_protocol::tx::{OutPoint, SpentOutput, Transaction, TxIn, TxOut, Txid};

use crate::util::run;

fn key(seed: u8) -> SecretKey {
    let mut b = [0x2a; 32];
    b[31] = seed;
    SecretKey::from_bytes(&b).expect("valid key")
}

struct Spend {
    keys: Vec<SecretKey>,
    spent: SpentOutput,
    tx: Transaction,
}

/// A record transaction spending a 2-of-3 custody output, signed by keys 0 and 2.
fn signed_record() -> Spend {
    let mut keys = vec![key(1), key(2), key(3)];
    keys.sort_by_key(|k| k.public_key());
    let pks: Vec<_> = keys.iter().map(|k| k.public_key().to_bytes()).collect();
    let spent = SpentOutput {
        script_pubkey: Script::custody(2, &pks).expect("custody"),
        value: 12_000,
    };
    let mut tx = Transaction {
        version: 1,
        inputs: vec![TxIn {
            prevout: OutPoint {
                txid: Txid([0xab; 32]),
                vout: 3,
            },
            script_sig: Script::default(),
            sequence: 0xffff_ffff,
        }],
        outputs: vec![
            TxOut {
                value: 0,
                script_pubkey: Script::commitment(&[0xcd; 32]),
            },
            TxOut {
                value: 11_500,
                script_pubkey: Script::p2pkh(&[0x44; 20]),
            },
        ],
        lock_time: 0,
    };
    let s0 =
        chainlock_protocol::testing::sign_unverified_input(&keys[0], &tx, 0, &spent).expect("sign");
    let s2 =
        chainlock_protocol::testing::sign_unverified_input(&keys[2], &tx, 0, &spent).expect("sign");
    let mut b = Builder::new();
    b.push(&[]).push(&s0).push(&s2);
    tx.inputs[0].script_sig = b.into_script();
    Spend { keys, spent, tx }
}

fn spent_arg(s: &SpentOutput) -> String {
    format!("{}:{}", s.script_pubkey.to_hex(), s.value)
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn decode_names_templates_for_humans() {
    let s = signed_record();
    let out = run(&["tx", "decode", &s.tx.to_hex()]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(
        text.contains(&format!("transaction {}", s.tx.txid())),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "chainlock commitment to record {}",
            "cd".repeat(32)
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("P2PKH to key hash {}", "44".repeat(20))),
        "{text}"
    );
    assert!(
        text.contains(&format!("spends {}:3", Txid([0xab; 32]))),
        "{text}"
    );
    assert!(text.contains("locktime 0"), "{text}");

    // A lock time from 500,000,000 on is a Unix time: shown with its date.
    let mut timed = s.tx.clone();
    timed.lock_time = 1_795_219_200;
    let out = run(&["tx", "decode", &timed.to_hex()]);
    let text = stdout(&out);
    assert!(
        text.contains("locktime 1795219200 (2026-11-21 00:00:00 UTC)"),
        "{text}"
    );
}

#[test]
fn decode_json_reads_a_file_and_lists_custody_key_ids() {
    let s = signed_record();
    // A custody output appears in the top-up that funds the record.
    let topup = Transaction {
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
            value: 12_000,
            script_pubkey: s.spent.script_pubkey.clone(),
        }],
        lock_time: 0,
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("topup.hex");
    std::fs::write(&path, format!("{}\n", topup.to_hex())).expect("write");
    let out = run(&["tx", "decode", path.to_str().expect("utf-8 path"), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["txid"], topup.txid().to_string());
    assert_eq!(v["version"], 1);
    assert_eq!(v["inputs"][0]["sequence"], 0xffff_ffffu32);
    let t = &v["outputs"][0]["template"];
    assert_eq!(t["type"], "custody");
    assert_eq!(t["threshold"], 2);
    let ids: Vec<String> = t["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["key_id"].as_str().expect("id").to_string())
        .collect();
    let expected: Vec<String> = s.keys.iter().map(|k| k.public_key().key_id()).collect();
    assert_eq!(ids, expected);
    assert_eq!(v["outputs"][0]["value"], 12_000);
}

#[test]
fn decode_refuses_garbage_with_a_hint() {
    let out = run(&["tx", "decode", "0100"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("not a valid transaction"), "{err}");
    assert!(err.contains("pass its hex"), "{err}");
}

#[test]
fn verify_accepts_a_signed_record() {
    let s = signed_record();
    let out = run(&[
        "tx",
        "verify",
        &s.tx.to_hex(),
        "--spent",
        &spent_arg(&s.spent),
    ]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(text.contains("input 0  custody 2-of-3  valid"), "{text}");
    assert!(
        text.contains(&format!(
            "signed by key {}  ALL|FORKID (0x41)",
            s.keys[0].public_key().key_id()
        )),
        "{text}"
    );
    assert!(text.contains(&s.keys[2].public_key().key_id()), "{text}");
    assert!(text.contains("the 1 input is valid"), "{text}");

    let out = run(&[
        "tx",
        "verify",
        &s.tx.to_hex(),
        "--spent",
        &spent_arg(&s.spent),
        "--json",
    ]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["valid"], true);
    assert_eq!(v["inputs"][0]["template"], "custody 2-of-3");
    assert_eq!(
        v["inputs"][0]["signatures"][1]["key_id"],
        s.keys[2].public_key().key_id()
    );
    assert_eq!(v["inputs"][0]["signatures"][0]["protocol_sighash"], true);
}

#[test]
fn verify_rejects_an_edited_transaction_with_exit_1() {
    let s = signed_record();
    let mut edited = s.tx.clone();
    edited.outputs[1].value += 1;
    let out = run(&[
        "tx",
        "verify",
        &edited.to_hex(),
        "--spent",
        &spent_arg(&s.spent),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("input 0  custody 2-of-3  INVALID"), "{text}");
    assert!(text.contains("key order"), "{text}");

    let out = run(&[
        "tx",
        "verify",
        &edited.to_hex(),
        "--spent",
        &spent_arg(&s.spent),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["valid"], false);
    assert!(
        v["inputs"][0]["reason"]
            .as_str()
            .expect("reason")
            .contains("fails"),
        "{v}"
    );
}

#[test]
fn verify_wrong_amount_and_unknown_template_are_invalid() {
    let s = signed_record();
    let wrong_amount = SpentOutput {
        value: s.spent.value - 1,
        ..s.spent.clone()
    };
    let out = run(&[
        "tx",
        "verify",
        &s.tx.to_hex(),
        "--spent",
        &spent_arg(&wrong_amount),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));

    let out = run(&["tx", "verify", &s.tx.to_hex(), "--spent", "51:12000"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("input 0  unknown  INVALID"), "{text}");
}

#[test]
fn verify_needs_one_spent_output_per_input() {
    let s = signed_record();
    let arg = spent_arg(&s.spent);
    let out = run(&[
        "tx",
        "verify",
        &s.tx.to_hex(),
        "--spent",
        &arg,
        "--spent",
        &arg,
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("1 inputs but 2 --spent"), "{err}");
    assert!(err.contains("one --spent"), "{err}");

    let out = run(&["tx", "verify", &s.tx.to_hex(), "--spent", "nothex:5"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not hex"), "{}", stderr(&out));
    let out = run(&["tx", "verify", &s.tx.to_hex(), "--spent", "51"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("<locking script hex>:<satoshis>"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn there_is_no_way_to_sign_a_raw_transaction() {
    // Signing is `chainlock sign <request-id>`, behind every check of a verified request.
    let out = run(&[
        "tx",
        "sign",
        "0100",
        "--spent",
        "51:1",
        "--key",
        "ledger://",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("unrecognized subcommand 'sign'"),
        "{}",
        stderr(&out)
    );
}
