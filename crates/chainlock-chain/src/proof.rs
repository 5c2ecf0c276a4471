//! The BEEF of a record's bundle, from any backend that serves merkle paths: the record
//! transaction and the transaction that created its custody output, each with its path, so
//! a verifier holding only headers can see the custody output was the policy's (ADR 0008).

use chainlock_protocol::tx::Transaction;
use chainlock_spv::Beef;

use crate::{Chain, Error, Result};

/// The bundle's BEEF (BRC-62, version 1): the custody transaction then the record
/// transaction, each with its BUMP. None while either is not yet mined.
pub fn record_beef(chain: &dyn Chain, record_tx: &Transaction) -> Result<Option<Beef>> {
    let txid = record_tx.txid();
    let Some(input) = record_tx.inputs.first() else {
        return Err(Error::NoInputs { txid });
    };
    let parent_txid = input.prevout.txid;
    let Some(parent) = chain.transaction(&parent_txid)? else {
        return Err(Error::MissingInput {
            input: 0,
            outpoint: input.prevout,
        });
    };
    let (Some(parent_path), Some(path)) =
        (chain.merkle_path(&parent_txid)?, chain.merkle_path(&txid)?)
    else {
        return Ok(None);
    };
    Ok(Some(Beef::of_proven(vec![
        (parent, parent_path),
        (record_tx.clone(), path),
    ])))
}
