//! Signing requests end to end: a request built the way a publisher builds one, then every
//! way it can be wrong, each caught by the check named for it.
//!
//! The scenarios are also committed as fixtures under `tests/data/requests/<scenario>/` for
//! the CLI tests and for people to try; `fixtures_are_current` fails when they drift
//! (regenerate with `CHAINLOCK_UPDATE_FIXTURES=1 cargo test -p chainlock-protocol --test requests`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use chainlock_protocol::bsm::StatementKind;
use chainlock_protocol::hash::Digest;
use chainlock_protocol::keys::SecretKey;
use chainlock_protocol::policy::Policy;
use chainlock_protocol::record::{Artifact, Ecosystem, ProtocolVersion, Record, Release, Source};
use chainlock_protocol::record_tx::{self, FeeBounds, RecordTxParams};
use chainlock_protocol::request::{CustodyOutput, SigningRequest};
use chainlock_protocol::script::{Builder, Script};
use chainlock_protocol::tx::{OutPoint, SpentOutput, Transaction, TxIn, TxOut, Txid};
use chainlock_protocol::verify::{check, verify_request, Context, Status};

/// Fixed "now" of the fixtures (2026-11-21T00:00:00Z).
const NOW: u64 = 1_795_219_200;

fn maintainer(i: u8) -> SecretKey {
    SecretKey::from_bytes(&[i; 32]).unwrap()
}

fn policy() -> Policy {
    Policy::new(
        (1..=3).map(|i| maintainer(i).public_key()).collect(),
        2,
        // Real Ed25519 points (the public keys of RFC 8032's tests 1 to 3), so that the
        // builder-agreement check evaluates the fixtures rather than refusing the policy.
        vec![
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a".into(),
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c".into(),
            "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025".into(),
        ],
        2,
        86_400,
    )
    .unwrap()
}

/// A top-up transaction: the publisher's P2PKH funding key creates a custody output.
fn funding_tx(custody: &Script, value: u64) -> Transaction {
    let funder = SecretKey::from_bytes(&[0x42; 32]).unwrap();
    let funder_script = Script::p2pkh(&funder.public_key().hash160());
    let mut tx = Transaction {
        version: 1,
        inputs: vec![TxIn {
            prevout: OutPoint {
                txid: Txid([0x11; 32]),
                vout: 0,
            },
            script_sig: Script::default(),
            sequence: 0xffff_ffff,
        }],
        outputs: vec![
            TxOut {
                value,
                script_pubkey: custody.clone(),
            },
            TxOut {
                value: 90_000,
                script_pubkey: funder_script.clone(),
            },
        ],
        lock_time: 0,
    };
    let spent = SpentOutput {
        script_pubkey: funder_script,
        value: 100_000 + value,
    };
    let sig = funder.sign_input(&tx, 0, &spent).unwrap();
    let mut b = Builder::new();
    b.push(&sig).push(&funder.public_key().to_bytes());
    tx.inputs[0].script_sig = b.into_script();
    tx
}

fn release(policy: &Policy) -> Record {
    Record::Release(Release {
        protocol: ProtocolVersion::V1,
        ecosystem: Ecosystem::Npm,
        package: "left-pad".into(),
        version: "1.4.0".into(),
        source: Source {
            repository: "https://example.org/left-pad.git".into(),
            tag: "v1.4.0".into(),
            commit: "5f1c2a9e8b7d6c5b4a39281706f5e4d3c2b1a098".into(),
            base_commit: "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567".into(),
        },
        artifact: Artifact {
            name: "left-pad-1.4.0.tgz".into(),
            size: 2817,
            sha256: Digest([0xa7; 32]),
        },
        diff_digest: Digest([0xd1; 32]),
        attestation_digest: Digest([0xa1; 32]),
        policy_digest: policy.digest().unwrap(),
        previous: Digest([0x9e; 32]),
    })
}

/// A request as the publisher (maintainer 1) makes it, with `edit` applied before signing.
fn request_with(edit: impl FnOnce(&mut SigningRequest, &Policy)) -> SigningRequest {
    let policy = policy();
    let custody = policy.custody_script().unwrap();
    let funding = funding_tx(&custody, 10_000);
    let record = release(&policy);
    let rtx = record_tx::build(&RecordTxParams {
        custody_outpoint: OutPoint {
            txid: funding.txid(),
            vout: 0,
        },
        spent: SpentOutput {
            script_pubkey: custody.clone(),
            value: 10_000,
        },
        record_digest: record.digest().unwrap(),
        change_pubkey_hash: Some(maintainer(1).public_key().hash160()),
        fee_sat_per_kb: 100,
    })
    .unwrap();
    let mut req = SigningRequest {
        protocol: ProtocolVersion::V1,
        record,
        policy: policy.clone(),
        attestations: vec![],
        transaction: rtx.tx().to_hex(),
        custody: CustodyOutput {
            funding_tx: funding.to_hex(),
            vout: 0,
            locking_script: custody.to_hex(),
            satoshis: 10_000,
        },
        created_at: NOW - 600,
        expires_at: NOW + 7 * 86_400,
        publisher: maintainer(1).public_key(),
        signature: None,
    };
    edit(&mut req, &policy);
    sign(&mut req, &maintainer(1));
    req
}

fn sign(req: &mut SigningRequest, key: &SecretKey) {
    req.signature = None;
    let id = req.id().unwrap();
    req.signature = Some(key.sign_statement(StatementKind::Request, &id.0));
}

fn ctx() -> Context {
    Context {
        now: NOW,
        trusted_policy: Some(policy().digest().unwrap()),
        fee_bounds: FeeBounds::default(),
    }
}

fn status(req: &SigningRequest, id: &str) -> Status {
    let v = verify_request(req, &ctx());
    v.report
        .get(id)
        .unwrap_or_else(|| panic!("no check {id}"))
        .status
}

/// Every scenario: name, the request, and the checks that must fail (all others must not).
fn scenarios() -> Vec<(&'static str, SigningRequest, Vec<&'static str>)> {
    let valid = request_with(|_, _| {});
    let mut tampered = valid.clone();
    if let Record::Release(r) = &mut tampered.record {
        r.version = "1.4.1".into();
    }
    vec![
        ("valid", valid.clone(), vec![]),
        // Edited after the publisher signed: the signature and the commitment both break.
        (
            "tampered-record",
            tampered,
            vec![check::PUBLISHER_SIGNATURE, check::COMMITMENT],
        ),
        // Re-signed after the edit, but the transaction still commits to the old record.
        (
            "wrong-commitment",
            request_with(|r, _| {
                if let Record::Release(rel) = &mut r.record {
                    rel.artifact.sha256 = Digest([0xee; 32]);
                }
            }),
            vec![check::COMMITMENT],
        ),
        (
            "expired",
            request_with(|r, _| r.expires_at = NOW - 1),
            vec![check::EXPIRY],
        ),
        (
            "outsider-publisher",
            {
                let mut r = valid.clone();
                r.publisher = SecretKey::from_bytes(&[0x77; 32]).unwrap().public_key();
                sign(&mut r, &SecretKey::from_bytes(&[0x77; 32]).unwrap());
                r
            },
            vec![check::PUBLISHER_SIGNATURE],
        ),
        (
            "foreign-custody",
            request_with(|r, p| {
                // Custody of other keys: the funding tx, the spent script and the input agree
                // with each other, but not with the policy.
                let other = Script::custody(
                    1,
                    &[SecretKey::from_bytes(&[0x55; 32])
                        .unwrap()
                        .public_key()
                        .to_bytes()],
                )
                .unwrap();
                let funding = funding_tx(&other, 10_000);
                let rtx = record_tx::build(&RecordTxParams {
                    custody_outpoint: OutPoint {
                        txid: funding.txid(),
                        vout: 0,
                    },
                    spent: SpentOutput {
                        script_pubkey: other.clone(),
                        value: 10_000,
                    },
                    record_digest: r.record.digest().unwrap(),
                    change_pubkey_hash: Some([1; 20]),
                    fee_sat_per_kb: 100,
                })
                .unwrap();
                let _ = p;
                r.transaction = rtx.tx().to_hex();
                r.custody = CustodyOutput {
                    funding_tx: funding.to_hex(),
                    vout: 0,
                    locking_script: other.to_hex(),
                    satoshis: 10_000,
                };
            }),
            vec![check::CUSTODY_INPUT],
        ),
        (
            "fee-too-high",
            request_with(|r, _| {
                let mut tx = Transaction::from_hex(&r.transaction).unwrap();
                tx.outputs.truncate(1); // drop the change: all 10,000 satoshis become fee
                r.transaction = tx.to_hex();
            }),
            vec![check::FEE],
        ),
        (
            "not-a-record-transaction",
            request_with(|r, _| {
                let mut tx = Transaction::from_hex(&r.transaction).unwrap();
                tx.version = 2;
                r.transaction = tx.to_hex();
            }),
            vec![
                check::TRANSACTION_SHAPE,
                check::CUSTODY_INPUT,
                check::COMMITMENT,
                check::FEE,
            ],
        ),
        (
            "policy-mismatch",
            request_with(|r, _| {
                if let Record::Release(rel) = &mut r.record {
                    rel.policy_digest = Digest([0x01; 32]);
                }
                // Keep the transaction committing to the edited record.
                let mut tx = Transaction::from_hex(&r.transaction).unwrap();
                tx.outputs[0].script_pubkey = Script::commitment(&r.record.digest().unwrap().0);
                r.transaction = tx.to_hex();
            }),
            vec![check::RECORD_POLICY],
        ),
    ]
}

#[test]
fn each_scenario_fails_exactly_its_checks() {
    for (name, req, failing) in scenarios() {
        let v = verify_request(&req, &ctx());
        for c in &v.report.checks {
            let expect_fail = failing.contains(&c.id.as_str());
            assert_eq!(
                c.status == Status::Failed,
                expect_fail,
                "{name}: check {} was {:?}: {}\n{}",
                c.id,
                c.status,
                c.detail,
                v.report
            );
        }
        for id in &failing {
            assert!(v.report.get(id).is_some(), "{name}: {id} not in the report");
        }
        assert_eq!(v.report.no_failures(), failing.is_empty(), "{name}");
    }
}

#[test]
fn a_valid_request_is_not_ready_until_diff_and_builders_are_checked() {
    let req = request_with(|_, _| {});
    let mut v = verify_request(&req, &ctx());
    assert!(v.report.no_failures(), "{}", v.report);
    assert!(!v.report.ready_to_sign());
    assert!(
        v.ready_record_tx().is_none(),
        "a record tx was handed out before every check ran"
    );
    assert_eq!(
        v.report.get(check::DIFF_DIGEST).unwrap().status,
        Status::NotRun
    );
    v.report
        .record(check::DIFF_DIGEST, "diff", Ok("same".into()));
    v.report
        .record(check::BUILDER_AGREEMENT, "builders", Ok("2 of 2".into()));
    assert!(v.report.ready_to_sign());
    let rtx = v.ready_record_tx().unwrap();
    assert_eq!(rtx.record_digest(), req.record.digest().unwrap());
}

#[test]
fn without_a_trusted_policy_the_policy_check_does_not_run() {
    let req = request_with(|_, _| {});
    let v = verify_request(
        &req,
        &Context {
            trusted_policy: None,
            ..ctx()
        },
    );
    assert_eq!(
        v.report.get(check::POLICY_IN_FORCE).unwrap().status,
        Status::NotRun
    );
    let other = Context {
        trusted_policy: Some(Digest([3; 32])),
        ..ctx()
    };
    assert_eq!(
        verify_request(&req, &other)
            .report
            .get(check::POLICY_IN_FORCE)
            .unwrap()
            .status,
        Status::Failed
    );
}

#[test]
fn request_id_excludes_the_signature_and_round_trips() {
    let req = request_with(|_, _| {});
    let id = req.id().unwrap();
    let json = req.to_canonical_json().unwrap();
    let back = SigningRequest::from_json(&json).unwrap();
    assert_eq!(back.id().unwrap(), id);
    let mut unsigned = req.clone();
    unsigned.signature = None;
    assert_eq!(unsigned.id().unwrap(), id);
    assert!(!String::from_utf8(req.signed_bytes().unwrap())
        .unwrap()
        .contains("\"signature\""));
    assert_eq!(
        status(&unsigned, check::PUBLISHER_SIGNATURE),
        Status::Failed
    );
}

#[test]
fn unknown_fields_are_refused() {
    let req = request_with(|_, _| {});
    let mut v: serde_json::Value =
        serde_json::from_slice(&req.to_canonical_json().unwrap()).unwrap();
    v["note"] = serde_json::json!("trust me");
    let err = SigningRequest::from_json(v.to_string().as_bytes()).unwrap_err();
    assert!(err.to_string().contains("unknown field"), "{err}");
}

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/requests")
}

#[test]
fn fixtures_are_current() {
    let update = std::env::var_os("CHAINLOCK_UPDATE_FIXTURES").is_some();
    let trusted = policy().digest().unwrap().to_hex() + "\n";
    let mut files = vec![(
        fixtures_dir().join("trusted-policy-digest"),
        trusted.into_bytes(),
    )];
    for (name, req, _) in scenarios() {
        let mut json = serde_json::to_vec_pretty(&req).unwrap();
        json.push(b'\n');
        files.push((fixtures_dir().join(name).join("request.json"), json));
    }
    for (path, want) in files {
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &want).unwrap();
        }
        let have = std::fs::read(&path).unwrap_or_default();
        assert!(
            have == want,
            "{} is stale: regenerate with CHAINLOCK_UPDATE_FIXTURES=1",
            path.display()
        );
    }
}
