//! Release policies (PROTOCOL.md section 6): who co-signs, how many must, which builders are
//! trusted and how many of them must agree.

use serde::{Deserialize, Serialize};

use crate::hash::Digest;
use crate::keys::PublicKey;
use crate::script::{Script, MAX_CUSTODY_KEYS};
use crate::{jcs, Error, Result};

/// A policy. Construct it with [`Policy::new`] or by deserializing and then [`Policy::validate`]
/// (documents arriving from elsewhere go through [`Policy::from_json`], which does both).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Maintainer keys (compressed secp256k1), in byte order.
    pub maintainers: Vec<PublicKey>,
    /// Co-signatures a record needs (m).
    pub threshold: u8,
    /// Trusted builder keys (Ed25519, 64 lowercase hex digits), in byte order.
    pub builders: Vec<String>,
    /// Distinct trusted builders that must agree on an artifact.
    pub min_builders: u32,
    /// Seconds a release waits for challenges before consumers accept it.
    pub challenge_window_secs: u64,
}

impl Policy {
    /// A policy from its parts, sorting the keys and checking every limit.
    pub fn new(
        mut maintainers: Vec<PublicKey>,
        threshold: u8,
        mut builders: Vec<String>,
        min_builders: u32,
        challenge_window_secs: u64,
    ) -> Result<Self> {
        maintainers.sort();
        builders.sort();
        let p = Policy {
            maintainers,
            threshold,
            builders,
            min_builders,
            challenge_window_secs,
        };
        p.validate()?;
        Ok(p)
    }

    /// Parses a policy document, refusing unknown fields and any limit broken.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let p: Policy = serde_json::from_slice(bytes).map_err(|e| Error::Json {
            what: "policy".into(),
            reason: crate::text::json_reason(bytes, &e),
        })?;
        p.validate()?;
        Ok(p)
    }

    /// Checks every limit: 1 <= m <= n <= 3 distinct maintainer keys in byte order; builder
    /// keys distinct, in byte order, 32 bytes of lowercase hex; 1 <= min_builders <= builders.
    pub fn validate(&self) -> Result<()> {
        let bad = |reason: String| Err(Error::Invalid(format!("invalid policy: {reason}")));
        let n = self.maintainers.len();
        if !(1..=MAX_CUSTODY_KEYS).contains(&n) {
            return bad(format!(
                "it lists {n} maintainers; bare multisig allows 1 to {MAX_CUSTODY_KEYS}"
            ));
        }
        if !(1..=n).contains(&usize::from(self.threshold)) {
            return bad(format!("threshold {} is outside 1..={n}", self.threshold));
        }
        if self.maintainers.windows(2).any(|w| w[0] >= w[1]) {
            return bad("maintainer keys must be distinct and sorted in byte order".into());
        }
        for b in &self.builders {
            if b.len() != 64
                || !b
                    .bytes()
                    .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
            {
                return bad(format!(
                    "builder key {b:?} is not 64 lowercase hex digits (an Ed25519 public key)"
                ));
            }
        }
        if self.builders.windows(2).any(|w| w[0] >= w[1]) {
            return bad("builder keys must be distinct and sorted in byte order".into());
        }
        if self.min_builders == 0 {
            return bad(
                "min_builders is 0: at least one trusted builder must rebuild every release".into(),
            );
        }
        if self.min_builders as usize > self.builders.len() {
            return bad(format!(
                "min_builders {} exceeds the {} trusted builders",
                self.min_builders,
                self.builders.len()
            ));
        }
        Ok(())
    }

    /// The canonical JSON bytes.
    pub fn canonical_bytes(&self) -> Result<Vec<u8>> {
        jcs::to_canonical_bytes(self)
    }

    /// The policy digest: SHA-256 of the canonical JSON.
    pub fn digest(&self) -> Result<Digest> {
        Ok(Digest::of(&self.canonical_bytes()?))
    }

    /// The custody locking script of this policy.
    pub fn custody_script(&self) -> Result<Script> {
        let keys: Vec<[u8; 33]> = self.maintainers.iter().map(PublicKey::to_bytes).collect();
        Script::custody(usize::from(self.threshold), &keys)
    }

    /// True if `key` is one of the maintainers.
    pub fn is_maintainer(&self, key: &PublicKey) -> bool {
        self.maintainers.binary_search(key).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SecretKey;

    fn keys(n: u8) -> Vec<PublicKey> {
        (1..=n)
            .map(|i| SecretKey::from_bytes(&[i; 32]).unwrap().public_key())
            .collect()
    }

    fn builder(i: u8) -> String {
        hex::encode([i; 32])
    }

    #[test]
    fn new_sorts_and_digest_is_stable() {
        let p = Policy::new(
            keys(3).into_iter().rev().collect(),
            2,
            vec![builder(2), builder(1)],
            2,
            86400,
        )
        .unwrap();
        assert!(p.maintainers.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(p.builders, vec![builder(1), builder(2)]);
        let text = String::from_utf8(p.canonical_bytes().unwrap()).unwrap();
        assert!(text.starts_with("{\"builders\":[\"0101"), "{text}");
        let again = Policy::from_json(text.as_bytes()).unwrap();
        assert_eq!(again.digest().unwrap(), p.digest().unwrap());
        assert_eq!(
            p.custody_script()
                .unwrap()
                .parse_custody()
                .unwrap()
                .threshold,
            2
        );
    }

    #[test]
    fn limits_are_enforced() {
        assert!(Policy::new(keys(3), 0, vec![builder(1)], 1, 0).is_err());
        assert!(Policy::new(keys(2), 3, vec![builder(1)], 1, 0).is_err());
        assert!(Policy::new(vec![], 1, vec![builder(1)], 1, 0).is_err());
        assert!(Policy::new(keys(3), 1, vec![builder(1)], 2, 0).is_err());
        assert!(Policy::new(keys(3), 1, vec![builder(1)], 0, 0).is_err());
        assert!(Policy::new(keys(3), 1, vec!["AB".repeat(32)], 1, 0).is_err());
        assert!(Policy::new(keys(3), 1, vec![builder(1), builder(1)], 1, 0).is_err());
    }

    #[test]
    fn unknown_and_unsorted_documents_are_refused() {
        let p = Policy::new(keys(2), 1, vec![builder(1)], 1, 0).unwrap();
        let mut v = serde_json::to_value(&p).unwrap();
        v["extra"] = serde_json::json!(1);
        assert!(Policy::from_json(v.to_string().as_bytes())
            .unwrap_err()
            .to_string()
            .contains("unknown field"));
        let mut v = serde_json::to_value(&p).unwrap();
        v["maintainers"].as_array_mut().unwrap().reverse();
        assert!(Policy::from_json(v.to_string().as_bytes()).is_err());
    }
}
