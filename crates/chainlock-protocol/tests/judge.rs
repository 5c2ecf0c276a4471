//! Two judges, one verdict: custody and P2PKH spends signed by the project are judged by the
//! project's checker and by the official `@bsv/sdk` interpreter (`tests/judge/spend.mjs`,
//! pinned to 2.1.0), which must agree on every case.
//!
//! The SDK runs twice: with the BSV node's standard script flags passed explicitly ("node"),
//! where it must agree with the checker everywhere; and with no flags ("sdk-default"), as most
//! callers run it, where it is laxer in places this file names and asserts.
//!
//! Needs `node` (18 or later) and `npm ci --prefix tests/judge` run once from the workspace root.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use chainlock_protocol::checker::{check_input, Reason};
use chainlock_protocol::hash::sha256d;
use chainlock_protocol::keys::{parse_der_strict, verify_input_signature, SecretKey};
use chainlock_protocol::script::{op, Builder, Script};
use chainlock_protocol::sighash::sighash_forkid;
use chainlock_protocol::tx::{OutPoint, SpentOutput, Transaction, TxIn, TxOut, Txid};
use k256::ecdsa::signature::hazmat::PrehashSigner;
use serde_json::{json, Value};

const NPM_HINT: &str =
    "run `npm ci --prefix tests/judge` from the workspace root (needs node 18+ and npm; \
     on Debian: apt-get install -y nodejs npm)";

fn judge_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/judge")
}

/// Runs the judge script over `cases` and returns its verdicts in order.
fn ask_sdk(cases: &[Value]) -> Vec<Value> {
    let dir = judge_dir();
    assert!(
        dir.join("node_modules/@bsv/sdk/package.json").is_file(),
        "the @bsv/sdk judge is not installed in {}: {NPM_HINT}",
        dir.display()
    );
    let mut child = Command::new("node")
        .arg("spend.mjs")
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `node` ({e}): {NPM_HINT}"));
    let input = serde_json::to_vec(&json!({ "cases": cases })).unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "judge failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("judge prints JSON");
    let verdicts = v["verdicts"].as_array().expect("verdicts").clone();
    assert_eq!(verdicts.len(), cases.len());
    verdicts
}

fn key(seed: u8) -> SecretKey {
    let mut b = [0x17u8; 32];
    b[31] = seed;
    SecretKey::from_bytes(&b).unwrap()
}

/// Three maintainer keys in custody (byte) order.
fn maintainers() -> Vec<SecretKey> {
    let mut ks = vec![key(1), key(2), key(3)];
    ks.sort_by_key(|k| k.public_key());
    ks
}

fn custody(m: usize, ks: &[SecretKey]) -> SpentOutput {
    let keys: Vec<_> = ks.iter().map(|k| k.public_key().to_bytes()).collect();
    SpentOutput {
        script_pubkey: Script::custody(m, &keys).unwrap(),
        value: 20_000,
    }
}

/// A record transaction in the shape of PROTOCOL.md section 2: one custody input, the
/// commitment, P2PKH change.
fn record_tx(spent: &SpentOutput) -> Transaction {
    Transaction {
        version: 1,
        inputs: vec![TxIn {
            prevout: OutPoint {
                txid: Txid([0x5c; 32]),
                vout: 2,
            },
            script_sig: Script::default(),
            sequence: 0xffff_ffff,
        }],
        outputs: vec![
            TxOut {
                value: 0,
                script_pubkey: Script::commitment(&[0xd1; 32]),
            },
            TxOut {
                value: spent.value - 500,
                script_pubkey: Script::p2pkh(&[0x42; 20]),
            },
        ],
        lock_time: 0,
    }
}

fn unlock(tx: &Transaction, input: usize, pushes: &[&[u8]]) -> Transaction {
    let mut b = Builder::new();
    for p in pushes {
        b.push(p);
    }
    let mut tx = tx.clone();
    tx.inputs[input].script_sig = b.into_script();
    tx
}

/// Signs a digest the test computed, with a chosen sighash byte: the project's own signer
/// refuses anything but ALL|FORKID over a digest it computes, so wrong-type cases are built here.
fn raw_sign(sk: &SecretKey, digest: &[u8; 32], sighash_byte: u8, low_s: bool) -> Vec<u8> {
    let signing = k256::ecdsa::SigningKey::from_bytes((&*sk.to_bytes()).into()).unwrap();
    let sig: k256::ecdsa::Signature = signing.sign_prehash(digest).unwrap();
    let sig = sig.normalize_s().unwrap_or(sig);
    let sig = if low_s {
        sig
    } else {
        k256::ecdsa::Signature::from_scalars(sig.r().to_bytes(), (-*sig.s().as_ref()).to_bytes())
            .unwrap()
    };
    let mut out = sig.to_der().as_bytes().to_vec();
    out.push(sighash_byte);
    out
}

struct Case {
    name: String,
    tx: Transaction,
    input: usize,
    spent: SpentOutput,
    valid: bool,
}

impl Case {
    fn new(name: &str, tx: Transaction, input: usize, spent: &SpentOutput, valid: bool) -> Self {
        Case {
            name: name.into(),
            tx,
            input,
            spent: spent.clone(),
            valid,
        }
    }

    fn json(&self, flags: &str) -> Value {
        json!({
            "name": self.name,
            "tx": self.tx.to_hex(),
            "input": self.input,
            "spent": { "script": self.spent.script_pubkey.to_hex(), "satoshis": self.spent.value },
            "flags": flags,
        })
    }
}

fn custody_cases() -> Vec<Case> {
    let ks = maintainers();
    let mut cases = Vec::new();

    let spent = custody(1, &ks[..1]);
    let tx = record_tx(&spent);
    let s = chainlock_protocol::testing::sign_unverified_input(&ks[0], &tx, 0, &spent).unwrap();
    cases.push(Case::new(
        "1-of-1",
        unlock(&tx, 0, &[&[], &s]),
        0,
        &spent,
        true,
    ));

    let spent = custody(2, &ks);
    let tx = record_tx(&spent);
    let sigs: Vec<Vec<u8>> = ks
        .iter()
        .map(|k| chainlock_protocol::testing::sign_unverified_input(k, &tx, 0, &spent).unwrap())
        .collect();
    for (a, b) in [(0, 1), (0, 2), (1, 2)] {
        cases.push(Case::new(
            &format!("2-of-3 keys {a}+{b}"),
            unlock(&tx, 0, &[&[], &sigs[a], &sigs[b]]),
            0,
            &spent,
            true,
        ));
        cases.push(Case::new(
            &format!("2-of-3 keys {b}+{a} out of key order"),
            unlock(&tx, 0, &[&[], &sigs[b], &sigs[a]]),
            0,
            &spent,
            false,
        ));
    }
    cases.push(Case::new(
        "2-of-3 one signature short",
        unlock(&tx, 0, &[&[], &sigs[0]]),
        0,
        &spent,
        false,
    ));
    cases.push(Case::new(
        "2-of-3 same signature twice",
        unlock(&tx, 0, &[&[], &sigs[0], &sigs[0]]),
        0,
        &spent,
        false,
    ));
    cases.push(Case::new(
        "2-of-3 extra push (clean stack)",
        unlock(&tx, 0, &[&[], &[], &sigs[0], &sigs[1]]),
        0,
        &spent,
        false,
    ));
    cases.push(Case::new(
        "2-of-3 non-null dummy",
        unlock(&tx, 0, &[&[1], &sigs[0], &sigs[1]]),
        0,
        &spent,
        false,
    ));

    let digest41 = sighash_forkid(&tx, 0, &spent.script_pubkey, spent.value, 0x41).unwrap();
    let high = raw_sign(&ks[1], &digest41, 0x41, false);
    cases.push(Case::new(
        "2-of-3 high-S signature",
        unlock(&tx, 0, &[&[], &sigs[0], &high]),
        0,
        &spent,
        false,
    ));

    // The ALL|FORKID signature with its sighash byte changed to ALL (0x01).
    let mut wrong_byte = sigs[1].clone();
    *wrong_byte.last_mut().unwrap() = 0x01;
    cases.push(Case::new(
        "2-of-3 sighash byte 0x01 on a FORKID signature",
        unlock(&tx, 0, &[&[], &sigs[0], &wrong_byte]),
        0,
        &spent,
        false,
    ));

    // The right signature with a needlessly long push (OP_PUSHDATA1): MINIMALDATA.
    let mut nonminimal = vec![op::OP_0, op::OP_PUSHDATA1, sigs[0].len() as u8];
    nonminimal.extend_from_slice(&sigs[0]);
    nonminimal.push(sigs[1].len() as u8);
    nonminimal.extend_from_slice(&sigs[1]);
    let mut t = tx.clone();
    t.inputs[0].script_sig = Script::from(nonminimal);
    cases.push(Case::new("2-of-3 non-minimal push", t, 0, &spent, false));

    // Signed, then edited: the signatures no longer cover the transaction.
    let signed = unlock(&tx, 0, &[&[], &sigs[0], &sigs[2]]);
    let mut edited_output = signed.clone();
    edited_output.outputs[1].value -= 1;
    cases.push(Case::new(
        "2-of-3 edited change output",
        edited_output,
        0,
        &spent,
        false,
    ));
    let mut edited_commitment = signed.clone();
    edited_commitment.outputs[0].script_pubkey = Script::commitment(&[0xd2; 32]);
    cases.push(Case::new(
        "2-of-3 edited commitment",
        edited_commitment,
        0,
        &spent,
        false,
    ));
    let other_amount = SpentOutput {
        value: spent.value + 1,
        ..spent.clone()
    };
    cases.push(Case::new(
        "2-of-3 spent amount differs from the signed one",
        signed,
        0,
        &other_amount,
        false,
    ));

    let spent = custody(3, &ks);
    let tx = record_tx(&spent);
    let sigs: Vec<Vec<u8>> = ks
        .iter()
        .map(|k| chainlock_protocol::testing::sign_unverified_input(k, &tx, 0, &spent).unwrap())
        .collect();
    cases.push(Case::new(
        "3-of-3",
        unlock(&tx, 0, &[&[], &sigs[0], &sigs[1], &sigs[2]]),
        0,
        &spent,
        true,
    ));
    cases.push(Case::new(
        "3-of-3 one empty signature",
        unlock(&tx, 0, &[&[], &sigs[0], &[], &sigs[2]]),
        0,
        &spent,
        false,
    ));
    cases
}

/// A top-up style transaction with two P2PKH inputs (the second key signs input 1), so the
/// judges also see hashPrevouts and hashSequence over several inputs.
fn p2pkh_cases() -> Vec<Case> {
    let funder = key(9);
    let other = key(10);
    let spent0 = SpentOutput {
        script_pubkey: Script::p2pkh(&funder.public_key().hash160()),
        value: 70_000,
    };
    let spent1 = SpentOutput {
        script_pubkey: Script::p2pkh(&other.public_key().hash160()),
        value: 5_000,
    };
    let keys: Vec<_> = maintainers()
        .iter()
        .map(|k| k.public_key().to_bytes())
        .collect();
    let tx = Transaction {
        version: 1,
        inputs: vec![
            TxIn {
                prevout: OutPoint {
                    txid: Txid([0x11; 32]),
                    vout: 0,
                },
                script_sig: Script::default(),
                sequence: 0xffff_ffff,
            },
            TxIn {
                prevout: OutPoint {
                    txid: Txid([0x22; 32]),
                    vout: 7,
                },
                script_sig: Script::default(),
                sequence: 0xffff_fffe,
            },
        ],
        outputs: vec![
            TxOut {
                value: 30_000,
                script_pubkey: Script::custody(2, &keys).unwrap(),
            },
            TxOut {
                value: 44_000,
                script_pubkey: Script::p2pkh(&funder.public_key().hash160()),
            },
        ],
        lock_time: 0,
    };
    let s0 = chainlock_protocol::testing::sign_unverified_input(&funder, &tx, 0, &spent0).unwrap();
    let s1 = chainlock_protocol::testing::sign_unverified_input(&other, &tx, 1, &spent1).unwrap();
    let pk0 = funder.public_key().to_bytes();
    let pk1 = other.public_key().to_bytes();
    let signed = unlock(&unlock(&tx, 0, &[&s0, &pk0]), 1, &[&s1, &pk1]);
    let mut edited = signed.clone();
    edited.inputs[1].sequence = 0xffff_ffff;
    vec![
        Case::new("P2PKH input 0", signed.clone(), 0, &spent0, true),
        Case::new("P2PKH input 1", signed.clone(), 1, &spent1, true),
        Case::new(
            "P2PKH wrong public key",
            unlock(&signed, 0, &[&s0, &pk1]),
            0,
            &spent0,
            false,
        ),
        Case::new(
            "P2PKH signature for the other input",
            unlock(&signed, 0, &[&s1, &pk0]),
            0,
            &spent0,
            false,
        ),
        Case::new(
            "P2PKH another input's sequence edited",
            edited,
            0,
            &spent0,
            false,
        ),
    ]
}

#[test]
fn checker_and_sdk_agree_on_every_spend() {
    let cases: Vec<Case> = custody_cases().into_iter().chain(p2pkh_cases()).collect();
    let node = ask_sdk(&cases.iter().map(|c| c.json("node")).collect::<Vec<_>>());
    let default = ask_sdk(
        &cases
            .iter()
            .map(|c| c.json("sdk-default"))
            .collect::<Vec<_>>(),
    );
    let mut valid = 0;
    for ((case, node), default) in cases.iter().zip(&node).zip(&default) {
        let ours = check_input(&case.tx, case.input, &case.spent);
        let reason = ours.reason().map(ToString::to_string).unwrap_or_default();
        assert_eq!(
            ours.is_valid(),
            case.valid,
            "{}: checker says {:?} ({reason})",
            case.name,
            ours.is_valid()
        );
        assert_eq!(
            node["valid"], case.valid,
            "{}: @bsv/sdk (node flags) disagrees: {}",
            case.name, node["error"]
        );
        assert_eq!(
            default["valid"], case.valid,
            "{}: @bsv/sdk (default flags) disagrees: {}",
            case.name, default["error"]
        );
        if case.valid {
            valid += 1;
            // Everything the project signs carries ALL|FORKID and passes the protocol's check.
            for (i, sig) in ours.signatures().iter().enumerate() {
                assert_eq!(sig.sighash_type, 0x41, "{} signature {i}", case.name);
            }
        } else {
            assert!(
                node["error"].is_string(),
                "{}: the SDK should say why",
                case.name
            );
        }
    }
    assert_eq!(
        valid, 7,
        "valid cases: 1-of-1, three 2-of-3 pairs, 3-of-3, two P2PKH inputs"
    );
}

#[test]
fn sighash_types_the_node_accepts_but_the_protocol_refuses() {
    let ks = maintainers();
    let spent = custody(2, &ks);
    let tx = record_tx(&spent);
    let s0 = chainlock_protocol::testing::sign_unverified_input(&ks[0], &tx, 0, &spent).unwrap();

    // SINGLE|FORKID (0x43), correctly signed: a defined FORKID type, so the node and the
    // checker accept the script; the checker exposes the type and the protocol's own check
    // (verify_input_signature, used on records) refuses it.
    let d43 = sighash_forkid(&tx, 0, &spent.script_pubkey, spent.value, 0x43).unwrap();
    let s43 = raw_sign(&ks[1], &d43, 0x43, true);
    let single = Case::new(
        "2-of-3 SINGLE|FORKID",
        unlock(&tx, 0, &[&[], &s0, &s43]),
        0,
        &spent,
        true,
    );

    // ALL without FORKID (0x01), correctly signed over the legacy digest, which only the SDK
    // computes here. BSV requires FORKID, so the node refuses it; the SDK without explicit
    // flags does not enforce FORKID and accepts it. That is the SDK being laxer than the
    // chain, and the reason the project's checker, not the SDK's defaults, gates signing.
    let pre = ask_sdk(&[json!({
        "name": "preimage",
        "tx": tx.to_hex(),
        "input": 0,
        "spent": { "script": spent.script_pubkey.to_hex(), "satoshis": spent.value },
        "preimage_scope": 0x01,
    })]);
    let preimage = hex::decode(pre[0]["preimage"].as_str().expect("preimage")).unwrap();
    let s01 = raw_sign(&ks[1], &sha256d(&preimage), 0x01, true);
    let legacy = Case::new(
        "2-of-3 ALL without FORKID",
        unlock(&tx, 0, &[&[], &s0, &s01]),
        0,
        &spent,
        false,
    );

    let cases = [single, legacy];
    let node = ask_sdk(&cases.iter().map(|c| c.json("node")).collect::<Vec<_>>());
    let default = ask_sdk(
        &cases
            .iter()
            .map(|c| c.json("sdk-default"))
            .collect::<Vec<_>>(),
    );

    let ours = check_input(&cases[0].tx, 0, &spent);
    assert!(ours.is_valid(), "{:?}", ours.reason());
    assert_eq!(ours.signatures()[1].sighash_type, 0x43);
    assert_eq!(node[0]["valid"], true, "{}", node[0]["error"]);
    assert_eq!(default[0]["valid"], true, "{}", default[0]["error"]);
    let err = verify_input_signature(&ks[1].public_key(), &s43, &tx, 0, &spent).unwrap_err();
    assert!(err.to_string().contains("0x43"), "{err}");

    let ours = check_input(&cases[1].tx, 0, &spent);
    assert_eq!(
        ours.reason(),
        Some(&Reason::MissingForkId {
            push: 3,
            sighash_type: 0x01
        })
    );
    assert_eq!(node[1]["valid"], false);
    // The SDK raises "must use SIGHASH_FORKID" inside a try block that re-reports every
    // encoding failure as "The signature format is invalid.", so only the verdict is compared.
    assert!(
        node[1]["error"]
            .as_str()
            .unwrap()
            .contains("Script evaluation error"),
        "{}",
        node[1]["error"]
    );
    assert_eq!(
        default[1]["valid"], true,
        "the SDK's defaults accept a no-FORKID signature: {}",
        default[1]["error"]
    );
    // The legacy signature is real: strict DER, low S, and it verifies over the legacy digest.
    assert!(parse_der_strict(&s01[..s01.len() - 1]).is_ok());
}
