//! The BIP143-style signature hash BSV and BCH use with SIGHASH_FORKID (fork id 0).

use crate::encode::write_var_bytes;
use crate::hash::sha256d;
use crate::script::Script;
use crate::tx::{SpentOutput, Transaction};
use crate::{Error, Result};

/// `SIGHASH_ALL | SIGHASH_FORKID`: the only sighash type the protocol signs with.
pub const SIGHASH_ALL_FORKID: u32 = 0x41;
/// The FORKID flag.
pub const SIGHASH_FORKID: u32 = 0x40;
/// The ANYONECANPAY flag.
pub const SIGHASH_ANYONECANPAY: u32 = 0x80;
const SIGHASH_NONE: u32 = 0x02;
const SIGHASH_SINGLE: u32 = 0x03;

/// The transaction-wide parts of the BIP143 preimage (hashPrevouts, hashSequence and
/// hashOutputs for ALL): computed once per transaction, so judging every input of a
/// transaction costs time linear in its size, not quadratic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SighashParts {
    hash_prevouts: [u8; 32],
    hash_sequence: [u8; 32],
    hash_outputs: [u8; 32],
}

impl SighashParts {
    /// Hashes the prevouts, sequences and outputs of `tx`.
    pub fn new(tx: &Transaction) -> Self {
        let mut buf = Vec::with_capacity(36 * tx.inputs.len());
        for i in &tx.inputs {
            buf.extend_from_slice(&i.prevout.txid.0);
            buf.extend_from_slice(&i.prevout.vout.to_le_bytes());
        }
        let hash_prevouts = sha256d(&buf);
        buf.clear();
        for i in &tx.inputs {
            buf.extend_from_slice(&i.sequence.to_le_bytes());
        }
        let hash_sequence = sha256d(&buf);
        buf.clear();
        for o in &tx.outputs {
            o.encode_into(&mut buf);
        }
        let hash_outputs = sha256d(&buf);
        SighashParts {
            hash_prevouts,
            hash_sequence,
            hash_outputs,
        }
    }
}

/// The FORKID signature hash of input `input_index`, spending an output worth `amount`
/// satoshis, with `script_code` (the spent locking script) and the full 32-bit
/// `sighash_type` as it is committed in the preimage.
///
/// Computed as the BSV node computes it for a type with FORKID set, whatever the other
/// bits say; callers decide which types they accept. To hash several inputs of one
/// transaction, compute [`SighashParts`] once and call [`sighash_forkid_with`].
pub fn sighash_forkid(
    tx: &Transaction,
    input_index: usize,
    script_code: &Script,
    amount: u64,
    sighash_type: u32,
) -> Result<[u8; 32]> {
    sighash_forkid_with(
        tx,
        &SighashParts::new(tx),
        input_index,
        script_code,
        amount,
        sighash_type,
    )
}

/// [`sighash_forkid`] with the transaction-wide parts already computed; `parts` must be
/// [`SighashParts::new`] of the same `tx`.
pub fn sighash_forkid_with(
    tx: &Transaction,
    parts: &SighashParts,
    input_index: usize,
    script_code: &Script,
    amount: u64,
    sighash_type: u32,
) -> Result<[u8; 32]> {
    let input = tx.inputs.get(input_index).ok_or_else(|| {
        Error::Invalid(format!(
            "input {input_index} does not exist: the transaction has {} inputs",
            tx.inputs.len()
        ))
    })?;
    let base = sighash_type & 0x1f;
    let anyone_can_pay = sighash_type & SIGHASH_ANYONECANPAY != 0;

    let hash_prevouts = if anyone_can_pay {
        [0u8; 32]
    } else {
        parts.hash_prevouts
    };
    let hash_sequence = if anyone_can_pay || base == SIGHASH_SINGLE || base == SIGHASH_NONE {
        [0u8; 32]
    } else {
        parts.hash_sequence
    };
    let hash_outputs = if base != SIGHASH_SINGLE && base != SIGHASH_NONE {
        parts.hash_outputs
    } else if base == SIGHASH_SINGLE && input_index < tx.outputs.len() {
        let mut buf = Vec::new();
        tx.outputs[input_index].encode_into(&mut buf);
        sha256d(&buf)
    } else {
        [0u8; 32]
    };

    let mut pre = Vec::with_capacity(160 + script_code.len());
    pre.extend_from_slice(&tx.version.to_le_bytes());
    pre.extend_from_slice(&hash_prevouts);
    pre.extend_from_slice(&hash_sequence);
    pre.extend_from_slice(&input.prevout.txid.0);
    pre.extend_from_slice(&input.prevout.vout.to_le_bytes());
    write_var_bytes(&mut pre, script_code.as_bytes());
    pre.extend_from_slice(&amount.to_le_bytes());
    pre.extend_from_slice(&input.sequence.to_le_bytes());
    pre.extend_from_slice(&hash_outputs);
    pre.extend_from_slice(&tx.lock_time.to_le_bytes());
    pre.extend_from_slice(&sighash_type.to_le_bytes());
    Ok(sha256d(&pre))
}

/// The one digest the protocol signs: ALL|FORKID of input `input_index` spending `spent`
/// (its locking script as script code, its value as the amount).
pub fn protocol_sighash(
    tx: &Transaction,
    input_index: usize,
    spent: &SpentOutput,
) -> Result<[u8; 32]> {
    sighash_forkid(
        tx,
        input_index,
        &spent.script_pubkey,
        spent.value,
        SIGHASH_ALL_FORKID,
    )
}
