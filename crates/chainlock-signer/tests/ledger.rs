//! The Ledger signer against recorded device exchanges and a software device.
//!
//! - Replays of `shared/vectors/ledger/hw-app-btc-transcripts.json` (exchanges recorded from
//!   real Ledgers in `@ledgerhq/hw-app-btc`'s test suite): for the same inputs the project's
//!   encoder produces byte-identical APDUs, accepts the recorded replies, and the recorded
//!   signatures verify over the project's own BIP143 digest.
//! - Our own error handling through [`SoftLedger`], a software device that parses the APDUs
//!   the way the Bitcoin Cash app does and can be scripted to misbehave: every status word at
//!   every step, another app opened mid-way, a high-S or wrong signature, transport failures
//!   over TCP with Speculos's framing. What the real app does (keys, trusted inputs, the
//!   signing flow, statements, screens, refusals, unplugging) is tested against the app itself
//!   in Speculos (`tests/speculos.rs`) and replayed from its recordings
//!   (`tests/ledger_replay.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chainlock_protocol::bsm::StatementKind;
use chainlock_protocol::encode::Reader;
use chainlock_protocol::hash::sha256;
use chainlock_protocol::keys::{self, SecretKey};
use chainlock_protocol::record_tx::RecordTx;
use chainlock_protocol::script::Script;
use chainlock_protocol::sighash::sighash_forkid;
use chainlock_protocol::tx::{OutPoint, SpentOutput, Transaction, TxIn, TxOut, Txid};
use chainlock_signer::ledger::apdu::{self, HashedInput, InputRef, P2_CONTINUE, P2_NEW_BIP143};
use chainlock_signer::ledger::transport::{TcpTransport, Transport};
use chainlock_signer::ledger::{self, Btchip, DerivationPath, LedgerSigner, Replay};
use chainlock_signer::{Error, OpenOptions, Signer};
use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
use serde_json::Value;

/// The value to sign for a fixed record transaction. These tests exercise the signers
/// themselves, so the request verification in front of them is left out (test support only).
fn ready(tx: &RecordTx) -> chainlock_protocol::verify::ReadyToSign {
    chainlock_protocol::testing::ready_to_sign_unverified(
        tx.clone(),
        funding(tx.spent(), &tx.record_digest().0),
    )
}

/// The transaction that created the custody output `spent` (as output 1) of the record
/// transaction committing to `record_digest`.
fn funding(spent: &SpentOutput, record_digest: &[u8; 32]) -> Transaction {
    Transaction {
        version: 1,
        inputs: vec![TxIn {
            prevout: OutPoint {
                txid: Txid(sha256(record_digest)),
                vout: 0,
            },
            script_sig: Script::from(vec![0x51]),
            sequence: 0xffff_ffff,
        }],
        outputs: vec![
            TxOut {
                value: 1_000,
                script_pubkey: Script::p2pkh(&[0x33; 20]),
            },
            TxOut {
                value: spent.value,
                script_pubkey: spent.script_pubkey.clone(),
            },
        ],
        lock_time: 0,
    }
}

// ---------------------------------------------------------------------------------------
// Recorded transcripts
// ---------------------------------------------------------------------------------------

fn transcripts() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/vectors/ledger/hw-app-btc-transcripts.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}): the shared vectors must sit beside the checkout as ../shared",
            path.display()
        )
    });
    serde_json::from_str(&text).expect("transcripts are JSON")
}

struct Scenario {
    exchanges: Vec<(String, String)>,
    literals: Vec<String>,
    paths: Vec<String>,
}

fn scenario(name: &str) -> Scenario {
    let all = transcripts();
    let s = &all[name];
    assert!(
        s.is_object(),
        "scenario {name:?} is missing from the transcripts"
    );
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .expect("array")
            .iter()
            .map(|x| x.as_str().expect("string").to_string())
            .collect()
    };
    Scenario {
        exchanges: s["exchanges"]
            .as_array()
            .expect("exchanges")
            .iter()
            .map(|e| {
                (
                    e["send"].as_str().unwrap().to_string(),
                    e["recv"].as_str().unwrap().to_string(),
                )
            })
            .collect(),
        literals: strings(&s["hex_literals_in_call"]),
        paths: strings(&s["paths_in_call"]),
    }
}

impl Scenario {
    fn replay(&self) -> Replay {
        Replay::from_hex(self.exchanges.iter().map(|(s, r)| (s.as_str(), r.as_str()))).unwrap()
    }

    fn sends(&self) -> Vec<String> {
        self.exchanges.iter().map(|(s, _)| s.clone()).collect()
    }
}

/// A transaction in segwit or legacy serialization, as its legacy encoding and its witnesses
/// (BSV has no witnesses; the BTC transcripts do, and the Ledger hashes the legacy part).
fn strip_witness(hex_tx: &str) -> (Transaction, Vec<Vec<Vec<u8>>>) {
    let raw = hex::decode(hex_tx).unwrap();
    if raw.get(4..6) != Some(&[0x00, 0x01]) {
        return (Transaction::decode(&raw).unwrap(), Vec::new());
    }
    let mut body = raw[..4].to_vec();
    body.extend_from_slice(&raw[6..]);
    let mut r = Reader::new(&body, "segwit transaction");
    let mut tx = Transaction::decode_from(&mut r).unwrap();
    // The legacy decoder took the first 4 witness bytes as the lock time: read the witnesses
    // from where the outputs ended, then the real lock time.
    let witness_start = r.position() - 4;
    let mut r = Reader::new(&body[witness_start..], "witnesses");
    let mut witnesses = Vec::new();
    for _ in 0..tx.inputs.len() {
        let n = r.varint("witness items").unwrap();
        witnesses.push(
            (0..n)
                .map(|_| r.var_bytes("witness item").unwrap().to_vec())
                .collect(),
        );
    }
    tx.lock_time = u32::from_le_bytes(r.array("lock time").unwrap());
    r.finish().unwrap();
    (tx, witnesses)
}

fn outputs_from_stream(hex_stream: &str) -> Vec<TxOut> {
    let tx = Transaction::from_hex(&format!("0100000000{hex_stream}00000000")).unwrap();
    tx.outputs
}

fn path(text: &str) -> DerivationPath {
    DerivationPath::parse(text).unwrap()
}

fn verify_prehash(pk: &[u8], digest: &[u8; 32], sig: &Signature) -> bool {
    VerifyingKey::from_sec1_bytes(pk)
        .unwrap()
        .verify_prehash(digest, sig)
        .is_ok()
}

/// `btc sign p2sh seg`: a 1-of-2 multisig input in BIP143 mode, sighash 01. The closest
/// recorded flow to ours; the encoder is the production one with another sighash byte.
#[test]
fn replay_btc_sign_p2sh_seg_and_verify_over_our_bip143_digest() {
    let s = scenario("btc sign p2sh seg");
    let prev = Transaction::from_hex(&s.literals[0]).unwrap();
    let redeem = Script::from_hex(&s.literals[1]).unwrap();
    let outputs = outputs_from_stream(&s.literals[2]);
    let amount = prev.outputs[0].value;
    let input = TxIn {
        prevout: OutPoint {
            txid: prev.txid(),
            vout: 0,
        },
        script_sig: Script::default(),
        sequence: 0xffff_ffff,
    };
    let tx = Transaction {
        version: 1,
        inputs: vec![input.clone()],
        outputs: outputs.clone(),
        lock_time: 0,
    };
    let named = InputRef::Amount {
        outpoint: input.prevout,
        amount,
    };

    let mut btchip = Btchip::new(s.replay());
    btchip
        .hash_input_start(
            1,
            &[HashedInput {
                input: named.clone(),
                script: Script::default(),
                sequence: input.sequence,
            }],
            P2_NEW_BIP143,
        )
        .unwrap();
    btchip.hash_outputs(&outputs, None).unwrap();
    btchip
        .hash_input_start(
            1,
            &[HashedInput {
                input: named,
                script: redeem.clone(),
                sequence: input.sequence,
            }],
            P2_CONTINUE,
        )
        .unwrap();
    let sig = btchip.hash_sign(&path(&s.paths[0]), 0, 0x01).unwrap();
    btchip.transport().finish().unwrap();

    let mut der = sig.signature.to_der().as_bytes().to_vec();
    der.push(0x01);
    assert_eq!(
        hex::encode(&der),
        s.literals[3],
        "the recorded signature, as hw-app-btc returned it"
    );
    let digest = sighash_forkid(&tx, 0, &redeem, amount, 0x01).unwrap();
    let first_key = &redeem.as_bytes()[2..35];
    assert!(
        verify_prehash(first_key, &digest, &sig.signature),
        "the recorded signature verifies over our digest"
    );
    let other = sighash_forkid(&tx, 0, &redeem, amount + 1, 0x01).unwrap();
    assert!(
        !verify_prehash(first_key, &other, &sig.signature),
        "and over nothing else"
    );
}

/// Regression guard for the replay itself: the production flow (sighash 0x41) must not pass
/// against a recording made with sighash 01, and the failure must say where.
#[test]
fn replay_refuses_an_apdu_that_differs_from_the_recording() {
    let s = scenario("btc sign p2sh seg");
    let prev = Transaction::from_hex(&s.literals[0]).unwrap();
    let redeem = Script::from_hex(&s.literals[1]).unwrap();
    let outputs = outputs_from_stream(&s.literals[2]);
    let named = InputRef::Amount {
        outpoint: OutPoint {
            txid: prev.txid(),
            vout: 0,
        },
        amount: prev.outputs[0].value,
    };
    let mut btchip = Btchip::new(s.replay());
    btchip
        .hash_input_start(
            1,
            &[HashedInput {
                input: named.clone(),
                script: Script::default(),
                sequence: !0,
            }],
            P2_NEW_BIP143,
        )
        .unwrap();
    btchip.hash_outputs(&outputs, None).unwrap();
    btchip
        .hash_input_start(
            1,
            &[HashedInput {
                input: named,
                script: redeem,
                sequence: !0,
            }],
            P2_CONTINUE,
        )
        .unwrap();
    let err = btchip.hash_sign(&path(&s.paths[0]), 0, 0x41).unwrap_err();
    assert_eq!(err.kind(), "transport");
    let msg = err.to_string();
    assert!(
        msg.contains("APDU 9 differs from the recording at byte 23"),
        "{msg}"
    );
    assert!(
        msg.contains("e04800001303800000000000000000000000000000000041"),
        "{msg}"
    );
}

/// `btc seg multi`: two P2SH-P2WPKH inputs, one first pass, two signing passes; the second
/// reply starts with 0x31 (R's y odd), which must be reset to 0x30.
#[test]
fn replay_btc_seg_multi_with_its_parity_byte() {
    let s = scenario("btc seg multi");
    let (prev0, _) = strip_witness(&s.literals[0]);
    let (prev1, _) = strip_witness(&s.literals[1]);
    let (signed, witnesses) = strip_witness(&s.literals[3]);
    assert_eq!(
        hex::encode(apdu::outputs_stream(&signed.outputs)),
        s.literals[2]
    );
    let prevs = [prev0, prev1];
    let amounts: Vec<u64> = signed
        .inputs
        .iter()
        .map(|i| {
            let prev = prevs
                .iter()
                .find(|p| p.txid() == i.prevout.txid)
                .expect("previous transaction given");
            prev.outputs[i.prevout.vout as usize].value
        })
        .collect();
    let named: Vec<InputRef> = signed
        .inputs
        .iter()
        .zip(&amounts)
        .map(|(i, a)| InputRef::Amount {
            outpoint: i.prevout,
            amount: *a,
        })
        .collect();
    let key_path = path(&s.paths[0]);

    let mut btchip = Btchip::new(s.replay());
    let app = btchip.app_and_version().unwrap();
    assert_eq!(
        (app.name.as_str(), app.version.as_str()),
        ("Bitcoin", "1.3.22")
    );
    let key = btchip.wallet_public_key(&key_path, false).unwrap();
    assert_eq!(btchip.wallet_public_key(&key_path, false).unwrap(), key);
    assert_eq!(
        key.public_key.to_hex(),
        hex::encode(&witnesses[0][1]),
        "the key the witness carries"
    );
    let script_code = Script::p2pkh(&key.public_key.hash160());

    let first: Vec<HashedInput> = signed
        .inputs
        .iter()
        .zip(&named)
        .map(|(i, n)| HashedInput {
            input: n.clone(),
            script: Script::default(),
            sequence: i.sequence,
        })
        .collect();
    btchip
        .hash_input_start(signed.version, &first, P2_NEW_BIP143)
        .unwrap();
    btchip.hash_outputs(&signed.outputs, None).unwrap();
    let mut sigs = Vec::new();
    for (i, input) in signed.inputs.iter().enumerate() {
        let pass = [HashedInput {
            input: named[i].clone(),
            script: script_code.clone(),
            sequence: input.sequence,
        }];
        btchip
            .hash_input_start(signed.version, &pass, P2_CONTINUE)
            .unwrap();
        sigs.push(btchip.hash_sign(&key_path, signed.lock_time, 0x01).unwrap());
    }
    btchip.transport().finish().unwrap();

    assert!(
        !sigs[0].y_odd && sigs[1].y_odd,
        "the second reply carried the parity bit"
    );
    for (i, sig) in sigs.iter().enumerate() {
        let mut der = sig.signature.to_der().as_bytes().to_vec();
        der.push(0x01);
        assert_eq!(
            der, witnesses[i][0],
            "input {i}: the signature in the signed transaction"
        );
        let digest = sighash_forkid(&signed, i, &script_code, amounts[i], 0x01).unwrap();
        assert!(
            verify_prehash(&key.public_key.to_bytes(), &digest, &sig.signature),
            "input {i} verifies over our digest"
        );
        // Recovering with the parity the device reported gives back its key.
        let recid = RecoveryId::new(sig.y_odd, false);
        let recovered = VerifyingKey::recover_from_prehash(&digest, &sig.signature, recid).unwrap();
        assert_eq!(
            recovered.to_encoded_point(true).as_bytes(),
            key.public_key.to_bytes()
        );
    }
}

/// `transaction on btc – nano s 1.6.0 – native segwit`: the trusted-input flow (E0 42), the
/// change path, and outputs over two chunks, APDU for APDU.
#[test]
fn replay_trusted_input_flow_byte_for_byte() {
    let s = scenario("transaction on btc – nano s 1.6.0 – native segwit");
    let (prev, _) = strip_witness(&s.literals[0]);
    let (signed, witnesses) = strip_witness(&s.literals[2]);
    assert_eq!(
        hex::encode(apdu::outputs_stream(&signed.outputs)),
        s.literals[1]
    );
    let vout = signed.inputs[0].prevout.vout;
    assert_eq!(signed.inputs[0].prevout.txid, prev.txid());

    let trusted = apdu::get_trusted_input(&prev, vout).unwrap();
    let sends = s.sends();
    let encoded: Vec<String> = trusted.iter().map(apdu::Apdu::to_hex).collect();
    assert_eq!(
        encoded,
        sends[1..1 + trusted.len()],
        "GET_TRUSTED_INPUT APDUs"
    );

    let key_path = path(&s.paths[0]);
    let change_path = path(&s.paths[1]);
    let mut btchip = Btchip::new(s.replay());
    btchip.app_and_version().unwrap();
    let trusted_input = btchip.trusted_input(&trusted).unwrap();
    assert_eq!(trusted_input.len(), 56);
    assert_eq!(
        &trusted_input[4..36],
        &prev.txid().0,
        "the trusted input names the previous transaction"
    );
    let key = btchip.wallet_public_key(&key_path, false).unwrap();
    let script_code = Script::p2pkh(&key.public_key.hash160());
    let named = InputRef::Trusted(trusted_input);
    let seq = signed.inputs[0].sequence;
    btchip
        .hash_input_start(
            1,
            &[HashedInput {
                input: named.clone(),
                script: Script::default(),
                sequence: seq,
            }],
            P2_NEW_BIP143,
        )
        .unwrap();
    btchip
        .hash_outputs(&signed.outputs, Some(&change_path))
        .unwrap();
    btchip
        .hash_input_start(
            1,
            &[HashedInput {
                input: named,
                script: script_code.clone(),
                sequence: seq,
            }],
            P2_CONTINUE,
        )
        .unwrap();
    let sig = btchip.hash_sign(&key_path, 0, 0x01).unwrap();
    btchip.transport().finish().unwrap();

    let mut der = sig.signature.to_der().as_bytes().to_vec();
    der.push(0x01);
    assert_eq!(der, witnesses[0][0]);
    let digest = sighash_forkid(
        &signed,
        0,
        &script_code,
        prev.outputs[vout as usize].value,
        0x01,
    )
    .unwrap();
    assert!(verify_prehash(
        &key.public_key.to_bytes(),
        &digest,
        &sig.signature
    ));
}

/// `signMessage` and `btc 4`: SIGN_MESSAGE APDUs and DER replies (one with the parity bit).
#[test]
fn replay_sign_message() {
    for (name, message) in [("signMessage", &b"foobar"[..]), ("btc 4", &b"test"[..])] {
        let s = scenario(name);
        let mut btchip = Btchip::new(s.replay());
        let sig = btchip.sign_message(&path(&s.paths[0]), message).unwrap();
        btchip.transport().finish().unwrap();
        let (r, sv) = sig.signature.split_bytes();
        let (r, sv) = (hex::encode(r), hex::encode(sv));
        assert_eq!(
            (r.as_str(), sv.as_str()),
            (s.literals[0].as_str(), s.literals[1].as_str()),
            "{name}"
        );
    }
}

/// `btc.getWalletPublicKey`: the uncompressed key, the address and the chain code.
#[test]
fn replay_get_wallet_public_key() {
    let s = scenario("btc.getWalletPublicKey");
    let mut btchip = Btchip::new(s.replay());
    let key = btchip.wallet_public_key(&path(&s.paths[0]), false).unwrap();
    btchip.transport().finish().unwrap();
    assert_eq!(hex::encode(key.chain_code), s.literals[0]);
    let uncompressed =
        VerifyingKey::from_sec1_bytes(&hex::decode(&s.literals[1]).unwrap()).unwrap();
    assert_eq!(
        key.public_key.to_bytes(),
        uncompressed.to_encoded_point(true).as_bytes()
    );
    assert_eq!(key.address, "13KE6TffArLh4fVM6uoQzvsYq5vwetJcVM");
}

// ---------------------------------------------------------------------------------------
// A software Ledger running the Bitcoin Cash app
// ---------------------------------------------------------------------------------------

// The software device: the library's test-support module (this crate's dev-dependency on
// itself turns the feature on for its tests).
use chainlock_signer::ledger::soft::{
    serve_speculos, soft_public_key, ApduLog, Behaviour, SoftLedger,
};

/// A record transaction whose custody includes the soft device's key at the default path.
fn record_tx(record_digest: [u8; 32], with_change: bool) -> RecordTx {
    let device = soft_public_key(&DerivationPath::chainlock_default());
    let others = [
        SecretKey::from_bytes(&[7; 32]).unwrap().public_key(),
        SecretKey::from_bytes(&[9; 32]).unwrap().public_key(),
    ];
    let custody = Script::custody(
        2,
        &[
            device.to_bytes(),
            others[0].to_bytes(),
            others[1].to_bytes(),
        ],
    )
    .unwrap();
    let spent = SpentOutput {
        script_pubkey: custody,
        value: 20_000,
    };
    let mut outputs = vec![TxOut {
        value: 0,
        script_pubkey: Script::commitment(&record_digest),
    }];
    if with_change {
        outputs.push(TxOut {
            value: 19_500,
            script_pubkey: Script::p2pkh(&[0x42; 20]),
        });
    }
    let tx = Transaction {
        version: 1,
        inputs: vec![TxIn {
            prevout: OutPoint {
                txid: funding(&spent, &record_digest).txid(),
                vout: 1,
            },
            script_sig: Script::default(),
            sequence: 0xffff_ffff,
        }],
        outputs,
        lock_time: 0,
    };
    RecordTx::new(tx, spent).unwrap()
}

fn soft_signer(script: Behaviour) -> (LedgerSigner<SoftLedger>, ApduLog, Arc<Mutex<usize>>) {
    let device = SoftLedger::new(script);
    let (log, odd) = (device.log(), device.odd_replies());
    (
        LedgerSigner::open(device, DerivationPath::chainlock_default(), false).unwrap(),
        log,
        odd,
    )
}

#[test]
fn a_high_s_signature_from_the_device_is_made_low_before_use() {
    let (mut signer, _, _) = soft_signer(Behaviour {
        high_s: true,
        ..Default::default()
    });
    let tx = record_tx([5; 32], true);
    let sig = chainlock_signer::sign_input(&mut signer, &ready(&tx)).unwrap();
    let parsed = keys::parse_der_strict(&sig[..sig.len() - 1]).unwrap();
    assert!(keys::is_low_s(&parsed));
    keys::verify_input_signature(&signer.identity().public_key, &sig, tx.tx(), 0, tx.spent())
        .unwrap();
}

/// A device that signs anything but what the host computed (faulty, tampered with, or fed a
/// different transaction by malware on the host) never gets its signature used.
#[test]
fn a_signature_over_another_digest_is_discarded() {
    let (mut signer, _, _) = soft_signer(Behaviour {
        wrong_digest: true,
        ..Default::default()
    });
    let err =
        chainlock_signer::sign_input(&mut signer, &ready(&record_tx([6; 32], true))).unwrap_err();
    assert_eq!(err.kind(), "bad_signature", "{err}");
    let err = chainlock_signer::sign_statement(&mut signer, StatementKind::Request, &[6; 32])
        .unwrap_err();
    assert_eq!(err.kind(), "bad_signature", "{err}");
    assert!(
        err.to_string().contains("chainlock/1 request 0606"),
        "{err}"
    );
}

#[test]
fn refuses_to_sign_for_a_key_outside_the_custody() {
    let device = SoftLedger::new(Behaviour::default());
    let log = device.log();
    let mut signer = LedgerSigner::open(device, path("m/45'/236'/1'/0/0"), false).unwrap();
    let before = log.lock().unwrap().len();
    let err = signer
        .sign_input(&ready(&record_tx([1; 32], true)))
        .unwrap_err();
    assert_eq!(err.kind(), "not_custody_key");
    assert_eq!(
        log.lock().unwrap().len(),
        before,
        "nothing was sent to the device"
    );
}

#[test]
fn refuses_any_app_but_bitcoin_cash() {
    for app in ["Bitcoin", "Ethereum", "BOLOS"] {
        let device = SoftLedger::new(Behaviour {
            app: Some(app.into()),
            ..Default::default()
        });
        let err = LedgerSigner::open(device, DerivationPath::chainlock_default(), false)
            .err()
            .unwrap();
        match &err {
            Error::WrongApp { name, version } => {
                assert_eq!((name.as_str(), version.as_str()), (app, "2.2.4"))
            }
            other => panic!("{app}: {other}"),
        }
        assert!(
            err.to_string().contains(&format!("has {app} 2.2.4 open")),
            "{err}"
        );
    }
}

/// Every status word the device can answer, at the step where it answers it, and the error
/// the user sees.
#[test]
fn every_status_word_maps_to_its_error() {
    let cases: &[(Behaviour, &str, &str)] = &[
        (
            Behaviour {
                fail: Some((0x01, 0x5515)),
                ..Default::default()
            },
            "device_locked",
            "open",
        ),
        (
            Behaviour {
                fail: Some((0x40, 0x6982)),
                ..Default::default()
            },
            "device_locked",
            "open",
        ),
        (
            Behaviour {
                fail: Some((0x40, 0x6985)),
                ..Default::default()
            },
            "rejected_on_device",
            "open",
        ),
        (
            Behaviour {
                fail: Some((0x01, 0x6e00)),
                ..Default::default()
            },
            "wrong_app",
            "open",
        ),
        (
            Behaviour {
                fail: Some((0x42, 0x6982)),
                ..Default::default()
            },
            "device_locked",
            "sign",
        ),
        (
            Behaviour {
                fail: Some((0x44, 0x6982)),
                ..Default::default()
            },
            "device_locked",
            "sign",
        ),
        (
            Behaviour {
                fail: Some((0x4a, 0x6985)),
                ..Default::default()
            },
            "rejected_on_device",
            "sign",
        ),
        (
            Behaviour {
                fail: Some((0x48, 0x6985)),
                ..Default::default()
            },
            "rejected_on_device",
            "sign",
        ),
        (
            Behaviour {
                fail: Some((0x4a, 0x6a80)),
                ..Default::default()
            },
            "unsupported_output",
            "sign",
        ),
        (
            Behaviour {
                fail: Some((0x4a, 0x6f0f)),
                ..Default::default()
            },
            "unsupported_output",
            "sign",
        ),
        (
            Behaviour {
                fail: Some((0x48, 0x6a80)),
                ..Default::default()
            },
            "device_status",
            "sign",
        ),
        (
            Behaviour {
                fail: Some((0x44, 0x6b00)),
                ..Default::default()
            },
            "device_status",
            "sign",
        ),
        // The Bitcoin Cash app itself does not know a command: too old or too new for us.
        (
            Behaviour {
                fail: Some((0x44, 0x6d00)),
                ..Default::default()
            },
            "device_status",
            "sign",
        ),
        (
            Behaviour {
                fail: Some((0x48, 0x6d02)),
                ..Default::default()
            },
            "device_status",
            "sign",
        ),
        (
            Behaviour {
                fail: Some((0x44, 0x6700)),
                ..Default::default()
            },
            "device_status",
            "sign",
        ),
        (
            Behaviour {
                fail: Some((0x48, 0x6f00)),
                ..Default::default()
            },
            "device_status",
            "sign",
        ),
        (
            Behaviour {
                fail: Some((0x48, 0x6faa)),
                ..Default::default()
            },
            "disconnected",
            "sign",
        ),
        (
            Behaviour {
                switch_app_at: Some(0x44),
                ..Default::default()
            },
            "wrong_app",
            "sign",
        ),
        (
            Behaviour {
                disconnect_at: Some(0x4a),
                ..Default::default()
            },
            "disconnected",
            "sign",
        ),
        (
            Behaviour {
                fail: Some((0x4e, 0x6985)),
                ..Default::default()
            },
            "rejected_on_device",
            "statement",
        ),
        (
            Behaviour {
                fail: Some((0x4e, 0x6982)),
                ..Default::default()
            },
            "device_locked",
            "statement",
        ),
        (
            Behaviour {
                switch_app_at: Some(0x4e),
                ..Default::default()
            },
            "wrong_app",
            "statement",
        ),
    ];
    for (script, kind, step) in cases {
        let label = format!(
            "{kind} at {step} ({:?} {:?} {:?})",
            script.fail, script.switch_app_at, script.disconnect_at
        );
        let device = SoftLedger::new(script.clone());
        let opened = LedgerSigner::open(device, DerivationPath::chainlock_default(), false);
        let err = match (*step, opened) {
            ("open", Err(e)) => e,
            ("open", Ok(_)) => panic!("{label}: opened"),
            ("sign", Ok(mut s)) => s.sign_input(&ready(&record_tx([2; 32], true))).unwrap_err(),
            ("statement", Ok(mut s)) => s
                .sign_statement(StatementKind::Request, &[2; 32])
                .unwrap_err(),
            (_, Err(e)) => panic!("{label}: open failed: {e}"),
            (other, Ok(_)) => panic!("unknown step {other}"),
        };
        assert_eq!(err.kind(), *kind, "{label}: {err}");
        if *kind == "wrong_app" && script.switch_app_at.is_some() {
            assert!(
                err.to_string().contains("has Ethereum 2.2.4 open"),
                "{label}: {err}"
            );
        }
        if *kind == "unsupported_output" {
            assert!(err.to_string().contains("output 0"), "{label}: {err}");
        }
        if *kind == "device_status" {
            let sw = format!("{:#06x}", script.fail.unwrap().1);
            assert!(err.to_string().contains(&sw), "{label}: {err}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Speculos's TCP framing
// ---------------------------------------------------------------------------------------

#[test]
fn speculos_transport_failures_are_distinct_errors() {
    // Nobody listening: no device.
    let unused = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let options = OpenOptions {
        ledger_tcp: Some(unused),
        ..Default::default()
    };
    assert_eq!(
        ledger::open("", &options).err().unwrap().kind(),
        "no_device"
    );

    // The emulator goes away mid-signing: disconnected.
    let addr = serve_speculos(Behaviour::default(), Some(5));
    let options = OpenOptions {
        ledger_tcp: Some(addr),
        ..Default::default()
    };
    let mut signer = ledger::open("", &options).unwrap();
    let err = signer
        .sign_input(&ready(&record_tx([1; 32], true)))
        .unwrap_err();
    assert_eq!(err.kind(), "disconnected", "{err}");

    // The emulator accepts but never answers: timeout.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let hold = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        std::thread::sleep(Duration::from_secs(3));
        drop(conn);
    });
    let mut t = TcpTransport::connect(&addr, Duration::from_secs(1)).unwrap();
    let err = t.exchange(&apdu::get_app_and_version().bytes).unwrap_err();
    assert_eq!(err.kind(), "timeout", "{err}");
    assert!(err.to_string().contains("within 1 s"), "{err}");
    hold.join().unwrap();
}

#[test]
fn usb_without_a_ledger_is_no_device() {
    // CI machines have no Ledger on USB; a developer with one plugged in sets this to skip.
    if std::env::var_os("CHAINLOCK_TEST_LEDGER_CONNECTED").is_some() {
        return;
    }
    let err = ledger::open("", &OpenOptions::default()).err().unwrap();
    assert_eq!(err.kind(), "no_device", "{err}");
}

#[test]
fn uri_paths_are_checked_before_any_device_is_touched() {
    let err = ledger::open("m/45'/x", &OpenOptions::default())
        .err()
        .unwrap();
    assert_eq!(err.kind(), "invalid_uri");
}
