//! What the local ledger accepts: the chain's rules for every transaction, and the protocol's
//! rules for record transactions (PROTOCOL.md sections 2 and 3). Reads only; the caller
//! writes what passed, under the same SQLite write lock, so nothing changes in between.

use std::collections::HashMap;

use chainlock_protocol::checker::{check_input, InputVerdict};
use chainlock_protocol::policy::Policy;
use chainlock_protocol::record::Record;
use chainlock_protocol::record_tx::RecordTx;
use chainlock_protocol::sighash::SIGHASH_ALL_FORKID;
use chainlock_protocol::tx::{SpentOutput, Transaction};

use super::store::{NewRecord, Store};
use crate::{Error, OutputState, PackageId, RecordChain, Result};

/// Checks `tx` (and its `record`) against the ledger as `store` sees it. On success, returns
/// the record to store with it, if any.
pub(crate) fn check<'r>(
    store: &Store<'_>,
    tx: &Transaction,
    record: Option<&'r Record>,
) -> Result<Option<NewRecord<'r>>> {
    let (spent, verdicts) = check_node(store, tx)?;
    check_record(store, tx, &spent, &verdicts, record)
}

/// The chain's own rules, as a node applies them: inputs spend known unspent outputs once,
/// each passes the input checker, the outputs do not exceed the inputs.
pub(crate) fn check_node(
    store: &Store<'_>,
    tx: &Transaction,
) -> Result<(Vec<SpentOutput>, Vec<InputVerdict>)> {
    let txid = tx.txid();
    if tx.inputs.is_empty() {
        return Err(Error::NoInputs { txid });
    }
    let spent = spent_outputs(store, tx)?;
    let mut verdicts = Vec::with_capacity(spent.len());
    for (i, s) in spent.iter().enumerate() {
        let verdict = check_input(tx, i, s);
        if let Some(reason) = verdict.reason() {
            return Err(Error::InputRejected {
                input: i,
                outpoint: tx.inputs[i].prevout,
                reason: reason.clone(),
            });
        }
        verdicts.push(verdict);
    }
    let inputs = spent
        .iter()
        .try_fold(0u64, |acc, s| acc.checked_add(s.value))
        .ok_or_else(|| Error::Amount(format!("transaction {txid}: input values overflow")))?;
    let outputs = tx
        .output_total()
        .map_err(|_| Error::Amount(format!("transaction {txid}: output values overflow")))?;
    if outputs > inputs {
        return Err(Error::OutputsExceedInputs {
            txid,
            inputs,
            outputs,
        });
    }
    Ok((spent, verdicts))
}

/// The output each input spends, refusing unknown, spent and twice-spent outputs.
fn spent_outputs(store: &Store<'_>, tx: &Transaction) -> Result<Vec<SpentOutput>> {
    let mut seen = HashMap::with_capacity(tx.inputs.len());
    let mut spent = Vec::with_capacity(tx.inputs.len());
    for (i, input) in tx.inputs.iter().enumerate() {
        let outpoint = input.prevout;
        if let Some(first) = seen.insert(outpoint, i) {
            return Err(Error::DuplicateInput {
                first,
                second: i,
                outpoint,
            });
        }
        match store.output_state(&outpoint)? {
            OutputState::Unknown => return Err(Error::MissingInput { input: i, outpoint }),
            OutputState::Spent { by } => {
                return Err(Error::DoubleSpend {
                    outpoint,
                    spent_by: by,
                })
            }
            OutputState::Unspent { output } => spent.push(SpentOutput {
                script_pubkey: output.script_pubkey,
                value: output.value,
            }),
        }
    }
    Ok(spent)
}

/// A transaction whose output 0 is a commitment is a record transaction: it must have the
/// record shape, come with its record, and continue the package's chain under the policy in
/// force. Any other transaction must come without a record and commit to none.
fn check_record<'r>(
    store: &Store<'_>,
    tx: &Transaction,
    spent: &[SpentOutput],
    verdicts: &[InputVerdict],
    record: Option<&'r Record>,
) -> Result<Option<NewRecord<'r>>> {
    let txid = tx.txid();
    // A commitment anywhere else would look like a record to a careless reader.
    if let Some(i) = tx
        .outputs
        .iter()
        .skip(1)
        .position(|o| o.script_pubkey.parse_commitment().is_ok())
    {
        return Err(Error::NotRecordShape {
            txid,
            reason: format!(
                "output {} is a commitment; only output 0 of a record transaction may be",
                i + 1
            ),
        });
    }
    let committed = match tx.outputs.first() {
        Some(o) if o.script_pubkey.parse_commitment().is_ok() => {
            let (first_spent, _) = spent.split_first().ok_or(Error::NoInputs { txid })?;
            RecordTx::new(tx.clone(), first_spent.clone()).map_err(|e| Error::NotRecordShape {
                txid,
                reason: e.to_string(),
            })?
        }
        _ => {
            return match record {
                Some(_) => Err(Error::UnexpectedRecord { txid }),
                None => Ok(None),
            }
        }
    };
    let record = record.ok_or(Error::RecordMissing {
        txid,
        digest: committed.record_digest(),
    })?;
    record.validate().map_err(Error::InvalidRecord)?;
    let digest = record.digest()?;
    if digest != committed.record_digest() {
        return Err(Error::RecordMismatch {
            txid,
            committed: committed.record_digest(),
            given: digest,
        });
    }
    // The node accepts any FORKID type; the protocol's consent is ALL|FORKID only.
    let signatures = verdicts
        .get(RecordTx::INPUT_INDEX)
        .map(InputVerdict::signatures)
        .unwrap_or_default();
    for (i, sig) in signatures.iter().enumerate() {
        if u32::from(sig.sighash_type) != SIGHASH_ALL_FORKID {
            return Err(Error::SighashType {
                txid,
                signature: i,
                sighash_type: sig.sighash_type,
            });
        }
    }
    let package = PackageId::of(record);
    let chain = RecordChain::assemble(store.records(&package)?);
    let policy = policy_to_sign(&package, &chain, record)?;
    let expected = policy.custody_script()?;
    if committed.spent().script_pubkey != expected {
        return Err(Error::WrongPolicy {
            package,
            kind: record.kind(),
            policy: policy.digest()?,
            expected_script: expected.to_hex().into(),
            spent_script: committed.spent().script_pubkey.to_hex().into(),
        });
    }
    Ok(Some(NewRecord { digest, record }))
}

/// The policy whose maintainers must sign `record`: a genesis's own (when the package has
/// none yet), or for a record on the head, the policy in force (genesis, then each rotation).
fn policy_to_sign<'a>(
    package: &PackageId,
    chain: &'a RecordChain,
    record: &'a Record,
) -> Result<&'a Policy> {
    let kind = record.kind();
    let head = match (record, chain.genesis(), chain.head()) {
        (Record::Genesis(g), None, _) => return Ok(&g.policy),
        (Record::Genesis(_), Some(existing), _) => {
            return Err(Error::GenesisExists {
                package: package.clone(),
                existing: existing.digest,
                txid: existing.txid,
            })
        }
        (_, _, Some(head)) => head.digest,
        (_, _, None) => {
            return Err(Error::NoGenesis {
                package: package.clone(),
                kind,
            })
        }
    };
    if let Some(named) = record.previous().filter(|named| *named != head) {
        let known = chain
            .records
            .iter()
            .chain(&chain.forks)
            .any(|r| r.digest == named);
        return Err(if known {
            Error::Fork {
                package: package.clone(),
                kind,
                previous: named,
                head,
            }
        } else {
            Error::UnknownPrevious {
                package: package.clone(),
                kind,
                previous: named,
                head,
            }
        });
    }
    let in_force = chain.policy_in_force().ok_or_else(|| Error::NoGenesis {
        package: package.clone(),
        kind,
    })?;
    let claimed = record.signing_policy_digest()?;
    let in_force_digest = in_force.digest()?;
    if claimed != in_force_digest {
        return Err(Error::PolicyMismatch {
            package: package.clone(),
            kind,
            claimed,
            in_force: in_force_digest,
        });
    }
    Ok(in_force)
}
