//! Spending outputs: the faucet, top-ups, and every rule a spend must pass.

use chainlock_chain::{Broadcast, Chain, Error, OutputState, TxStatus};
use chainlock_protocol::checker::Reason;
use chainlock_protocol::script::Script;
use chainlock_protocol::tx::{OutPoint, TxOut, Txid};
use chainlock_protocol::verify::CustodyState;

use crate::util::{key, p2pkh, spend_p2pkh, World, CUSTODY_VALUE};

#[test]
fn the_faucet_says_it_is_local_and_its_coins_can_be_spent() {
    let w = World::new();
    let tx = w.ledger.faucet(&p2pkh(&w.funder), 50_000).unwrap();
    let script_sig = String::from_utf8_lossy(tx.inputs[0].script_sig.as_bytes()).into_owned();
    assert!(
        script_sig.contains("chainlock local faucet (not real coins)"),
        "{script_sig}"
    );
    assert_eq!(tx.inputs[0].prevout.txid, Txid([0; 32]), "null outpoint");
    assert_eq!(tx.inputs[0].prevout.vout, u32::MAX);
    assert_eq!(w.ledger.tx_status(&tx.txid()).unwrap(), TxStatus::Accepted);
    // Two equal requests are two transactions.
    let again = w.ledger.faucet(&p2pkh(&w.funder), 50_000).unwrap();
    assert_ne!(again.txid(), tx.txid());
    assert_eq!(
        w.ledger.unspent_outputs(&p2pkh(&w.funder)).unwrap().len(),
        2
    );
    assert!(matches!(
        w.ledger.faucet(&p2pkh(&w.funder), 0),
        Err(Error::Amount(_))
    ));
    // Through the trait, as the co-signing loop holds it.
    let chain: Box<dyn Chain> = Box::new(w.reopen());
    assert!(chain.describe().contains("not the BSV network"));
    assert!(chain.describe().contains("ledger.sqlite"));
}

#[test]
fn a_top_up_creates_custody_outputs_and_spends_its_funding() {
    let w = World::new();
    let funding = w.faucet(100_000);
    let custody = w.policy.custody_script().unwrap();
    let tx = w.topup(
        &funding,
        vec![
            TxOut {
                value: CUSTODY_VALUE,
                script_pubkey: custody.clone(),
            },
            TxOut {
                value: 79_000,
                script_pubkey: p2pkh(&w.funder),
            },
        ],
    );
    assert_eq!(
        w.ledger.broadcast(&tx, None).unwrap(),
        Broadcast::Accepted { txid: tx.txid() }
    );
    assert_eq!(w.ledger.tx_status(&tx.txid()).unwrap(), TxStatus::Accepted);
    assert_eq!(
        w.ledger.output_state(&funding.0).unwrap(),
        OutputState::Spent { by: tx.txid() }
    );
    assert_eq!(
        w.ledger.output_state(&funding.0).unwrap().custody_state(),
        CustodyState::Spent { by: tx.txid() }
    );
    let at = OutPoint {
        txid: tx.txid(),
        vout: 0,
    };
    assert_eq!(
        w.ledger.output_state(&at).unwrap(),
        OutputState::Unspent {
            output: tx.outputs[0].clone()
        }
    );
    assert_eq!(
        w.ledger.output_state(&at).unwrap().custody_state(),
        CustodyState::Unspent
    );
    let absent = OutPoint {
        txid: tx.txid(),
        vout: 9,
    };
    assert_eq!(
        w.ledger.output_state(&absent).unwrap().custody_state(),
        CustodyState::Unknown
    );
    assert_eq!(
        w.ledger.unspent_outputs(&custody).unwrap(),
        vec![(at, tx.outputs[0].clone())]
    );
    assert_eq!(w.ledger.transaction(&tx.txid()).unwrap(), Some(tx.clone()));
    assert_eq!(w.ledger.transaction(&Txid([7; 32])).unwrap(), None);
    assert_eq!(
        w.ledger.tx_status(&Txid([7; 32])).unwrap(),
        TxStatus::Unknown
    );
    assert_eq!(w.judge_everything(), 1);
}

#[test]
fn the_same_transaction_twice_is_already_known_not_an_error() {
    let w = World::new();
    let funding = w.faucet(30_000);
    let tx = w.topup(
        &funding,
        vec![TxOut {
            value: 29_000,
            script_pubkey: p2pkh(&w.funder),
        }],
    );
    w.accept(&tx, None);
    let before = crate::util::dump(&w.path());
    assert_eq!(
        w.ledger.broadcast(&tx, None).unwrap(),
        Broadcast::AlreadyKnown { txid: tx.txid() }
    );
    // Through another connection as well, as a second co-signer's CLI would.
    assert_eq!(
        w.reopen().broadcast(&tx, None).unwrap(),
        Broadcast::AlreadyKnown { txid: tx.txid() }
    );
    assert_eq!(crate::util::dump(&w.path()), before);
    w.judge_everything();
}

#[test]
fn an_input_spending_an_unknown_output_is_refused() {
    let w = World::new();
    let (funding, out) = w.faucet(30_000);
    for missing in [
        OutPoint {
            txid: Txid([0x42; 32]),
            vout: 0,
        },
        // A known transaction, an output it does not have.
        OutPoint {
            txid: funding.txid,
            vout: 1,
        },
    ] {
        let tx = spend_p2pkh(
            &w.funder,
            &[(missing, out.clone())],
            vec![TxOut {
                value: 1_000,
                script_pubkey: p2pkh(&w.funder),
            }],
        );
        match w.ledger.broadcast(&tx, None) {
            Err(Error::MissingInput { input: 0, outpoint }) => assert_eq!(outpoint, missing),
            other => panic!("{other:?}"),
        }
        assert_eq!(w.ledger.tx_status(&tx.txid()).unwrap(), TxStatus::Unknown);
    }
}

#[test]
fn a_double_spend_is_refused_naming_the_first_spender() {
    let w = World::new();
    let funding = w.faucet(30_000);
    let pay = |value| {
        w.topup(
            &funding,
            vec![TxOut {
                value,
                script_pubkey: p2pkh(&key(20)),
            }],
        )
    };
    let first = pay(29_000);
    let second = pay(28_000);
    w.accept(&first, None);
    let err = w.ledger.broadcast(&second, None).unwrap_err();
    match &err {
        Error::DoubleSpend { outpoint, spent_by } => {
            assert_eq!(*outpoint, funding.0);
            assert_eq!(*spent_by, first.txid());
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains(&first.txid().to_string()), "{err}");
    assert_eq!(
        w.ledger.tx_status(&second.txid()).unwrap(),
        TxStatus::Unknown
    );
    w.judge_everything();
}

#[test]
fn one_output_spent_twice_in_one_transaction_is_refused() {
    let w = World::new();
    let funding = w.faucet(30_000);
    let tx = spend_p2pkh(
        &w.funder,
        &[funding.clone(), funding.clone()],
        vec![TxOut {
            value: 50_000,
            script_pubkey: p2pkh(&w.funder),
        }],
    );
    assert!(matches!(
        w.ledger.broadcast(&tx, None),
        Err(Error::DuplicateInput {
            first: 0,
            second: 1,
            ..
        })
    ));
}

#[test]
fn a_bad_signature_is_refused_with_the_checkers_reason() {
    let w = World::new();
    let funding = w.faucet(30_000);
    let outputs = vec![TxOut {
        value: 29_000,
        script_pubkey: p2pkh(&w.funder),
    }];
    // Signed by another key than the one the output pays.
    let wrong_key = spend_p2pkh(&key(21), std::slice::from_ref(&funding), outputs.clone());
    match w.ledger.broadcast(&wrong_key, None) {
        Err(Error::InputRejected {
            input: 0,
            outpoint,
            reason: Reason::PublicKeyHashMismatch,
        }) => assert_eq!(outpoint, funding.0),
        other => panic!("{other:?}"),
    }
    // Signed, then an output edited: the signature no longer covers the transaction.
    let mut edited = w.topup(&funding, outputs);
    edited.outputs[0].value -= 1;
    match w.ledger.broadcast(&edited, None) {
        Err(Error::InputRejected {
            reason: Reason::SignatureFailed { .. },
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    // Not signed at all.
    let mut unsigned = edited.clone();
    unsigned.inputs[0].script_sig = Script::default();
    assert!(matches!(
        w.ledger.broadcast(&unsigned, None),
        Err(Error::InputRejected {
            reason: Reason::WrongPushCount { .. },
            ..
        })
    ));
    assert!(matches!(
        w.ledger.output_state(&funding.0).unwrap(),
        OutputState::Unspent { .. }
    ));
}

#[test]
fn outputs_worth_more_than_the_inputs_are_refused() {
    let w = World::new();
    let funding = w.faucet(30_000);
    let tx = w.topup(
        &funding,
        vec![TxOut {
            value: 30_001,
            script_pubkey: p2pkh(&w.funder),
        }],
    );
    match w.ledger.broadcast(&tx, None) {
        Err(Error::OutputsExceedInputs {
            inputs: 30_000,
            outputs: 30_001,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    // Exactly the inputs (no fee) is the chain's business, not a rule here.
    let all = w.topup(
        &funding,
        vec![TxOut {
            value: 30_000,
            script_pubkey: p2pkh(&w.funder),
        }],
    );
    w.accept(&all, None);
    w.judge_everything();
}

#[test]
fn a_transaction_without_inputs_is_refused() {
    let w = World::new();
    let mut tx = w.ledger.faucet(&p2pkh(&w.funder), 1_000).unwrap();
    tx.inputs.clear();
    assert!(matches!(
        w.ledger.broadcast(&tx, None),
        Err(Error::NoInputs { .. })
    ));
}

#[test]
fn a_faucet_transaction_cannot_be_replayed_as_a_broadcast() {
    // Its input spends the null outpoint, which is no output: only faucet() mints.
    let w = World::new();
    let mut tx = w.ledger.faucet(&p2pkh(&w.funder), 1_000).unwrap();
    tx.outputs[0].value = 1_000_000;
    assert!(matches!(
        w.ledger.broadcast(&tx, None),
        Err(Error::MissingInput { input: 0, .. })
    ));
}
