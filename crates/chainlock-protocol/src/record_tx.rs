//! Record transactions (PROTOCOL.md section 2): the only transactions maintainers co-sign.
//!
//! [`RecordTx`] can only be obtained by checking a transaction against section 2's shape, so
//! a function that takes one (a signer above all) never sees anything else. The builder
//! produces a `RecordTx` through the same check, so it cannot emit an out-of-shape
//! transaction either.

use crate::hash::Digest;
use crate::script::{Custody, Script, LEDGER_MAX_OUTPUT_SCRIPT};
use crate::sighash::protocol_sighash;
use crate::tx::{OutPoint, SpentOutput, Transaction, TxIn, TxOut};
use crate::{Error, Result};

/// Record transactions are version 1.
pub const RECORD_TX_VERSION: u32 = 1;
/// Record transactions spend their input with the final sequence.
pub const FINAL_SEQUENCE: u32 = 0xffff_ffff;
/// Largest output the Ledger "Bitcoin Cash" app parses: value, script length and script.
pub const LEDGER_MAX_OUTPUT_LEN: usize = 100;
/// Size of one signature push in a custody unlocking script, at its largest: push opcode,
/// 72-byte DER (low S keeps it at most 71, but R may need 33 bytes), sighash byte.
const MAX_SIG_PUSH: usize = 1 + 72 + 1;

/// A transaction checked to have exactly the shape of PROTOCOL.md section 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordTx {
    tx: Transaction,
    spent: SpentOutput,
    custody: Custody,
    record_digest: Digest,
    // Computed once the shape is known good; the unlocking script, the one part that may
    // change afterwards, is not covered by it.
    sighash: [u8; 32],
}

impl RecordTx {
    /// The one input a record transaction has.
    pub const INPUT_INDEX: usize = 0;

    /// Checks `tx` against section 2, spending `spent`: version 1, lock time 0, one input
    /// with the final sequence spending a custody multisig, output 0 the 47-byte commitment
    /// with value 0, an optional P2PKH change output 1, every output within the Ledger app's
    /// limits, and outputs worth no more than the input.
    pub fn new(tx: Transaction, spent: SpentOutput) -> Result<Self> {
        let bad = |reason: String| {
            Err(Error::Invalid(format!(
                "not a record transaction: {reason}"
            )))
        };
        if tx.version != RECORD_TX_VERSION {
            return bad(format!("version is {}, must be 1", tx.version));
        }
        if tx.lock_time != 0 {
            return bad(format!("lock time is {}, must be 0", tx.lock_time));
        }
        if tx.inputs.len() != 1 {
            return bad(format!(
                "it has {} inputs, must have exactly one (a custody output)",
                tx.inputs.len()
            ));
        }
        if tx.inputs[0].sequence != FINAL_SEQUENCE {
            return bad(format!(
                "input sequence is {:#x}, must be 0xffffffff",
                tx.inputs[0].sequence
            ));
        }
        let custody = spent.script_pubkey.parse_custody().map_err(|e| {
            Error::Invalid(format!(
                "not a record transaction: the spent output is not a custody output ({e})"
            ))
        })?;
        if !(1..=2).contains(&tx.outputs.len()) {
            return bad(format!(
                "it has {} outputs, must have the commitment and at most one change output",
                tx.outputs.len()
            ));
        }
        let commitment = &tx.outputs[0];
        if commitment.value != 0 {
            return bad(format!(
                "the commitment output carries {} satoshis, must carry 0",
                commitment.value
            ));
        }
        let record_digest = Digest(
            commitment
                .script_pubkey
                .parse_commitment()
                .map_err(|e| Error::Invalid(format!("not a record transaction: output 0 {e}")))?,
        );
        if let Some(change) = tx.outputs.get(1) {
            change.script_pubkey.parse_p2pkh().map_err(|e| {
                Error::Invalid(format!("not a record transaction: output 1 (change) {e}"))
            })?;
            if change.value == 0 {
                return bad("the change output carries 0 satoshis: leave it out instead".into());
            }
        }
        for (i, out) in tx.outputs.iter().enumerate() {
            if out.script_pubkey.len() > LEDGER_MAX_OUTPUT_SCRIPT
                || out.encoded_len() > LEDGER_MAX_OUTPUT_LEN
            {
                return bad(format!(
                    "output {i} is {} bytes, over the Ledger app's {LEDGER_MAX_OUTPUT_LEN}",
                    out.encoded_len()
                ));
            }
        }
        let total = tx.output_total()?;
        if total > spent.value {
            return bad(format!(
                "outputs pay {total} satoshis but the custody input holds only {}",
                spent.value
            ));
        }
        let sighash = protocol_sighash(&tx, Self::INPUT_INDEX, &spent)?;
        Ok(RecordTx {
            tx,
            spent,
            custody,
            record_digest,
            sighash,
        })
    }

    /// The transaction.
    pub fn tx(&self) -> &Transaction {
        &self.tx
    }

    /// The custody output it spends.
    pub fn spent(&self) -> &SpentOutput {
        &self.spent
    }

    /// The custody policy of the spent output (threshold and keys in byte order).
    pub fn custody(&self) -> &Custody {
        &self.custody
    }

    /// The record digest output 0 commits to.
    pub fn record_digest(&self) -> Digest {
        self.record_digest
    }

    /// The outpoint of the custody output.
    pub fn custody_outpoint(&self) -> OutPoint {
        self.tx.inputs[Self::INPUT_INDEX].prevout
    }

    /// The fee: custody value less the outputs (never negative: checked in `new`).
    pub fn fee(&self) -> u64 {
        self.spent.value - self.tx.output_total().unwrap_or(self.spent.value)
    }

    /// The ALL|FORKID signature hash of the custody input: the one digest co-signers sign.
    pub fn sighash(&self) -> [u8; 32] {
        self.sighash
    }

    /// Size in bytes once m signatures are in the unlocking script, at its largest.
    pub fn signed_size_estimate(&self) -> usize {
        signed_size(&self.tx, self.custody.threshold)
    }

    /// Checks that the fee is within `bounds` for the signed size.
    pub fn check_fee(&self, bounds: &FeeBounds) -> Result<()> {
        bounds.check(self.fee(), self.signed_size_estimate())
    }

    /// The same transaction with `script_sig` as the custody input's unlocking script.
    pub fn with_unlocking_script(&self, script_sig: Script) -> RecordTx {
        let mut signed = self.clone();
        signed.tx.inputs[Self::INPUT_INDEX].script_sig = script_sig;
        signed
    }
}

/// Limits on the fee of a record transaction that co-signers accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeBounds {
    /// Lowest rate, in satoshis per 1000 bytes of the signed transaction.
    pub min_sat_per_kb: u64,
    /// Highest rate, in satoshis per 1000 bytes of the signed transaction.
    pub max_sat_per_kb: u64,
    /// A fee up to this many satoshis is accepted whatever the rate (small custody outputs).
    pub max_flat_sats: u64,
}

impl Default for FeeBounds {
    /// 1 to 1000 sat/kB (BSV miners ask 1 to 100 sat/kB), or up to 1000 satoshis flat.
    fn default() -> Self {
        FeeBounds {
            min_sat_per_kb: 1,
            max_sat_per_kb: 1000,
            max_flat_sats: 1000,
        }
    }
}

impl FeeBounds {
    /// Checks a fee for a transaction of `size` bytes.
    pub fn check(&self, fee: u64, size: usize) -> Result<()> {
        let size = size as u64;
        let min = (size * self.min_sat_per_kb).div_ceil(1000);
        let max = ((size * self.max_sat_per_kb) / 1000).max(self.max_flat_sats);
        if fee < min {
            return Err(Error::Invalid(format!(
                "fee of {fee} satoshis is below the minimum of {min} for {size} bytes"
            )));
        }
        if fee > max {
            return Err(Error::Invalid(format!(
                "fee of {fee} satoshis is above the maximum of {max} for {size} bytes: the custody value would be burnt as fee; add a change output"
            )));
        }
        Ok(())
    }
}

/// What a publisher needs to build a record transaction.
#[derive(Debug, Clone)]
pub struct RecordTxParams {
    /// The custody output to spend.
    pub custody_outpoint: OutPoint,
    /// Its locking script and value.
    pub spent: SpentOutput,
    /// The digest of the record to commit to.
    pub record_digest: Digest,
    /// Where change goes (a P2PKH public key hash); without it the whole value is fee.
    pub change_pubkey_hash: Option<[u8; 20]>,
    /// Fee rate in satoshis per 1000 bytes of the signed transaction.
    pub fee_sat_per_kb: u64,
}

/// Builds the unsigned record transaction. The result went through [`RecordTx::new`], so it
/// has section 2's shape; a custody value too small for the fee is an error.
pub fn build(params: &RecordTxParams) -> Result<RecordTx> {
    let commitment = TxOut {
        value: 0,
        script_pubkey: Script::commitment(&params.record_digest.0),
    };
    let mut tx = Transaction {
        version: RECORD_TX_VERSION,
        inputs: vec![TxIn {
            prevout: params.custody_outpoint,
            script_sig: Script::default(),
            sequence: FINAL_SEQUENCE,
        }],
        outputs: vec![commitment],
        lock_time: 0,
    };
    let custody = params
        .spent
        .script_pubkey
        .parse_custody()
        .map_err(|e| Error::Invalid(format!("cannot build a record transaction: {e}")))?;
    if let Some(pkh) = params.change_pubkey_hash {
        tx.outputs.push(TxOut {
            value: 0,
            script_pubkey: Script::p2pkh(&pkh),
        });
        let fee = (signed_size(&tx, custody.threshold) as u64 * params.fee_sat_per_kb)
            .div_ceil(1000)
            .max(1);
        match params.spent.value.checked_sub(fee) {
            Some(change) if change > 0 => tx.outputs[1].value = change,
            // Nothing left for change: the whole custody value is the fee.
            _ => {
                tx.outputs.pop();
            }
        }
    }
    let fee_needed =
        (signed_size(&tx, custody.threshold) as u64 * params.fee_sat_per_kb).div_ceil(1000);
    if params.spent.value < fee_needed {
        return Err(Error::Invalid(format!(
            "custody output holds {} satoshis, less than the {fee_needed} fee: spend a larger custody output",
            params.spent.value
        )));
    }
    RecordTx::new(tx, params.spent.clone())
}

fn signed_size(tx: &Transaction, threshold: usize) -> usize {
    let unsigned = tx.encode().len() - tx.inputs[0].script_sig.len();
    let script_sig = 1 + threshold * MAX_SIG_PUSH; // OP_0 dummy, then the signatures
                                                   // The script length varint grows from 1 byte to 3 above 252 bytes.
    unsigned + script_sig + if script_sig > 0xfc { 2 } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tx::Txid;

    fn key(b: u8) -> [u8; 33] {
        let mut k = [b; 33];
        k[0] = 3;
        k
    }

    fn params(value: u64, change: bool) -> RecordTxParams {
        RecordTxParams {
            custody_outpoint: OutPoint {
                txid: Txid([7; 32]),
                vout: 1,
            },
            spent: SpentOutput {
                script_pubkey: Script::custody(2, &[key(1), key(2), key(3)]).unwrap(),
                value,
            },
            record_digest: Digest([9; 32]),
            change_pubkey_hash: change.then_some([5; 20]),
            fee_sat_per_kb: 100,
        }
    }

    #[test]
    fn builds_commitment_and_change() {
        let rtx = build(&params(100_000, true)).unwrap();
        let tx = rtx.tx();
        assert_eq!(tx.outputs.len(), 2);
        assert_eq!(
            tx.outputs[0].script_pubkey.parse_commitment().unwrap(),
            [9; 32]
        );
        assert_eq!(rtx.record_digest(), Digest([9; 32]));
        assert!(rtx.fee() > 0 && rtx.fee() < 100, "fee {}", rtx.fee());
        rtx.check_fee(&FeeBounds::default()).unwrap();
        assert_eq!(RecordTx::new(tx.clone(), rtx.spent().clone()).unwrap(), rtx);
    }

    #[test]
    fn without_change_the_custody_value_is_the_fee() {
        let rtx = build(&params(500, false)).unwrap();
        assert_eq!(rtx.tx().outputs.len(), 1);
        assert_eq!(rtx.fee(), 500);
    }

    #[test]
    fn fee_bounds_refuse_a_burnt_custody_output() {
        let rtx = build(&params(1_000_000, false)).unwrap();
        let err = rtx.check_fee(&FeeBounds::default()).unwrap_err();
        assert!(err.to_string().contains("above the maximum"), "{err}");
    }

    #[test]
    fn out_of_shape_transactions_are_refused() {
        let good = build(&params(100_000, true)).unwrap();
        let spent = good.spent().clone();
        type Mutation = Box<dyn Fn(&mut Transaction)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("version", Box::new(|t| t.version = 2)),
            ("lock time", Box::new(|t| t.lock_time = 1)),
            ("sequence", Box::new(|t| t.inputs[0].sequence = 0)),
            ("inputs", Box::new(|t| t.inputs.push(t.inputs[0].clone()))),
            ("commitment value", Box::new(|t| t.outputs[0].value = 1)),
            (
                "commitment script",
                Box::new(|t| t.outputs[0].script_pubkey = Script::p2pkh(&[1; 20])),
            ),
            (
                "change script",
                Box::new(|t| t.outputs[1].script_pubkey = Script::commitment(&[1; 32])),
            ),
            (
                "extra output",
                Box::new(|t| t.outputs.push(t.outputs[1].clone())),
            ),
            ("overspend", Box::new(|t| t.outputs[1].value = 200_000)),
            ("zero change", Box::new(|t| t.outputs[1].value = 0)),
        ];
        for (name, edit) in cases {
            let mut tx = good.tx().clone();
            edit(&mut tx);
            assert!(
                RecordTx::new(tx, spent.clone()).is_err(),
                "{name} was accepted"
            );
        }
        let p2pkh_spent = SpentOutput {
            script_pubkey: Script::p2pkh(&[1; 20]),
            value: 100_000,
        };
        assert!(RecordTx::new(good.tx().clone(), p2pkh_spent).is_err());
    }

    #[test]
    fn too_small_custody_output_is_an_error() {
        let mut p = params(10, false);
        p.fee_sat_per_kb = 1000;
        assert!(build(&p).unwrap_err().to_string().contains("less than"));
    }
}
