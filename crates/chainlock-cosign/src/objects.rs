//! The documents that travel as coordination refs (PROTOCOL.md section 8), and the checks
//! each passes on arrival. What fails a check is listed as invalid and never counted.

use serde::{Deserialize, Serialize};

use chainlock_protocol::bsm::{self, StatementKind};
use chainlock_protocol::checker::check_input;
use chainlock_protocol::hash::Digest;
use chainlock_protocol::jcs;
use chainlock_protocol::keys::{self, PublicKey};
use chainlock_protocol::record::ProtocolVersion;
use chainlock_protocol::record_tx::RecordTx;
use chainlock_protocol::request::SigningRequest;
use chainlock_protocol::script::Script;
use chainlock_protocol::tx::Transaction;

/// `signature.json`: a maintainer's co-signature of a request's custody input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureDoc {
    /// Always `chainlock/1`.
    pub protocol: ProtocolVersion,
    /// The request id.
    pub request: Digest,
    /// The maintainer's public key.
    pub public_key: PublicKey,
    /// DER + sighash byte (0x41), hex.
    pub signature: String,
}

/// `rejection.json`: a maintainer's signed refusal, with a reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rejection {
    /// Always `chainlock/1`.
    pub protocol: ProtocolVersion,
    /// Always `reject`.
    #[serde(rename = "type")]
    pub kind: RejectTag,
    /// The request id.
    pub request: Digest,
    /// Why, in the maintainer's words.
    pub reason: String,
    /// When, Unix seconds.
    pub created_at: u64,
    /// The maintainer's public key.
    pub public_key: PublicKey,
    /// Statement (kind `reject`) over [`Rejection::digest`], base64 compact signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// The `type` tag of a rejection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RejectTag {
    /// `reject`.
    Reject,
}

impl Rejection {
    /// SHA-256 of the canonical JSON without the signature: what the statement signs.
    pub fn digest(&self) -> chainlock_protocol::Result<Digest> {
        let mut unsigned = self.clone();
        unsigned.signature = None;
        Ok(Digest::of(&jcs::to_canonical_bytes(&unsigned)?))
    }
}

/// `final.json`: the fully signed record transaction of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinalDoc {
    /// Always `chainlock/1`.
    pub protocol: ProtocolVersion,
    /// The request id.
    pub request: Digest,
    /// The signed transaction, hex.
    pub tx: String,
    /// Its txid (display order).
    pub txid: String,
    /// What the chain backend said when it was broadcast.
    pub status: String,
}

/// A co-signature that verified: a maintainer of the request's policy signed its sighash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidSignature {
    /// The key id.
    pub key_id: String,
    /// The public key.
    pub public_key: PublicKey,
    /// DER + 0x41.
    #[serde(serialize_with = "hex_bytes")]
    pub signature: Vec<u8>,
}

fn hex_bytes<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(bytes))
}

/// Parses a JSON document, refusing a byte-order mark with a message that names it.
pub fn parse_json<T: for<'de> Deserialize<'de>>(bytes: &[u8], what: &str) -> Result<T, String> {
    if bytes.starts_with(&[0xef, 0xbb, 0xbf]) {
        return Err(format!("{what} starts with a byte-order mark (BOM)"));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        format!(
            "{what} is not valid: {}",
            chainlock_protocol::text::shown(&e.to_string())
        )
    })
}

/// The record transaction of a request, checked for shape (section 2).
pub fn request_record_tx(req: &SigningRequest) -> Result<RecordTx, String> {
    req.record_tx().map_err(|e| e.to_string())
}

/// The checks every signed object shares: it names this request, it holds the key its ref
/// names, and that key is a maintainer of the request's policy.
fn check_signer(
    what: &str,
    request: &Digest,
    public_key: &PublicKey,
    req: &SigningRequest,
    request_id: &Digest,
    key_id: &str,
) -> Result<(), String> {
    if request != request_id {
        return Err(format!("{what} request {request}, not this one"));
    }
    if public_key.key_id() != key_id {
        return Err(format!(
            "holds key {} under the ref of key {key_id}",
            public_key.key_id()
        ));
    }
    if !req.policy.is_maintainer(public_key) {
        return Err(format!(
            "key {key_id} is not a maintainer of the request's policy (unknown key)"
        ));
    }
    Ok(())
}

/// Checks a co-signature for `req` found under the ref of `key_id`.
pub fn check_signature(
    doc: &SignatureDoc,
    req: &SigningRequest,
    request_id: &Digest,
    key_id: &str,
) -> Result<ValidSignature, String> {
    check_signer(
        "signs",
        &doc.request,
        &doc.public_key,
        req,
        request_id,
        key_id,
    )?;
    let signature =
        hex::decode(&doc.signature).map_err(|_| "the signature is not hex".to_string())?;
    let rtx = request_record_tx(req)?;
    keys::verify_input_signature(
        &doc.public_key,
        &signature,
        rtx.tx(),
        RecordTx::INPUT_INDEX,
        rtx.spent(),
    )
    .map_err(|e| format!("the signature does not verify: {e}"))?;
    Ok(ValidSignature {
        key_id: key_id.to_string(),
        public_key: doc.public_key,
        signature,
    })
}

/// A co-signature whose ref, at this commit, was verified before (by [`check_signature`]).
pub fn trusted_signature(doc: &SignatureDoc, key_id: &str) -> Result<ValidSignature, String> {
    let signature =
        hex::decode(&doc.signature).map_err(|_| "the signature is not hex".to_string())?;
    Ok(ValidSignature {
        key_id: key_id.to_string(),
        public_key: doc.public_key,
        signature,
    })
}

/// Checks a rejection of `req` found under the ref of `key_id`.
pub fn check_rejection(
    doc: &Rejection,
    req: &SigningRequest,
    request_id: &Digest,
    key_id: &str,
) -> Result<(), String> {
    check_signer(
        "rejects",
        &doc.request,
        &doc.public_key,
        req,
        request_id,
        key_id,
    )?;
    if doc.reason.trim().is_empty() || doc.reason.len() > 4096 {
        return Err("the reason must be 1 to 4096 bytes".into());
    }
    let signature = doc.signature.as_deref().ok_or("it carries no signature")?;
    let digest = doc.digest().map_err(|e| e.to_string())?;
    bsm::verify_statement(&doc.public_key, StatementKind::Reject, &digest.0, signature)
        .map_err(|e| format!("its statement does not verify: {e}"))
}

/// Checks a final transaction of `req`: it spends the request's custody output with the
/// record transaction's outputs, and the whole input passes the checker.
pub fn check_final(
    doc: &FinalDoc,
    req: &SigningRequest,
    request_id: &Digest,
) -> Result<Transaction, String> {
    if doc.request != *request_id {
        return Err(format!("finalizes request {}, not this one", doc.request));
    }
    let tx = Transaction::from_hex(&doc.tx).map_err(|e| e.to_string())?;
    let rtx = request_record_tx(req)?;
    let mut unsigned = tx.clone();
    for input in &mut unsigned.inputs {
        input.script_sig = Script::default();
    }
    if unsigned != *rtx.tx() {
        return Err("its transaction is not the request's record transaction".into());
    }
    let verdict = check_input(&tx, RecordTx::INPUT_INDEX, rtx.spent());
    if !verdict.is_valid() {
        return Err(format!(
            "its custody input does not verify: {}",
            verdict
                .reason()
                .map(ToString::to_string)
                .unwrap_or_else(|| "unknown".into())
        ));
    }
    Ok(tx)
}
