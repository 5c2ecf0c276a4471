//! Review: every check of section 7 with this machine's knowledge, the evidence beside it,
//! and what needs acknowledging before signing.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;

use chainlock_diff::Cancel;
use chainlock_protocol::hash::Digest;
use chainlock_protocol::record::Record;
use chainlock_protocol::record_tx::FeeBounds;
use chainlock_protocol::request::SigningRequest;
use chainlock_protocol::verify::{self, verify_request, KnownRecord, Report, Verification};
use chainlock_review::evidence::{self, Evidence, Progress, Stage};

use super::Workspace;
use crate::config::Watched;
use crate::objects::{Rejection, ValidSignature};
use crate::view::{InvalidRef, PackageView, RequestState};
use crate::{Error, Result};

/// Everything a co-signer is shown before deciding (PROTOCOL.md section 7, made visible).
#[derive(Debug, Clone, Serialize)]
pub struct Review {
    /// The package.
    pub package: String,
    /// The verification report: every record field and every check.
    pub report: Report,
    /// The diff digest recomputed from the clone, when it could be.
    pub diff_digest: Option<String>,
    /// The builders' agreement as evaluated from the envelopes.
    pub builders: Option<chainlock_attest::BuilderReport>,
    /// The transaction: outpoint, amounts, fee, the sighash a signature is over.
    pub transaction: Option<TxSummary>,
    /// Signatures so far.
    pub signatures: Vec<ValidSignature>,
    /// Rejections so far.
    pub rejections: Vec<Rejection>,
    /// The policy's threshold (m) and maintainers (n).
    pub threshold: u8,
    /// Maintainer key ids.
    pub maintainers: Vec<String>,
    /// Refs of this request that failed verification.
    pub invalid: Vec<InvalidRef>,
    /// The risk flags of the release range (and of the artifact against the source, when the
    /// artifact was given), from the co-signer's clone.
    pub risk: Option<chainlock_review::RangeScan>,
    /// Why the risk scan could not run, when it could not.
    pub risk_error: Option<String>,
    /// What needs an explicit acknowledgement before signing: high risk flags, trusted
    /// builders that got another artifact.
    pub warnings: Vec<String>,
    #[serde(skip)]
    pub(super) verification: Option<Verification>,
}

/// What a review looks at besides the request.
#[derive(Debug, Clone, Default)]
pub struct ReviewOptions {
    /// The published artifact, to compare with the source at the release's commit.
    pub artifact: Option<PathBuf>,
    /// Skip the risk scan (the inbox's verdicts do not need it).
    pub skip_risk: bool,
}

/// The cancellation token and the progress callback of a review's long stages.
struct Long<'a, 'p> {
    cancel: &'a Cancel,
    progress: &'a mut (dyn FnMut(Progress) + 'p),
}

/// The transaction a co-signer signs, in numbers.
#[derive(Debug, Clone, Serialize)]
pub struct TxSummary {
    /// The txid of the unsigned transaction.
    pub txid: String,
    /// The custody outpoint spent.
    pub custody_outpoint: String,
    /// Its value.
    pub custody_satoshis: u64,
    /// m-of-n.
    pub custody: String,
    /// Output 0 commits to this record digest.
    pub commits_to: String,
    /// Change output: address hash (hex) and satoshis.
    pub change: Option<(String, u64)>,
    /// The change output's legacy (base58) address, as a Ledger shows it.
    pub change_address: Option<String>,
    /// The fee.
    pub fee: u64,
    /// The sighash (ALL|FORKID) a signature is over.
    pub sighash: String,
}

impl Workspace {
    /// Reviews request `id` (a unique prefix will do): runs every check of section 7 with this
    /// machine's knowledge, the diff from the watched clone, the builders' envelopes, and
    /// the range's risk flags.
    pub fn review(&self, id: &str, now: u64) -> Result<Review> {
        self.review_with(id, now, &ReviewOptions::default())
    }

    /// [`Self::review`] with options (an artifact file to compare with the source).
    pub fn review_with(&self, id: &str, now: u64, options: &ReviewOptions) -> Result<Review> {
        self.review_cancellable(id, now, options, &Cancel::new(), &mut |_| {})
    }

    /// [`Self::review_with`] for a window with a progress bar and a Cancel button: the long
    /// stages (the diff digest from the clone, the risk scan, the builders' envelopes)
    /// report to `progress` and stop once `cancel` is set, between files or envelopes.
    ///
    /// A cancelled review returns [`Error::Cancelled`] and nothing else: no report, no
    /// verification, so nothing can be signed from it; the next review computes it all.
    pub fn review_cancellable(
        &self,
        id: &str,
        now: u64,
        options: &ReviewOptions,
        cancel: &Cancel,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Review> {
        let (watched, view, digest) = self.find_request(id)?;
        let state = view
            .requests
            .get(&digest)
            .ok_or_else(|| Error::UnknownRequest(digest.to_hex()))?;
        let long = Long { cancel, progress };
        self.review_state(&watched, &view, state, digest, now, options, long)
    }

    /// Reviews a signing request read from a file (an air-gapped review): untrusted input,
    /// at most [`MAX_REQUEST_FILE`] bytes of a regular file, parsed by the protocol crate
    /// and checked by the same gate as a request on the remote, against this machine's
    /// record chain, custody state and clone of its (watched) package. Signatures,
    /// rejections and a final come from the remote when it holds the same request. Nothing
    /// can be signed from the result: signing looks requests up on the remote only.
    pub fn review_file(
        &self,
        path: &Path,
        now: u64,
        options: &ReviewOptions,
    ) -> Result<(SigningRequest, Review)> {
        let req = read_request_file(path)?;
        let package = chainlock_chain::PackageId::new(req.record.ecosystem(), req.record.package())
            .to_string();
        let watched = self.config.find(&package).map_err(|_| {
            Error::Refused(format!(
                "{} is a request for {}, which this workspace does not watch: add the package \
                 (`chainlock watch add REMOTE CLONE`) to review it against its record chain",
                path.display(),
                chainlock_protocol::text::shown(&package)
            ))
        })?;
        let digest = req.id()?;
        let prefix = format!("req/{}/", digest.to_hex());
        let view = PackageView::read_where(&self.coord(watched)?, |p| {
            p.starts_with(&prefix) || p.starts_with("attest/")
        })?;
        // The file's own request is what is reviewed, whatever the remote holds.
        let state = RequestState {
            id: digest,
            request: req.clone(),
            ..view.requests.get(&digest).cloned().unwrap_or(RequestState {
                id: digest,
                request: req.clone(),
                signatures: Vec::new(),
                rejections: Vec::new(),
                final_tx: None,
            })
        };
        let long = Long {
            cancel: &Cancel::new(),
            progress: &mut |_| {},
        };
        let review = self.review_state(watched, &view, &state, digest, now, options, long)?;
        Ok((req, review))
    }

    #[allow(clippy::too_many_arguments)] // one private step, called from two places
    fn review_state(
        &self,
        watched: &Watched,
        view: &PackageView,
        state: &RequestState,
        digest: Digest,
        now: u64,
        options: &ReviewOptions,
        long: Long<'_, '_>,
    ) -> Result<Review> {
        let Long { cancel, progress } = long;
        let watched = watched.clone();
        let req = &state.request;
        let chain = self.record_chain(&watched)?;
        let trusted_policy = trusted_policy(&chain, &watched, req)?;
        let tx = crate::objects::request_record_tx(req).ok();
        let custody = match &tx {
            Some(rtx) => {
                let outpoint = rtx.custody_outpoint();
                Some((
                    outpoint,
                    self.chain.output_state(&outpoint)?.custody_state(),
                ))
            }
            None => None,
        };
        let mine = self.my_key_ids();
        let my_rejection = state
            .rejections
            .iter()
            .find(|r| mine.contains(&r.public_key.key_id()))
            .map(|r| r.reason.clone());
        let ctx = verify::Context {
            now,
            trusted_policy,
            fee_bounds: FeeBounds::default(),
            record_chain: Some(chain),
            custody,
            finalized: Some(state.final_tx.is_some()),
            my_rejection: Some(my_rejection),
        };
        let mut verification = verify_request(req, &ctx);
        let Evidence {
            diff_digest,
            builders,
        } = evidence::complete_cancellable(
            req,
            &mut verification,
            Some(&watched.clone),
            cancel,
            progress,
        )
        .map_err(|_| Error::Cancelled)?;
        // What every builder said, not only the envelopes the publisher chose to carry: a
        // trusted builder that got another hash is shown, whatever the request holds.
        let builders = match &req.record {
            Record::Release(r) => {
                let mut inputs: Vec<chainlock_attest::EnvelopeInput> = req
                    .attestations
                    .iter()
                    .enumerate()
                    .map(|(i, e)| {
                        chainlock_attest::EnvelopeInput::parsed(
                            format!("request attestation {}", i + 1),
                            e.clone(),
                        )
                    })
                    .collect();
                for (key_id, e) in view
                    .attestations
                    .get(&r.source.commit)
                    .into_iter()
                    .flatten()
                {
                    if !req.attestations.contains(e) {
                        inputs.push(chainlock_attest::EnvelopeInput::parsed(
                            format!("remote attestation by {}", &key_id[..key_id.len().min(12)]),
                            e.clone(),
                        ));
                    }
                }
                let each = |done, total| {
                    progress(Progress {
                        stage: Stage::Builders,
                        done,
                        total,
                    });
                    !cancel.is_cancelled()
                };
                match chainlock_attest::evaluate_with(
                    &req.policy,
                    &inputs,
                    &r.source.commit,
                    &r.artifact.sha256.to_hex(),
                    each,
                ) {
                    Ok(report) => Some(report),
                    Err(chainlock_attest::Error::Stopped) => return Err(Error::Cancelled),
                    Err(_) => builders,
                }
            }
            _ => builders,
        };
        let (risk, risk_error) = match (&req.record, options.skip_risk) {
            (Record::Release(r), false) => {
                let base = (r.source.base_commit != chainlock_protocol::record::EMPTY_TREE)
                    .then_some(r.source.base_commit.as_str());
                let range_options = chainlock_review::RangeOptions {
                    artifact: options.artifact.clone(),
                    compare: chainlock_review::CompareOptions {
                        reproduction: builders
                            .as_ref()
                            .and_then(chainlock_review::Reproduction::from_report),
                    },
                    ..chainlock_review::RangeOptions::default()
                };
                match chainlock_review::scan_range_cancellable(
                    &watched.clone,
                    base,
                    &r.source.commit,
                    &range_options,
                    cancel,
                    |done, total| {
                        progress(Progress {
                            stage: Stage::RiskScan,
                            done,
                            total,
                        })
                    },
                ) {
                    Ok(scan) => (Some(scan), None),
                    Err(chainlock_review::Error::Cancelled) => return Err(Error::Cancelled),
                    Err(e) => (None, Some(chainlock_protocol::text::shown(&e.to_string()))),
                }
            }
            _ => (None, None),
        };
        // A cancel after the last file or envelope still stops here: nothing is returned.
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let warnings = warnings(risk.as_ref(), builders.as_ref());
        let prefix = format!("req/{}/", digest.to_hex());
        Ok(Review {
            risk,
            risk_error,
            warnings,
            package: watched.package.clone(),
            report: verification.report().clone(),
            diff_digest: diff_digest.map(|d| d.to_hex()),
            builders,
            transaction: tx.as_ref().map(summarize),
            signatures: state.signatures.clone(),
            rejections: state.rejections.clone(),
            threshold: req.policy.threshold,
            maintainers: req.policy.maintainers.iter().map(|k| k.key_id()).collect(),
            invalid: view
                .invalid
                .iter()
                .filter(|r| r.name.contains(&prefix))
                .cloned()
                .collect(),
            verification: Some(verification),
        })
    }

    /// The screens a Ledger at `path` (`ledger://` URI path; empty for the default) will show
    /// when it signs request `id`, as numbered instructions: what the app and the CLI tell
    /// the user to expect, screen by screen.
    pub fn ledger_screens(&self, id: &str, path: &str) -> Result<String> {
        let req = self.request(id)?;
        let rtx = crate::objects::request_record_tx(&req).map_err(Error::Refused)?;
        let path = if path.is_empty() {
            chainlock_signer::ledger::DerivationPath::chainlock_default()
        } else {
            chainlock_signer::ledger::DerivationPath::parse(path)?
        };
        Ok(chainlock_signer::ledger::screens::instructions(
            &chainlock_signer::ledger::screens::record_tx(&rtx, &path),
        ))
    }

    /// The request `id` as it is on the remote (for `review` of files and the app).
    pub fn request(&self, id: &str) -> Result<SigningRequest> {
        let (_, view, digest) = self.find_request(id)?;
        Ok(view.requests[&digest].request.clone())
    }
}

/// The largest signing request file [`Workspace::review_file`] reads: a request carries a
/// record, a policy, a funding transaction and a few builder envelopes, far below this.
pub const MAX_REQUEST_FILE: u64 = 4 << 20;

/// A signing request file: a regular file (not a FIFO or a device, which could block or
/// never end) of at most [`MAX_REQUEST_FILE`] bytes, parsed by the protocol crate.
pub fn read_request_file(path: &Path) -> Result<SigningRequest> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io("cannot read", path, e))?;
    if !meta.is_file() {
        return Err(Error::Refused(format!(
            "{} is not a regular file: give the signing request's JSON file",
            path.display()
        )));
    }
    if meta.len() > MAX_REQUEST_FILE {
        return Err(Error::Refused(format!(
            "{} is {} bytes, more than a signing request may be ({} MiB): it is not a request; \
             ask the publisher for the request file",
            path.display(),
            meta.len(),
            MAX_REQUEST_FILE >> 20
        )));
    }
    let file = std::fs::File::open(path).map_err(|e| Error::io("cannot read", path, e))?;
    let mut bytes = Vec::new();
    // Capped again while reading: the file may have grown since it was measured.
    file.take(MAX_REQUEST_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("cannot read", path, e))?;
    if bytes.len() as u64 > MAX_REQUEST_FILE {
        return Err(Error::Refused(format!(
            "{} grew past {} MiB while being read: it is not a request",
            path.display(),
            MAX_REQUEST_FILE >> 20
        )));
    }
    SigningRequest::from_json(&bytes).map_err(|e| {
        Error::Refused(format!(
            "{} is not a valid chainlock/1 signing request ({}): ask the publisher to re-create it",
            path.display(),
            e
        ))
    })
}

/// What must be acknowledged before signing: high risk flags and trusted builders that got
/// another artifact.
fn warnings(
    risk: Option<&chainlock_review::RangeScan>,
    builders: Option<&chainlock_attest::BuilderReport>,
) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(scan) = risk {
        for flag in scan
            .all_flags()
            .filter(|f| f.severity == chainlock_review::Severity::High)
        {
            // A flag about the whole artifact has no file.
            let place = if flag.file.is_empty() {
                String::new()
            } else {
                format!(
                    " in {}{}",
                    chainlock_protocol::text::shown(&flag.file),
                    flag.line.map(|l| format!(":{l}")).unwrap_or_default()
                )
            };
            // The message is the review crate's sentence (it quotes digests whole): cut only
            // past a message's length, not a value's.
            out.push(format!(
                "high risk flag {}{place}: {}",
                flag.rule.id(),
                chainlock_protocol::text::printable_cut(
                    &flag.message,
                    chainlock_protocol::text::MESSAGE_CHARS
                )
            ));
        }
    }
    if let Some(b) = builders {
        for d in &b.disagreeing {
            out.push(format!(
                "trusted builder {} rebuilt another artifact ({})",
                &d.key_id[..d.key_id.len().min(16)],
                d.artifact_sha256.join(", ")
            ));
        }
    }
    out
}

/// The policy in force for `req`'s package as this machine knows it: the latest rotation's
/// or the genesis's; for a genesis request, the pinned genesis's own policy.
fn trusted_policy(
    chain: &[KnownRecord],
    watched: &Watched,
    req: &SigningRequest,
) -> Result<Option<Digest>> {
    let in_force = chain.iter().rev().find_map(|k| match &k.record {
        Record::Genesis(g) => Some(&g.policy),
        Record::Rotation(r) => Some(&r.policy),
        Record::Release(_) => None,
    });
    match in_force {
        Some(policy) => Ok(Some(policy.digest()?)),
        None => match &req.record {
            Record::Genesis(g) if req.record.digest()? == watched.genesis => {
                Ok(Some(g.policy.digest()?))
            }
            _ => Ok(None),
        },
    }
}

fn summarize(rtx: &chainlock_protocol::record_tx::RecordTx) -> TxSummary {
    let change = rtx.tx().outputs.get(1).map(|o| {
        (
            o.script_pubkey
                .parse_p2pkh()
                .map(hex::encode)
                .unwrap_or_default(),
            o.value,
        )
    });
    TxSummary {
        txid: rtx.tx().txid().to_string(),
        custody_outpoint: rtx.custody_outpoint().to_string(),
        custody_satoshis: rtx.spent().value,
        custody: format!(
            "{}-of-{}",
            rtx.custody().threshold,
            rtx.custody().keys.len()
        ),
        commits_to: rtx.record_digest().to_hex(),
        change_address: rtx
            .tx()
            .outputs
            .get(1)
            .map(|o| chainlock_signer::ledger::screens::address(&o.script_pubkey)),
        change,
        fee: rtx.fee(),
        sighash: hex::encode(rtx.sighash()),
    }
}
