//! The policy's builder agreement for a release (PROTOCOL.md sections 5 and 6).
//!
//! Agreement is counted by DISTINCT trusted key: an envelope repeated, or re-signed by the same
//! key, counts once (the TUF advisory GHSA-r7vq-6425-j94w was a threshold counted twice for one
//! key). A key that attests two different artifacts for the same commit counts for neither:
//! its build is not reproducible, so neither claim can be relied on.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chainlock_protocol::policy::Policy;
use serde::Serialize;

use crate::dsse::{self, Envelope, PAYLOAD_TYPE};
use crate::key::BuilderPublicKey;
use crate::statement::{is_lower_hex, Attested, Statement};
use crate::{Error, Result};

/// One key's envelopes for the release's commit: artifact sha256 -> (index, envelope digest).
type ByArtifact = BTreeMap<String, Vec<(usize, [u8; 32])>>;

/// An envelope as it arrived: parsed, or the reason it could not be.
#[derive(Debug, Clone)]
pub struct EnvelopeInput {
    /// Where it came from (a file name, "request attestation 2" ...), for reports.
    pub label: String,
    /// The envelope, or why its document is not one.
    pub envelope: std::result::Result<Envelope, String>,
}

impl EnvelopeInput {
    /// An envelope document's bytes (parse failures are kept and reported, not raised).
    pub fn from_bytes(label: impl Into<String>, bytes: &[u8]) -> Self {
        Self {
            label: label.into(),
            envelope: dsse::parse(bytes).map_err(|e| e.to_string()),
        }
    }

    /// An envelope already parsed (as in a signing request).
    pub fn parsed(label: impl Into<String>, envelope: Envelope) -> Self {
        Self {
            label: label.into(),
            envelope: Ok(envelope),
        }
    }
}

/// What one envelope turned out to be, before agreement is counted.
#[derive(Debug, Clone)]
pub enum Examined {
    /// Not a valid attestation: unparseable, wrong payload type, bad signature, bad statement.
    Invalid {
        /// The signing key id, when the envelope names one.
        key_id: Option<String>,
        /// Why.
        reason: String,
    },
    /// Valid and signed by the key its statement names, but that key is not trusted.
    Untrusted {
        /// What it attests.
        attested: Attested,
        /// SHA-256 of the envelope's canonical JSON.
        digest: [u8; 32],
    },
    /// Valid and signed by a trusted builder key.
    Trusted {
        /// What it attests (`attested.builder` is the trusted key).
        attested: Attested,
        /// SHA-256 of the envelope's canonical JSON.
        digest: [u8; 32],
    },
}

/// Examines one envelope against a set of trusted keys (empty: judge it only on its own).
///
/// An envelope by an unknown key is still checked against the key its statement names, so a
/// tampered envelope is reported as invalid whoever signed it.
pub fn examine(input: &EnvelopeInput, trusted: &HashMap<String, BuilderPublicKey>) -> Examined {
    let invalid = |key_id: Option<&str>, reason: String| Examined::Invalid {
        key_id: key_id.map(str::to_string),
        reason,
    };
    let envelope = match &input.envelope {
        Ok(e) => e,
        Err(reason) => return invalid(None, format!("not a DSSE envelope: {reason}")),
    };
    let key_id = match dsse::signer_key_id(envelope) {
        Ok(k) => k,
        Err(e) => return invalid(None, e.to_string()),
    };
    if envelope.payload_type != PAYLOAD_TYPE {
        return invalid(
            Some(key_id),
            format!(
                "payloadType is {:?}, not {PAYLOAD_TYPE}",
                envelope.payload_type
            ),
        );
    }
    let digest = match dsse::digest(envelope) {
        Ok(d) => d,
        Err(e) => {
            return invalid(
                Some(key_id),
                format!("cannot canonicalize the envelope: {e}"),
            )
        }
    };
    if let Some(key) = trusted.get(key_id) {
        let payload = match dsse::verify(envelope, key) {
            Ok(p) => p,
            Err(e) => {
                return invalid(
                    Some(key_id),
                    format!(
                        "{e} with trusted builder key {}: the envelope was altered or forged",
                        key.to_hex()
                    ),
                )
            }
        };
        let attested = match Statement::from_payload(&payload).and_then(|s| s.check()) {
            Ok(a) => a,
            Err(e) => return invalid(Some(key_id), e.to_string()),
        };
        if attested.builder != *key {
            return invalid(
                Some(key_id),
                format!(
                    "the statement names builder {} but trusted key {} signed it",
                    attested.builder, key
                ),
            );
        }
        return Examined::Trusted { attested, digest };
    }
    // Unknown key: the only key to check it against is the one the statement itself names.
    let attested = match dsse::payload_bytes(envelope)
        .and_then(|p| Statement::from_payload(&p))
        .and_then(|s| s.check())
    {
        Ok(a) => a,
        Err(e) => return invalid(Some(key_id), e.to_string()),
    };
    if attested.builder.key_id() != key_id {
        return invalid(
            Some(key_id),
            format!(
                "signed by key id {key_id} but the statement names builder {} (key id {})",
                attested.builder,
                attested.builder.key_id()
            ),
        );
    }
    if let Err(e) = dsse::verify(envelope, &attested.builder) {
        return invalid(
            Some(key_id),
            format!("{e}: the envelope was altered or forged"),
        );
    }
    Examined::Untrusted { attested, digest }
}

/// The verdict on one envelope in a release's evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// A trusted builder attests the release's artifact; it counts.
    Agrees,
    /// Another envelope by the same trusted key already counts; this one adds nothing.
    Duplicate,
    /// A trusted builder attests a different artifact (or two different ones).
    Disagrees,
    /// Valid, but by a key the policy does not trust; never counted.
    Untrusted,
    /// Not a valid attestation of this release; never counted.
    Invalid,
}

/// One envelope's line in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvelopeOutcome {
    /// Its position in the input (0-based).
    pub index: usize,
    /// Its label (file name ...).
    pub label: String,
    /// The verdict.
    pub verdict: Verdict,
    /// The signing key id, when known.
    pub key_id: Option<String>,
    /// The artifact sha256 it attests, when valid.
    pub artifact_sha256: Option<String>,
    /// The SHA-256 of its canonical JSON, when it parsed.
    pub envelope_digest: Option<String>,
    /// Why it got this verdict, in words.
    pub detail: String,
}

/// A trusted builder that agrees (counted once, whatever the number of its envelopes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgreeingBuilder {
    /// Its key id.
    pub key_id: String,
    /// Its public key.
    pub public_key: String,
    /// The envelopes (indices) by this key that attest the release's artifact.
    pub envelopes: Vec<usize>,
}

/// A trusted builder that attests something else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DisagreeingBuilder {
    /// Its key id.
    pub key_id: String,
    /// Its public key.
    pub public_key: String,
    /// Every artifact sha256 it attests for the release's commit, sorted.
    pub artifact_sha256: Vec<String>,
    /// Its envelopes (indices).
    pub envelopes: Vec<usize>,
}

/// The builder agreement for one release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuilderReport {
    /// The release's source commit.
    pub source_commit: String,
    /// The release's artifact sha256.
    pub artifact_sha256: String,
    /// The policy's minimum of distinct trusted builders.
    pub min_builders: u32,
    /// How many builders the policy trusts.
    pub trusted_builders: usize,
    /// Distinct trusted builders that agree.
    pub agreeing: Vec<AgreeingBuilder>,
    /// Trusted builders that attest another artifact for the same commit.
    pub disagreeing: Vec<DisagreeingBuilder>,
    /// Envelopes by keys the policy does not trust (indices).
    pub untrusted: Vec<usize>,
    /// Envelopes that are not valid attestations of this release (indices).
    pub invalid: Vec<usize>,
    /// Every envelope, in input order.
    pub envelopes: Vec<EnvelopeOutcome>,
    /// Whether at least `min_builders` distinct trusted builders agree.
    pub minimum_met: bool,
    /// The canonical-JSON digests of the envelopes the release relies on (one per agreeing
    /// builder), in byte order.
    pub relied_on: Vec<String>,
    /// The attestation digest over `relied_on` (section 5), when any builder agrees.
    pub attestation_digest: Option<String>,
}

impl BuilderReport {
    /// True when the release may rely on these attestations: the minimum is met and no
    /// envelope is invalid.
    pub fn passes(&self) -> bool {
        self.minimum_met && self.invalid.is_empty()
    }
}

/// The attestation digest: SHA-256 of the concatenation, in byte order, of the envelopes'
/// canonical-JSON SHA-256 digests (PROTOCOL.md section 5).
pub fn attestation_digest(envelope_digests: &[[u8; 32]]) -> [u8; 32] {
    let mut sorted = envelope_digests.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    chainlock_protocol::hash::sha256(&sorted.concat())
}

/// The policy's trusted builder keys, by key id.
pub fn trusted_keys(policy: &Policy) -> Result<HashMap<String, BuilderPublicKey>> {
    policy
        .builders
        .iter()
        .enumerate()
        .map(|(i, hex)| {
            let key = BuilderPublicKey::from_hex(&format!("policy builder {}", i + 1), hex)?;
            Ok((key.key_id(), key))
        })
        .collect()
}

/// Evaluates the attestations of a release against a policy.
///
/// `source_commit` and `artifact_sha256` are the release's (lowercase hex). Invalid,
/// untrusted and disagreeing envelopes are reported, never raised; the error cases are a
/// malformed policy or malformed release parameters.
pub fn evaluate(
    policy: &Policy,
    envelopes: &[EnvelopeInput],
    source_commit: &str,
    artifact_sha256: &str,
) -> Result<BuilderReport> {
    evaluate_with(policy, envelopes, source_commit, artifact_sha256, |_, _| {
        true
    })
}

/// [`evaluate`], calling `each(envelopes checked, envelopes in all)` before the first
/// envelope and after each one; when it returns false the evaluation stops with
/// [`Error::Stopped`] (a Cancel button), and no report of part of the envelopes is made.
pub fn evaluate_with(
    policy: &Policy,
    envelopes: &[EnvelopeInput],
    source_commit: &str,
    artifact_sha256: &str,
    mut each: impl FnMut(usize, usize) -> bool,
) -> Result<BuilderReport> {
    if !is_lower_hex(source_commit, &[40, 64]) {
        return Err(Error::parameter(
            "source commit",
            source_commit,
            "expected a full lowercase hex commit id",
        ));
    }
    if !is_lower_hex(artifact_sha256, &[64]) {
        return Err(Error::parameter(
            "artifact sha256",
            artifact_sha256,
            "expected 64 lowercase hex digits",
        ));
    }
    let trusted = trusted_keys(policy)?;

    let mut outcomes = Vec::with_capacity(envelopes.len());
    // Trusted key -> (hash -> envelope indices with their digests), for this commit only.
    let mut by_key: BTreeMap<BuilderPublicKey, ByArtifact> = BTreeMap::new();
    for (index, input) in envelopes.iter().enumerate() {
        if !each(index, envelopes.len()) {
            return Err(Error::Stopped);
        }
        let mut outcome = EnvelopeOutcome {
            index,
            label: input.label.clone(),
            verdict: Verdict::Invalid,
            key_id: None,
            artifact_sha256: None,
            envelope_digest: None,
            detail: String::new(),
        };
        match examine(input, &trusted) {
            Examined::Invalid { key_id, reason } => {
                outcome.key_id = key_id;
                outcome.detail = reason;
            }
            Examined::Untrusted { attested, digest } => {
                outcome.verdict = Verdict::Untrusted;
                outcome.key_id = Some(attested.builder.key_id());
                outcome.artifact_sha256 = Some(attested.artifact_sha256.clone());
                outcome.envelope_digest = Some(hex::encode(digest));
                outcome.detail = format!(
                    "builder key {} is not among the policy's {} trusted builders",
                    attested.builder,
                    policy.builders.len()
                );
            }
            Examined::Trusted { attested, digest } => {
                outcome.key_id = Some(attested.builder.key_id());
                outcome.artifact_sha256 = Some(attested.artifact_sha256.clone());
                outcome.envelope_digest = Some(hex::encode(digest));
                if attested.commit != source_commit {
                    outcome.detail = format!(
                        "attests commit {}, not the release's {source_commit}",
                        attested.commit
                    );
                } else {
                    // Verdict settled below, once every envelope of this key is known.
                    by_key
                        .entry(attested.builder)
                        .or_default()
                        .entry(attested.artifact_sha256.clone())
                        .or_default()
                        .push((index, digest));
                }
            }
        }
        outcomes.push(outcome);
    }
    if !each(envelopes.len(), envelopes.len()) {
        return Err(Error::Stopped);
    }

    let mut agreeing = Vec::new();
    let mut disagreeing = Vec::new();
    let mut relied_on = Vec::new();
    for (key, hashes) in &by_key {
        let mut indices: Vec<usize> = hashes.values().flatten().map(|(i, _)| *i).collect();
        indices.sort_unstable();
        if hashes.len() == 1 && hashes.contains_key(artifact_sha256) {
            let first = indices[0];
            for &i in &indices {
                if i == first {
                    outcomes[i].verdict = Verdict::Agrees;
                    outcomes[i].detail = "trusted builder; attests the release's artifact".into();
                } else {
                    outcomes[i].verdict = Verdict::Duplicate;
                    outcomes[i].detail = format!(
                        "same trusted builder as envelope {first} ({}); counted once",
                        envelopes[first].label
                    );
                }
            }
            // One envelope per builder: the one whose digest sorts first, so that anyone
            // holding the same set of envelopes relies on the same one.
            if let Some(d) = hashes.values().flatten().map(|(_, d)| *d).min() {
                relied_on.push(d);
            }
            agreeing.push(AgreeingBuilder {
                key_id: key.key_id(),
                public_key: key.to_hex(),
                envelopes: indices,
            });
        } else {
            let shas: Vec<String> = hashes.keys().cloned().collect();
            let conflicting = shas.len() > 1;
            for &i in &indices {
                outcomes[i].verdict = Verdict::Disagrees;
                outcomes[i].detail = if conflicting {
                    format!(
                        "this trusted builder attests {} different artifacts for the commit ({}); it counts for none",
                        shas.len(),
                        shas.join(", ")
                    )
                } else {
                    format!(
                        "trusted builder attests sha256 {}, not the release's {artifact_sha256}",
                        shas[0]
                    )
                };
            }
            disagreeing.push(DisagreeingBuilder {
                key_id: key.key_id(),
                public_key: key.to_hex(),
                artifact_sha256: shas,
                envelopes: indices,
            });
        }
    }
    relied_on.sort_unstable();
    let untrusted = outcomes
        .iter()
        .filter(|o| o.verdict == Verdict::Untrusted)
        .map(|o| o.index)
        .collect();
    let invalid = outcomes
        .iter()
        .filter(|o| o.verdict == Verdict::Invalid)
        .map(|o| o.index)
        .collect();
    let attestation_digest =
        (!relied_on.is_empty()).then(|| hex::encode(attestation_digest(&relied_on)));
    Ok(BuilderReport {
        source_commit: source_commit.to_string(),
        artifact_sha256: artifact_sha256.to_string(),
        min_builders: policy.min_builders,
        trusted_builders: trusted.len(),
        minimum_met: agreeing.len() >= policy.min_builders as usize,
        agreeing,
        disagreeing,
        untrusted,
        invalid,
        envelopes: outcomes,
        relied_on: relied_on.iter().map(hex::encode).collect(),
        attestation_digest,
    })
}

/// A (commit, artifact) pair some trusted builders attest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    /// The source commit.
    pub commit: String,
    /// The artifact sha256.
    pub artifact_sha256: String,
    /// How many distinct trusted keys attest it.
    pub builders: usize,
}

/// The (commit, artifact) pairs the valid trusted envelopes attest, most-attested first.
///
/// For tools that check a set of envelopes without being told the release; the release
/// verification passes the record's own commit and artifact to [`evaluate`] instead.
pub fn candidates(policy: &Policy, envelopes: &[EnvelopeInput]) -> Result<Vec<Candidate>> {
    let trusted = trusted_keys(policy)?;
    let mut keys: BTreeMap<(String, String), BTreeSet<BuilderPublicKey>> = BTreeMap::new();
    for input in envelopes {
        if let Examined::Trusted { attested, .. } = examine(input, &trusted) {
            keys.entry((attested.commit, attested.artifact_sha256))
                .or_default()
                .insert(attested.builder);
        }
    }
    let mut out: Vec<Candidate> = keys
        .into_iter()
        .map(|((commit, artifact_sha256), k)| Candidate {
            commit,
            artifact_sha256,
            builders: k.len(),
        })
        .collect();
    out.sort_by(|a, b| {
        b.builders
            .cmp(&a.builders)
            .then_with(|| a.commit.cmp(&b.commit))
            .then_with(|| a.artifact_sha256.cmp(&b.artifact_sha256))
    });
    Ok(out)
}
