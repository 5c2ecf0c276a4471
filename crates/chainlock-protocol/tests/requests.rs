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
use chainlock_protocol::record::{
    Artifact, Ecosystem, ProtocolVersion, Record, Release, Source, EMPTY_TREE,
};
use chainlock_protocol::record_tx::{self, FeeBounds, RecordTxParams};
use chainlock_protocol::request::{CustodyOutput, SigningRequest};
use chainlock_protocol::script::{Builder, Script};
use chainlock_protocol::tx::{OutPoint, SpentOutput, Transaction, TxIn, TxOut, Txid};
use chainlock_protocol::verify::{
    verify_request, BuilderEvidence, CheckId, Context, CustodyState, DiffEvidence, KnownRecord,
    Status,
};

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
    let sig = chainlock_protocol::testing::sign_unverified_input(&funder, &tx, 0, &spent).unwrap();
    let mut b = Builder::new();
    b.push(&sig).push(&funder.public_key().to_bytes());
    tx.inputs[0].script_sig = b.into_script();
    tx
}

/// The package's record chain as the co-signer knows it: genesis, then release 1.3.0.
fn known_chain() -> Vec<KnownRecord> {
    chainlock_protocol::testing::sample_record_chain(&policy()).unwrap()
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
        previous: known_chain()[1].digest,
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
    let mut req = SigningRequest::new(
        record,
        policy.clone(),
        vec![],
        &rtx,
        &funding,
        NOW - 600,
        NOW + 6 * 86_400,
        maintainer(1).public_key(),
    )
    .unwrap();
    edit(&mut req, &policy);
    sign(&mut req, &maintainer(1));
    req
}

fn sign(req: &mut SigningRequest, key: &SecretKey) {
    req.signature = None;
    let id = req.id().unwrap();
    req.signature = Some(key.sign_statement(StatementKind::Request, &id.0));
}

/// What the co-signer's machine knows for a request: the chain above, the request's custody
/// output unspent, no final, no rejection of its own.
fn ctx_for(req: &SigningRequest) -> Context {
    let outpoint = Transaction::from_hex(&req.transaction)
        .map(|tx| tx.inputs[0].prevout)
        .unwrap_or(OutPoint {
            txid: Txid([0; 32]),
            vout: 0,
        });
    Context {
        now: NOW,
        trusted_policy: Some(policy().digest().unwrap()),
        fee_bounds: FeeBounds::default(),
        record_chain: Some(known_chain()),
        custody: Some((outpoint, CustodyState::Unspent)),
        finalized: Some(false),
        my_rejection: Some(None),
    }
}

fn status_in(req: &SigningRequest, ctx: &Context, id: CheckId) -> Status {
    verify_request(req, ctx)
        .report()
        .get(id)
        .unwrap_or_else(|| panic!("no check {id}"))
        .status()
}

fn status(req: &SigningRequest, id: CheckId) -> Status {
    status_in(req, &ctx_for(req), id)
}

/// The evidence an honest clone and honest builders give for the fixture release.
fn honest_evidence(req: &SigningRequest) -> (DiffEvidence, BuilderEvidence) {
    let Record::Release(r) = &req.record else {
        panic!("not a release")
    };
    (
        DiffEvidence::Computed {
            digest: r.diff_digest,
            entries: 3,
        },
        BuilderEvidence::Evaluated {
            commit: r.source.commit.clone(),
            artifact_sha256: r.artifact.sha256,
            agreeing_keys: policy().builders[..2].to_vec(),
            attestation_digest: Some(r.attestation_digest),
            invalid: 0,
            remarks: String::new(),
        },
    )
}

/// Every scenario: name, the request, and the checks that must fail (all others must not).
fn scenarios() -> Vec<(&'static str, SigningRequest, Vec<CheckId>)> {
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
            vec![CheckId::PublisherSignature, CheckId::Commitment],
        ),
        // Re-signed after the edit, but the transaction still commits to the old record.
        (
            "wrong-commitment",
            request_with(|r, _| {
                if let Record::Release(rel) = &mut r.record {
                    rel.artifact.sha256 = Digest([0xee; 32]);
                }
            }),
            vec![CheckId::Commitment],
        ),
        (
            "expired",
            request_with(|r, _| r.expires_at = NOW - 1),
            vec![CheckId::Expiry],
        ),
        (
            "outsider-publisher",
            {
                let mut r = valid.clone();
                r.publisher = SecretKey::from_bytes(&[0x77; 32]).unwrap().public_key();
                sign(&mut r, &SecretKey::from_bytes(&[0x77; 32]).unwrap());
                r
            },
            vec![CheckId::PublisherSignature],
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
            vec![CheckId::CustodyInput],
        ),
        (
            "fee-too-high",
            request_with(|r, _| {
                let mut tx = Transaction::from_hex(&r.transaction).unwrap();
                tx.outputs.truncate(1); // drop the change: all 10,000 satoshis become fee
                r.transaction = tx.to_hex();
            }),
            vec![CheckId::Fee],
        ),
        (
            "not-a-record-transaction",
            request_with(|r, _| {
                let mut tx = Transaction::from_hex(&r.transaction).unwrap();
                tx.version = 2;
                r.transaction = tx.to_hex();
            }),
            vec![
                CheckId::TransactionShape,
                CheckId::CustodyInput,
                CheckId::Commitment,
                CheckId::Fee,
                CheckId::CustodyUnspent,
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
            vec![CheckId::RecordPolicy],
        ),
        (
            "over-long-lifetime",
            request_with(|r, _| r.expires_at = r.created_at + 30 * 86_400),
            vec![CheckId::Lifetime],
        ),
        // The range starts at the genesis's empty tree and so skips release 1.3.0.
        (
            "base-skips-a-release",
            recommitted(|rel| rel.source.base_commit = EMPTY_TREE.into()),
            vec![CheckId::RecordChain],
        ),
        // `previous` names the genesis, not the head (1.3.0): a fork of the record chain.
        (
            "fork-of-the-record-chain",
            recommitted(|rel| rel.previous = known_chain()[0].digest),
            vec![CheckId::RecordChain],
        ),
        // A right-to-left override in the version would show "1.4.0" for other bytes.
        (
            "hidden-characters",
            recommitted(|rel| rel.version = "1.4.0\u{202e}".into()),
            vec![CheckId::RecordFields],
        ),
    ]
}

/// A request whose release is edited by `edit`, with the transaction committing to the
/// edited record and the publisher's signature made over it: only the edit is wrong.
fn recommitted(edit: impl FnOnce(&mut Release)) -> SigningRequest {
    request_with(|r, _| {
        if let Record::Release(rel) = &mut r.record {
            edit(rel);
        }
        let mut tx = Transaction::from_hex(&r.transaction).unwrap();
        tx.outputs[0].script_pubkey = Script::commitment(&r.record.digest().unwrap().0);
        r.transaction = tx.to_hex();
    })
}

#[test]
fn each_scenario_fails_exactly_its_checks() {
    for (name, req, failing) in scenarios() {
        let mut v = verify_request(&req, &ctx_for(&req));
        let (diff, builders) = honest_evidence(&req);
        v.record_diff_digest(diff);
        v.record_builders(builders);
        for c in v.report().checks() {
            let expect_fail = failing.contains(&c.id());
            assert_eq!(
                c.status() == Status::Failed,
                expect_fail,
                "{name}: check {} was {:?}: {}\n{}",
                c.id(),
                c.status(),
                c.detail(),
                v.report()
            );
        }
        for id in &failing {
            assert!(
                v.report().get(*id).is_some(),
                "{name}: {id} not in the report"
            );
        }
        assert_eq!(v.report().no_failures(), failing.is_empty(), "{name}");
        assert_eq!(
            v.ready_to_sign().is_some(),
            failing.is_empty(),
            "{name}\n{}",
            v.report()
        );
    }
}

#[test]
fn a_valid_request_is_not_ready_until_diff_and_builders_are_checked() {
    let req = request_with(|_, _| {});
    let mut v = verify_request(&req, &ctx_for(&req));
    assert!(v.report().no_failures(), "{}", v.report());
    assert!(!v.report().ready_to_sign());
    assert!(
        v.ready_to_sign().is_none(),
        "a value to sign was handed out before every check ran"
    );
    assert_eq!(
        v.report().get(CheckId::DiffDigest).unwrap().status(),
        Status::NotRun
    );
    let (diff, builders) = honest_evidence(&req);
    v.record_diff_digest(diff);
    assert!(v.ready_to_sign().is_none());
    v.record_builders(builders);
    let ready = v.ready_to_sign().expect("every check passed");
    assert_eq!(ready.record_digest(), req.record.digest().unwrap());
    assert_eq!(ready.request_id(), req.id().unwrap());
    assert_eq!(ready.report_digest(), v.report().digest());
    assert_eq!(ready.funding_tx().to_hex(), req.custody.funding_tx);
}

#[test]
fn a_failed_check_is_never_turned_into_a_pass() {
    let req = request_with(|_, _| {});
    let mut v = verify_request(&req, &ctx_for(&req));
    let (diff, builders) = honest_evidence(&req);
    v.record_builders(builders);
    // The clone disagrees first; honest evidence recorded afterwards cannot undo that.
    v.record_diff_digest(DiffEvidence::Computed {
        digest: Digest([0x01; 32]),
        entries: 1,
    });
    v.record_diff_digest(diff.clone());
    assert_eq!(
        v.report().get(CheckId::DiffDigest).unwrap().status(),
        Status::Failed,
        "{}",
        v.report()
    );
    assert!(v.ready_to_sign().is_none());
    // Nor is a check that could not run, once it said so, quietly passed over.
    let mut v = verify_request(&req, &ctx_for(&req));
    v.record_diff_digest(DiffEvidence::Contradicted("tag moved".into()));
    v.record_diff_digest(diff);
    assert!(v.ready_to_sign().is_none());
}

#[test]
fn builder_evidence_is_judged_against_the_policy_and_record() {
    let req = request_with(|_, _| {});
    let (diff, honest) = honest_evidence(&req);
    let BuilderEvidence::Evaluated {
        commit,
        artifact_sha256,
        agreeing_keys,
        attestation_digest,
        ..
    } = honest
    else {
        unreachable!()
    };
    let outsider = "ab".repeat(32);
    let cases: Vec<(&str, BuilderEvidence)> = vec![
        (
            "one key counted twice",
            BuilderEvidence::Evaluated {
                commit: commit.clone(),
                artifact_sha256,
                agreeing_keys: vec![agreeing_keys[0].clone(), agreeing_keys[0].clone()],
                attestation_digest,
                invalid: 0,
                remarks: String::new(),
            },
        ),
        (
            "an untrusted key",
            BuilderEvidence::Evaluated {
                commit: commit.clone(),
                artifact_sha256,
                agreeing_keys: vec![agreeing_keys[0].clone(), outsider],
                attestation_digest,
                invalid: 0,
                remarks: String::new(),
            },
        ),
        (
            "another artifact",
            BuilderEvidence::Evaluated {
                commit: commit.clone(),
                artifact_sha256: Digest([0x99; 32]),
                agreeing_keys: agreeing_keys.clone(),
                attestation_digest,
                invalid: 0,
                remarks: String::new(),
            },
        ),
        (
            "another commit",
            BuilderEvidence::Evaluated {
                commit: "1".repeat(40),
                artifact_sha256,
                agreeing_keys: agreeing_keys.clone(),
                attestation_digest,
                invalid: 0,
                remarks: String::new(),
            },
        ),
        (
            "another attestation digest",
            BuilderEvidence::Evaluated {
                commit: commit.clone(),
                artifact_sha256,
                agreeing_keys: agreeing_keys.clone(),
                attestation_digest: Some(Digest([0x5a; 32])),
                invalid: 0,
                remarks: String::new(),
            },
        ),
        (
            "an invalid envelope",
            BuilderEvidence::Evaluated {
                commit,
                artifact_sha256,
                agreeing_keys,
                attestation_digest,
                invalid: 1,
                remarks: String::new(),
            },
        ),
    ];
    for (name, evidence) in cases {
        let mut v = verify_request(&req, &ctx_for(&req));
        v.record_diff_digest(diff.clone());
        v.record_builders(evidence);
        let check = v.report().get(CheckId::BuilderAgreement).unwrap();
        assert_eq!(check.status(), Status::Failed, "{name}: {}", check.detail());
        assert!(v.ready_to_sign().is_none(), "{name}");
    }
}

#[test]
fn what_this_machine_knows_decides_replay_and_chain() {
    let req = request_with(|_, _| {});
    let ready = |ctx: &Context| {
        let mut v = verify_request(&req, ctx);
        let (diff, builders) = honest_evidence(&req);
        v.record_diff_digest(diff);
        v.record_builders(builders);
        v
    };
    assert!(ready(&ctx_for(&req)).ready_to_sign().is_some());
    let outpoint = ctx_for(&req).custody.unwrap().0;
    let cases: Vec<(&str, Context, CheckId, Status)> = vec![
        (
            "custody already spent",
            Context {
                custody: Some((outpoint, CustodyState::Spent { by: Txid([7; 32]) })),
                ..ctx_for(&req)
            },
            CheckId::CustodyUnspent,
            Status::Failed,
        ),
        (
            "custody unknown to the chain",
            Context {
                custody: Some((outpoint, CustodyState::Unknown)),
                ..ctx_for(&req)
            },
            CheckId::CustodyUnspent,
            Status::Failed,
        ),
        (
            "state of another outpoint",
            Context {
                custody: Some((
                    OutPoint {
                        txid: Txid([8; 32]),
                        vout: 0,
                    },
                    CustodyState::Unspent,
                )),
                ..ctx_for(&req)
            },
            CheckId::CustodyUnspent,
            Status::NotRun,
        ),
        (
            "final exists",
            Context {
                finalized: Some(true),
                ..ctx_for(&req)
            },
            CheckId::NotFinalized,
            Status::Failed,
        ),
        (
            "rejected by me",
            Context {
                my_rejection: Some(Some("diff touches CI secrets".into())),
                ..ctx_for(&req)
            },
            CheckId::NotRejected,
            Status::Failed,
        ),
        (
            "no record chain known",
            Context {
                record_chain: None,
                ..ctx_for(&req)
            },
            CheckId::RecordChain,
            Status::NotRun,
        ),
        (
            "a newer release is the head",
            Context {
                record_chain: Some({
                    let mut chain = known_chain();
                    let mut newer = chain[1].record.clone();
                    if let Record::Release(r) = &mut newer {
                        r.version = "1.3.1".into();
                        r.previous = chain[1].digest;
                    }
                    chain.push(KnownRecord {
                        digest: newer.digest().unwrap(),
                        record: newer,
                    });
                    chain
                }),
                ..ctx_for(&req)
            },
            CheckId::RecordChain,
            Status::Failed,
        ),
        (
            "no genesis known",
            Context {
                record_chain: Some(vec![]),
                ..ctx_for(&req)
            },
            CheckId::RecordChain,
            Status::Failed,
        ),
        (
            "clock far past any sane time",
            Context {
                now: u64::MAX,
                ..ctx_for(&req)
            },
            CheckId::Expiry,
            Status::Failed,
        ),
    ];
    for (name, ctx, id, want) in cases {
        let v = ready(&ctx);
        let check = v.report().get(id).unwrap();
        assert_eq!(check.status(), want, "{name}: {}", check.detail());
        assert!(v.ready_to_sign().is_none(), "{name}");
    }
}

#[test]
fn the_report_shows_every_record_field_escaped() {
    let req = recommitted(|rel| rel.source.tag = "v1.4.0\u{1b}]0;owned\u{7}".into());
    let v = verify_request(&req, &ctx_for(&req));
    let names: Vec<&str> = v
        .report()
        .record_fields()
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    for name in [
        "version",
        "source.repository",
        "source.tag",
        "source.commit",
        "source.base_commit",
        "artifact.name",
        "artifact.size",
        "artifact.sha256",
        "diff_digest",
        "attestation_digest",
        "policy_digest",
        "previous",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    let human = v.report().to_string();
    assert!(!human.contains('\u{1b}'), "{human}");
    assert!(human.contains("v1.4.0\\u{1b}]0;owned\\u{7}"), "{human}");
    let json = serde_json::to_string(v.report()).unwrap();
    assert!(json.contains("\"name\":\"source.tag\""), "{json}");
    assert!(!json.contains("\\u001b"), "raw escape in {json}");
    assert_eq!(
        v.report().get(CheckId::RecordFields).unwrap().status(),
        Status::Failed
    );
}

#[test]
fn without_a_trusted_policy_the_policy_check_does_not_run() {
    let req = request_with(|_, _| {});
    let none = Context {
        trusted_policy: None,
        ..ctx_for(&req)
    };
    assert_eq!(
        status_in(&req, &none, CheckId::PolicyInForce),
        Status::NotRun
    );
    let other = Context {
        trusted_policy: Some(Digest([3; 32])),
        ..ctx_for(&req)
    };
    assert_eq!(
        status_in(&req, &other, CheckId::PolicyInForce),
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
        status(&unsigned, CheckId::PublisherSignature),
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
