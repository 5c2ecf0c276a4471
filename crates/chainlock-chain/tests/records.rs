//! Record transactions: the record comes with its transaction, continues its package's chain,
//! and is signed under the policy in force.

use chainlock_chain::{Broadcast, Chain, Error, OutputState, PackageId, TxStatus};
use chainlock_protocol::checker::Reason;
use chainlock_protocol::hash::Digest;
use chainlock_protocol::record::{Ecosystem, Record};
use chainlock_protocol::script::Script;
use chainlock_protocol::tx::{OutPoint, TxOut};

use crate::util::{key, p2pkh, policy_of, record_tx, sign_custody, sorted, World, ALL_FORKID};

#[test]
fn genesis_then_releases_form_the_packages_record_chain() {
    let w = World::new();
    assert!(w.ledger.record_chain(&w.package).unwrap().head().is_none());
    let (genesis, genesis_txid) = w.publish_genesis();
    let g = genesis.digest().unwrap();

    let custody = w.fund(&w.policy, 2);
    let r1 = w.release_on(g, &w.policy, "1.0.0");
    // Any m of the n maintainers: here the first and the last.
    let signers = [w.maintainers[0].clone(), w.maintainers[2].clone()];
    let tx1 = record_tx(&custody[0], &r1, &signers, ALL_FORKID);
    assert_eq!(
        w.ledger.broadcast(&tx1, Some(&r1)).unwrap(),
        Broadcast::Accepted { txid: tx1.txid() }
    );
    // The custody output is spent by the record; the commitment is no spendable output.
    assert_eq!(
        w.ledger.output_state(&custody[0].outpoint).unwrap(),
        OutputState::Spent { by: tx1.txid() }
    );
    let commitment = OutPoint {
        txid: tx1.txid(),
        vout: 0,
    };
    assert_eq!(
        w.ledger.output_state(&commitment).unwrap(),
        OutputState::Unknown
    );
    assert!(matches!(
        w.ledger
            .output_state(&OutPoint {
                vout: 1,
                ..commitment
            })
            .unwrap(),
        OutputState::Unspent { .. }
    ));
    let r2 = w.release_on(r1.digest().unwrap(), &w.policy, "1.1.0");
    let tx2 = record_tx(&custody[1], &r2, &w.maintainers[1..], ALL_FORKID);
    w.accept(&tx2, Some(&r2));

    let chain = w.ledger.record_chain(&w.package).unwrap();
    let digests: Vec<Digest> = chain.records.iter().map(|r| r.digest).collect();
    assert_eq!(digests, [g, r1.digest().unwrap(), r2.digest().unwrap()]);
    assert!(chain.forks.is_empty());
    let head = chain.head().unwrap();
    assert_eq!(head.record, r2);
    assert_eq!(head.txid, tx2.txid());
    assert_eq!(head.status, TxStatus::Accepted);
    assert_eq!(chain.records[0].txid, genesis_txid);
    // As request verification takes it.
    let known = chain.known_records();
    assert_eq!(known.len(), 3);
    assert_eq!(known[2].digest, r2.digest().unwrap());
    assert_eq!(known[0].record, genesis);
    // Another package, and the same name in another registry, have no records.
    for other in [
        PackageId::new(Ecosystem::Npm, "right-pad"),
        PackageId::new(Ecosystem::Pypi, "left-pad"),
    ] {
        assert!(w.ledger.record_chain(&other).unwrap().records.is_empty());
    }
    assert_eq!(w.package.to_string(), "npm:left-pad");
    assert_eq!("npm:left-pad".parse::<PackageId>().unwrap(), w.package);
    // Faucet spends are not judged; two top-ups, the genesis and two releases are.
    assert_eq!(w.judge_everything(), 5);
}

#[test]
fn a_record_transaction_comes_with_exactly_its_record() {
    let w = World::new();
    let custody = w.fund(&w.policy, 1).remove(0);
    let genesis = w.genesis_of(&w.policy);
    let tx = record_tx(&custody, &genesis, &w.maintainers[..2], ALL_FORKID);
    match w.ledger.broadcast(&tx, None) {
        Err(Error::RecordMissing { digest, .. }) => assert_eq!(digest, genesis.digest().unwrap()),
        other => panic!("{other:?}"),
    }
    let other = w.genesis_of(&policy_of(&w.maintainers, 3));
    match w.ledger.broadcast(&tx, Some(&other)) {
        Err(Error::RecordMismatch {
            committed, given, ..
        }) => {
            assert_eq!(committed, genesis.digest().unwrap());
            assert_eq!(given, other.digest().unwrap());
        }
        other => panic!("{other:?}"),
    }
    // A top-up with a record attached is a mistake too.
    let funding = w.faucet(5_000);
    let topup = w.topup(
        &funding,
        vec![TxOut {
            value: 4_000,
            script_pubkey: p2pkh(&w.funder),
        }],
    );
    assert!(matches!(
        w.ledger.broadcast(&topup, Some(&genesis)),
        Err(Error::UnexpectedRecord { .. })
    ));
    w.accept(&tx, Some(&genesis));
    // Known now: the same again is AlreadyKnown, with another record still a mismatch.
    assert_eq!(
        w.ledger.broadcast(&tx, Some(&genesis)).unwrap(),
        Broadcast::AlreadyKnown { txid: tx.txid() }
    );
    assert!(matches!(
        w.ledger.broadcast(&tx, Some(&other)),
        Err(Error::RecordMismatch { .. })
    ));
    w.judge_everything();
}

#[test]
fn a_commitment_outside_the_record_shape_is_refused() {
    let w = World::new();
    let custody = w.fund(&w.policy, 1).remove(0);
    let genesis = w.genesis_of(&w.policy);
    let good = record_tx(&custody, &genesis, &w.maintainers[..2], ALL_FORKID);
    // A third output: not section 2's shape, even though m maintainers signed it.
    let mut extra = good.clone();
    extra.outputs.push(TxOut {
        value: 1,
        script_pubkey: p2pkh(&key(30)),
    });
    extra.outputs[1].value -= 1;
    let extra = sign_custody(&extra, &custody.spent, &w.maintainers[..2], ALL_FORKID);
    match w.ledger.broadcast(&extra, Some(&genesis)) {
        Err(Error::NotRecordShape { reason, .. }) => {
            assert!(reason.contains("outputs"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    // A commitment as output 1 of a top-up would look like a record to a careless reader.
    let funding = w.faucet(5_000);
    let hidden = w.topup(
        &funding,
        vec![
            TxOut {
                value: 4_000,
                script_pubkey: p2pkh(&w.funder),
            },
            TxOut {
                value: 0,
                script_pubkey: Script::commitment(&genesis.digest().unwrap().0),
            },
        ],
    );
    assert!(matches!(
        w.ledger.broadcast(&hidden, None),
        Err(Error::NotRecordShape { .. })
    ));
    w.judge_everything();
}

#[test]
fn a_record_signed_by_fewer_than_m_maintainers_is_refused() {
    let w = World::new();
    let custody = w.fund(&w.policy, 1).remove(0);
    let genesis = w.genesis_of(&w.policy);
    let tx = record_tx(&custody, &genesis, &w.maintainers[..1], ALL_FORKID);
    assert!(matches!(
        w.ledger.broadcast(&tx, Some(&genesis)),
        Err(Error::InputRejected {
            reason: Reason::WrongPushCount { .. },
            ..
        })
    ));
    // Two signatures, one by a key outside the policy.
    let outsider = [w.maintainers[0].clone(), key(40)];
    let tx = record_tx(&custody, &genesis, &outsider, ALL_FORKID);
    assert!(matches!(
        w.ledger.broadcast(&tx, Some(&genesis)),
        Err(Error::InputRejected {
            reason: Reason::SignatureFailed { .. },
            ..
        })
    ));
    w.judge_everything();
}

#[test]
fn a_record_signed_with_another_sighash_type_than_all_forkid_is_refused() {
    // SINGLE|FORKID (0x43) is valid script on the node; the protocol's consent is 0x41 only.
    let w = World::new();
    let custody = w.fund(&w.policy, 1).remove(0);
    let genesis = w.genesis_of(&w.policy);
    let tx = record_tx(&custody, &genesis, &w.maintainers[..2], 0x43);
    match w.ledger.broadcast(&tx, Some(&genesis)) {
        Err(Error::SighashType {
            sighash_type: 0x43, ..
        }) => {}
        other => panic!("{other:?}"),
    }
    w.judge_everything();
}

#[test]
fn a_second_genesis_is_refused_as_a_fork() {
    let w = World::new();
    let (genesis, txid) = w.publish_genesis();
    // Another policy for the same package: a rival genesis.
    let rival_policy = policy_of(&w.maintainers, 3);
    let custody = w.fund(&rival_policy, 1).remove(0);
    let rival = w.genesis_of(&rival_policy);
    let tx = record_tx(&custody, &rival, &w.maintainers, ALL_FORKID);
    let err = w.ledger.broadcast(&tx, Some(&rival)).unwrap_err();
    match &err {
        Error::GenesisExists {
            package,
            existing,
            txid: existing_txid,
        } => {
            assert_eq!(*package, w.package);
            assert_eq!(*existing, genesis.digest().unwrap());
            assert_eq!(*existing_txid, txid);
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("fork"), "{err}");
    w.judge_everything();
}

#[test]
fn a_release_before_any_genesis_is_refused() {
    let w = World::new();
    let custody = w.fund(&w.policy, 1).remove(0);
    let release = w.release_on(Digest([9; 32]), &w.policy, "1.0.0");
    let tx = record_tx(&custody, &release, &w.maintainers[..2], ALL_FORKID);
    assert!(matches!(
        w.ledger.broadcast(&tx, Some(&release)),
        Err(Error::NoGenesis {
            kind: "release",
            ..
        })
    ));
    w.judge_everything();
}

#[test]
fn a_release_not_on_the_head_is_refused_naming_both() {
    let w = World::new();
    let (genesis, _) = w.publish_genesis();
    let g = genesis.digest().unwrap();
    let custody = w.fund(&w.policy, 3);
    let r1 = w.release_on(g, &w.policy, "1.0.0");
    w.accept(
        &record_tx(&custody[0], &r1, &w.maintainers[..2], ALL_FORKID),
        Some(&r1),
    );
    // A rival release on the genesis: its previous is taken by 1.0.0.
    let rival = w.release_on(g, &w.policy, "1.0.0-rival");
    let tx = record_tx(&custody[1], &rival, &w.maintainers[..2], ALL_FORKID);
    let err = w.ledger.broadcast(&tx, Some(&rival)).unwrap_err();
    match &err {
        Error::Fork { previous, head, .. } => {
            assert_eq!(*previous, g);
            assert_eq!(*head, r1.digest().unwrap());
        }
        other => panic!("{other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains(&g.to_hex()) && text.contains(&r1.digest().unwrap().to_hex()),
        "{text}"
    );
    // A previous that is no record of the package at all.
    let stray = w.release_on(Digest([0x55; 32]), &w.policy, "2.0.0");
    let tx = record_tx(&custody[2], &stray, &w.maintainers[..2], ALL_FORKID);
    assert!(matches!(
        w.ledger.broadcast(&tx, Some(&stray)),
        Err(Error::UnknownPrevious { .. })
    ));
    let chain = w.ledger.record_chain(&w.package).unwrap();
    assert_eq!(chain.records.len(), 2);
    assert!(chain.forks.is_empty());
    w.judge_everything();
}

#[test]
fn a_release_signed_under_another_policy_is_refused() {
    let w = World::new();
    let (genesis, _) = w.publish_genesis();
    let g = genesis.digest().unwrap();
    // Valid signatures on a custody output of a policy the package never adopted.
    let strangers = sorted(vec![key(50), key(51)]);
    let other = policy_of(&strangers, 2);
    let custody = w.fund(&other, 1).remove(0);
    let release = w.release_on(g, &w.policy, "1.0.0");
    let tx = record_tx(&custody, &release, &strangers, ALL_FORKID);
    match w.ledger.broadcast(&tx, Some(&release)) {
        Err(Error::WrongPolicy {
            policy,
            expected_script,
            spent_script,
            ..
        }) => {
            assert_eq!(policy, w.policy.digest().unwrap());
            assert_eq!(
                &*expected_script,
                w.policy.custody_script().unwrap().to_hex()
            );
            assert_eq!(&*spent_script, other.custody_script().unwrap().to_hex());
        }
        other => panic!("{other:?}"),
    }
    // The same maintainers under a different threshold are another policy too.
    let one_of_three = policy_of(&w.maintainers, 1);
    let custody = w.fund(&one_of_three, 1).remove(0);
    let tx = record_tx(&custody, &release, &w.maintainers[..1], ALL_FORKID);
    assert!(matches!(
        w.ledger.broadcast(&tx, Some(&release)),
        Err(Error::WrongPolicy { .. })
    ));
    w.judge_everything();
}

#[test]
fn a_release_naming_another_policy_as_in_force_is_refused() {
    let w = World::new();
    let (genesis, _) = w.publish_genesis();
    let other = policy_of(&w.maintainers, 3);
    let release = w.release_on(genesis.digest().unwrap(), &other, "1.0.0");
    let custody = w.fund(&w.policy, 1).remove(0);
    let tx = record_tx(&custody, &release, &w.maintainers[..2], ALL_FORKID);
    match w.ledger.broadcast(&tx, Some(&release)) {
        Err(Error::PolicyMismatch {
            claimed, in_force, ..
        }) => {
            assert_eq!(claimed, other.digest().unwrap());
            assert_eq!(in_force, w.policy.digest().unwrap());
        }
        other => panic!("{other:?}"),
    }
    w.judge_everything();
}

#[test]
fn after_a_rotation_releases_are_signed_under_the_new_policy() {
    let w = World::new();
    let (genesis, _) = w.publish_genesis();
    let new_keys = sorted(vec![key(60), key(61), key(62)]);
    let new_policy = policy_of(&new_keys, 2);
    let rotation = w.rotation_on(genesis.digest().unwrap(), &w.policy, &new_policy);
    // The old maintainers sign the rotation.
    let old_custody = w.fund(&w.policy, 2);
    w.accept(
        &record_tx(&old_custody[0], &rotation, &w.maintainers[..2], ALL_FORKID),
        Some(&rotation),
    );
    let r = rotation.digest().unwrap();
    // The old policy is no longer in force: naming it, or spending its custody, is refused.
    let stale = w.release_on(r, &w.policy, "2.0.0");
    let tx = record_tx(&old_custody[1], &stale, &w.maintainers[..2], ALL_FORKID);
    assert!(matches!(
        w.ledger.broadcast(&tx, Some(&stale)),
        Err(Error::PolicyMismatch { .. })
    ));
    let release = w.release_on(r, &new_policy, "2.0.0");
    let tx = record_tx(&old_custody[1], &release, &w.maintainers[..2], ALL_FORKID);
    assert!(matches!(
        w.ledger.broadcast(&tx, Some(&release)),
        Err(Error::WrongPolicy { .. })
    ));
    let new_custody = w.fund(&new_policy, 1).remove(0);
    let tx = record_tx(&new_custody, &release, &new_keys[1..], ALL_FORKID);
    w.accept(&tx, Some(&release));
    let chain = w.ledger.record_chain(&w.package).unwrap();
    let kinds: Vec<&str> = chain.records.iter().map(|c| c.record.kind()).collect();
    assert_eq!(kinds, ["genesis", "rotation", "release"]);
    assert!(matches!(chain.head().unwrap().record, Record::Release(_)));
    w.judge_everything();
}
