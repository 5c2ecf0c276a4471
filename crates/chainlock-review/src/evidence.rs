//! The two checks of PROTOCOL.md section 7 that need more than the request itself: the diff
//! digest recomputed from the co-signer's own clone, and the builders' agreement on the
//! artifact. They are recorded in the request's verification report
//! (`chainlock_protocol::verify`), so the CLI and the desktop app show one list of checks
//! and hand out the record transaction to sign only when all of them ran and passed.

use std::path::Path;

use chainlock_attest::{evaluate_with, BuilderReport, EnvelopeInput};
use chainlock_diff::Cancel;
use chainlock_protocol::hash::Digest;
use chainlock_protocol::record::{Record, Release, EMPTY_TREE};
use chainlock_protocol::request::SigningRequest;
use chainlock_protocol::verify::{BuilderEvidence, DiffEvidence, Verification};

use crate::error::Error;

/// The most attestations a request may carry: far more than any policy's builders, and few
/// enough that checking every signature stays instant.
pub const MAX_ATTESTATIONS: usize = 256;

/// Everything the evidence checks found, for display beside the report.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    /// The diff digest recomputed from the clone, when it could be.
    pub diff_digest: Option<chainlock_diff::DiffDigest>,
    /// The builders' agreement, when the attestations could be evaluated.
    pub builders: Option<BuilderReport>,
}

/// A long stage of a review, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The diff digest recomputed from the clone (counted in changed files).
    DiffDigest,
    /// The risk scan of the range (counted in changed files).
    RiskScan,
    /// The builders' signed envelopes checked (counted in envelopes).
    Builders,
}

impl Stage {
    /// What the stage does, in words for a person.
    pub fn describe(self) -> &'static str {
        match self {
            Stage::DiffDigest => "Recomputing the diff digest from your clone",
            Stage::RiskScan => "Scanning for risky changes",
            Stage::Builders => "Checking the builders' attestations",
        }
    }

    /// What the stage counts (`files`, `envelopes`).
    pub fn unit(self) -> &'static str {
        match self {
            Stage::DiffDigest | Stage::RiskScan => "files",
            Stage::Builders => "envelopes",
        }
    }
}

/// How far a review's long work is: `done` of `total` in its stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// The stage.
    pub stage: Stage,
    /// Steps done.
    pub done: usize,
    /// Steps in all.
    pub total: usize,
}

/// What the checks a cancel stopped say: not run, so they can never pass.
const CANCELLED: &str = "cancelled before it finished: open the review again to run it";

/// Runs the diff-digest check (when `repo` is given) and the builder-agreement check on a
/// release request, recording what they computed in `verification`, which compares it with
/// the record. Other records need neither.
pub fn complete(
    req: &SigningRequest,
    verification: &mut Verification,
    repo: Option<&Path>,
) -> Evidence {
    // A token nobody holds is never cancelled; were it, both checks would say so (not run).
    complete_cancellable(req, verification, repo, &Cancel::new(), &mut |_| {}).unwrap_or_default()
}

/// [`complete`], stopping with [`Error::Cancelled`] between files of the diff digest or
/// between envelopes once `cancel` is set; `progress` hears each stage and how far it is.
///
/// A cancelled computation records in `verification` that the diff digest did not run and
/// that the builders' check failed (cancelled), whatever it had computed: a verification
/// left behind by a cancel can never be ready to sign.
pub fn complete_cancellable(
    req: &SigningRequest,
    verification: &mut Verification,
    repo: Option<&Path>,
    cancel: &Cancel,
    progress: &mut dyn FnMut(Progress),
) -> Result<Evidence, Error> {
    let Record::Release(release) = &req.record else {
        return Ok(Evidence::default());
    };
    let mut evidence = Evidence::default();
    let diff = match repo {
        None => DiffEvidence::Unavailable("needs your clone of the repository: pass --repo".into()),
        Some(repo) => match check_diff(repo, release, cancel, progress) {
            Ok((outcome, digest)) => {
                evidence.diff_digest = digest;
                outcome
            }
            Err(_) => return Err(stop(verification)),
        },
    };
    verification.record_diff_digest(diff);

    match builder_evidence(req, release, cancel, progress) {
        Ok((builders, report)) => {
            evidence.builders = report;
            verification.record_builders(builders);
        }
        Err(_) => return Err(stop(verification)),
    }
    if cancel.is_cancelled() {
        return Err(stop(verification));
    }
    Ok(evidence)
}

/// Records that a cancel stopped both evidence checks: neither can pass.
fn stop(verification: &mut Verification) -> Error {
    verification.record_diff_digest(DiffEvidence::Unavailable(CANCELLED.into()));
    verification.record_builders(BuilderEvidence::Failed(CANCELLED.into()));
    Error::Cancelled
}

/// Verifies the request's attestations against its policy and says what they agree on;
/// `Err` only when cancelled.
fn builder_evidence(
    req: &SigningRequest,
    release: &Release,
    cancel: &Cancel,
    progress: &mut dyn FnMut(Progress),
) -> Result<(BuilderEvidence, Option<BuilderReport>), Error> {
    if req.attestations.len() > MAX_ATTESTATIONS {
        return Ok((
            BuilderEvidence::Failed(format!(
                "the request carries {} attestations, more than the {MAX_ATTESTATIONS} a \
                 request may hold; ask the publisher to include only the builders' envelopes",
                req.attestations.len()
            )),
            None,
        ));
    }
    let envelopes: Vec<EnvelopeInput> = req
        .attestations
        .iter()
        .enumerate()
        .map(|(i, e)| EnvelopeInput::parsed(format!("attestation {}", i + 1), e.clone()))
        .collect();
    Ok(
        match evaluate_with(
            &req.policy,
            &envelopes,
            &release.source.commit,
            &release.artifact.sha256.to_hex(),
            |done, total| {
                progress(Progress {
                    stage: Stage::Builders,
                    done,
                    total,
                });
                !cancel.is_cancelled()
            },
        ) {
            Ok(b) => (
                BuilderEvidence::Evaluated {
                    commit: release.source.commit.clone(),
                    artifact_sha256: release.artifact.sha256,
                    agreeing_keys: b.agreeing.iter().map(|a| a.public_key.clone()).collect(),
                    attestation_digest: b
                        .attestation_digest
                        .as_deref()
                        .and_then(|d| Digest::from_hex("attestation digest", d).ok()),
                    invalid: b.invalid.len(),
                    remarks: remarks(&b),
                },
                Some(b),
            ),
            Err(chainlock_attest::Error::Stopped) => return Err(Error::Cancelled),
            Err(e) => (BuilderEvidence::Failed(e.to_string()), None),
        },
    )
}

/// The disagreeing and untrusted builders, in a line.
fn remarks(b: &BuilderReport) -> String {
    let mut parts = Vec::new();
    for d in &b.disagreeing {
        parts.push(format!(
            "builder {} got {}",
            short(&d.key_id),
            d.artifact_sha256.join(", ")
        ));
    }
    if !b.untrusted.is_empty() {
        parts.push(format!(
            "{} untrusted {} not counted",
            b.untrusted.len(),
            if b.untrusted.len() == 1 {
                "envelope"
            } else {
                "envelopes"
            }
        ));
    }
    parts.join("; ")
}

/// The diff digest check's outcome and what it computed; `Err` only when cancelled.
fn check_diff(
    repo: &Path,
    release: &Release,
    cancel: &Cancel,
    progress: &mut dyn FnMut(Progress),
) -> Result<(DiffEvidence, Option<chainlock_diff::DiffDigest>), Error> {
    let src = &release.source;
    let base = (src.base_commit != EMPTY_TREE).then_some(src.base_commit.as_str());
    // Both commits must be in the clone; a missing one is something to fetch, not a verdict.
    let git = match git2::Repository::open(repo) {
        Ok(g) => g,
        Err(e) => {
            return Ok((
                DiffEvidence::Unavailable(format!(
                    "cannot open {} as a git repository: {}",
                    repo.display(),
                    e.message()
                )),
                None,
            ))
        }
    };
    for commit in base.into_iter().chain([src.commit.as_str()]) {
        let present = git2::Oid::from_str(commit)
            .ok()
            .and_then(|oid| git.find_commit(oid).ok())
            .is_some();
        if !present {
            return Ok((
                DiffEvidence::Unavailable(format!(
                    "commit {commit} is not in your clone {}: run `git fetch --tags` there (tag {})",
                    repo.display(),
                    chainlock_protocol::text::shown(&src.tag)
                )),
                None,
            ));
        }
    }
    // The tag, when the clone has it, must name the release's commit.
    if let Ok(obj) = git.revparse_single(&format!("refs/tags/{}", src.tag)) {
        match obj.peel_to_commit() {
            Ok(c) if c.id().to_string() == src.commit => {}
            Ok(c) => {
                return Ok((
                    DiffEvidence::Contradicted(format!(
                        "your clone's tag {} points to {}, the record says {}",
                        chainlock_protocol::text::shown(&src.tag),
                        c.id(),
                        src.commit
                    )),
                    None,
                ))
            }
            Err(e) => {
                return Ok((
                    DiffEvidence::Contradicted(format!(
                        "tag {} does not name a commit: {}",
                        chainlock_protocol::text::shown(&src.tag),
                        e.message()
                    )),
                    None,
                ))
            }
        }
    }
    let progress = |done, total| {
        progress(Progress {
            stage: Stage::DiffDigest,
            done,
            total,
        })
    };
    match chainlock_diff::diff_digest_cancellable(repo, base, &src.commit, cancel, progress) {
        Ok(d) => Ok((
            DiffEvidence::Computed {
                digest: Digest(d.digest),
                entries: d.entries as u64,
            },
            Some(d),
        )),
        Err(chainlock_diff::Error::Cancelled) => Err(Error::Cancelled),
        Err(e) => Ok((DiffEvidence::Contradicted(e.to_string()), None)),
    }
}

fn short(hex: &str) -> &str {
    hex.get(..12).unwrap_or(hex)
}
