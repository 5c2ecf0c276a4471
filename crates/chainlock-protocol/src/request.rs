//! Signing requests (PROTOCOL.md section 7): what a co-signer receives, and its id.

use serde::{Deserialize, Serialize};

use crate::bsm::{self, StatementKind};
use crate::hash::Digest;
use crate::keys::PublicKey;
use crate::policy::Policy;
use crate::record::{ProtocolVersion, Record};
use crate::{jcs, Error, Result};

/// A signing request. The publisher's `signature` covers the canonical JSON of every other
/// field; its SHA-256 is the request id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningRequest {
    /// Always `chainlock/1`.
    pub protocol: ProtocolVersion,
    /// The record to be committed.
    pub record: Record,
    /// The policy in force (whose maintainers sign this record).
    pub policy: Policy,
    /// The rebuild attestations the release relies on (DSSE envelopes).
    pub attestations: Vec<Envelope>,
    /// The unsigned record transaction, hex.
    pub transaction: String,
    /// The custody output the transaction spends.
    pub custody: CustodyOutput,
    /// Creation time, Unix seconds.
    pub created_at: u64,
    /// Expiry time, Unix seconds: co-signers refuse the request from then on.
    pub expires_at: u64,
    /// The publisher's maintainer key (one of the policy's).
    pub publisher: PublicKey,
    /// The publisher's statement (kind `request`) over the request id: base64 of a compact
    /// Bitcoin Signed Message signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// The custody output a record transaction spends, with the transaction that created it so
/// that the co-signer can check the outpoint itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustodyOutput {
    /// The creating (top-up) transaction, hex.
    pub funding_tx: String,
    /// The output's index in it.
    pub vout: u32,
    /// Its locking script, hex.
    pub locking_script: String,
    /// Its value.
    pub satoshis: u64,
}

/// A DSSE envelope as it travels in requests (PROTOCOL.md section 5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Envelope {
    /// `application/vnd.in-toto+json`.
    pub payload_type: String,
    /// Base64 of the in-toto Statement.
    pub payload: String,
    /// Signatures over DSSE's PAE.
    pub signatures: Vec<EnvelopeSignature>,
}

/// One DSSE signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeSignature {
    /// Key id: lowercase hex SHA-256 of the builder's Ed25519 public key.
    pub keyid: String,
    /// Base64 Ed25519 signature.
    pub sig: String,
}

impl SigningRequest {
    /// A new, unsigned request for `record`, as a publisher makes one: the record
    /// transaction `rtx` spends output `vout` of `funding_tx`, which must be the custody
    /// output `rtx` was built for. Attach the publisher's statement with
    /// [`Self::attach_signature`] (over [`Self::id`]).
    #[allow(clippy::too_many_arguments)] // every part of the document, named at the call
    pub fn new(
        record: Record,
        policy: Policy,
        attestations: Vec<Envelope>,
        rtx: &crate::record_tx::RecordTx,
        funding_tx: &crate::tx::Transaction,
        created_at: u64,
        expires_at: u64,
        publisher: PublicKey,
    ) -> Result<Self> {
        let outpoint = rtx.custody_outpoint();
        if funding_tx.txid() != outpoint.txid {
            return Err(Error::Invalid(format!(
                "the record transaction spends {outpoint}, not an output of funding transaction {}",
                funding_tx.txid()
            )));
        }
        record.validate()?;
        policy.validate()?;
        Ok(SigningRequest {
            protocol: ProtocolVersion::V1,
            record,
            policy,
            attestations,
            transaction: rtx.tx().to_hex(),
            custody: CustodyOutput {
                funding_tx: funding_tx.to_hex(),
                vout: outpoint.vout,
                locking_script: rtx.spent().script_pubkey.to_hex(),
                satoshis: rtx.spent().value,
            },
            created_at,
            expires_at,
            publisher,
            signature: None,
        })
    }

    /// Parses a request document, refusing unknown fields and malformed records or policies.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let r: SigningRequest = serde_json::from_slice(bytes).map_err(|e| Error::Json {
            what: "signing request".into(),
            reason: crate::text::json_reason(bytes, &e),
        })?;
        r.record.validate()?;
        r.policy.validate()?;
        Ok(r)
    }

    /// The canonical JSON of the request without its `signature` field: what the publisher signs.
    pub fn signed_bytes(&self) -> Result<Vec<u8>> {
        let mut v = serde_json::to_value(self).map_err(|e| Error::Json {
            what: "signing request".into(),
            reason: e.to_string(),
        })?;
        if let Some(map) = v.as_object_mut() {
            map.remove("signature");
        }
        jcs::canonicalize(&v)
    }

    /// The request id: SHA-256 of [`Self::signed_bytes`].
    pub fn id(&self) -> Result<Digest> {
        Ok(Digest::of(&self.signed_bytes()?))
    }

    /// Attaches the publisher's statement, after checking it verifies for `self.publisher`.
    pub fn attach_signature(&mut self, signature_base64: String) -> Result<()> {
        let id = self.id()?;
        bsm::verify_statement(
            &self.publisher,
            StatementKind::Request,
            &id.0,
            &signature_base64,
        )?;
        self.signature = Some(signature_base64);
        Ok(())
    }

    /// Checks the publisher's statement over the request id.
    pub fn verify_signature(&self) -> Result<()> {
        let sig = self
            .signature
            .as_deref()
            .ok_or_else(|| Error::Crypto("the request carries no publisher signature".into()))?;
        bsm::verify_statement(&self.publisher, StatementKind::Request, &self.id()?.0, sig)
    }

    /// The request's record transaction with the custody output it spends, checked against
    /// section 2's shape (signed or not: the unlocking script is not part of the shape).
    pub fn record_tx(&self) -> Result<crate::record_tx::RecordTx> {
        let tx = crate::tx::Transaction::from_hex(&self.transaction)?;
        let script = crate::script::Script::from_hex(&self.custody.locking_script)?;
        crate::record_tx::RecordTx::new(
            tx,
            crate::tx::SpentOutput {
                script_pubkey: script,
                value: self.custody.satoshis,
            },
        )
    }

    /// The canonical JSON of the whole request, signature included (how it is stored).
    pub fn to_canonical_json(&self) -> Result<Vec<u8>> {
        jcs::to_canonical_bytes(self)
    }
}
