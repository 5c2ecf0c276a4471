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

use std::fmt;

use serde::Serialize;

use crate::hash::Digest;
use crate::policy::Policy;
use crate::record::{Record, EMPTY_TREE};
use crate::record_tx::{FeeBounds, RecordTx};
use crate::request::SigningRequest;
use crate::script::Script;
use crate::tx::{OutPoint, SpentOutput, Transaction, Txid};
use crate::{jcs, text};

/// Allowed clock skew between publisher and co-signer, in seconds.
pub const CLOCK_SKEW_SECS: u64 = 300;

/// The longest a request may be valid: expiry minus creation (PROTOCOL.md section 7).
pub const MAX_LIFETIME_SECS: u64 = 7 * 24 * 60 * 60;

/// The checks of section 7, in the order they are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckId {
    /// The publisher is a maintainer of the policy and its statement verifies.
    PublisherSignature,
    /// The request is within its validity period.
    Expiry,
    /// The request's lifetime is at most [`MAX_LIFETIME_SECS`].
    Lifetime,
    /// The request's policy is the policy this co-signer trusts for the package.
    PolicyInForce,
    /// Every record field is well formed and shows as what it is (no hidden characters).
    RecordFields,
    /// The record is consistent with the policy in force.
    RecordPolicy,
    /// `previous` is the package's latest record and `base_commit` its source commit, as
    /// this machine knows the record chain.
    RecordChain,
    /// The transaction decodes and has the shape of section 2, unsigned.
    TransactionShape,
    /// Its one input spends a custody output of the policy in force.
    CustodyInput,
    /// Output 0 commits to the digest of the request's record.
    Commitment,
    /// The fee is within bounds.
    Fee,
    /// The custody output is still unspent.
    CustodyUnspent,
    /// No `final` exists for the request.
    NotFinalized,
    /// This co-signer has not rejected the request.
    NotRejected,
    /// The diff digest equals the one recomputed from the co-signer's clone.
    DiffDigest,
    /// Enough distinct trusted builders agree on the artifact's sha256.
    BuilderAgreement,
}

impl CheckId {
    /// Every check, in report order.
    pub const ALL: [CheckId; 16] = [
        CheckId::PublisherSignature,
        CheckId::Expiry,
        CheckId::Lifetime,
        CheckId::PolicyInForce,
        CheckId::RecordFields,
        CheckId::RecordPolicy,
        CheckId::RecordChain,
        CheckId::TransactionShape,
        CheckId::CustodyInput,
        CheckId::Commitment,
        CheckId::Fee,
        CheckId::CustodyUnspent,
        CheckId::NotFinalized,
        CheckId::NotRejected,
        CheckId::DiffDigest,
        CheckId::BuilderAgreement,
    ];

    /// The stable id, as in JSON (`record-chain`).
    pub fn as_str(self) -> &'static str {
        match self {
            CheckId::PublisherSignature => "publisher-signature",
            CheckId::Expiry => "expiry",
            CheckId::Lifetime => "lifetime",
            CheckId::PolicyInForce => "policy-in-force",
            CheckId::RecordFields => "record-fields",
            CheckId::RecordPolicy => "record-policy",
            CheckId::RecordChain => "record-chain",
            CheckId::TransactionShape => "transaction-shape",
            CheckId::CustodyInput => "custody-input",
            CheckId::Commitment => "commitment",
            CheckId::Fee => "fee",
            CheckId::CustodyUnspent => "custody-unspent",
            CheckId::NotFinalized => "not-finalized",
            CheckId::NotRejected => "not-rejected",
            CheckId::DiffDigest => "diff-digest",
            CheckId::BuilderAgreement => "builder-agreement",
        }
    }

    /// What it checks, in a line.
    pub fn title(self) -> &'static str {
        match self {
            CheckId::PublisherSignature => "publisher's signature",
            CheckId::Expiry => "request not expired",
            CheckId::Lifetime => "request lifetime at most 7 days",
            CheckId::PolicyInForce => "policy in force",
            CheckId::RecordFields => "record fields well formed",
            CheckId::RecordPolicy => "record matches the policy",
            CheckId::RecordChain => "continues the package's latest record",
            CheckId::TransactionShape => "record transaction shape",
            CheckId::CustodyInput => "spends a custody output of the policy",
            CheckId::Commitment => "commits to the record shown",
            CheckId::Fee => "fee within bounds",
            CheckId::CustodyUnspent => "custody output unspent",
            CheckId::NotFinalized => "not already finalized",
            CheckId::NotRejected => "not rejected by you",
            CheckId::DiffDigest => "diff digest recomputed from your clone",
            CheckId::BuilderAgreement => "trusted builders agree on the artifact",
        }
    }

    /// The checks a record of this kind needs (the evidence checks are for releases).
    fn applies_to(self, record: &Record) -> bool {
        match self {
            CheckId::DiffDigest | CheckId::BuilderAgreement => {
                matches!(record, Record::Release(_))
            }
            _ => true,
        }
    }
}

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The check ran and passed.
    Passed,
    /// The check ran and failed.
    Failed,
    /// The check could not run (what it needs is missing); signing is refused.
    NotRun,
}

/// The outcome of one check, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Passed, and what was found.
    Passed(String),
    /// Failed, and why.
    Failed(String),
    /// Not run, and what it needs.
    NotRun(String),
}

impl Outcome {
    fn from_result(result: Result<String, String>) -> Self {
        match result {
            Ok(detail) => Outcome::Passed(detail),
            Err(detail) => Outcome::Failed(detail),
        }
    }

    /// The status alone.
    pub fn status(&self) -> Status {
        match self {
            Outcome::Passed(_) => Status::Passed,
            Outcome::Failed(_) => Status::Failed,
            Outcome::NotRun(_) => Status::NotRun,
        }
    }

    /// The detail line.
    pub fn detail(&self) -> &str {
        match self {
            Outcome::Passed(d) | Outcome::Failed(d) | Outcome::NotRun(d) => d,
        }
    }
}

/// One check in a report. Serializes as `{id, title, status, detail}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    id: CheckId,
    outcome: Outcome,
}

impl Check {
    /// Which check.
    pub fn id(&self) -> CheckId {
        self.id
    }
    /// What it checks, in a line.
    pub fn title(&self) -> &'static str {
        self.id.title()
    }
    /// Its outcome.
    pub fn outcome(&self) -> &Outcome {
        &self.outcome
    }
    /// Its status.
    pub fn status(&self) -> Status {
        self.outcome.status()
    }
    /// Why it passed, failed or did not run.
    pub fn detail(&self) -> &str {
        self.outcome.detail()
    }
}

impl Serialize for Check {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Check", 4)?;
        st.serialize_field("id", &self.id)?;
        st.serialize_field("title", self.title())?;
        st.serialize_field("status", &self.status())?;
        st.serialize_field("detail", self.detail())?;
        st.end()
    }
}

/// One field of the record, as shown: its dotted name and its value with hidden characters
/// escaped (`source.tag`, `v1.3.0`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    /// Dotted name, as in the record's JSON.
    pub name: String,
    /// The value, escaped for display.
    pub value: String,
}

/// The verification report of a signing request: every record field and every check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    request_id: Option<String>,
    record_digest: Option<String>,
    record: Vec<Field>,
    checks: Vec<Check>,
}

impl Report {
    /// The request id, when it could be computed.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The digest of the record the transaction is to commit to, when it could be computed.
    pub fn record_digest(&self) -> Option<&str> {
        self.record_digest.as_deref()
    }

    /// Every field of the record, escaped for display.
    pub fn record_fields(&self) -> &[Field] {
        &self.record
    }

    /// Every check, in order.
    pub fn checks(&self) -> &[Check] {
        &self.checks
    }

    /// True if no check failed (some may not have run).
    pub fn no_failures(&self) -> bool {
        self.checks.iter().all(|c| c.status() != Status::Failed)
    }

    /// True only if every check ran and passed: the one condition for signing.
    pub fn ready_to_sign(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.status() == Status::Passed)
    }

    /// The entry for `id`.
    pub fn get(&self, id: CheckId) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// The failed checks, then those that did not run.
    pub fn problems(&self) -> impl Iterator<Item = &Check> {
        let failed = self.checks.iter().filter(|c| c.status() == Status::Failed);
        let not_run = self.checks.iter().filter(|c| c.status() == Status::NotRun);
        failed.chain(not_run)
    }

    /// SHA-256 of the report's canonical JSON: what the audit log keeps of what was shown.
    pub fn digest(&self) -> Digest {
        // The report serializes to plain JSON objects, strings and arrays, which always
        // canonicalize; an all-zero digest would only mean a bug, never a signature.
        jcs::to_canonical_bytes(self)
            .map(|bytes| Digest::of(&bytes))
            .unwrap_or(Digest([0; 32]))
    }

    /// One line saying whether to sign.
    pub fn verdict(&self) -> &'static str {
        if self.ready_to_sign() {
            "ready to sign: every check passed"
        } else if self.no_failures() {
            "not ready to sign: some checks did not run"
        } else {
            "do NOT sign: a check failed"
        }
    }

    /// Records `outcome` for `id`. A failure is final: nothing recorded after it replaces it.
    fn set(&mut self, id: CheckId, outcome: Outcome) {
        match self.checks.iter_mut().find(|c| c.id == id) {
            Some(existing) => {
                if existing.outcome.status() != Status::Failed {
                    existing.outcome = outcome;
                }
            }
            None => {
                self.checks.push(Check { id, outcome });
                self.checks.sort_by_key(|c| c.id);
            }
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(id) = &self.request_id {
            writeln!(f, "request {id}")?;
        }
        if !self.record.is_empty() {
            writeln!(
                f,
                "record{}:",
                match &self.record_digest {
                    Some(d) => format!(" {d}"),
                    None => String::new(),
                }
            )?;
            let width = self.record.iter().map(|r| r.name.len()).max().unwrap_or(0);
            for field in &self.record {
                writeln!(f, "  {:width$}  {}", field.name, field.value)?;
            }
            writeln!(f, "checks:")?;
        }
        for c in &self.checks {
            let mark = match c.status() {
                Status::Passed => "PASS",
                Status::Failed => "FAIL",
                Status::NotRun => "NOT RUN",
            };
            writeln!(f, "  [{mark:^7}] {}: {}", c.title(), c.detail())?;
        }
        write!(f, "{}", self.verdict())
    }
}

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

fn expiry(created_at: u64, expires_at: u64, now: u64) -> Result<String, String> {
    if expires_at <= created_at {
        Err(format!(
            "expires ({}) before it was created ({})",
            text::unix_time(expires_at, None),
            text::unix_time(created_at, None)
        ))
    } else if created_at > now.saturating_add(CLOCK_SKEW_SECS) {
        Err(format!(
            "created in the future ({} > now {}): check the clocks",
            text::unix_time(created_at, Some(now)),
            text::utc_date(now)
        ))
    } else if now >= expires_at {
        Err(format!(
            "expired at {} (now {}): ask the publisher for a fresh request",
            text::unix_time(expires_at, Some(now)),
            text::utc_date(now)
        ))
    } else {
        Ok(format!(
            "valid until {}",
            text::unix_time(expires_at, Some(now))
        ))
    }
}

fn lifetime(created_at: u64, expires_at: u64) -> Result<String, String> {
    let life = expires_at.saturating_sub(created_at);
    if life > MAX_LIFETIME_SECS {
        Err(format!(
            "valid for {}, longer than the protocol's 7 days: a long-lived request could be \
             replayed long after it was reviewed; ask the publisher for one valid at most 7 days",
            text::duration(life)
        ))
    } else {
        Ok(format!("valid for {}", text::duration(life)))
    }
}

fn record_fields(record: &Record) -> Vec<Field> {
    let mut fields = Vec::new();
    let mut add = |name: &str, value: String| {
        fields.push(Field {
            name: name.to_string(),
            value: text::printable_cut(&value, 1024),
        })
    };
    add("type", record.kind().to_string());
    add("ecosystem", record.ecosystem().as_str().to_string());
    add("package", record.package().to_string());
    match record {
        Record::Genesis(g) => policy_fields(&mut add, "policy", &g.policy),
        Record::Release(r) => {
            add("version", r.version.clone());
            add("source.repository", r.source.repository.clone());
            add("source.tag", r.source.tag.clone());
            add("source.commit", r.source.commit.clone());
            add(
                "source.base_commit",
                if r.source.base_commit == EMPTY_TREE {
                    format!("{} (empty tree: first release)", r.source.base_commit)
                } else {
                    r.source.base_commit.clone()
                },
            );
            add("artifact.name", r.artifact.name.clone());
            add("artifact.size", format!("{} bytes", r.artifact.size));
            add("artifact.sha256", r.artifact.sha256.to_hex());
            add("diff_digest", r.diff_digest.to_hex());
            add("attestation_digest", r.attestation_digest.to_hex());
            add("policy_digest", r.policy_digest.to_hex());
            add("previous", r.previous.to_hex());
        }
        Record::Rotation(r) => {
            policy_fields(&mut add, "policy", &r.policy);
            add("policy_digest", r.policy_digest.to_hex());
            add("previous", r.previous.to_hex());
        }
    }
    fields
}

fn policy_fields(add: &mut impl FnMut(&str, String), prefix: &str, policy: &Policy) {
    for (i, key) in policy.maintainers.iter().enumerate() {
        add(&format!("{prefix}.maintainers[{i}]"), key.to_hex());
    }
    add(
        &format!("{prefix}.threshold"),
        format!("{} of {}", policy.threshold, policy.maintainers.len()),
    );
    for (i, key) in policy.builders.iter().enumerate() {
        add(&format!("{prefix}.builders[{i}]"), key.clone());
    }
    add(
        &format!("{prefix}.min_builders"),
        policy.min_builders.to_string(),
    );
    add(
        &format!("{prefix}.challenge_window_secs"),
        format!(
            "{} ({})",
            policy.challenge_window_secs,
            text::duration(policy.challenge_window_secs)
        ),
    );
}

fn record_policy(
    record: &Record,
    policy: &Policy,
    digest: Option<&Digest>,
) -> Result<String, String> {
    let digest = digest.ok_or("the policy has no digest")?;
    let wanted = record.signing_policy_digest().map_err(|e| e.to_string())?;
    if &wanted != digest {
        return Err(format!(
            "the {} record names policy {wanted}, the request carries {digest}",
            record.kind()
        ));
    }
    if let Record::Genesis(g) = record {
        if &g.policy != policy {
            return Err("the genesis record's policy differs from the request's".into());
        }
    }
    Ok(format!(
        "{} record of {} under policy {digest}",
        record.kind(),
        text::shown(record.package())
    ))
}

/// `previous` must be the head of the chain this machine knows, `base_commit` the source
/// commit of the latest release in it (the empty tree before the first release).
fn record_chain(record: &Record, chain: &[KnownRecord]) -> Result<String, String> {
    let describe = |k: &KnownRecord| match &k.record {
        Record::Release(r) => format!(
            "release {} ({})",
            text::shown(&r.version),
            short(&k.digest.to_hex())
        ),
        other => format!("{} ({})", other.kind(), short(&k.digest.to_hex())),
    };
    let Some(previous) = record.previous() else {
        // A genesis starts a chain: there must be none yet.
        return match chain.first() {
            None => Ok("the package's first record".into()),
            Some(g) => Err(format!(
                "the package already has a {}: a second genesis would fork it",
                describe(g)
            )),
        };
    };
    let Some(head) = chain.last() else {
        return Err(format!(
            "no record of {} is known here: a {} needs the package's genesis; sync, or check \
             that you watch the right package",
            text::shown(record.package()),
            record.kind()
        ));
    };
    if previous != head.digest {
        return Err(match chain.iter().find(|k| k.digest == previous) {
            Some(older) => format!(
                "fork: `previous` is the older {}, not the head, {}; a record must follow \
                 the latest one",
                describe(older),
                describe(head)
            ),
            None => format!(
                "`previous` {previous} is no record of this package known here; the head is {}",
                describe(head)
            ),
        });
    }
    if let Record::Release(r) = record {
        let last_release = chain.iter().rev().find_map(|k| match &k.record {
            Record::Release(rel) => Some((k, rel)),
            _ => None,
        });
        let expected = last_release.map_or(EMPTY_TREE, |(_, rel)| rel.source.commit.as_str());
        if r.source.base_commit != expected {
            let skipped = chain.iter().find(|k| {
                matches!(&k.record, Record::Release(rel) if rel.source.commit == r.source.base_commit)
            });
            return Err(match (skipped, last_release) {
                (Some(from), Some((latest, _))) => format!(
                    "the range starts at {} and skips {}: base_commit must be {expected}",
                    describe(from),
                    describe(latest)
                ),
                _ => format!(
                    "base_commit {} is not the previous release's source commit {expected}{}",
                    r.source.base_commit,
                    if expected == EMPTY_TREE {
                        " (git's empty tree: this is the first release)"
                    } else {
                        ""
                    }
                ),
            });
        }
        return Ok(format!(
            "follows {}, range {}..{}",
            describe(head),
            short(&r.source.base_commit),
            short(&r.source.commit)
        ));
    }
    Ok(format!("follows {}", describe(head)))
}

fn custody_unspent(outpoint: OutPoint, state: Option<&(OutPoint, CustodyState)>) -> Outcome {
    match state {
        None => Outcome::NotRun("the chain backend was not consulted: sync first".into()),
        Some((looked_up, _)) if *looked_up != outpoint => Outcome::NotRun(format!(
            "the chain was asked about {looked_up}, not the input's {outpoint}"
        )),
        Some((_, CustodyState::Unspent)) => Outcome::Passed(format!("{outpoint} is unspent")),
        Some((_, CustodyState::Spent { by })) => Outcome::Failed(format!(
            "{outpoint} was already spent by {by}: this request can never complete (a replay, \
             or another record was committed first)"
        )),
        Some((_, CustodyState::Unknown)) => Outcome::Failed(format!(
            "the chain backend does not know {outpoint}: the custody output was never \
             created, or the request names another chain"
        )),
    }
}

fn transaction_shape(req: &SigningRequest) -> Result<RecordTx, String> {
    let tx = Transaction::from_hex(&req.transaction).map_err(|e| e.to_string())?;
    let script = Script::from_hex(&req.custody.locking_script)
        .map_err(|e| format!("custody locking script: {e}"))?;
    if !tx.inputs.iter().all(|i| i.script_sig.is_empty()) {
        return Err(
            "the transaction is already (partly) signed: a request carries it unsigned".into(),
        );
    }
    RecordTx::new(
        tx,
        SpentOutput {
            script_pubkey: script,
            value: req.custody.satoshis,
        },
    )
    .map_err(|e| e.to_string())
}

fn custody_input(req: &SigningRequest, rtx: &RecordTx) -> Result<(String, Transaction), String> {
    let funding = Transaction::from_hex(&req.custody.funding_tx)
        .map_err(|e| format!("funding transaction: {e}"))?;
    let outpoint = rtx.custody_outpoint();
    if funding.txid() != outpoint.txid || req.custody.vout != outpoint.vout {
        return Err(format!(
            "the input spends {outpoint} but the request's custody output is {}:{}",
            funding.txid(),
            req.custody.vout
        ));
    }
    let created = funding
        .outputs
        .get(outpoint.vout as usize)
        .ok_or_else(|| format!("the funding transaction has no output {}", outpoint.vout))?;
    if created.script_pubkey != rtx.spent().script_pubkey || created.value != rtx.spent().value {
        return Err("the funding transaction's output differs from the custody script and value the request states".into());
    }
    let expected = req.policy.custody_script().map_err(|e| e.to_string())?;
    if created.script_pubkey != expected {
        return Err(
            "the custody output is not the policy's multisig (other keys or threshold)".into(),
        );
    }
    let detail = format!(
        "{outpoint}: {}-of-{} custody of the policy, {} satoshis",
        rtx.custody().threshold,
        rtx.custody().keys.len(),
        created.value
    );
    Ok((detail, funding))
}

fn short(hex: &str) -> &str {
    hex.get(..12).unwrap_or(hex)
}
