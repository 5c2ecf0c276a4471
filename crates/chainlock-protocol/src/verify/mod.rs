//! `verify_request`: the checks of PROTOCOL.md section 7 that a co-signer runs on its own
//! machine before signing, and the one value a signer accepts.
//!
//! A [`Verification`] lists every check with a typed [`Outcome`]. Checks that need more than
//! the request (the diff recomputed from a clone, the builders' signed attestations) are
//! completed by the crates that can run them through [`Verification::record_diff_digest`]
//! and [`Verification::record_builders`]: they hand in what they *computed*, and the
//! comparison with the record is made here. A FAIL stays a FAIL, whatever is recorded after
//! it.
//!
//! [`Verification::ready_to_sign`] hands out a [`ReadyToSign`] only when every check ran and
//! passed. It is the only type the signers take, and only this module can construct it: it
//! has no public fields, no `Default`, no `Deserialize`, and no setter.

use crate::hash::Digest;
use crate::policy::Policy;
use crate::record::Record;
use crate::record_tx::{FeeBounds, RecordTx};
use crate::request::SigningRequest;
use crate::text;
use crate::tx::{OutPoint, Transaction, Txid};

mod checks;
mod report;

use checks::{
    custody_input, custody_unspent, expiry, lifetime, record_chain, record_fields, record_policy,
    short, transaction_shape,
};
pub use report::{Check, CheckId, Field, Outcome, Report, Status};

/// Allowed clock skew between publisher and co-signer, in seconds.
pub const CLOCK_SKEW_SECS: u64 = 300;

/// The longest a request may be valid: expiry minus creation (PROTOCOL.md section 7).
pub const MAX_LIFETIME_SECS: u64 = 7 * 24 * 60 * 60;

/// A record of the package as this machine knows it (from its coordination refs and chain
/// backend), never from the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownRecord {
    /// The record's digest.
    pub digest: Digest,
    /// The record.
    pub record: Record,
}

/// Where the custody output a request spends stands, as this machine's chain backend says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustodyState {
    /// The output exists and is unspent.
    Unspent,
    /// The output was spent by this transaction.
    Spent {
        /// The spending transaction.
        by: Txid,
    },
    /// The backend does not know the output.
    Unknown,
}

/// What this co-signer's own machine knows, which verification compares the request with.
#[derive(Debug, Clone)]
pub struct Context {
    /// The current time, Unix seconds.
    pub now: u64,
    /// The digest of the policy this co-signer trusts for the package (from the pinned
    /// genesis and the record chain); without it that check does not run.
    pub trusted_policy: Option<Digest>,
    /// Fee limits.
    pub fee_bounds: FeeBounds,
    /// The package's record chain, genesis first; without it the chain check does not run.
    pub record_chain: Option<Vec<KnownRecord>>,
    /// The state of the custody output, with the outpoint it was looked up for.
    pub custody: Option<(OutPoint, CustodyState)>,
    /// Whether a `final` exists for the request on the coordination remote.
    pub finalized: Option<bool>,
    /// This co-signer's own rejection of the request, with its reason.
    pub my_rejection: Option<Option<String>>,
}

impl Context {
    /// A context with only a clock and the default fee bounds: every check that needs this
    /// machine's knowledge of the package does not run, so nothing is ready to sign.
    pub fn offline(now: u64) -> Self {
        Context {
            now,
            trusted_policy: None,
            fee_bounds: FeeBounds::default(),
            record_chain: None,
            custody: None,
            finalized: None,
            my_rejection: None,
        }
    }
}

/// The diff digest a co-signer's clone gave for the release range, or why it gave none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiffEvidence {
    /// Computed from the clone over `base..head` (both as the record names them).
    Computed {
        /// The digest computed.
        digest: Digest,
        /// How many paths changed.
        entries: u64,
    },
    /// The clone contradicts the record (a tag names another commit, a commit is not one).
    Contradicted(String),
    /// The digest could not be computed (no clone, a commit missing): what is needed.
    Unavailable(String),
}

/// The builders' agreement as the attestation crate evaluated it from signed envelopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuilderEvidence {
    /// The envelopes were verified.
    Evaluated {
        /// The commit the agreeing envelopes name.
        commit: String,
        /// The artifact sha256 they agree on.
        artifact_sha256: Digest,
        /// The Ed25519 public keys (lowercase hex) of the builders whose valid envelopes agree.
        agreeing_keys: Vec<String>,
        /// The attestation digest of the agreeing envelopes (section 5).
        attestation_digest: Option<Digest>,
        /// Envelopes whose signature or statement is invalid.
        invalid: usize,
        /// A line on the rest (disagreeing and untrusted builders), shown as is.
        remarks: String,
    },
    /// The envelopes could not be evaluated.
    Failed(String),
}

/// The one value a signer accepts: a request whose every check ran and passed on this
/// machine. Only [`Verification::ready_to_sign`] constructs it.
#[derive(Debug, Clone)]
pub struct ReadyToSign {
    request_id: Digest,
    record_digest: Digest,
    record_tx: RecordTx,
    funding_tx: Transaction,
    report_digest: Digest,
}

impl ReadyToSign {
    /// Test support: a value to sign for `record_tx` with no request verified at all.
    #[cfg(feature = "test-support")]
    pub(crate) fn unverified(record_tx: RecordTx, funding_tx: Transaction) -> Self {
        ReadyToSign {
            request_id: Digest([0; 32]),
            record_digest: record_tx.record_digest(),
            record_tx,
            funding_tx,
            report_digest: Digest([0; 32]),
        }
    }

    /// The request id.
    pub fn request_id(&self) -> Digest {
        self.request_id
    }
    /// The record digest the transaction commits to.
    pub fn record_digest(&self) -> Digest {
        self.record_digest
    }
    /// The verified record transaction.
    pub fn record_tx(&self) -> &RecordTx {
        &self.record_tx
    }
    /// The transaction that created the custody output (hashed and matched to the outpoint).
    pub fn funding_tx(&self) -> &Transaction {
        &self.funding_tx
    }
    /// The digest of the report that passed (for the audit log).
    pub fn report_digest(&self) -> Digest {
        self.report_digest
    }
    /// The sighash a signature must be over: computed here from the verified transaction.
    pub fn sighash(&self) -> [u8; 32] {
        self.record_tx.sighash()
    }
}

/// The report of a request's verification, and what signing needs once it is complete.
#[derive(Debug, Clone)]
pub struct Verification {
    report: Report,
    record: Record,
    policy: Policy,
    request_id: Option<Digest>,
    record_digest: Option<Digest>,
    record_tx: Option<RecordTx>,
    funding_tx: Option<Transaction>,
}

impl Verification {
    /// The report so far.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// The checked record transaction, whether or not the request is ready (for display).
    pub fn record_tx(&self) -> Option<&RecordTx> {
        self.record_tx.as_ref()
    }

    /// The value to sign, only when every check ran and passed.
    pub fn ready_to_sign(&self) -> Option<ReadyToSign> {
        if !self.report.ready_to_sign() {
            return None;
        }
        // Every check the record needs must be in the report, not merely the ones present.
        let complete = CheckId::ALL
            .iter()
            .filter(|id| id.applies_to(&self.record))
            .all(|id| self.report.get(*id).map(Check::status) == Some(Status::Passed));
        if !complete {
            return None;
        }
        Some(ReadyToSign {
            request_id: self.request_id?,
            record_digest: self.record_digest?,
            record_tx: self.record_tx.clone()?,
            funding_tx: self.funding_tx.clone()?,
            report_digest: self.report.digest(),
        })
    }

    /// Records the diff digest the co-signer's clone gave; the comparison with the record's
    /// `diff_digest` is made here.
    pub fn record_diff_digest(&mut self, evidence: DiffEvidence) {
        let Record::Release(release) = &self.record else {
            return;
        };
        let outcome = match evidence {
            DiffEvidence::Unavailable(needs) => Outcome::NotRun(needs),
            DiffEvidence::Contradicted(why) => Outcome::Failed(why),
            DiffEvidence::Computed { digest, entries } if digest == release.diff_digest => {
                Outcome::Passed(format!(
                    "{digest} over {entries} changed {}, {}..{}",
                    if entries == 1 { "path" } else { "paths" },
                    short(&release.source.base_commit),
                    short(&release.source.commit)
                ))
            }
            DiffEvidence::Computed { digest, .. } => Outcome::Failed(format!(
                "your clone gives {digest} but the record says {}: the release is not the \
                 source you have",
                release.diff_digest
            )),
        };
        self.report.set(CheckId::DiffDigest, outcome);
    }

    /// Records the builders' agreement as evaluated from the signed envelopes; whether it is
    /// enough (trusted keys, distinct, the policy's minimum, this commit and artifact, the
    /// record's attestation digest) is decided here.
    pub fn record_builders(&mut self, evidence: BuilderEvidence) {
        let Record::Release(release) = &self.record else {
            return;
        };
        let outcome = match evidence {
            BuilderEvidence::Failed(why) => Outcome::Failed(why),
            BuilderEvidence::Evaluated {
                commit,
                artifact_sha256,
                agreeing_keys,
                attestation_digest,
                invalid,
                remarks,
            } => {
                let mut distinct: Vec<&String> = agreeing_keys
                    .iter()
                    .filter(|k| self.policy.builders.contains(k))
                    .collect();
                distinct.sort();
                distinct.dedup();
                let n = distinct.len();
                let min = self.policy.min_builders;
                let mut detail = format!(
                    "{n} of the {} trusted builders agree on {} (minimum {min})",
                    self.policy.builders.len(),
                    short(&artifact_sha256.to_hex()),
                );
                if !remarks.is_empty() {
                    detail.push_str("; ");
                    detail.push_str(&remarks);
                }
                if commit != release.source.commit {
                    Outcome::Failed(format!(
                        "the attestations are for commit {commit}, the record's is {}",
                        release.source.commit
                    ))
                } else if artifact_sha256 != release.artifact.sha256 {
                    Outcome::Failed(format!(
                        "{detail}; but the record's artifact is {}: the builders did not \
                         reproduce what is published",
                        release.artifact.sha256
                    ))
                } else if invalid > 0 {
                    Outcome::Failed(format!(
                        "{detail}; {invalid} invalid {}: ask the publisher to drop or replace \
                         them",
                        if invalid == 1 {
                            "envelope"
                        } else {
                            "envelopes"
                        }
                    ))
                } else if (n as u64) < u64::from(min) || n == 0 {
                    Outcome::Failed(format!(
                        "{detail}: below the policy's minimum; wait for more trusted builders \
                         to rebuild and attest this commit (or, if some disagree, find out why \
                         before anyone signs)"
                    ))
                } else {
                    match attestation_digest {
                        Some(d) if d == release.attestation_digest => Outcome::Passed(detail),
                        Some(d) => Outcome::Failed(format!(
                            "{detail}; but the record's attestation digest {} is not the \
                             agreeing envelopes' {d}",
                            release.attestation_digest
                        )),
                        None => Outcome::Failed(format!(
                            "{detail}; no attestation digest could be computed from the \
                             agreeing envelopes: ask the publisher to re-create the request"
                        )),
                    }
                }
            }
        };
        self.report.set(CheckId::BuilderAgreement, outcome);
    }
}

/// Runs every check of section 7 that needs neither a clone nor attestation verification,
/// comparing the request with what `ctx` says this machine knows.
pub fn verify_request(req: &SigningRequest, ctx: &Context) -> Verification {
    let request_id = req.id().ok();
    let record_digest = req.record.digest().ok();
    let mut report = Report {
        request_id: request_id.map(|d| d.to_hex()),
        record_digest: record_digest.map(|d| d.to_hex()),
        record: record_fields(&req.record),
        checks: Vec::new(),
    };
    let policy_digest = req.policy.digest();

    report.set(
        CheckId::PublisherSignature,
        Outcome::from_result(if !req.policy.is_maintainer(&req.publisher) {
            Err(format!(
                "publisher key {} is not a maintainer of the policy",
                req.publisher.key_id()
            ))
        } else {
            req.verify_signature()
                .map(|()| format!("signed by maintainer {}", req.publisher.key_id()))
                .map_err(|e| e.to_string())
        }),
    );

    report.set(
        CheckId::Expiry,
        Outcome::from_result(expiry(req.created_at, req.expires_at, ctx.now)),
    );
    report.set(
        CheckId::Lifetime,
        Outcome::from_result(lifetime(req.created_at, req.expires_at)),
    );

    report.set(
        CheckId::PolicyInForce,
        match (&ctx.trusted_policy, &policy_digest) {
            (_, Err(e)) => Outcome::Failed(e.to_string()),
            (None, Ok(_)) => Outcome::NotRun(
                "no trusted policy known: watch the package (`chainlock watch add`) so its \
                 pinned genesis and record chain say which policy is in force"
                    .into(),
            ),
            (Some(trusted), Ok(d)) if trusted == d => {
                Outcome::Passed(format!("policy {d} is the one in force"))
            }
            (Some(trusted), Ok(d)) => Outcome::Failed(format!(
                "the request's policy {d} is not the one in force, {trusted}"
            )),
        },
    );

    // Re-validated here, whatever parsed the request: a caller may have built it in memory.
    report.set(
        CheckId::RecordFields,
        Outcome::from_result(
            req.record
                .validate()
                .and_then(|()| req.policy.validate())
                .map(|()| "every field well formed, none with hidden characters".to_string())
                .map_err(|e| e.to_string()),
        ),
    );

    report.set(
        CheckId::RecordPolicy,
        Outcome::from_result(record_policy(
            &req.record,
            &req.policy,
            policy_digest.as_ref().ok(),
        )),
    );

    report.set(
        CheckId::RecordChain,
        match &ctx.record_chain {
            None => Outcome::NotRun(
                "the package's record chain is not known here: watch and sync the package".into(),
            ),
            Some(chain) => Outcome::from_result(record_chain(&req.record, chain)),
        },
    );

    let record_tx = match transaction_shape(req) {
        Ok(rtx) => {
            report.set(
                CheckId::TransactionShape,
                Outcome::Passed(format!(
                    "txid {}: one custody input, commitment{}",
                    rtx.tx().txid(),
                    if rtx.tx().outputs.len() == 2 {
                        " and P2PKH change"
                    } else {
                        ""
                    }
                )),
            );
            Some(rtx)
        }
        Err(e) => {
            report.set(CheckId::TransactionShape, Outcome::Failed(e));
            None
        }
    };

    let mut funding_tx = None;
    match &record_tx {
        Some(rtx) => {
            report.set(
                CheckId::CustodyInput,
                Outcome::from_result(custody_input(req, rtx).map(|(detail, funding)| {
                    funding_tx = Some(funding);
                    detail
                })),
            );
            report.set(
                CheckId::Commitment,
                Outcome::from_result(match &record_digest {
                    Some(d) if *d == rtx.record_digest() => {
                        Ok(format!("output 0 commits to record {d}"))
                    }
                    Some(d) => Err(format!(
                        "output 0 commits to {} but the record's digest is {d}",
                        rtx.record_digest()
                    )),
                    None => Err("the record has no digest (see the record fields)".into()),
                }),
            );
            report.set(
                CheckId::Fee,
                Outcome::from_result(
                    rtx.check_fee(&ctx.fee_bounds)
                        .map(|()| {
                            format!(
                                "{} satoshis for about {} bytes",
                                rtx.fee(),
                                rtx.signed_size_estimate()
                            )
                        })
                        .map_err(|e| e.to_string()),
                ),
            );
            report.set(
                CheckId::CustodyUnspent,
                custody_unspent(rtx.custody_outpoint(), ctx.custody.as_ref()),
            );
        }
        None => {
            for id in [
                CheckId::CustodyInput,
                CheckId::Commitment,
                CheckId::Fee,
                CheckId::CustodyUnspent,
            ] {
                report.set(
                    id,
                    Outcome::Failed(
                        "the transaction is not a record transaction (see above)".into(),
                    ),
                );
            }
        }
    }

    report.set(
        CheckId::NotFinalized,
        match ctx.finalized {
            None => Outcome::NotRun("the coordination remote was not consulted: sync first".into()),
            Some(false) => Outcome::Passed("no final transaction exists for this request".into()),
            Some(true) => Outcome::Failed(
                "the request is already final: its transaction was assembled; signing again \
                 would be a replay"
                    .into(),
            ),
        },
    );
    report.set(
        CheckId::NotRejected,
        match &ctx.my_rejection {
            None => Outcome::NotRun("your rejections were not consulted".into()),
            Some(None) => Outcome::Passed("you have not rejected it".into()),
            Some(Some(reason)) => Outcome::Failed(format!(
                "you rejected this request: {}",
                text::shown(reason)
            )),
        },
    );

    if let Record::Release(_) = req.record {
        report.set(
            CheckId::DiffDigest,
            Outcome::NotRun("needs your clone of the repository".into()),
        );
        report.set(
            CheckId::BuilderAgreement,
            Outcome::NotRun("needs the attestations verified against the policy".into()),
        );
    }

    Verification {
        report,
        record: req.record.clone(),
        policy: req.policy.clone(),
        request_id,
        record_digest,
        record_tx,
        funding_tx,
    }
}
