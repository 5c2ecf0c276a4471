//! The keychain signer against a real Secret Service: a private `gnome-keyring-daemon` on a
//! private session bus (`chainlock_signer::testing`), with statement signatures judged by
//! @bsv/sdk's BSM code and combined custody spends judged by the @bsv/sdk interpreter.
//!
//! libdbus reads the session bus address once per process, so this binary runs one test
//! that walks through the scenarios in order against one keyring, locking it last.
//! Needs gnome-keyring, dbus and gdbus (apt-get install -y gnome-keyring dbus dbus-x11
//! libglib2.0-bin), node 18+ and `npm ci --prefix tests/judge` from the workspace root.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use chainlock_protocol::bsm::{self, StatementKind};
use chainlock_protocol::hash::Digest;
use chainlock_protocol::keys::{PublicKey, SecretKey};
use chainlock_protocol::record_tx::{self, RecordTx, RecordTxParams};
use chainlock_protocol::script::Script;
use chainlock_protocol::tx::{OutPoint, SpentOutput, Transaction, Txid};
use chainlock_signer::keychain::{self, Keychain};
use chainlock_signer::testing::{secret_encodings, SecretServiceSession};
use chainlock_signer::OpenOptions;
use serde_json::{json, Value};

/// The value to sign for a fixed record transaction. These tests exercise the signers
/// themselves, so the request verification in front of them is left out (test support only).
fn ready(tx: &RecordTx) -> chainlock_protocol::verify::ReadyToSign {
    chainlock_protocol::testing::ready_to_sign_unverified(
        tx.clone(),
        Transaction {
            version: 1,
            inputs: vec![],
            outputs: vec![],
            lock_time: 0,
        },
    )
}

const JUDGE_HINT: &str =
    "run `npm ci --prefix tests/judge` from the workspace root (needs node 18+ and npm)";

fn judge(script: &str, cases: Value) -> Vec<Value> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/judge");
    assert!(
        dir.join("node_modules/@bsv/sdk/package.json").is_file(),
        "@bsv/sdk is not installed: {JUDGE_HINT}"
    );
    let mut child = Command::new("node")
        .arg(dir.join(script))
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run node ({e}): install node 18+ (apt-get install -y nodejs) and {JUDGE_HINT}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(json!({ "cases": cases }).to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{script} failed");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["verdicts"].as_array().unwrap().clone()
}

fn record_tx(keys: &[PublicKey], threshold: usize) -> RecordTx {
    let keys: Vec<[u8; 33]> = keys.iter().map(PublicKey::to_bytes).collect();
    record_tx::build(&RecordTxParams {
        custody_outpoint: OutPoint {
            txid: Txid([0x42; 32]),
            vout: 1,
        },
        spent: SpentOutput {
            script_pubkey: Script::custody(threshold, &keys).unwrap(),
            value: 5_000,
        },
        record_digest: Digest([0x17; 32]),
        change_pubkey_hash: Some([0x33; 20]),
        fee_sat_per_kb: 100,
    })
    .unwrap()
}

/// The secret bytes the keychain holds for a key, read directly (test-only).
fn stored_secret(key_id: &str) -> Vec<u8> {
    keyring::Entry::new(keychain::SERVICE, key_id)
        .unwrap()
        .get_secret()
        .unwrap()
}

#[test]
fn keychain_signer_against_a_real_secret_service() {
    let session = SecretServiceSession::start();
    for (name, value) in session.envs() {
        std::env::set_var(name, value);
    }
    let store = Keychain::new(Some(session.config_dir())).unwrap();
    let options = OpenOptions {
        config_dir: Some(session.config_dir()),
        ..OpenOptions::default()
    };
    let mut secrets: Vec<Vec<u8>> = Vec::new();

    // Create and list.
    assert!(store.list().unwrap().is_empty());
    let alice = store.generate("alice laptop").unwrap();
    let bob = store.generate("bob").unwrap();
    assert_eq!(alice.key_id, alice.public_key.key_id());
    let listed = store.list().unwrap();
    assert_eq!(listed, vec![alice.clone(), bob.clone()]);
    assert_eq!(store.find(&alice.key_id[..12]).unwrap(), alice);
    store.check(&alice).unwrap();
    secrets.push(stored_secret(&alice.key_id));
    secrets.push(stored_secret(&bob.key_id));
    assert_eq!(
        SecretKey::from_bytes(&secrets[0].clone().try_into().unwrap())
            .unwrap()
            .public_key(),
        alice.public_key,
        "the keychain holds the secret of the listed key"
    );
    let index = std::fs::read_to_string(store.index_path()).unwrap();
    assert!(index.contains(&alice.key_id) && index.contains("alice laptop"));

    // Sign a statement; BSM verify here and with @bsv/sdk.
    let mut signer = chainlock_signer::open(&alice.uri(), &options).unwrap();
    assert_eq!(signer.identity().label, "alice laptop");
    assert_eq!(
        signer.identity().uri,
        format!("keychain://{}", alice.key_id)
    );
    let digest = [0xa5; 32];
    let statement =
        chainlock_signer::sign_statement(signer.as_mut(), StatementKind::Request, &digest).unwrap();
    bsm::verify_statement(
        &alice.public_key,
        StatementKind::Request,
        &digest,
        &statement,
    )
    .unwrap();
    assert!(
        bsm::verify_statement(&bob.public_key, StatementKind::Request, &digest, &statement)
            .is_err()
    );
    let reject =
        chainlock_signer::sign_statement(signer.as_mut(), StatementKind::Reject, &digest).unwrap();
    let verdicts = judge(
        "bsm-verify.mjs",
        json!([
            {"name": "request", "message": bsm::statement_text(StatementKind::Request, &digest),
             "signature": statement, "public_key": alice.public_key.to_hex()},
            {"name": "reject", "message": bsm::statement_text(StatementKind::Reject, &digest),
             "signature": reject, "public_key": alice.public_key.to_hex()},
            {"name": "wrong kind", "message": bsm::statement_text(StatementKind::Reject, &digest),
             "signature": statement, "public_key": alice.public_key.to_hex()},
            {"name": "wrong key", "message": bsm::statement_text(StatementKind::Request, &digest),
             "signature": statement, "public_key": bob.public_key.to_hex()},
        ]),
    );
    let valid: Vec<bool> = verdicts
        .iter()
        .map(|v| v["valid"].as_bool().unwrap())
        .collect();
    assert_eq!(valid, [true, true, false, false], "{verdicts:?}");

    // Co-sign a 2-of-3 custody input with two keychain keys; combine; judge with @bsv/sdk.
    let carol = store.generate("carol").unwrap();
    secrets.push(stored_secret(&carol.key_id));
    let tx = record_tx(&[alice.public_key, bob.public_key, carol.public_key], 2);
    let sig_alice = chainlock_signer::sign_input(signer.as_mut(), &ready(&tx)).unwrap();
    assert_eq!(sig_alice.last(), Some(&0x41));
    let mut carol_signer = chainlock_signer::open(&carol.uri(), &options).unwrap();
    let sig_carol = chainlock_signer::sign_input(carol_signer.as_mut(), &ready(&tx)).unwrap();
    let combined = chainlock_signer::combine(&tx, &[sig_carol.clone(), sig_alice.clone()]).unwrap();
    let mut expected_order = vec![alice.public_key, carol.public_key];
    expected_order.sort();
    assert_eq!(combined.signers, expected_order);
    let verdicts = judge(
        "spend.mjs",
        json!([{"name": "keychain 2-of-3", "tx": combined.tx.tx().to_hex(), "input": 0,
                "spent": {"script": tx.spent().script_pubkey.to_hex(), "satoshis": tx.spent().value},
                "flags": "node"}]),
    );
    assert_eq!(verdicts[0]["valid"], json!(true), "{verdicts:?}");
    assert_eq!(
        chainlock_signer::combine(&tx, std::slice::from_ref(&sig_alice))
            .unwrap_err()
            .kind(),
        "insufficient_signatures"
    );
    assert_eq!(
        chainlock_signer::combine(&tx, &[sig_alice.clone(), sig_alice.clone()])
            .unwrap_err()
            .kind(),
        "duplicate_signature"
    );

    // A key that is not a custody key is refused before anything is signed.
    let dave = store.generate("dave").unwrap();
    secrets.push(stored_secret(&dave.key_id));
    let mut dave_signer = chainlock_signer::open(&dave.uri(), &options).unwrap();
    assert_eq!(
        chainlock_signer::sign_input(dave_signer.as_mut(), &ready(&tx))
            .unwrap_err()
            .kind(),
        "not_custody_key"
    );
    // Dave's signature on another transaction is unknown to this one.
    let dave_tx = record_tx(&[dave.public_key, alice.public_key], 1);
    let sig_dave = chainlock_signer::sign_input(dave_signer.as_mut(), &ready(&dave_tx)).unwrap();
    assert_eq!(
        chainlock_signer::combine(&tx, &[sig_alice.clone(), sig_dave])
            .unwrap_err()
            .kind(),
        "unknown_signature"
    );

    // Import: hex and WIF; a second import of the same key is refused.
    let imported = SecretKey::generate();
    let hex_secret = hex::encode(imported.to_bytes().as_slice());
    secrets.push(imported.to_bytes().to_vec());
    let info = store
        .import(
            keychain::parse_secret(&format!("  {hex_secret}\n")).unwrap(),
            "imported",
        )
        .unwrap();
    assert_eq!(info.public_key, imported.public_key());
    let again = store
        .import(keychain::parse_secret(&hex_secret).unwrap(), "again")
        .unwrap_err();
    assert_eq!(again.kind(), "key_exists");
    // With the index lost, importing the key again puts it back in the index.
    let index_path = store.index_path();
    let saved_index = std::fs::read(&index_path).unwrap();
    std::fs::remove_file(&index_path).unwrap();
    let relisted = store
        .import(keychain::parse_secret(&hex_secret).unwrap(), "relisted")
        .unwrap();
    assert_eq!(relisted.key_id, info.key_id);
    assert_eq!(store.list().unwrap(), vec![relisted]);
    std::fs::write(&index_path, saved_index).unwrap();
    let wif_key =
        keychain::parse_secret("KwdMAjGmerYanjeui5SHS7JkmpZvVipYvB2LJGU1ZxJwYvP98617").unwrap();
    secrets.push(wif_key.to_bytes().to_vec());
    let wif_info = store.import(wif_key, "from wif").unwrap();
    let mut wif_signer = chainlock_signer::open(&wif_info.uri(), &options).unwrap();
    let sig =
        chainlock_signer::sign_statement(wif_signer.as_mut(), StatementKind::Request, &digest)
            .unwrap();
    bsm::verify_statement(&wif_info.public_key, StatementKind::Request, &digest, &sig).unwrap();

    // Missing entries: an unknown id, and an indexed key removed from the keychain behind
    // our back (the index says it exists; signing says it does not).
    let unknown = "0".repeat(64);
    let err = chainlock_signer::open(&format!("keychain://{unknown}"), &options)
        .err()
        .unwrap();
    assert_eq!(err.kind(), "key_not_found");
    assert!(err.to_string().contains("chainlock key list"), "{err}");
    keyring::Entry::new(keychain::SERVICE, &bob.key_id)
        .unwrap()
        .delete_credential()
        .unwrap();
    let mut bob_signer = chainlock_signer::open(&bob.uri(), &options).unwrap();
    let err =
        chainlock_signer::sign_statement(bob_signer.as_mut(), StatementKind::Request, &digest)
            .unwrap_err();
    assert_eq!(err.kind(), "key_not_found");
    assert_eq!(store.check(&bob).unwrap_err().kind(), "key_not_found");

    // Delete: gone from the index and the keychain; deleting again finds nothing.
    assert_eq!(store.delete(&dave.key_id).unwrap().key_id, dave.key_id);
    assert!(!store
        .list()
        .unwrap()
        .iter()
        .any(|k| k.key_id == dave.key_id));
    assert_eq!(
        keyring::Entry::new(keychain::SERVICE, &dave.key_id)
            .unwrap()
            .get_secret()
            .unwrap_err()
            .to_string(),
        keyring::Error::NoEntry.to_string()
    );
    assert_eq!(
        store.delete(&dave.key_id).unwrap_err().kind(),
        "key_not_found"
    );
    assert_eq!(
        chainlock_signer::sign_input(dave_signer.as_mut(), &ready(&dave_tx))
            .unwrap_err()
            .kind(),
        "key_not_found"
    );
    // Bob is indexed but not in the keychain: delete cleans the index.
    store.delete(&bob.key_id).unwrap();
    assert!(!store.list().unwrap().iter().any(|k| k.key_id == bob.key_id));

    // A locked keyring: signing fails with KeychainLocked and says what to do; so does
    // creating a key; listing (the index) still works.
    session.lock();
    let err = chainlock_signer::sign_input(signer.as_mut(), &ready(&tx)).unwrap_err();
    assert_eq!(err.kind(), "keychain_locked", "{err}");
    assert!(err.to_string().contains("unlock"), "{err}");
    let err = chainlock_signer::sign_statement(signer.as_mut(), StatementKind::Request, &digest)
        .unwrap_err();
    assert_eq!(err.kind(), "keychain_locked", "{err}");
    let err = store.generate("while locked").unwrap_err();
    assert_eq!(err.kind(), "keychain_locked", "{err}");
    assert_eq!(store.list().unwrap().len(), 4);

    // No secret reached any file under the home, runtime, data or config directories.
    let needles: Vec<Vec<u8>> = secrets.iter().flat_map(|s| secret_encodings(s)).collect();
    let hits = session.files_containing(&needles);
    assert!(hits.is_empty(), "secret key material found in {hits:?}");
    // The scan itself can fail: a file holding a secret's hex is found.
    let canary = session.root().join("home/canary");
    std::fs::write(&canary, format!("x{}y", hex::encode(&secrets[0]))).unwrap();
    assert_eq!(session.files_containing(&needles), vec![canary]);
}
