//! The verification report: every check of section 7 with its typed outcome, and every
//! record field as shown.

use std::fmt;

use serde::Serialize;

use crate::hash::Digest;
use crate::jcs;
use crate::record::Record;

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
    pub(super) fn applies_to(self, record: &Record) -> bool {
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
    pub(super) fn from_result(result: Result<String, String>) -> Self {
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
    pub(super) request_id: Option<String>,
    pub(super) record_digest: Option<String>,
    pub(super) record: Vec<Field>,
    pub(super) checks: Vec<Check>,
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

    /// The failed checks, then those that did not run, each as `title: detail`.
    pub fn problem_lines(&self) -> Vec<String> {
        self.problems()
            .map(|c| format!("{}: {}", c.title(), c.detail()))
            .collect()
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
    pub(super) fn set(&mut self, id: CheckId, outcome: Outcome) {
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
