//! The ARC backend against a fake ARC on 127.0.0.1 that checks every request and response
//! against arc.yaml and judges every transaction with @bsv/sdk: a release broadcast, mined
//! and verified offline; idempotent broadcasts; refusals with ARC's reasons; retries; the
//! API key; and our requests equal, field by field, those of @bsv/sdk's own `ARC`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use chainlock_chain::arc::{ArcChain, ArcClient, ArcConfig};
use chainlock_chain::{Broadcast, Chain, Error, TxStatus};
use chainlock_protocol::tx::{OutPoint, SpentOutput, Transaction, TxOut};
use chainlock_spv::bundle::{verify_chain, Bundle};
use chainlock_spv::Beef;
use serde_json::{json, Value};

use crate::arc_server::FakeArc;
use crate::util::*;

fn config(url: &str) -> ArcConfig {
    let mut c = ArcConfig::new(url);
    c.backoff = Duration::from_millis(10);
    c.deployment_id = "chainlock-test".into();
    c
}

/// A funded world: the server knows the faucet output the funder spends.
fn funded(arc: &FakeArc, w: &World) -> (Transaction, SpentOutput) {
    let (outpoint, output) = w.faucet(CUSTODY_VALUE * 3 + 1_000);
    arc.know(outpoint, output.clone());
    let script = w.policy.custody_script().unwrap();
    let topup = w.topup(
        &(outpoint, output.clone()),
        (0..3)
            .map(|_| TxOut {
                value: CUSTODY_VALUE,
                script_pubkey: script.clone(),
            })
            .collect(),
    );
    (
        topup,
        SpentOutput {
            script_pubkey: output.script_pubkey,
            value: output.value,
        },
    )
}

fn custody(topup: &Transaction, vout: u32) -> Custody {
    Custody {
        outpoint: OutPoint {
            txid: topup.txid(),
            vout,
        },
        spent: SpentOutput {
            script_pubkey: topup.outputs[vout as usize].script_pubkey.clone(),
            value: CUSTODY_VALUE,
        },
    }
}

#[test]
fn a_release_goes_through_arc_is_mined_and_verifies_offline() {
    let arc = FakeArc::start();
    let w = World::new();
    let chain = ArcChain::new(config(&arc.url)).unwrap();
    assert!(chain.describe().contains("ARC at http://127.0.0.1"));
    assert_eq!(chain.client().policy().unwrap().sat_per_kb(), 1);

    let (topup, funding) = funded(&arc, &w);
    // The top-up in the extended format (the spent output given), the records raw.
    let b = chain
        .client()
        .broadcast_tx(&topup, Some(&[funding]))
        .unwrap();
    assert_eq!(b, Broadcast::Accepted { txid: topup.txid() });
    let genesis = w.genesis_of(&w.policy);
    let tx = record_tx(
        &custody(&topup, 0),
        &genesis,
        &w.maintainers[..2],
        ALL_FORKID,
    );
    assert_eq!(
        chain.broadcast(&tx, Some(&genesis)).unwrap(),
        Broadcast::Accepted { txid: tx.txid() }
    );
    // Idempotent: the same transaction again is not an error, and not sent again.
    let posts = arc.posts().len();
    assert_eq!(
        chain.broadcast(&tx, Some(&genesis)).unwrap(),
        Broadcast::AlreadyKnown { txid: tx.txid() }
    );
    assert_eq!(arc.posts().len(), posts);
    // A record that is not the committed one is refused before anything is sent.
    let other = w.release_on(genesis.digest().unwrap(), &w.policy, "9.9.9");
    assert!(matches!(
        chain.broadcast(&tx, Some(&other)),
        Err(Error::RecordMismatch { .. })
    ));
    assert_eq!(chain.tx_status(&tx.txid()).unwrap(), TxStatus::Accepted);
    assert!(chain.merkle_path(&tx.txid()).unwrap().is_none());

    let height = arc.mine();
    assert!(
        matches!(chain.tx_status(&tx.txid()).unwrap(), TxStatus::Mined { height: h, .. } if h == height)
    );
    let beef = Beef::of_proven(vec![
        (
            topup.clone(),
            chain.merkle_path(&topup.txid()).unwrap().unwrap(),
        ),
        (tx.clone(), chain.merkle_path(&tx.txid()).unwrap().unwrap()),
    ]);
    let bundle = Bundle {
        record_json: genesis.canonical_bytes().unwrap(),
        tx: tx.clone(),
        beef,
    };
    let report = verify_chain(&[bundle], &arc.headers(), &genesis.digest().unwrap()).unwrap();
    assert_eq!(report.chain.len(), 1, "{report:?}");

    // A double spend: another record on the same custody output, refused with the competitor.
    let release = w.release_on(genesis.digest().unwrap(), &w.policy, "1.0.0");
    let twin = record_tx(
        &custody(&topup, 0),
        &release,
        &w.maintainers[1..],
        ALL_FORKID,
    );
    let err = chain
        .broadcast(&twin, Some(&release))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("DOUBLE_SPEND_ATTEMPTED") && err.contains(&tx.txid().to_string()),
        "{err}"
    );
    // A bad signature: the @bsv/sdk judge on the server refuses it, and we show ARC's reason.
    let mut bad = record_tx(
        &custody(&topup, 1),
        &release,
        &w.maintainers[1..],
        ALL_FORKID,
    );
    let mut script = bad.inputs[0].script_sig.as_bytes().to_vec();
    let n = script.len();
    script[n - 10] ^= 1;
    bad.inputs[0].script_sig = chainlock_protocol::script::Script::from(script);
    let err = chain
        .broadcast(&bad, Some(&release))
        .unwrap_err()
        .to_string();
    assert!(err.contains("ARC refused") && err.contains("461"), "{err}");
    assert!(matches!(
        chain.record_chain(&w.package),
        Err(Error::Unsupported { .. })
    ));

    assert_eq!(arc.violations(), Vec::<String>::new());
}

#[test]
fn network_failures_are_retried_with_backoff_then_say_what_failed() {
    let arc = FakeArc::start();
    let client = ArcClient::new(config(&arc.url)).unwrap();
    arc.state.lock().unwrap().drop_next = 2;
    assert!(client.policy().is_ok(), "the third attempt succeeds");
    arc.state.lock().unwrap().drop_next = 10;
    let err = client.policy().unwrap_err().to_string();
    assert!(
        err.contains("GET /v1/policy failed after 4 attempt(s)"),
        "{err}"
    );
    // Nothing listening: the same, naming the server.
    let dead = ArcClient::new(config("http://127.0.0.1:9")).unwrap();
    let err = dead.policy().unwrap_err().to_string();
    assert!(
        err.contains("http://127.0.0.1:9") && err.contains("4 attempt"),
        "{err}"
    );
    assert!(matches!(
        ArcClient::new(ArcConfig::new("ftp://x")),
        Err(Error::ArcUrl { .. })
    ));
    assert_eq!(arc.violations(), Vec::<String>::new());
}

#[test]
fn the_api_key_is_sent_as_a_bearer_token() {
    let arc = FakeArc::start();
    arc.state.lock().unwrap().api_key = Some("k3y".into());
    let err = ArcClient::new(config(&arc.url))
        .unwrap()
        .policy()
        .unwrap_err()
        .to_string();
    assert!(err.contains("API key"), "{err}");
    let mut c = config(&arc.url);
    c.api_key = Some("k3y".into());
    assert!(ArcClient::new(c).unwrap().policy().is_ok());
    assert_eq!(arc.violations(), Vec::<String>::new());
}

#[test]
fn our_requests_equal_those_of_the_sdk_arc_broadcaster() {
    let arc = FakeArc::start();
    arc.state.lock().unwrap().api_key = Some("k3y".into());
    let w = World::new();
    let (topup, funding) = funded(&arc, &w);
    let (faucet_tx, _) = w
        .ledger
        .history()
        .unwrap()
        .into_iter()
        .find(|(t, _)| t.txid() == topup.inputs[0].prevout.txid)
        .unwrap();
    let mut c = config(&arc.url);
    c.api_key = Some("k3y".into());
    let client = ArcClient::new(c).unwrap();
    client.broadcast_tx(&topup, Some(&[funding])).unwrap();
    let ours = arc.posts().pop().unwrap();

    // The SDK broadcasts the same transaction, its parent attached (so it sends EF too).
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/judge");
    let mut child = Command::new("node")
        .arg("arc-broadcast.mjs")
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input = json!({"url": arc.url, "apiKey": "k3y", "deploymentId": "chainlock-test",
                       "tx": topup.to_hex(), "sources": [faucet_tx.to_hex()]});
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["status"], "success", "{result}");
    let sdk = arc.posts().pop().unwrap();

    assert_eq!(ours.method, sdk.method);
    assert_eq!(ours.path, sdk.path);
    for header in [
        "Content-Type",
        "XDeployment-ID",
        "Authorization",
        "X-CallbackUrl",
        "X-CallbackToken",
    ] {
        assert_eq!(ours.header(header), sdk.header(header), "{header}");
    }
    let (a, b): (Value, Value) = (
        serde_json::from_slice(&ours.body).unwrap(),
        serde_json::from_slice(&sdk.body).unwrap(),
    );
    assert_eq!(a, b, "the body, field by field");
    assert!(
        a["rawTx"].as_str().unwrap()[8..20].eq("0000000000ef"),
        "extended format"
    );
    // Every header either sends that the other does not is transport detail only.
    let names = |r: &crate::arc_server::HttpRequest| -> Vec<String> {
        r.headers
            .iter()
            .map(|(k, _)| k.to_lowercase())
            .filter(|k| k.starts_with('x') || k == "authorization" || k == "content-type")
            .collect()
    };
    let (mut na, mut nb) = (names(&ours), names(&sdk));
    na.sort();
    nb.sort();
    assert_eq!(na, nb);
    assert_eq!(arc.violations(), Vec::<String>::new());
}

#[test]
fn the_document_checker_can_say_no() {
    use crate::arc_server::{Doc, HttpRequest};
    let doc = Doc::load();
    let ok = json!({"timestamp": "2027-01-01T00:00:00Z", "txid": "ab", "txStatus": "MINED", "status": 200, "title": "OK"});
    assert!(doc.check_response("POST", "/v1/tx", 200, &ok).is_ok());
    let mut bad = ok.clone();
    bad["txStatus"] = json!("FINE");
    assert!(doc.check_response("POST", "/v1/tx", 200, &bad).is_err());
    let mut missing = ok.clone();
    missing.as_object_mut().unwrap().remove("txid");
    assert!(doc.check_response("POST", "/v1/tx", 200, &missing).is_err());
    assert!(doc.check_response("POST", "/v1/tx", 299, &ok).is_err());
    let policy = json!({"timestamp": "x", "policy": {"maxscriptsizepolicy": 1, "maxtxsigopscountspolicy": 1,
        "maxtxsizepolicy": 1, "miningFee": {"satoshis": 1, "bytes": 1}, "extra": 1}});
    assert!(doc
        .check_response("GET", "/v1/policy", 200, &policy)
        .is_err());
    let req = |headers: Vec<(&str, &str)>, body: &str| HttpRequest {
        method: "POST".into(),
        path: "/v1/tx".into(),
        headers: headers
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.as_bytes().to_vec(),
    };
    assert!(doc
        .check_request(&req(
            vec![("Content-Type", "application/json")],
            r#"{"rawTx":"00"}"#
        ))
        .is_ok());
    assert!(doc
        .check_request(&req(
            vec![("Content-Type", "application/json")],
            r#"{"tx":"00"}"#
        ))
        .is_err());
    assert!(doc
        .check_request(&req(vec![("Content-Type", "application/xml")], ""))
        .is_err());
    assert!(doc
        .check_request(&req(
            vec![("Content-Type", "application/json"), ("X-Made-Up", "1")],
            r#"{"rawTx":"00"}"#
        ))
        .is_err());
    assert!(doc
        .check_request(&req(
            vec![
                ("Content-Type", "application/json"),
                ("X-SkipFeeValidation", "maybe")
            ],
            r#"{"rawTx":"00"}"#
        ))
        .is_err());
    assert!(doc
        .check_request(&req(
            vec![
                ("Content-Type", "application/json"),
                ("Authorization", "Basic x")
            ],
            r#"{"rawTx":"00"}"#
        ))
        .is_err());
}

#[test]
fn a_transaction_goes_as_beef_with_its_unconfirmed_parent() {
    use chainlock_chain::arc::Submission;
    use chainlock_spv::{BeefTx, BeefVersion};
    let arc = FakeArc::start();
    let w = World::new();
    let (topup, _) = funded(&arc, &w);
    let parent = w
        .ledger
        .history()
        .unwrap()
        .into_iter()
        .find(|(t, _)| t.txid() == topup.inputs[0].prevout.txid)
        .unwrap()
        .0;
    let beef = Beef {
        version: BeefVersion::V1,
        bumps: vec![],
        txs: vec![
            BeefTx::Raw {
                tx: parent,
                bump: None,
            },
            BeefTx::Raw {
                tx: topup.clone(),
                bump: None,
            },
        ],
    };
    let client = ArcClient::new(config(&arc.url)).unwrap();
    let (status, answer) = client
        .submit(&topup.txid(), &Submission::Beef(beef.encode().unwrap()))
        .unwrap();
    assert_eq!(answer.txid, topup.txid().to_string());
    assert!(!status.is_refusal(), "{status:?}");
    let body: Value = serde_json::from_slice(&arc.posts().pop().unwrap().body).unwrap();
    assert!(
        body["rawTx"].as_str().unwrap().starts_with("0100beef"),
        "{body}"
    );
    // The record on it then goes raw: ARC knows its parent now.
    let genesis = w.genesis_of(&w.policy);
    let tx = record_tx(
        &custody(&topup, 0),
        &genesis,
        &w.maintainers[..2],
        ALL_FORKID,
    );
    let chain = ArcChain::new(config(&arc.url)).unwrap();
    assert_eq!(
        chain.broadcast(&tx, Some(&genesis)).unwrap(),
        Broadcast::Accepted { txid: tx.txid() }
    );
    assert_eq!(arc.violations(), Vec::<String>::new());
}
