//! Records (PROTOCOL.md section 3): genesis, release and rotation documents, whose digests
//! the record transactions commit to on chain.

use serde::{Deserialize, Serialize};

use crate::hash::Digest;
use crate::policy::Policy;
use crate::{jcs, text, Error, Result};

/// The protocol tag every record and request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProtocolVersion {
    /// `chainlock/1`.
    #[serde(rename = "chainlock/1")]
    V1,
}

/// The package registry a record speaks of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ecosystem {
    /// npm.
    Npm,
    /// PyPI.
    Pypi,
    /// crates.io.
    Crates,
    /// Anything else.
    Generic,
}

impl Ecosystem {
    /// The lowercase name, as in records (`npm`, `pypi`, `crates`, `generic`).
    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::Npm => "npm",
            Ecosystem::Pypi => "pypi",
            Ecosystem::Crates => "crates",
            Ecosystem::Generic => "generic",
        }
    }

    /// Parses the lowercase name.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "npm" => Ecosystem::Npm,
            "pypi" => Ecosystem::Pypi,
            "crates" => Ecosystem::Crates,
            "generic" => Ecosystem::Generic,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A record: the `type` field selects the variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Record {
    /// The first record of a package: its policy.
    Genesis(Genesis),
    /// A release.
    Release(Release),
    /// A change of policy.
    Rotation(Rotation),
}

/// The first record of a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    /// Always `chainlock/1`.
    pub protocol: ProtocolVersion,
    /// Registry.
    pub ecosystem: Ecosystem,
    /// Package name.
    pub package: String,
    /// The policy, in full.
    pub policy: Policy,
}

/// A release of a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Release {
    /// Always `chainlock/1`.
    pub protocol: ProtocolVersion,
    /// Registry.
    pub ecosystem: Ecosystem,
    /// Package name.
    pub package: String,
    /// The version released.
    pub version: String,
    /// Where it was built from.
    pub source: Source,
    /// What was published.
    pub artifact: Artifact,
    /// Diff digest (section 4) from the previous release's commit to this one.
    pub diff_digest: Digest,
    /// Attestation digest (section 5) of the rebuild attestations relied on.
    pub attestation_digest: Digest,
    /// Digest of the policy in force.
    pub policy_digest: Digest,
    /// Digest of the package's previous record.
    pub previous: Digest,
}

/// A change of policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rotation {
    /// Always `chainlock/1`.
    pub protocol: ProtocolVersion,
    /// Registry.
    pub ecosystem: Ecosystem,
    /// Package name.
    pub package: String,
    /// The new policy, in full.
    pub policy: Policy,
    /// Digest of the policy it replaces (the one whose maintainers sign the rotation).
    pub policy_digest: Digest,
    /// Digest of the package's previous record.
    pub previous: Digest,
}

/// The source a release was built from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Repository URL.
    pub repository: String,
    /// The release tag.
    pub tag: String,
    /// The tagged commit (H), lowercase hex.
    pub commit: String,
    /// The previous release's commit (B), or git's empty tree id for the first release.
    pub base_commit: String,
}

/// The published artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Artifact {
    /// File name as published.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of its bytes.
    pub sha256: Digest,
}

/// Git's empty tree id: the base of the first release after genesis.
pub const EMPTY_TREE: &str = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

impl Record {
    /// Parses a record document, refusing unknown fields and checking every field's form.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let r: Record = serde_json::from_slice(bytes).map_err(|e| Error::Json {
            what: "record".into(),
            reason: crate::text::json_reason(bytes, &e),
        })?;
        r.validate()?;
        Ok(r)
    }

    /// Checks the forms serde cannot: names non-empty and printable, commits as hex object
    /// ids, policies within their limits.
    pub fn validate(&self) -> Result<()> {
        check_text("package", self.package())?;
        match self {
            Record::Genesis(g) => g.policy.validate(),
            Record::Rotation(r) => r.policy.validate(),
            Record::Release(r) => {
                check_text("version", &r.version)?;
                check_text("source.repository", &r.source.repository)?;
                check_text("source.tag", &r.source.tag)?;
                check_text("artifact.name", &r.artifact.name)?;
                check_object_id("source.commit", &r.source.commit)?;
                check_object_id("source.base_commit", &r.source.base_commit)
            }
        }
    }

    /// `genesis`, `release` or `rotation`.
    pub fn kind(&self) -> &'static str {
        match self {
            Record::Genesis(_) => "genesis",
            Record::Release(_) => "release",
            Record::Rotation(_) => "rotation",
        }
    }

    /// The package name.
    pub fn package(&self) -> &str {
        match self {
            Record::Genesis(g) => &g.package,
            Record::Release(r) => &r.package,
            Record::Rotation(r) => &r.package,
        }
    }

    /// The registry.
    pub fn ecosystem(&self) -> Ecosystem {
        match self {
            Record::Genesis(g) => g.ecosystem,
            Record::Release(r) => r.ecosystem,
            Record::Rotation(r) => r.ecosystem,
        }
    }

    /// The previous record's digest (none for genesis).
    pub fn previous(&self) -> Option<Digest> {
        match self {
            Record::Genesis(_) => None,
            Record::Release(r) => Some(r.previous),
            Record::Rotation(r) => Some(r.previous),
        }
    }

    /// The digest of the policy whose maintainers must sign this record: the genesis
    /// policy's own, the one in force for a release or rotation.
    pub fn signing_policy_digest(&self) -> Result<Digest> {
        match self {
            Record::Genesis(g) => g.policy.digest(),
            Record::Release(r) => Ok(r.policy_digest),
            Record::Rotation(r) => Ok(r.policy_digest),
        }
    }

    /// The canonical JSON bytes.
    pub fn canonical_bytes(&self) -> Result<Vec<u8>> {
        jcs::to_canonical_bytes(self)
    }

    /// The record digest: SHA-256 of the canonical JSON, what the chain commits to.
    pub fn digest(&self) -> Result<Digest> {
        Ok(Digest::of(&self.canonical_bytes()?))
    }
}

fn check_text(field: &str, value: &str) -> Result<()> {
    if value.is_empty() || value.len() > 1024 {
        return Err(Error::Invalid(format!(
            "record field {field} must be 1 to 1024 bytes of printable text, got {} bytes",
            value.len()
        )));
    }
    // Controls, bidi overrides and invisible format characters would make the field read
    // differently from what is signed (PROTOCOL.md section 7: every field equals what is shown).
    if let Some((c, why)) = text::first_hidden_char(value) {
        return Err(Error::Invalid(format!(
            "record field {field} holds U+{:04X}, {why}: {}",
            u32::from(c),
            text::shown(value)
        )));
    }
    Ok(())
}

fn check_object_id(field: &str, value: &str) -> Result<()> {
    let hex_ok = value
        .bytes()
        .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
    if !(value.len() == 40 || value.len() == 64) || !hex_ok {
        return Err(Error::Invalid(format!(
            "record field {field} must be a git object id (40 or 64 lowercase hex digits), got {value:?}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample_release() -> serde_json::Value {
        serde_json::json!({
            "protocol": "chainlock/1", "type": "release", "ecosystem": "npm", "package": "left-pad",
            "version": "1.4.0",
            "source": {"repository": "https://example.org/left-pad.git", "tag": "v1.4.0",
                       "commit": "1".repeat(40), "base_commit": EMPTY_TREE},
            "artifact": {"name": "left-pad-1.4.0.tgz", "size": 1234, "sha256": "a".repeat(64)},
            "diff_digest": "b".repeat(64), "attestation_digest": "c".repeat(64),
            "policy_digest": "d".repeat(64), "previous": "e".repeat(64)
        })
    }

    #[test]
    fn release_round_trips_and_digest_is_over_jcs() {
        let v = sample_release();
        let r = Record::from_json(v.to_string().as_bytes()).unwrap();
        assert_eq!(r.kind(), "release");
        let canon = r.canonical_bytes().unwrap();
        assert_eq!(canon, jcs::canonicalize(&v).unwrap());
        assert_eq!(r.digest().unwrap(), Digest::of(&canon));
    }

    #[test]
    fn unknown_missing_and_malformed_fields_are_refused() {
        let mut v = sample_release();
        v["note"] = serde_json::json!("x");
        assert!(Record::from_json(v.to_string().as_bytes())
            .unwrap_err()
            .to_string()
            .contains("unknown field"));
        let mut v = sample_release();
        v.as_object_mut().unwrap().remove("previous");
        assert!(Record::from_json(v.to_string().as_bytes()).is_err());
        let mut v = sample_release();
        v["source"]["commit"] = serde_json::json!("HEAD");
        assert!(Record::from_json(v.to_string().as_bytes()).is_err());
        let mut v = sample_release();
        v["diff_digest"] = serde_json::json!("B".repeat(64));
        assert!(Record::from_json(v.to_string().as_bytes()).is_err());
        let mut v = sample_release();
        v["type"] = serde_json::json!("deploy");
        assert!(Record::from_json(v.to_string().as_bytes()).is_err());
        let mut v = sample_release();
        v["protocol"] = serde_json::json!("chainlock/2");
        assert!(Record::from_json(v.to_string().as_bytes()).is_err());
        let mut v = sample_release();
        v["source"]["extra"] = serde_json::json!(1);
        assert!(Record::from_json(v.to_string().as_bytes()).is_err());
    }
}
