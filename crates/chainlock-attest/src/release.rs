//! Checking a set of envelopes without being told the release: which release they name
//! ([`choose_release`]), and, without a policy, whether each one is sound on its own
//! ([`check_without_policy`]). The CLI's `attest verify` and the desktop app both use these.

use std::collections::HashMap;

use chainlock_protocol::policy::Policy;
use serde::Serialize;

use crate::evaluate::{self, Examined};
use crate::{EnvelopeInput, Error, Result};

/// The release a set of envelopes is evaluated for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Release {
    /// The source commit.
    pub commit: String,
    /// The artifact's sha256, lowercase hex.
    pub artifact_sha256: String,
}

/// The release to evaluate: `commit` and `artifact_sha256` as given, and what is not given
/// taken from the (commit, artifact) pair most distinct trusted builders attest. A tie
/// between pairs is an error that lists them, never a silent pick.
pub fn choose_release(
    policy: &Policy,
    inputs: &[EnvelopeInput],
    commit: Option<&str>,
    artifact_sha256: Option<&str>,
) -> Result<Release> {
    if let (Some(commit), Some(sha)) = (commit, artifact_sha256) {
        return Ok(Release {
            commit: commit.to_owned(),
            artifact_sha256: sha.to_owned(),
        });
    }
    let candidates: Vec<_> = evaluate::candidates(policy, inputs)?
        .into_iter()
        .filter(|c| commit.is_none_or(|x| x == c.commit))
        .filter(|c| artifact_sha256.is_none_or(|x| x == c.artifact_sha256))
        .collect();
    match candidates.as_slice() {
        [] => Err(Error::NoRelease),
        [first, second, ..] if first.builders == second.builders => {
            let tied: Vec<_> = candidates
                .iter()
                .filter(|c| c.builders == first.builders)
                .collect();
            Err(Error::SplitRelease {
                count: tied.len(),
                candidates: tied
                    .iter()
                    .map(|c| {
                        format!(
                            "{} at {}: {} builders",
                            c.artifact_sha256, c.commit, c.builders
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            })
        }
        [first, ..] => Ok(Release {
            commit: commit.unwrap_or(&first.commit).to_owned(),
            artifact_sha256: artifact_sha256.unwrap_or(&first.artifact_sha256).to_owned(),
        }),
    }
}

/// One envelope checked on its own, with no builder trusted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvelopeCheck {
    /// Where the envelope came from (a file name).
    pub label: String,
    /// Well-formed, signed by the key it names, and (when given) for the release asked about.
    pub valid: bool,
    /// The signing key's id, when the envelope names one.
    pub key_id: Option<String>,
    /// The builder's public key (lowercase hex, as a policy lists it).
    pub builder: Option<String>,
    /// The artifact's file name.
    pub artifact_name: Option<String>,
    /// The artifact's sha256.
    pub artifact_sha256: Option<String>,
    /// The source commit.
    pub commit: Option<String>,
    /// The source repository.
    pub repository: Option<String>,
    /// SHA-256 of the envelope's canonical JSON.
    pub envelope_digest: Option<String>,
    /// Why it is not valid.
    pub problem: Option<String>,
}

/// Without a policy nobody is trusted: each envelope is checked against the key it names and,
/// when given, against the release's `commit` and `artifact_sha256`.
pub fn check_without_policy(
    inputs: &[EnvelopeInput],
    commit: Option<&str>,
    artifact_sha256: Option<&str>,
) -> Vec<EnvelopeCheck> {
    let nobody = HashMap::new();
    inputs
        .iter()
        .map(|input| {
            let mut c = EnvelopeCheck {
                label: input.label.clone(),
                valid: false,
                key_id: None,
                builder: None,
                artifact_name: None,
                artifact_sha256: None,
                commit: None,
                repository: None,
                envelope_digest: None,
                problem: None,
            };
            match evaluate::examine(input, &nobody) {
                Examined::Invalid { key_id, reason } => {
                    c.key_id = key_id;
                    c.problem = Some(reason);
                }
                Examined::Untrusted { attested, digest }
                | Examined::Trusted { attested, digest } => {
                    let mut problems = Vec::new();
                    if let Some(want) = commit.filter(|x| *x != attested.commit) {
                        problems.push(format!("attests commit {}, not {want}", attested.commit));
                    }
                    if let Some(want) = artifact_sha256.filter(|x| *x != attested.artifact_sha256) {
                        problems.push(format!(
                            "attests sha256 {}, not {want}",
                            attested.artifact_sha256
                        ));
                    }
                    c.valid = problems.is_empty();
                    c.problem = (!problems.is_empty()).then(|| problems.join("; "));
                    c.key_id = Some(attested.builder.key_id());
                    c.builder = Some(attested.builder.to_hex());
                    c.artifact_name = Some(attested.artifact_name);
                    c.artifact_sha256 = Some(attested.artifact_sha256);
                    c.commit = Some(attested.commit);
                    c.repository = Some(attested.repository);
                    c.envelope_digest = Some(hex::encode(digest));
                }
            }
            c
        })
        .collect()
}
