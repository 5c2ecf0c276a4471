//! ChainLock statements signed as Bitcoin Signed Messages (PROTOCOL.md sections 1, 7, 8).
//!
//! A statement is the ASCII text `chainlock/1 <kind> <lowercase hex digest>`, hashed with the
//! `Bitcoin Signed Message:\n` prefix that wallets and the Ledger app use. The prefix keeps
//! statements and transaction signatures in separate domains: no statement signature can
//! ever verify as a transaction input signature. Signatures travel as base64 of the 65-byte
//! compact recoverable form (header byte, r, s), as Bitcoin Core's `signmessage` prints them.

use std::fmt;

use base64ct::{Base64, Encoding};
use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};

use crate::encode::write_var_bytes;
use crate::hash::sha256d;
use crate::keys::{is_low_s, PublicKey};
use crate::{Error, Result};

/// The message magic that prefixes every signed message.
pub const MESSAGE_MAGIC: &str = "Bitcoin Signed Message:\n";
/// Text that starts every statement.
pub const STATEMENT_PREFIX: &str = "chainlock/1";
/// Length of a compact recoverable signature.
pub const COMPACT_LEN: usize = 65;
/// Header byte of a compact signature by a compressed key with recovery id 0.
const COMPRESSED_HEADER_BASE: u8 = 31;

/// What a statement says about the digest it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatementKind {
    /// A publisher asks the maintainers to co-sign a signing request (section 7).
    Request,
    /// A maintainer rejects a signing request, with a reason (section 8).
    Reject,
    /// A maintainer flags a release in its challenge window (section 9).
    Flag,
    /// A flag's signer withdraws it (section 9).
    Withdraw,
}

impl StatementKind {
    /// The word used in the statement text.
    pub fn as_str(self) -> &'static str {
        match self {
            StatementKind::Request => "request",
            StatementKind::Reject => "reject",
            StatementKind::Flag => "flag",
            StatementKind::Withdraw => "withdraw",
        }
    }
}

impl fmt::Display for StatementKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The statement text: `chainlock/1 <kind> <lowercase hex digest>`.
pub fn statement_text(kind: StatementKind, digest: &[u8; 32]) -> String {
    format!(
        "{STATEMENT_PREFIX} {} {}",
        kind.as_str(),
        hex::encode(digest)
    )
}

/// The digest a Bitcoin Signed Message signs: sha256d of varstr(magic) || varstr(message).
pub fn message_digest(msg: &[u8]) -> [u8; 32] {
    let mut buf = Vec::with_capacity(MESSAGE_MAGIC.len() + msg.len() + 10);
    write_var_bytes(&mut buf, MESSAGE_MAGIC.as_bytes());
    write_var_bytes(&mut buf, msg);
    sha256d(&buf)
}

/// Checks that `sig_base64` is `pk`'s signature over the statement (`kind`, `digest`): a
/// canonical base64 65-byte compact signature with a compressed-key header (31..34), low S,
/// that recovers exactly `pk`.
pub fn verify_statement(
    pk: &PublicKey,
    kind: StatementKind,
    digest: &[u8; 32],
    sig_base64: &str,
) -> Result<()> {
    let fail = |why: String| {
        Error::Crypto(format!(
            "{kind} statement over {} by key {}: {why}",
            hex::encode(digest),
            pk.key_id()
        ))
    };
    // 65 bytes are 88 base64 characters; checking first bounds the decoder's allocation.
    if sig_base64.len() != 88 {
        return Err(fail(format!(
            "signature must be 88 base64 characters (65 bytes), got {}",
            sig_base64.len()
        )));
    }
    let raw = Base64::decode_vec(sig_base64)
        .map_err(|e| fail(format!("signature is not canonical base64: {e}")))?;
    let compact: [u8; COMPACT_LEN] = raw
        .try_into()
        .map_err(|_| fail("signature does not decode to 65 bytes".into()))?;
    let header = compact[0];
    if !(COMPRESSED_HEADER_BASE..COMPRESSED_HEADER_BASE + 4).contains(&header) {
        return Err(fail(format!(
            "header byte {header} is not 31..34 (a compressed-key signature); maintainer keys are compressed"
        )));
    }
    let recid = RecoveryId::from_byte(header - COMPRESSED_HEADER_BASE)
        .ok_or_else(|| fail(format!("header byte {header} has no recovery id")))?;
    let sig = Signature::from_slice(&compact[1..])
        .map_err(|_| fail("r or s is zero or not below the group order".into()))?;
    if !is_low_s(&sig) {
        // Our signers always produce low S; refusing the other form keeps one encoding per
        // signature, so a signature cannot be re-encoded into a second valid one.
        return Err(fail(
            "s is high; statements carry low-S signatures only".into(),
        ));
    }
    let msg_digest = message_digest(statement_text(kind, digest).as_bytes());
    let recovered = VerifyingKey::recover_from_prehash(&msg_digest, &sig, recid)
        .map_err(|_| fail("no public key can be recovered from it".into()))?;
    let recovered = PublicKey::from_verifying_key(&recovered)?;
    if recovered != *pk {
        return Err(fail(format!(
            "it was made by key {}, not this one",
            recovered.key_id()
        )));
    }
    crate::keys::verify_prehash(pk, &msg_digest, &sig).map_err(|e| fail(e.to_string()))
}

/// The 65-byte compact form of a DER-decoded signature `sig` by `pk` over `msg_digest` (from
/// [`message_digest`]): finds the recovery id by trying each and keeping the one that recovers
/// `pk`. The Ledger returns DER for SIGN_MESSAGE; the signer converts it with this.
/// A high-S signature is normalized first, since [`verify_statement`] accepts low S only.
pub fn compact_from_signature(
    pk: &PublicKey,
    msg_digest: &[u8; 32],
    sig: &Signature,
) -> Result<[u8; 65]> {
    let sig = sig.normalize_s().unwrap_or(*sig);
    for id in 0..4u8 {
        let Some(recid) = RecoveryId::from_byte(id) else {
            continue;
        };
        let Ok(vk) = VerifyingKey::recover_from_prehash(msg_digest, &sig, recid) else {
            continue;
        };
        if PublicKey::from_verifying_key(&vk).is_ok_and(|k| k == *pk) {
            let mut out = [0u8; COMPACT_LEN];
            out[0] = COMPRESSED_HEADER_BASE + id;
            out[1..].copy_from_slice(&sig.to_bytes());
            return Ok(out);
        }
    }
    Err(Error::Crypto(format!(
        "the signature does not verify for key {} over the message digest {}",
        pk.key_id(),
        hex::encode(msg_digest)
    )))
}

/// Base64 of the compact form of a low-S signature with its recovery id.
pub(crate) fn encode_compact(sig: &Signature, recid: RecoveryId) -> String {
    let mut out = [0u8; COMPACT_LEN];
    out[0] = COMPRESSED_HEADER_BASE + recid.to_byte();
    out[1..].copy_from_slice(&sig.to_bytes());
    Base64::encode_string(&out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests {
    use super::*;
    use crate::keys::SecretKey;
    use k256::ecdsa::signature::hazmat::PrehashSigner;

    fn key(n: u8) -> SecretKey {
        let mut b = [0u8; 32];
        b[31] = n;
        SecretKey::from_bytes(&b).unwrap()
    }

    #[test]
    fn statement_text_is_exact() {
        let d = [0xab; 32];
        assert_eq!(
            statement_text(StatementKind::Request, &d),
            format!("chainlock/1 request {}", "ab".repeat(32))
        );
        assert_eq!(
            statement_text(StatementKind::Reject, &d),
            format!("chainlock/1 reject {}", "ab".repeat(32))
        );
        assert_eq!(
            serde_json::to_string(&StatementKind::Reject).unwrap(),
            "\"reject\""
        );
        assert_eq!(
            serde_json::from_str::<StatementKind>("\"request\"").unwrap(),
            StatementKind::Request
        );
    }

    #[test]
    fn message_digest_matches_bitcoin_core() {
        // sha256d of "\x18Bitcoin Signed Message:\n\x0cTrust no one", as bitcoinrb's test of
        // Bitcoin Core's vector prints it.
        assert_eq!(
            hex::encode(message_digest(b"Trust no one")),
            "aa8215d723ecd2f14867eeb7e19f192be7bc15a2352a24b991d4f5870cbaf6e8"
        );
    }

    #[test]
    fn statements_sign_and_verify() {
        let sk = key(7);
        let pk = sk.public_key();
        let digest = [0x11; 32];
        let sig = sk.sign_statement(StatementKind::Request, &digest);
        assert_eq!(sig.len(), 88);
        verify_statement(&pk, StatementKind::Request, &digest, &sig).unwrap();
        // Kind, digest and key are all bound.
        assert!(verify_statement(&pk, StatementKind::Reject, &digest, &sig).is_err());
        assert!(verify_statement(&pk, StatementKind::Request, &[0x12; 32], &sig).is_err());
        let err = verify_statement(&key(8).public_key(), StatementKind::Request, &digest, &sig)
            .unwrap_err();
        assert!(err.to_string().contains("not this one"), "{err}");
    }

    #[test]
    fn malformed_statement_signatures_are_refused() {
        let sk = key(7);
        let pk = sk.public_key();
        let digest = [0x11; 32];
        let sig = sk.sign_statement(StatementKind::Request, &digest);
        let mut raw = Base64::decode_vec(&sig).unwrap();
        assert!((31..=34).contains(&raw[0]));

        assert!(verify_statement(&pk, StatementKind::Request, &digest, "").is_err());
        assert!(
            verify_statement(&pk, StatementKind::Request, &digest, &"A".repeat(10_000)).is_err()
        );
        assert!(verify_statement(
            &pk,
            StatementKind::Request,
            &digest,
            &format!("{}!", &sig[..87])
        )
        .is_err());

        // The uncompressed-key header for the same signature.
        let mut uncompressed = raw.clone();
        uncompressed[0] -= 4;
        let err = verify_statement(
            &pk,
            StatementKind::Request,
            &digest,
            &Base64::encode_string(&uncompressed),
        )
        .unwrap_err();
        assert!(err.to_string().contains("31..34"), "{err}");

        // The other recovery id recovers another key.
        raw[0] = if raw[0] == 31 { 32 } else { 31 };
        assert!(verify_statement(
            &pk,
            StatementKind::Request,
            &digest,
            &Base64::encode_string(&raw)
        )
        .is_err());
    }

    #[test]
    fn compact_from_der_signature_finds_the_recovery_id() {
        let sk = key(3);
        let pk = sk.public_key();
        let digest = [0x42; 32];
        let msg_digest = message_digest(statement_text(StatementKind::Reject, &digest).as_bytes());
        let signing = k256::ecdsa::SigningKey::from_bytes((&*sk.to_bytes()).into()).unwrap();
        let sig: Signature = signing.sign_prehash(&msg_digest).unwrap();
        let compact = compact_from_signature(&pk, &msg_digest, &sig).unwrap();
        let b64 = Base64::encode_string(&compact);
        verify_statement(&pk, StatementKind::Reject, &digest, &b64).unwrap();
        assert_eq!(b64, sk.sign_statement(StatementKind::Reject, &digest));

        // A high-S DER signature (as a device might return) is normalized.
        let high =
            Signature::from_scalars(sig.r().to_bytes(), (-*sig.s().as_ref()).to_bytes()).unwrap();
        let compact_high = compact_from_signature(&pk, &msg_digest, &high).unwrap();
        assert_eq!(compact_high, compact);

        assert!(compact_from_signature(&key(4).public_key(), &msg_digest, &sig).is_err());
    }
}
