//! Assembling the custody unlocking script from co-signers' signatures.
//!
//! Each signature is matched to its key by verification over the sighash computed here, so
//! a signature can count only for the key that made it, and only once: signatures are
//! counted by distinct key (the TUF advisory GHSA-r7vq-6425-j94w was a threshold counted
//! twice for one key). The result must then pass the node-like checker as a whole.

use chainlock_protocol::checker;
use chainlock_protocol::keys::{self, PublicKey};
use chainlock_protocol::record_tx::RecordTx;
use chainlock_protocol::script::{op, Builder};

use crate::{Error, Result};

/// A record transaction whose custody input carries `OP_0` and m signatures in key order.
#[derive(Debug, Clone)]
pub struct Combined {
    /// The signed transaction, checked by [`checker::check_input`].
    pub tx: RecordTx,
    /// The keys whose signatures were used, in key order.
    pub signers: Vec<PublicKey>,
    /// Valid signatures left out because the threshold was already met (key ids).
    pub unused: Vec<String>,
}

/// Builds the unlocking script `OP_0 <sig>...` for the custody input of `tx` from
/// `signatures` (each DER + 0x41, in any order): each must verify for one custody key, no key
/// may sign twice, and at least the threshold must be present. With more than the threshold,
/// the signatures of the lowest keys are used. The assembled input is then judged by the
/// checker; anything it refuses is an error.
pub fn combine(tx: &RecordTx, signatures: &[Vec<u8>]) -> Result<Combined> {
    let custody = tx.custody();
    let mut keys = Vec::with_capacity(custody.keys.len());
    for bytes in &custody.keys {
        keys.push(PublicKey::from_bytes(bytes)?);
    }
    // For each custody key (in key order), the signature that verified for it.
    let mut by_key: Vec<Option<&[u8]>> = vec![None; keys.len()];
    for (index, signature) in signatures.iter().enumerate() {
        let matched = keys.iter().position(|key| {
            keys::verify_input_signature(key, signature, tx.tx(), RecordTx::INPUT_INDEX, tx.spent())
                .is_ok()
        });
        let Some(pos) = matched else {
            return Err(Error::UnknownSignature { index });
        };
        if by_key[pos].is_some() {
            return Err(Error::DuplicateSignature {
                key_id: keys[pos].key_id(),
            });
        }
        by_key[pos] = Some(signature);
    }
    let have = by_key.iter().flatten().count();
    if have < custody.threshold {
        return Err(Error::InsufficientSignatures {
            have,
            need: custody.threshold,
        });
    }
    let mut script = Builder::new();
    script.op(op::OP_0);
    let mut signers = Vec::with_capacity(custody.threshold);
    let mut unused = Vec::new();
    for (key, signature) in keys.iter().zip(&by_key) {
        let Some(signature) = signature else { continue };
        if signers.len() < custody.threshold {
            script.push(signature);
            signers.push(*key);
        } else {
            unused.push(key.key_id());
        }
    }
    let signed = tx.with_unlocking_script(script.into_script());
    let verdict = checker::check_input(signed.tx(), RecordTx::INPUT_INDEX, signed.spent());
    if let Some(reason) = verdict.reason() {
        return Err(Error::CombinedInvalid {
            reason: reason.to_string(),
        });
    }
    Ok(Combined {
        tx: signed,
        signers,
        unused,
    })
}
