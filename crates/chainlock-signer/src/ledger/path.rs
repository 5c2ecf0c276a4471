//! BIP32 derivation paths as the Ledger takes them, and the default ChainLock path.

use std::fmt;
use std::str::FromStr;

use crate::{Error, Result};

/// Bit that marks a hardened path component.
pub const HARDENED: u32 = 0x8000_0000;
/// Deepest path the Bitcoin app accepts (`MAX_BIP32_PATH` in the app).
pub const MAX_DEPTH: usize = 10;

/// The default ChainLock key path, `m/45'/236'/0'/0/0`.
///
/// Why this path: a maintainer key must never be a key that holds coins, so that signing a
/// release can never be mistaken for, or turned into, spending someone's funds, and so that
/// the key can be published in a policy without linking the maintainer's wallet to it.
/// - Purpose `45'` (BIP45, multisig) instead of `44'`: BIP44 wallets, including Ledger Live,
///   scan only `44'/<coin>'/<account>'` (and `49'`/`84'` for Bitcoin), so no wallet ever
///   discovers or funds this account, and the custody output it signs for is a multisig.
/// - Coin type `236'` (SLIP-44 for BSV), the chain the records live on, so the key stays
///   apart from any Bitcoin Cash (`145'`) account on the same device.
/// - Because the purpose is not `44'`, the Bitcoin Cash app asks the user to approve the
///   unusual path on screen before it signs: the user sees which key signs a release.
pub const DEFAULT_PATH: &str = "m/45'/236'/0'/0/0";

/// A BIP32 derivation path of at most [`MAX_DEPTH`] components.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DerivationPath(Vec<u32>);

impl DerivationPath {
    /// The default ChainLock path ([`DEFAULT_PATH`]).
    pub fn chainlock_default() -> Self {
        DerivationPath(vec![45 | HARDENED, 236 | HARDENED, HARDENED, 0, 0])
    }

    /// Parses `m/45'/236'/0'/0/0` (also `45h/...`, with or without the leading `m/`); the
    /// empty string is the default ChainLock path.
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidUri {
            uri: chainlock_protocol::text::quoted(&format!("ledger://{text}")),
            reason,
        };
        if text.is_empty() {
            return Ok(Self::chainlock_default());
        }
        let body = text
            .strip_prefix("m/")
            .or_else(|| text.strip_prefix("M/"))
            .unwrap_or(text);
        if body.is_empty() || text == "m" {
            return Err(invalid(
                "the path has no components (the master key is never used)".into(),
            ));
        }
        let mut components = Vec::new();
        for (i, part) in body.split('/').enumerate() {
            if components.len() == MAX_DEPTH {
                return Err(invalid(format!(
                    "the path is deeper than the Ledger's {MAX_DEPTH} levels"
                )));
            }
            let (digits, hardened) = match part.strip_suffix(['\'', 'h', 'H']) {
                Some(d) => (d, true),
                None => (part, false),
            };
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid(format!(
                    "component {} ({part:?}) is not a number with an optional ' or h",
                    i + 1
                )));
            }
            let index: u32 = digits
                .parse()
                .ok()
                .filter(|n| *n < HARDENED)
                .ok_or_else(|| {
                    invalid(format!("component {} ({part}) is not below 2^31", i + 1))
                })?;
            components.push(if hardened { index | HARDENED } else { index });
        }
        Ok(DerivationPath(components))
    }

    /// The components, hardened ones with bit 31 set.
    pub fn components(&self) -> &[u32] {
        &self.0
    }

    /// The Ledger's encoding: the number of components, then each as 4 big-endian bytes.
    pub fn to_apdu_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + 4 * self.0.len());
        // At most MAX_DEPTH components, checked at construction.
        out.push(self.0.len() as u8);
        for c in &self.0 {
            out.extend_from_slice(&c.to_be_bytes());
        }
        out
    }
}

impl FromStr for DerivationPath {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl fmt::Display for DerivationPath {
    /// `m/45'/236'/0'/0/0`, the form `ledger://` URIs carry.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("m")?;
        for c in &self.0 {
            if c & HARDENED != 0 {
                write!(f, "/{}'", c & !HARDENED)?;
            } else {
                write!(f, "/{c}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests {
    use super::*;

    #[test]
    fn default_path_parses_and_prints() {
        let p = DerivationPath::parse("").unwrap();
        assert_eq!(p, DerivationPath::chainlock_default());
        assert_eq!(p.to_string(), DEFAULT_PATH);
        assert_eq!(DerivationPath::parse(DEFAULT_PATH).unwrap(), p);
        assert_eq!(
            hex::encode(p.to_apdu_bytes()),
            "058000002d800000ec800000000000000000000000"
        );
    }

    #[test]
    fn accepts_the_usual_spellings() {
        let a = DerivationPath::parse("m/44'/0'/0'/0").unwrap();
        assert_eq!(DerivationPath::parse("44h/0H/0'/0").unwrap(), a);
        assert_eq!(
            hex::encode(a.to_apdu_bytes()),
            "048000002c800000008000000000000000"
        );
    }

    #[test]
    fn refuses_malformed_paths() {
        for bad in [
            "m",
            "m/",
            "m//0",
            "m/x",
            "m/0''",
            "m/2147483648",
            "m/-1",
            "m/1/2/3/4/5/6/7/8/9/10/11",
            "/0",
        ] {
            let err = DerivationPath::parse(bad).unwrap_err();
            assert_eq!(err.kind(), "invalid_uri", "{bad}");
        }
    }
}
