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

/// Decodes hex text (either case, as people type it), naming `what` in the error.
/// Whitespace is refused, not trimmed: callers that read text from a file trim it there.
pub fn from_hex(what: &str, text: &str) -> Result<Vec<u8>> {
    hex::decode(text).map_err(|e| Error::Hex {
        what: what.to_string(),
        reason: e.to_string(),
    })
}

/// Whether `text` is lowercase hex (`0-9a-f`) of one of the lengths in `digits`: the one
/// form the protocol writes digests, key ids, commits and public keys in.
pub fn is_lower_hex(text: &str, digits: &[usize]) -> bool {
    digits.contains(&text.len()) && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Decodes exactly `N` bytes written as `2 * N` lowercase hex digits, naming `what` in the
/// error; uppercase, whitespace and any other length are refused.
pub fn lower_hex_array<const N: usize>(what: &str, text: &str) -> Result<[u8; N]> {
    let mut out = [0u8; N];
    if !is_lower_hex(text, &[2 * N]) {
        return Err(Error::Hex {
            what: what.to_string(),
            reason: format!(
                "expected {} lowercase hex digits, got {}",
                2 * N,
                crate::text::quoted(text)
            ),
        });
    }
    hex::decode_to_slice(text, &mut out).map_err(|e| Error::Hex {
        what: what.to_string(),
        reason: e.to_string(),
    })?;
    Ok(out)
}

/// Decodes exactly 32 bytes of lowercase hex (a digest), naming `what` in the error.
pub fn digest_from_hex(what: &str, text: &str) -> Result<[u8; 32]> {
    lower_hex_array(what, text)
}

/// A SHA-256 digest, written as 64 lowercase hex digits in every document.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// The digest of `data`.
    pub fn of(data: &[u8]) -> Self {
        Digest(sha256(data))
    }

    /// Parses 64 lowercase hex digits; uppercase and surrounding whitespace are refused.
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

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing test should panic
mod tests {
    use super::*;

    const D: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn digests_are_exactly_64_lowercase_hex_digits() {
        assert_eq!(Digest::from_hex("d", D).unwrap().to_hex(), D);
        // Two spaces and 62 digits once decoded to 31 bytes and panicked in copy_from_slice.
        let padded = format!("  {}", &D[..62]);
        assert!(Digest::from_hex("d", &padded).is_err());
        for bad in [
            D.to_uppercase(),
            format!("{D}\n"),
            format!(" {}", &D[1..]),
            format!("{}\t", &D[..63]),
            format!("{}+", &D[..63]),
            D[..62].to_string(),
        ] {
            let err = Digest::from_hex("policy digest", &bad)
                .unwrap_err()
                .to_string();
            assert!(err.contains("64 lowercase hex digits"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn lower_hex_is_one_rule() {
        assert!(is_lower_hex("00ff", &[4]));
        assert!(!is_lower_hex("00FF", &[4]));
        assert!(!is_lower_hex("00f", &[4]));
        assert!(!is_lower_hex("0 ff", &[4]));
        assert!(is_lower_hex(&D[..40], &[40, 64]));
        assert_eq!(lower_hex_array::<2>("x", "0aff").unwrap(), [0x0a, 0xff]);
        assert!(from_hex("x", " 0a").is_err());
        assert_eq!(from_hex("x", "0A").unwrap(), vec![0x0a]);
    }
}
