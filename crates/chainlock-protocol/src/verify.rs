//! `verify_request`: the checks of PROTOCOL.md section 7 that a co-signer runs on its own
//! machine before signing, as a report in which every check is listed with its outcome.
//!
//! This crate runs the checks that need neither a git clone nor attestation verification;
//! the diff-digest and builder-agreement checks are listed as not run, and the crates that
//! can run them record their outcome in the same report with [`Report::record`]. A request
//! is ready to sign only when every check ran and passed.

use std::fmt;

use serde::Serialize;

use crate::hash::Digest;
use crate::record::Record;
use crate::record_tx::{FeeBounds, RecordTx};
use crate::request::SigningRequest;
use crate::script::Script;
use crate::tx::{SpentOutput, Transaction};

/// Allowed clock skew between publisher and co-signer, in seconds.
pub const CLOCK_SKEW_SECS: u64 = 300;

/// Stable ids of the checks, in the order they are listed.
pub mod check {
    /// The publisher is a maintainer of the policy and its statement verifies.
    pub const PUBLISHER_SIGNATURE: &str = "publisher-signature";
    /// The request is within its validity period.
    pub const EXPIRY: &str = "expiry";
    /// The request's policy is the policy this co-signer trusts for the package.
    pub const POLICY_IN_FORCE: &str = "policy-in-force";
    /// The record is consistent with the policy in force.
    pub const RECORD_POLICY: &str = "record-policy";
    /// The transaction decodes and has the shape of section 2, unsigned.
    pub const TRANSACTION_SHAPE: &str = "transaction-shape";
    /// Its one input spends a custody output of the policy in force.
    pub const CUSTODY_INPUT: &str = "custody-input";
    /// Output 0 commits to the digest of the request's record.
    pub const COMMITMENT: &str = "commitment";
    /// The fee is within bounds.
    pub const FEE: &str = "fee";
    /// The diff digest equals the one recomputed from the co-signer's clone.
    pub const DIFF_DIGEST: &str = "diff-digest";
    /// Enough distinct trusted builders agree on the artifact's sha256.
    pub const BUILDER_AGREEMENT: &str = "builder-agreement";
}

/// The outcome of one check.
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

/// One check in a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable id (see [`check`]).
    pub id: String,
    /// What it checks, in a line.
    pub title: String,
    /// Its outcome.
    pub status: Status,
    /// Why it passed, failed or did not run.
    pub detail: String,
}

/// The verification report of a signing request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The request id, when it could be computed.
    pub request_id: Option<String>,
    /// Every check, in order.
    pub checks: Vec<Check>,
}

impl Report {
    /// True if no check failed (some may not have run).
    pub fn no_failures(&self) -> bool {
        self.checks.iter().all(|c| c.status != Status::Failed)
    }

    /// True only if every check ran and passed: the one condition for signing.
    pub fn ready_to_sign(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.status == Status::Passed)
    }

    /// Records the outcome of check `id`, replacing an earlier entry or appending a new one.
    pub fn record(&mut self, id: &str, title: &str, result: Result<String, String>) {
        let (status, detail) = match result {
            Ok(d) => (Status::Passed, d),
            Err(d) => (Status::Failed, d),
        };
        self.set(Check {
            id: id.into(),
            title: title.into(),
            status,
            detail,
        });
    }

    /// Marks check `id` as not run, saying what it needs.
    pub fn not_run(&mut self, id: &str, title: &str, needs: &str) {
        self.set(Check {
            id: id.into(),
            title: title.into(),
            status: Status::NotRun,
            detail: needs.into(),
        });
    }

    /// The entry for `id`.
    pub fn get(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }

    fn set(&mut self, check: Check) {
        match self.checks.iter_mut().find(|c| c.id == check.id) {
            Some(existing) => *existing = check,
            None => self.checks.push(check),
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(id) = &self.request_id {
            writeln!(f, "request {id}")?;
        }
        for c in &self.checks {
            let mark = match c.status {
                Status::Passed => "PASS",
                Status::Failed => "FAIL",
                Status::NotRun => "NOT RUN",
            };
            writeln!(f, "  [{mark:^7}] {}: {}", c.title, c.detail)?;
        }
        let verdict = if self.ready_to_sign() {
            "ready to sign: every check passed"
        } else if self.no_failures() {
            "not ready to sign: some checks did not run"
        } else {
            "do NOT sign: a check failed"
        };
        write!(f, "{verdict}")
    }
}

/// What the co-signer brings to verification from its own side.
#[derive(Debug, Clone)]
pub struct Context {
    /// The current time, Unix seconds.
    pub now: u64,
    /// The digest of the policy this co-signer trusts for the package (from the
    /// repository's `.chainlock/genesis` and the chain); without it that check does not run.
    pub trusted_policy: Option<Digest>,
    /// Fee limits.
    pub fee_bounds: FeeBounds,
}

/// The report, and the record transaction when its shape checked out.
#[derive(Debug, Clone)]
pub struct Verification {
    /// The report.
    pub report: Report,
    record_tx: Option<RecordTx>,
}

impl Verification {
    /// The record transaction to sign: only when every check ran and passed.
    pub fn ready_record_tx(&self) -> Option<&RecordTx> {
        self.record_tx
            .as_ref()
            .filter(|_| self.report.ready_to_sign())
    }

    /// The checked record transaction, whether or not the request is ready (for display).
    pub fn record_tx(&self) -> Option<&RecordTx> {
        self.record_tx.as_ref()
    }
}

/// Runs every check of section 7 that needs neither a clone nor attestation verification.
pub fn verify_request(req: &SigningRequest, ctx: &Context) -> Verification {
    let mut report = Report {
        request_id: req.id().ok().map(|d| d.to_hex()),
        checks: Vec::new(),
    };
    let policy_digest = req.policy.digest();

    report.record(check::PUBLISHER_SIGNATURE, "publisher's signature", {
        if !req.policy.is_maintainer(&req.publisher) {
            Err(format!(
                "publisher key {} is not a maintainer of the policy",
                req.publisher.key_id()
            ))
        } else {
            req.verify_signature()
                .map(|()| format!("signed by maintainer {}", req.publisher.key_id()))
                .map_err(|e| e.to_string())
        }
    });

    report.record(check::EXPIRY, "request not expired", {
        if req.expires_at <= req.created_at {
            Err(format!(
                "expires ({}) before it was created ({})",
                req.expires_at, req.created_at
            ))
        } else if req.created_at > ctx.now.saturating_add(CLOCK_SKEW_SECS) {
            Err(format!(
                "created in the future ({} > now {}): check the clocks",
                req.created_at, ctx.now
            ))
        } else if ctx.now >= req.expires_at {
            Err(format!(
                "expired at {} (now {}): ask the publisher for a fresh request",
                req.expires_at, ctx.now
            ))
        } else {
            Ok(format!(
                "valid until {} ({} s left)",
                req.expires_at,
                req.expires_at - ctx.now
            ))
        }
    });

    match (&ctx.trusted_policy, &policy_digest) {
        (_, Err(e)) => report.record(
            check::POLICY_IN_FORCE,
            "policy in force",
            Err(e.to_string()),
        ),
        (None, Ok(_)) => report.not_run(
            check::POLICY_IN_FORCE,
            "policy in force",
            "no trusted policy digest given: pass the one pinned in .chainlock/genesis or on chain",
        ),
        (Some(trusted), Ok(d)) => report.record(
            check::POLICY_IN_FORCE,
            "policy in force",
            if trusted == d {
                Ok(format!("policy {d} is the trusted one"))
            } else {
                Err(format!("request's policy {d} is not the trusted {trusted}"))
            },
        ),
    }

    report.record(
        check::RECORD_POLICY,
        "record matches the policy",
        record_policy(&req.record, &req.policy, policy_digest.as_ref().ok()),
    );

    let shaped = transaction_shape(req);
    let record_tx = match shaped {
        Ok(rtx) => {
            report.record(
                check::TRANSACTION_SHAPE,
                "record transaction shape",
                Ok(format!(
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
            report.record(check::TRANSACTION_SHAPE, "record transaction shape", Err(e));
            None
        }
    };

    match &record_tx {
        Some(rtx) => {
            report.record(
                check::CUSTODY_INPUT,
                "spends a custody output of the policy",
                custody_input(req, rtx),
            );
            report.record(check::COMMITMENT, "commits to the record shown", {
                match req.record.digest() {
                    Ok(d) if d == rtx.record_digest() => {
                        Ok(format!("output 0 commits to record {d}"))
                    }
                    Ok(d) => Err(format!(
                        "output 0 commits to {} but the record's digest is {d}",
                        rtx.record_digest()
                    )),
                    Err(e) => Err(e.to_string()),
                }
            });
            report.record(check::FEE, "fee within bounds", {
                rtx.check_fee(&ctx.fee_bounds)
                    .map(|()| {
                        format!(
                            "{} satoshis for about {} bytes",
                            rtx.fee(),
                            rtx.signed_size_estimate()
                        )
                    })
                    .map_err(|e| e.to_string())
            });
        }
        None => {
            for (id, title) in [
                (
                    check::CUSTODY_INPUT,
                    "spends a custody output of the policy",
                ),
                (check::COMMITMENT, "commits to the record shown"),
                (check::FEE, "fee within bounds"),
            ] {
                report.record(
                    id,
                    title,
                    Err("the transaction is not a record transaction (see above)".into()),
                );
            }
        }
    }

    if matches!(req.record, Record::Release(_)) {
        report.not_run(
            check::DIFF_DIGEST,
            "diff digest recomputed from your clone",
            "needs your clone of the repository",
        );
        report.not_run(
            check::BUILDER_AGREEMENT,
            "trusted builders agree on the artifact",
            "needs the attestations verified against the policy",
        );
    }

    Verification { report, record_tx }
}

fn record_policy(
    record: &Record,
    policy: &crate::policy::Policy,
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
        record.package()
    ))
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

fn custody_input(req: &SigningRequest, rtx: &RecordTx) -> Result<String, String> {
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
    Ok(format!(
        "{outpoint}: {}-of-{} custody of the policy, {} satoshis",
        rtx.custody().threshold,
        rtx.custody().keys.len(),
        created.value
    ))
}
