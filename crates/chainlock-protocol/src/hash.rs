//! Hash functions the protocol uses, and hex helpers that say what they were decoding.

use ripemd::Ripemd160;
use sha2::Digest as _;
use sha2::Sha256;

use crate::{Error, Result};

/// SHA-256.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// SHA-256 of SHA-256, as Bitcoin uses for txids and sighashes.
pub fn sha256d(data: &[u8]) -> [u8; 32] {
    sha256(&sha256(data))
}

/// RIPEMD-160 of SHA-256, as P2PKH uses for public key hashes.
pub fn hash160(data: &[u8]) -> [u8; 20] {
    Ripemd160::digest(sha256(data)).into()
}

/// Decodes hex text, naming `what` in the error.
pub fn from_hex(what: &str, text: &str) -> Result<Vec<u8>> {
    hex::decode(text.trim()).map_err(|e| Error::Hex {
        what: what.to_string(),
        reason: e.to_string(),
    })
}

/// Decodes exactly 32 bytes of lowercase hex (a digest), naming `what` in the error.
pub fn digest_from_hex(what: &str, text: &str) -> Result<[u8; 32]> {
    if text.len() != 64 || text.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(Error::Hex {
            what: what.to_string(),
            reason: format!("expected 64 lowercase hex digits, got {:?}", truncate(text)),
        });
    }
    let bytes = from_hex(what, text)?;
    let mut out = [0u8; 32];
    out.copy_from_slice(&bytes);
    Ok(out)
}

fn truncate(text: &str) -> String {
    text.chars().take(80).collect()
}

/// A SHA-256 digest, written as 64 lowercase hex digits in every document.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// The digest of `data`.
    pub fn of(data: &[u8]) -> Self {
        Digest(sha256(data))
    }

    /// Parses 64 lowercase hex digits.
    pub fn from_hex(what: &str, text: &str) -> Result<Self> {
        Ok(Digest(digest_from_hex(what, text)?))
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl std::fmt::Debug for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Digest({})", self.to_hex())
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Digest::from_hex("digest", &text).map_err(serde::de::Error::custom)
    }
}
