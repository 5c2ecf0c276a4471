//! `chainlock tx sign` and `chainlock tx combine` with a keychain key (private gnome-keyring)
//! and a Ledger key (the software Ledger behind Speculos's TCP framing), the combined spend
//! judged by the project's checker and by the @bsv/sdk interpreter (tests/judge/spend.mjs).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use chainlock_protocol::checker::check_input;
use chainlock_protocol::hash::Digest;
use chainlock_protocol::keys::PublicKey;
use chainlock_protocol::record_tx::{self, RecordTx, RecordTxParams};
use chainlock_protocol::script::Script;
use chainlock_protocol::tx::{OutPoint, SpentOutput, Transaction, Txid};
use chainlock_signer::ledger::soft::{serve_speculos, Behaviour};
use chainlock_signer::testing::SecretServiceSession;
use serde_json::{json, Value};

use crate::key::{fails, ok, ok_json, run_in};
use crate::util::workspace_root;

const JUDGE_HINT: &str =
    "run `npm ci --prefix tests/judge` from the workspace root (needs node 18+ and npm)";

fn spend_is_valid_for_the_sdk(tx_hex: &str, spent: &SpentOutput) -> Value {
    let dir: PathBuf = workspace_root().join("tests/judge");
    assert!(
        dir.join("node_modules/@bsv/sdk/package.json").is_file(),
        "@bsv/sdk is not installed: {JUDGE_HINT}"
    );
    let mut child = Command::new("node")
        .arg(dir.join("spend.mjs"))
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run node ({e}): install node 18+ and {JUDGE_HINT}"));
    let cases = json!({"cases": [{"name": "combined", "tx": tx_hex, "input": 0,
        "spent": {"script": spent.script_pubkey.to_hex(), "satoshis": spent.value}, "flags": "node"}]});
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(cases.to_string().as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("node finishes");
    assert!(out.status.success(), "spend.mjs failed");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    v["verdicts"][0].clone()
}

fn record_tx(keys: &[PublicKey], threshold: usize) -> RecordTx {
    let keys: Vec<[u8; 33]> = keys.iter().map(PublicKey::to_bytes).collect();
    record_tx::build(&RecordTxParams {
        custody_outpoint: OutPoint {
            txid: Txid([0x61; 32]),
            vout: 0,
        },
        spent: SpentOutput {
            script_pubkey: Script::custody(threshold, &keys).expect("custody"),
            value: 20_000,
        },
        record_digest: Digest([0x2c; 32]),
        change_pubkey_hash: Some([0x44; 20]),
        fee_sat_per_kb: 50,
    })
    .expect("record transaction")
}

fn spent_arg(tx: &RecordTx) -> String {
    format!("{}:{}", tx.spent().script_pubkey.to_hex(), tx.spent().value)
}

fn public_key(v: &Value) -> PublicKey {
    PublicKey::from_hex(v["public_key"].as_str().expect("public key")).expect("valid key")
}

#[test]
fn keychain_and_ledger_signatures_combine_into_a_spend_the_sdk_accepts() {
    let session = SecretServiceSession::start();
    let alice = ok_json(&session, &["key", "new", "--label", "alice"]);
    let bob = ok_json(&session, &["key", "new", "--label", "bob"]);
    let ledger_addr = serve_speculos(Behaviour::default(), None);
    let ledger = ok_json(&session, &["key", "ledger", "--ledger-tcp", &ledger_addr]);
    assert_eq!(ledger["kind"], "ledger");
    let ledger_uri = ledger["uri"].as_str().expect("uri").to_string();
    assert!(ledger_uri.starts_with("ledger://m/"), "{ledger_uri}");
    let human = ok(&session, &["key", "ledger", "--ledger-tcp", &ledger_addr]);
    assert!(
        human.contains(ledger["key_id"].as_str().expect("id")),
        "{human}"
    );

    let tx = record_tx(
        &[public_key(&alice), public_key(&bob), public_key(&ledger)],
        2,
    );
    let tx_hex = tx.tx().to_hex();
    let spent = spent_arg(&tx);

    let alice_uri = alice["uri"].as_str().expect("uri");
    let sig_alice = ok(
        &session,
        &[
            "tx", "sign", &tx_hex, "--input", "0", "--spent", &spent, "--key", alice_uri,
        ],
    );
    let sig_alice = sig_alice.trim().to_string();
    assert!(sig_alice.ends_with("41"), "DER + ALL|FORKID: {sig_alice}");
    let signed = ok_json(
        &session,
        &[
            "tx",
            "sign",
            &tx_hex,
            "--input",
            "0",
            "--spent",
            &spent,
            "--key",
            &ledger_uri,
            "--ledger-tcp",
            &ledger_addr,
        ],
    );
    assert_eq!(signed["key_id"], ledger["key_id"]);
    assert_eq!(signed["sighash"], hex::encode(tx.sighash()));
    assert_eq!(signed["txid"], tx.tx().txid().to_string());
    let sig_ledger = signed["signature"].as_str().expect("signature").to_string();

    // Combine, in either order: signatures land in key order and the spend is valid.
    let combined = ok(
        &session,
        &[
            "tx",
            "combine",
            &tx_hex,
            "--spent",
            &spent,
            "--sig",
            &sig_ledger,
            "--sig",
            &sig_alice,
        ],
    );
    let signed_tx = Transaction::from_hex(combined.trim()).expect("signed transaction");
    let verdict = check_input(&signed_tx, 0, tx.spent());
    assert!(verdict.is_valid(), "{verdict:?}");
    let verdict = spend_is_valid_for_the_sdk(combined.trim(), tx.spent());
    assert_eq!(verdict["valid"], json!(true), "{verdict}");
    let as_json = ok_json(
        &session,
        &[
            "tx",
            "combine",
            &tx_hex,
            "--spent",
            &spent,
            "--sig",
            &sig_alice,
            &sig_ledger,
        ],
    );
    assert_eq!(as_json["tx"], combined.trim());
    let mut signers = vec![alice["key_id"].clone(), ledger["key_id"].clone()];
    signers.sort_by_key(|k| {
        if *k == alice["key_id"] {
            public_key(&alice).to_bytes()
        } else {
            public_key(&ledger).to_bytes()
        }
    });
    assert_eq!(as_json["signers"], json!(signers));
    assert_eq!(as_json["unused"], json!([]));

    // With all three, the lowest two keys' signatures are used and the third is reported.
    let sig_bob = ok(
        &session,
        &[
            "tx",
            "sign",
            &tx_hex,
            "--spent",
            &spent,
            "--key",
            bob["uri"].as_str().expect("uri"),
        ],
    );
    let all = ok_json(
        &session,
        &[
            "tx",
            "combine",
            &tx_hex,
            "--spent",
            &spent,
            "--sig",
            sig_bob.trim(),
            &sig_alice,
            &sig_ledger,
        ],
    );
    assert_eq!(all["unused"].as_array().expect("unused").len(), 1);
    assert!(check_input(
        &Transaction::from_hex(all["tx"].as_str().expect("tx")).expect("tx"),
        0,
        tx.spent()
    )
    .is_valid());

    // Refusals: too few, the same key twice, a signature for another transaction, not hex.
    let err = fails(
        &session,
        &[
            "tx", "combine", &tx_hex, "--spent", &spent, "--sig", &sig_alice,
        ],
        b"",
    );
    assert!(
        err.contains("1 valid signature(s) by distinct custody keys, 2 required"),
        "{err}"
    );
    let err = fails(
        &session,
        &[
            "tx", "combine", &tx_hex, "--spent", &spent, "--sig", &sig_alice, &sig_alice,
        ],
        b"",
    );
    assert!(err.contains("signed twice"), "{err}");
    let other = record_tx(&[public_key(&alice), public_key(&bob)], 1);
    let sig_other = ok(
        &session,
        &[
            "tx",
            "sign",
            &other.tx().to_hex(),
            "--spent",
            &spent_arg(&other),
            "--key",
            alice_uri,
        ],
    );
    let err = fails(
        &session,
        &[
            "tx",
            "combine",
            &tx_hex,
            "--spent",
            &spent,
            "--sig",
            &sig_ledger,
            sig_other.trim(),
        ],
        b"",
    );
    assert!(
        err.contains("signature 1") && err.contains("none of the custody keys"),
        "{err}"
    );
    let err = fails(
        &session,
        &["tx", "combine", &tx_hex, "--spent", &spent, "--sig", "zz"],
        b"",
    );
    assert!(err.contains("not hex"), "{err}");

    // The Ledger is also reached through CHAINLOCK_LEDGER_TCP.
    let out = crate::util::chainlock()
        .args([
            "tx",
            "sign",
            &tx_hex,
            "--spent",
            &spent,
            "--key",
            &ledger_uri,
        ])
        .envs(session.envs())
        .env("CHAINLOCK_LEDGER_TCP", &ledger_addr)
        .output()
        .expect("chainlock runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        sig_ledger,
        "RFC 6979: the same signature again"
    );
}

#[test]
fn tx_sign_refuses_what_it_must_not_sign() {
    let session = SecretServiceSession::start();
    let alice = ok_json(&session, &["key", "new", "--label", "alice"]);
    let carol = ok_json(&session, &["key", "new", "--label", "carol"]);
    let alice_uri = alice["uri"].as_str().expect("uri");
    let tx = record_tx(&[public_key(&alice)], 1);
    let (tx_hex, spent) = (tx.tx().to_hex(), spent_arg(&tx));

    // A key that is not a custody key of the spent output.
    let err = fails(
        &session,
        &[
            "tx",
            "sign",
            &tx_hex,
            "--spent",
            &spent,
            "--key",
            carol["uri"].as_str().expect("uri"),
        ],
        b"",
    );
    assert!(err.contains("is not one of the 1 custody keys"), "{err}");
    // A transaction outside section 2's shape (version 2).
    let mut v2 = tx.tx().clone();
    v2.version = 2;
    let err = fails(
        &session,
        &[
            "tx",
            "sign",
            &v2.to_hex(),
            "--spent",
            &spent,
            "--key",
            alice_uri,
        ],
        b"",
    );
    assert!(
        err.contains("refusing to sign") && err.contains("version is 2"),
        "{err}"
    );
    // A spent output that is not a custody multisig.
    let p2pkh = format!("{}:20000", Script::p2pkh(&[1; 20]).to_hex());
    let err = fails(
        &session,
        &["tx", "sign", &tx_hex, "--spent", &p2pkh, "--key", alice_uri],
        b"",
    );
    assert!(err.contains("not a custody output"), "{err}");
    // Another input index, a malformed --spent, a bad URI, an unknown key.
    let err = fails(
        &session,
        &[
            "tx", "sign", &tx_hex, "--input", "1", "--spent", &spent, "--key", alice_uri,
        ],
        b"",
    );
    assert!(err.contains("--input 0"), "{err}");
    let err = fails(
        &session,
        &[
            "tx", "sign", &tx_hex, "--spent", "nocolon", "--key", alice_uri,
        ],
        b"",
    );
    assert!(err.contains("<locking script hex>:<satoshis>"), "{err}");
    let err = fails(
        &session,
        &[
            "tx",
            "sign",
            &tx_hex,
            "--spent",
            &spent,
            "--key",
            "file:///etc/passwd",
        ],
        b"",
    );
    assert!(err.contains("invalid key URI"), "{err}");
    let err = fails(
        &session,
        &[
            "tx",
            "sign",
            &tx_hex,
            "--spent",
            &spent,
            "--key",
            &format!("keychain://{}", "0".repeat(64)),
        ],
        b"",
    );
    assert!(
        err.contains("no key") && err.contains("chainlock key list"),
        "{err}"
    );

    // A locked keychain: the signing fails with what to do, and nothing is printed.
    session.lock();
    let out = run_in(
        &session,
        &["tx", "sign", &tx_hex, "--spent", &spent, "--key", alice_uri],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is locked") && err.contains("unlock"), "{err}");
}
