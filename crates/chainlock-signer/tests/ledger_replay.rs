//! The Ledger signer against the exchanges recorded from the real Bitcoin Cash app in
//! Speculos (`tests/data/ledger/speculos/`, written by `tests/speculos.rs` with
//! `CHAINLOCK_RECORD_LEDGER=1`), replayed without the emulator: for the same transaction the
//! project sends byte-identical APDUs (trusted input, both BIP143 passes, sighash 0x41), takes
//! the recorded replies, and gets the recorded signatures, which verify over its own digest.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use chainlock_protocol::bsm::{self, StatementKind};
use chainlock_protocol::keys::{self, PublicKey};
use chainlock_protocol::record_tx::RecordTx;
use chainlock_protocol::script::Script;
use chainlock_protocol::tx::{SpentOutput, Transaction};
use chainlock_protocol::verify::ReadyToSign;
use chainlock_signer::ledger::transport::Exchange;
use chainlock_signer::ledger::{DerivationPath, LedgerSigner, Replay};
use chainlock_signer::Signer;
use serde_json::Value;

/// What a signer is handed: a request that passed verification. These tests exercise the
/// signer against the device, not the verification in front of it, so this is the one place
/// that makes the value without a request (test support only).
fn to_sign(tx: RecordTx, funding: Transaction) -> ReadyToSign {
    chainlock_protocol::testing::ready_to_sign_unverified(tx, funding)
}

/// Signs the custody input with the Ledger, through the signing gate and the checked wrapper.
fn ledger_sign(
    signer: &mut LedgerSigner<Replay>,
    what: &ReadyToSign,
) -> chainlock_signer::Result<Vec<u8>> {
    chainlock_signer::sign_input(signer, what)
}

fn transcript(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/ledger/speculos")
        .join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn exchanges(t: &Value) -> Vec<Exchange> {
    t["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| Exchange {
            send: hex::decode(e["send"].as_str().unwrap()).unwrap(),
            recv: hex::decode(e["recv"].as_str().unwrap()).unwrap(),
        })
        .collect()
}

/// A replay of opening the signer (app check, public key) followed by `flow`.
fn replay(flow: &Value, edit: impl FnOnce(&mut Vec<Exchange>)) -> Replay {
    let mut all = exchanges(&transcript("public-key"));
    all.extend(exchanges(flow));
    edit(&mut all);
    Replay::new(all)
}

fn what(t: &Value) -> ReadyToSign {
    let tx = Transaction::from_hex(t["record_tx"].as_str().unwrap()).unwrap();
    let spent = SpentOutput {
        script_pubkey: Script::from(hex::decode(t["spent"]["script"].as_str().unwrap()).unwrap()),
        value: t["spent"]["satoshis"].as_u64().unwrap(),
    };
    to_sign(
        RecordTx::new(tx, spent).unwrap(),
        Transaction::from_hex(t["funding_tx"].as_str().unwrap()).unwrap(),
    )
}

fn open(replay: Replay) -> LedgerSigner<Replay> {
    LedgerSigner::open(replay, DerivationPath::chainlock_default(), false).unwrap()
}

#[test]
fn the_public_key_is_the_one_the_app_gave() {
    let t = transcript("public-key");
    let signer = open(replay(&serde_json::json!({"exchanges": []}), |_| {}));
    assert_eq!(
        signer.identity().public_key,
        PublicKey::from_hex(t["result"].as_str().unwrap()).unwrap()
    );
    assert_eq!(signer.app().name, "Bitcoin Cash");
    assert_eq!(signer.app().version, "2.4.6");
    signer.btchip().transport().finish().unwrap();
}

#[test]
fn a_record_transaction_replays_apdu_for_apdu_and_its_signature_verifies() {
    let t = transcript("record-tx");
    let what = what(&t);
    let mut signer = open(replay(&t, |_| {}));
    let sig = ledger_sign(&mut signer, &what).unwrap();
    assert_eq!(hex::encode(&sig), t["result"].as_str().unwrap());
    assert_eq!(sig.last(), Some(&0x41));
    keys::verify_input_signature(
        &signer.identity().public_key,
        &sig,
        what.record_tx().tx(),
        RecordTx::INPUT_INDEX,
        what.record_tx().spent(),
    )
    .unwrap();
    signer.btchip().transport().finish().unwrap();
    // The device hashed the transaction itself: no APDU carried the digest.
    let digest = what.record_tx().sighash();
    assert!(!exchanges(&t)
        .iter()
        .any(|e| e.send.windows(32).any(|w| w == digest)));
}

#[test]
fn another_transaction_does_not_replay() {
    let t = transcript("record-tx");
    let recorded = what(&t);
    let mut tx = recorded.record_tx().tx().clone();
    tx.outputs[1].value -= 1;
    let what = to_sign(
        RecordTx::new(tx, recorded.record_tx().spent().clone()).unwrap(),
        recorded.funding_tx().clone(),
    );
    let mut signer = open(replay(&t, |_| {}));
    let err = ledger_sign(&mut signer, &what).unwrap_err();
    assert!(
        err.to_string().contains("differs from the recording"),
        "{err}"
    );
}

/// A device whose signature does not verify (a flipped byte in the recorded reply) never
/// gets it used.
#[test]
fn a_tampered_signature_from_the_app_is_discarded() {
    let t = transcript("record-tx");
    let what = what(&t);
    let mut signer = open(replay(&t, |all| {
        let last = all.last_mut().unwrap();
        last.recv[10] ^= 0x01;
    }));
    let err = ledger_sign(&mut signer, &what).unwrap_err();
    assert_eq!(err.kind(), "bad_signature", "{err}");
}

#[test]
fn a_funding_transaction_that_does_not_match_is_refused_before_the_device() {
    let t = transcript("record-tx");
    let recorded = what(&t);
    let mut funding = recorded.funding_tx().clone();
    funding.outputs[1].value += 1;
    let what = to_sign(recorded.record_tx().clone(), funding);
    let mut signer = open(replay(&t, |_| {}));
    let err = ledger_sign(&mut signer, &what).unwrap_err();
    assert_eq!(err.kind(), "funding_mismatch", "{err}");
    assert_eq!(
        signer.btchip().transport().played(),
        2,
        "nothing but opening reached the device"
    );
}

#[test]
fn a_refusal_on_the_device_replays_as_rejected() {
    let t = transcript("record-tx-rejected");
    let what = what(&t);
    let mut signer = open(replay(&t, |_| {}));
    let err = ledger_sign(&mut signer, &what).unwrap_err();
    assert_eq!(err.kind(), "rejected_on_device");
    signer.btchip().transport().finish().unwrap();
}

#[test]
fn statements_replay_and_verify_as_bitcoin_signed_messages() {
    for kind in [StatementKind::Request, StatementKind::Reject] {
        let t = transcript(&format!("statement-{}", kind.as_str()));
        assert_eq!(t["kind"], kind.as_str());
        let digest: [u8; 32] = hex::decode(t["digest"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let mut signer = open(replay(&t, |_| {}));
        let sig = chainlock_signer::sign_statement(&mut signer, kind, &digest).unwrap();
        assert_eq!(sig, t["result"].as_str().unwrap());
        bsm::verify_statement(&signer.identity().public_key, kind, &digest, &sig).unwrap();
        signer.btchip().transport().finish().unwrap();
        // The text the user approves is the statement itself.
        let sent: Vec<u8> = exchanges(&t).iter().flat_map(|e| e.send.clone()).collect();
        assert!(sent.windows(11).any(|w| w == b"chainlock/1"));
    }
}
