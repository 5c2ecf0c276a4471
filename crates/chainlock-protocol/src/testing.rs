//! Test support (feature `test-support`): signing transaction shapes without a verified
//! request, for tests that build spends for the node-rules checker and the @bsv/sdk judge.
//!
//! Never enable this feature in a binary: it is the one way around the signing gate, and it
//! is named so that any use of it reads as what it is.

use crate::keys::SecretKey;
use crate::record_tx::RecordTx;
use crate::tx::{SpentOutput, Transaction};
use crate::verify::ReadyToSign;
use crate::Result;

/// Signs input `input_index` of `tx` (spending `spent`) with `ALL|FORKID`, with no
/// verification of any request. Tests only.
pub fn sign_unverified_input(
    key: &SecretKey,
    tx: &Transaction,
    input_index: usize,
    spent: &SpentOutput,
) -> Result<Vec<u8>> {
    key.sign_input_unchecked(tx, input_index, spent)
}

/// A [`ReadyToSign`] for `record_tx` that no verification produced: for tests of the signers
/// themselves (recorded device exchanges over fixed transactions). `funding_tx` is taken as
/// given, even when it did not create the custody output. Tests only.
pub fn ready_to_sign_unverified(record_tx: RecordTx, funding_tx: Transaction) -> ReadyToSign {
    ReadyToSign::unverified(record_tx, funding_tx)
}
