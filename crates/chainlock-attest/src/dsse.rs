//! DSSE envelopes (Dead Simple Signing Envelope, v1.0), strictly parsed.
//!
//! An envelope is `{"payloadType", "payload", "signatures": [{"keyid", "sig"}]}` with the payload
//! and signatures in standard padded base64. The signature is over the pre-authentication
//! encoding `PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, so the
//! payload type is signed too and a payload cannot be replayed under another type.
//!
//! Parsing refuses anything DSSE leaves open that would let two byte strings mean the same
//! envelope (unknown fields, non-canonical base64), because the protocol hashes envelopes
//! (PROTOCOL.md section 5): one meaning, one digest.

use base64ct::{Base64, Encoding};

use crate::key::{BuilderKey, BuilderPublicKey};
use crate::{Error, Result};

/// The payload type of attestations: an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// The largest envelope accepted, in bytes: attestations are a few kilobytes.
pub const MAX_ENVELOPE_BYTES: usize = 1 << 20;

pub use chainlock_protocol::request::{Envelope, EnvelopeSignature};

/// DSSE's pre-authentication encoding of a payload and its type.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload_type.len() + payload.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// Signs a payload with a builder key: one signature, key id from the key.
pub fn sign(payload_type: &str, payload: &[u8], key: &BuilderKey) -> Envelope {
    let sig = key.sign_pae(&pae(payload_type, payload));
    Envelope {
        payload_type: payload_type.to_string(),
        payload: Base64::encode_string(payload),
        signatures: vec![EnvelopeSignature {
            keyid: key.public_key().key_id(),
            sig: Base64::encode_string(&sig),
        }],
    }
}

/// Parses an envelope document, refusing unknown fields and oversized input.
pub fn parse(bytes: &[u8]) -> Result<Envelope> {
    if bytes.len() > MAX_ENVELOPE_BYTES {
        return Err(Error::Envelope(format!(
            "{} bytes is larger than the {MAX_ENVELOPE_BYTES}-byte limit",
            bytes.len()
        )));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| Error::Envelope(chainlock_protocol::text::json_reason(bytes, &e)))
}

/// The envelope as pretty JSON (its digest does not depend on the layout).
pub fn to_json_pretty(envelope: &Envelope) -> Result<String> {
    serde_json::to_string_pretty(envelope).map_err(|e| Error::Envelope(e.to_string()))
}

/// SHA-256 of the envelope's canonical JSON (RFC 8785), the digest section 5 names.
pub fn digest(envelope: &Envelope) -> Result<[u8; 32]> {
    Ok(chainlock_protocol::jcs::digest(envelope)?)
}

/// The decoded payload bytes, refusing non-canonical base64.
pub fn payload_bytes(envelope: &Envelope) -> Result<Vec<u8>> {
    Base64::decode_vec(&envelope.payload)
        .map_err(|_| Error::Envelope("payload is not canonical standard base64".into()))
}

/// The key id of the one signature: attestations carry exactly one, by their builder.
pub fn signer_key_id(envelope: &Envelope) -> Result<&str> {
    match envelope.signatures.as_slice() {
        [one] => Ok(&one.keyid),
        other => Err(Error::Envelope(format!(
            "expected exactly one signature, found {}",
            other.len()
        ))),
    }
}

/// Verifies the one signature with `key` and returns the payload bytes.
///
/// Checks that the signature names `key`'s id and verifies over the PAE of the declared
/// payload type and the decoded payload. The payload type itself is the caller's to judge.
pub fn verify(envelope: &Envelope, key: &BuilderPublicKey) -> Result<Vec<u8>> {
    let key_id = signer_key_id(envelope)?;
    if key_id != key.key_id() {
        return Err(Error::Envelope(format!(
            "signed by key id {key_id}, not {}",
            key.key_id()
        )));
    }
    let payload = payload_bytes(envelope)?;
    let sig = Base64::decode_vec(&envelope.signatures[0].sig)
        .map_err(|_| Error::Envelope("signature is not canonical standard base64".into()))?;
    key.verify(&pae(&envelope.payload_type, &payload), &sig)?;
    Ok(payload)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_dsse_specification() {
        // The example of the DSSE protocol document (protocol.md, "Test cases").
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
    }

    #[test]
    fn sign_verify_and_tamper() {
        let key = BuilderKey::from_seed(&[7; 32]);
        let env = sign(PAYLOAD_TYPE, b"{\"a\":1}", &key);
        assert_eq!(verify(&env, &key.public_key()).unwrap(), b"{\"a\":1}");

        let mut tampered = env.clone();
        tampered.payload = Base64::encode_string(b"{\"a\":2}");
        assert!(matches!(
            verify(&tampered, &key.public_key()),
            Err(Error::BadSignature { .. })
        ));

        // The payload type is signed: relabelling the same payload breaks the signature.
        let mut relabelled = env.clone();
        relabelled.payload_type = "application/json".into();
        assert!(verify(&relabelled, &key.public_key()).is_err());

        let other = BuilderKey::from_seed(&[8; 32]);
        assert!(verify(&env, &other.public_key()).is_err());

        let mut two = env.clone();
        two.signatures.push(two.signatures[0].clone());
        assert!(verify(&two, &key.public_key()).is_err());
    }

    #[test]
    fn parsing_is_strict() {
        let key = BuilderKey::from_seed(&[7; 32]);
        let env = sign(PAYLOAD_TYPE, b"hello", &key);
        let text = to_json_pretty(&env).unwrap();
        assert_eq!(parse(text.as_bytes()).unwrap(), env);

        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["extra"] = serde_json::json!("x");
        assert!(parse(v.to_string().as_bytes()).is_err());

        // "aGVsbG8=" is "hello"; "aGVsbG9=" decodes to the same bytes with non-zero padding bits.
        let mut loose = env.clone();
        loose.payload = "aGVsbG9=".into();
        assert!(payload_bytes(&loose).is_err());
        loose.payload = "aGVsbG8".into();
        assert!(payload_bytes(&loose).is_err());

        assert!(parse(&vec![b' '; MAX_ENVELOPE_BYTES + 1]).is_err());
        assert!(parse(b"{\"payloadType\":1}").is_err());
    }

    #[test]
    fn digest_ignores_layout() {
        let key = BuilderKey::from_seed(&[7; 32]);
        let env = sign(PAYLOAD_TYPE, b"hello", &key);
        let compact = serde_json::to_vec(&env).unwrap();
        let pretty = to_json_pretty(&env).unwrap();
        assert_eq!(
            digest(&parse(&compact).unwrap()).unwrap(),
            digest(&parse(pretty.as_bytes()).unwrap()).unwrap()
        );
        let canonical = chainlock_protocol::jcs::to_canonical_bytes(&env).unwrap();
        assert!(canonical.starts_with(b"{\"payload\":\"aGVsbG8=\",\"payloadType\":"));
        assert_eq!(
            digest(&env).unwrap(),
            chainlock_protocol::hash::sha256(&canonical)
        );
    }
}
