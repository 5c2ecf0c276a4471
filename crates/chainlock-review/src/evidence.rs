//! The two checks of PROTOCOL.md section 7 that need more than the request itself: the diff
//! digest recomputed from the co-signer's own clone, and the builders' agreement on the
//! artifact. They are recorded in the request's verification report
//! (`chainlock_protocol::verify`), so the CLI and the desktop app show one list of checks
//! and hand out the record transaction to sign only when all of them ran and passed.

use std::path::Path;

use chainlock_attest::{evaluate, BuilderReport, EnvelopeInput};
use chainlock_protocol::record::{Record, Release, EMPTY_TREE};
use chainlock_protocol::request::SigningRequest;
use chainlock_protocol::verify::{check, Verification};

const DIFF_TITLE: &str = "diff digest recomputed from your clone";
const BUILDERS_TITLE: &str = "trusted builders agree on the artifact";

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

/// Runs the diff-digest check (when `repo` is given) and the builder-agreement check on a
/// release request, recording both in `verification.report`. Other records need neither.
pub fn complete(
    req: &SigningRequest,
    verification: &mut Verification,
    repo: Option<&Path>,
) -> Evidence {
    let Record::Release(release) = &req.record else {
        return Evidence::default();
    };
    let mut evidence = Evidence::default();
    let report = &mut verification.report;

    match repo {
        None => report.not_run(
            check::DIFF_DIGEST,
            DIFF_TITLE,
            "needs your clone of the repository: pass --repo",
        ),
        Some(repo) => match check_diff(repo, release) {
            DiffOutcome::Ran(result, digest) => {
                evidence.diff_digest = digest;
                report.record(check::DIFF_DIGEST, DIFF_TITLE, result);
            }
            DiffOutcome::Missing(why) => report.not_run(check::DIFF_DIGEST, DIFF_TITLE, &why),
        },
    }

    if req.attestations.len() > MAX_ATTESTATIONS {
        report.record(
            check::BUILDER_AGREEMENT,
            BUILDERS_TITLE,
            Err(format!(
                "the request carries {} attestations, more than the {MAX_ATTESTATIONS} a \
                 request may hold; ask the publisher to include only the builders' envelopes",
                req.attestations.len()
            )),
        );
        return evidence;
    }
    let envelopes: Vec<EnvelopeInput> = req
        .attestations
        .iter()
        .enumerate()
        .map(|(i, e)| EnvelopeInput::parsed(format!("attestation {}", i + 1), e.clone()))
        .collect();
    match evaluate(
        &req.policy,
        &envelopes,
        &release.source.commit,
        &release.artifact.sha256.to_hex(),
    ) {
        Ok(builders) => {
            report.record(
                check::BUILDER_AGREEMENT,
                BUILDERS_TITLE,
                builder_verdict(&builders, release),
            );
            evidence.builders = Some(builders);
        }
        Err(e) => report.record(check::BUILDER_AGREEMENT, BUILDERS_TITLE, Err(e.to_string())),
    }
    evidence
}

enum DiffOutcome {
    Ran(Result<String, String>, Option<chainlock_diff::DiffDigest>),
    Missing(String),
}

fn check_diff(repo: &Path, release: &Release) -> DiffOutcome {
    let src = &release.source;
    let base = (src.base_commit != EMPTY_TREE).then_some(src.base_commit.as_str());
    // Both commits must be in the clone; a missing one is something to fetch, not a verdict.
    let git = match git2::Repository::open(repo) {
        Ok(g) => g,
        Err(e) => {
            return DiffOutcome::Missing(format!(
                "cannot open {} as a git repository: {}",
                repo.display(),
                e.message()
            ))
        }
    };
    for commit in base.into_iter().chain([src.commit.as_str()]) {
        let present = git2::Oid::from_str(commit)
            .ok()
            .and_then(|oid| git.find_commit(oid).ok())
            .is_some();
        if !present {
            return DiffOutcome::Missing(format!(
                "commit {commit} is not in your clone {}: run `git fetch --tags` there (tag {})",
                repo.display(),
                src.tag
            ));
        }
    }
    // The tag, when the clone has it, must name the release's commit.
    if let Ok(obj) = git.revparse_single(&format!("refs/tags/{}", src.tag)) {
        match obj.peel_to_commit() {
            Ok(c) if c.id().to_string() == src.commit => {}
            Ok(c) => {
                return DiffOutcome::Ran(
                    Err(format!(
                        "your clone's tag {} points to {}, the record says {}",
                        src.tag,
                        c.id(),
                        src.commit
                    )),
                    None,
                )
            }
            Err(e) => {
                return DiffOutcome::Ran(
                    Err(format!(
                        "tag {} does not name a commit: {}",
                        src.tag,
                        e.message()
                    )),
                    None,
                )
            }
        }
    }
    match chainlock_diff::diff_digest(repo, base, &src.commit) {
        Ok(d) if d.digest == release.diff_digest.0 => {
            let detail = format!("{} over {} changed paths, {}..{}", d.to_hex(), d.entries, short(base.unwrap_or("empty tree")), short(&src.commit));
            DiffOutcome::Ran(Ok(detail), Some(d))
        }
        Ok(d) => DiffOutcome::Ran(
            Err(format!("your clone gives {} but the record says {}: the release is not the source you have", d.to_hex(), release.diff_digest)),
            Some(d),
        ),
        Err(e) => DiffOutcome::Ran(Err(e.to_string()), None),
    }
}

fn builder_verdict(b: &BuilderReport, release: &Release) -> Result<String, String> {
    let agreeing = b.agreeing.len();
    let mut detail = format!(
        "{agreeing} of the {} trusted builders agree on {} (minimum {})",
        b.trusted_builders,
        short(&b.artifact_sha256),
        b.min_builders
    );
    for d in &b.disagreeing {
        detail.push_str(&format!(
            "; builder {} got {}",
            short(&d.key_id),
            d.artifact_sha256.join(", ")
        ));
    }
    if !b.untrusted.is_empty() {
        detail.push_str(&format!(
            "; {} untrusted envelope(s) not counted",
            b.untrusted.len()
        ));
    }
    if !b.invalid.is_empty() {
        return Err(format!(
            "{detail}; {} invalid envelope(s): ask the publisher to drop or replace them",
            b.invalid.len()
        ));
    }
    if !b.minimum_met {
        return Err(format!(
            "{detail}: below the policy's minimum; wait for more trusted builders to rebuild and \
             attest this commit (or, if some disagree, find out why before anyone signs)"
        ));
    }
    match &b.attestation_digest {
        Some(d) if *d == release.attestation_digest.to_hex() => Ok(detail),
        Some(d) => Err(format!(
            "{detail}; but the record's attestation digest {} is not the agreeing envelopes' {d}",
            release.attestation_digest
        )),
        None => Err(format!(
            "{detail}; no attestation digest could be computed from the agreeing envelopes: ask \
             the publisher to re-create the request with the builders' envelopes"
        )),
    }
}

fn short(hex: &str) -> &str {
    hex.get(..12).unwrap_or(hex)
}
