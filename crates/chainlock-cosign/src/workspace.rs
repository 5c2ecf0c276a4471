//! The co-signer's side of the loop: watch, sync, pending, review, sign, reject, finalize.
//!
//! Everything a decision rests on is recomputed here from this machine's own knowledge: the
//! record chain from the chain backend (starting at the pinned genesis), the custody output's
//! state, the finals and rejections on the coordination remote, the diff from the co-signer's
//! own clone and the builders' envelopes verified against the policy.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use chainlock_chain::{Chain, LocalLedger, OutputState, PackageId};
use chainlock_protocol::bsm::StatementKind;
use chainlock_protocol::hash::Digest;
use chainlock_protocol::jcs;
use chainlock_protocol::record::{ProtocolVersion, Record};
use chainlock_protocol::record_tx::FeeBounds;
use chainlock_protocol::request::SigningRequest;
use chainlock_protocol::verify::{
    self, verify_request, CustodyState, KnownRecord, Report, Verification,
};
use chainlock_review::evidence::{self, Evidence};
use chainlock_signer::OpenOptions;

use crate::config::{ChainConfig, Config, Paths, Watched};
use crate::coord::Coord;
use crate::history::{self, Action, Entry, History};
use crate::objects::{FinalDoc, RejectTag, Rejection, SignatureDoc, ValidSignature};
use crate::view::{InvalidRef, PackageView, RequestState};
use crate::{Error, Result};

/// Something the app or a script may want to hear about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// A request appeared that one of this machine's keys may sign.
    NewRequest {
        /// The package.
        package: String,
        /// The request id.
        request: String,
    },
    /// A request became final.
    Finalized {
        /// The package.
        package: String,
        /// The request id.
        request: String,
    },
    /// A request was rejected by a maintainer.
    Rejected {
        /// The package.
        package: String,
        /// The request id.
        request: String,
    },
}

/// A function called with every event.
pub type Subscriber = Box<dyn Fn(&Event) + Send>;

/// The co-signer's workspace: configuration, state and the chain backend.
pub struct Workspace {
    paths: Paths,
    config: Config,
    chain: Box<dyn Chain>,
    subscribers: Vec<Subscriber>,
}

/// A pending request, as the inbox lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Pending {
    /// The package (`npm:pad`).
    pub package: String,
    /// The request id.
    pub request: String,
    /// `release 1.3.0`, `genesis`, `rotation`.
    pub what: String,
    /// The publisher's key id.
    pub publisher: String,
    /// Creation and expiry, Unix seconds.
    pub created_at: u64,
    /// Expiry, Unix seconds.
    pub expires_at: u64,
    /// Signatures so far (key ids).
    pub signed_by: Vec<String>,
    /// The policy's threshold.
    pub threshold: u8,
    /// Rejections so far (key ids).
    pub rejected_by: Vec<String>,
    /// Whether a final transaction exists.
    pub finalized: bool,
    /// This machine's keys that are maintainers and could still sign (none once the
    /// request is final, expired, rejected or has its m signatures).
    pub my_keys_to_sign: Vec<String>,
    /// The verdict of this machine's checks, for requests that need a signature: `ready`,
    /// `failing` (a check failed) or `waiting` (a check could not run yet).
    pub verdict: Option<Verdict>,
    /// How many checks failed or did not run, and the first of them.
    pub problems: Vec<String>,
}

/// A request's verdict in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every check ran and passed.
    Ready,
    /// A check failed: do not sign.
    Failing,
    /// No check failed, but some could not run (evidence missing).
    Waiting,
}

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
    verification: Option<Verification>,
}

/// What a review looks at besides the request.
#[derive(Debug, Clone, Default)]
pub struct ReviewOptions {
    /// The published artifact, to compare with the source at the release's commit.
    pub artifact: Option<PathBuf>,
    /// Skip the risk scan (the inbox's verdicts do not need it).
    pub skip_risk: bool,
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
    /// The fee.
    pub fee: u64,
    /// The sighash (ALL|FORKID) a signature is over.
    pub sighash: String,
}

/// What a sync found.
#[derive(Debug, Clone, Serialize)]
pub struct SyncSummary {
    /// The package.
    pub package: String,
    /// Refs updated on this machine.
    pub updated: usize,
    /// Requests on the remote.
    pub requests: usize,
    /// Refs that failed verification.
    pub invalid: Vec<InvalidRef>,
    /// Objects pushed from the outbox.
    pub pushed: usize,
}

impl Workspace {
    /// Opens the workspace in `paths`, with its chain backend.
    pub fn open(paths: Paths) -> Result<Self> {
        let config = Config::load(&paths.config_file())?;
        let chain: Box<dyn Chain> = match &config.chain {
            ChainConfig::Local { path } => {
                let path = path.clone().unwrap_or_else(|| paths.default_ledger());
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| Error::io("cannot create directory", dir, e))?;
                }
                Box::new(LocalLedger::open(&path)?)
            }
        };
        Ok(Workspace {
            paths,
            config,
            chain,
            subscribers: Vec::new(),
        })
    }

    /// The directories in use.
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The chain backend.
    pub fn chain(&self) -> &dyn Chain {
        self.chain.as_ref()
    }

    /// Calls `f` for every event from now on (new request, finalized, rejected).
    pub fn subscribe(&mut self, f: impl Fn(&Event) + Send + 'static) {
        self.subscribers.push(Box::new(f));
    }

    fn emit(&self, event: Event) {
        for s in &self.subscribers {
            s(&event);
        }
    }

    /// Watches the package whose coordination remote is `remote` and whose source is cloned
    /// at `clone`: fetches the refs and pins the genesis it finds (trust on first use), from
    /// the clone's `.chainlock/genesis` when it has one, else from the one genesis request
    /// on the remote. Returns the entry and where the genesis came from.
    pub fn watch_add(&mut self, remote: &str, clone: &Path) -> Result<(Watched, String)> {
        let staging = self
            .paths
            .data_dir
            .join("coordination")
            .join(".staging.git");
        let _ = std::fs::remove_dir_all(&staging);
        let coord = Coord::open(&staging, remote)?;
        coord.fetch()?;
        let view = PackageView::read(&coord)?;
        let (genesis, record, source) = match read_pin(clone)? {
            Some(digest) => {
                let record = self.find_genesis_record(&view, &digest).ok_or_else(|| {
                    Error::Refused(format!(
                        "{}/.chainlock/genesis pins {digest}, but neither the chain backend \
                             nor a request on {remote} holds that genesis record",
                        clone.display()
                    ))
                })?;
                (
                    digest,
                    record,
                    format!("{}/.chainlock/genesis", clone.display()),
                )
            }
            None => {
                let geneses: Vec<&RequestState> = view
                    .requests
                    .values()
                    .filter(|r| matches!(r.request.record, Record::Genesis(_)))
                    .collect();
                match geneses.as_slice() {
                    [one] => (
                        one.request.record.digest()?,
                        one.request.record.clone(),
                        format!("the genesis request {} on the remote", one.id),
                    ),
                    [] => {
                        return Err(Error::Refused(format!(
                            "no .chainlock/genesis in {} and no genesis request on {remote}: \
                             is this the package's coordination remote?",
                            clone.display()
                        )))
                    }
                    _ => {
                        return Err(Error::Refused(format!(
                            "{} genesis requests on {remote} and no .chainlock/genesis in {} to \
                             say which is the package's: ask the maintainers",
                            geneses.len(),
                            clone.display()
                        )))
                    }
                }
            }
        };
        let package = PackageId::of(&record).to_string();
        if self.config.packages.iter().any(|w| w.package == package) {
            return Err(Error::Refused(format!(
                "{package} is already watched: `chainlock watch remove {package}` first"
            )));
        }
        let mirror = self.paths.mirror(&package);
        if mirror.exists() {
            std::fs::remove_dir_all(&mirror)
                .map_err(|e| Error::io("cannot replace", &mirror, e))?;
        }
        if let Some(parent) = mirror.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io("cannot create", parent, e))?;
        }
        std::fs::rename(&staging, &mirror).map_err(|e| Error::io("cannot move", &staging, e))?;
        let watched = Watched {
            package,
            remote: remote.to_string(),
            clone: clone.to_path_buf(),
            genesis,
        };
        self.config.packages.push(watched.clone());
        self.config.save(&self.paths.config_file())?;
        Ok((watched, source))
    }

    fn find_genesis_record(&self, view: &PackageView, digest: &Digest) -> Option<Record> {
        view.requests
            .values()
            .map(|r| &r.request.record)
            .find(|r| matches!(r, Record::Genesis(_)) && r.digest().ok().as_ref() == Some(digest))
            .cloned()
    }

    /// Marks this workspace as a demo (shown as such by the CLI and the app).
    pub fn set_demo(&mut self, demo: bool) -> Result<()> {
        self.config.demo = demo;
        self.config.save(&self.paths.config_file())
    }

    /// Sets the chain backend.
    pub fn set_chain(&mut self, chain: ChainConfig) -> Result<()> {
        self.config.chain = chain;
        self.config.save(&self.paths.config_file())?;
        let reopened = Workspace::open(self.paths.clone())?;
        self.chain = reopened.chain;
        Ok(())
    }

    fn coord(&self, watched: &Watched) -> Result<Coord> {
        Coord::open(&self.paths.mirror(&watched.package), &watched.remote)
    }

    /// Fetches every watched package's refs, pushes the outbox, and emits events for what
    /// is new.
    pub fn sync(&self) -> Result<Vec<SyncSummary>> {
        let mine = self.my_key_ids();
        let mut out = Vec::new();
        for watched in &self.config.packages {
            let coord = self.coord(watched)?;
            let before = PackageView::read(&coord)?;
            let fetched = coord.fetch()?;
            let pushed = coord.push_outbox()?;
            let after = PackageView::read(&coord)?;
            for (id, state) in &after.requests {
                let was = before.requests.get(id);
                if was.is_none()
                    && state.final_tx.is_none()
                    && state
                        .request
                        .policy
                        .maintainers
                        .iter()
                        .any(|k| mine.contains(&k.key_id()))
                {
                    self.emit(Event::NewRequest {
                        package: watched.package.clone(),
                        request: id.to_hex(),
                    });
                }
                if state.final_tx.is_some() && was.is_none_or(|w| w.final_tx.is_none()) {
                    self.emit(Event::Finalized {
                        package: watched.package.clone(),
                        request: id.to_hex(),
                    });
                }
                if state.rejections.len() > was.map_or(0, |w| w.rejections.len()) {
                    self.emit(Event::Rejected {
                        package: watched.package.clone(),
                        request: id.to_hex(),
                    });
                }
            }
            out.push(SyncSummary {
                package: watched.package.clone(),
                updated: fetched.updated,
                requests: after.requests.len(),
                invalid: after.invalid,
                pushed,
            });
        }
        Ok(out)
    }

    /// The key ids of this machine's keychain keys.
    pub fn my_key_ids(&self) -> Vec<String> {
        chainlock_signer::keychain::Keychain::new(Some(self.paths.config_dir.clone()))
            .and_then(|k| k.list())
            .map(|keys| keys.into_iter().map(|k| k.key_id).collect())
            .unwrap_or_default()
    }

    /// Every request on the watched packages' remotes (as last synced), newest first.
    pub fn requests(&self) -> Result<Vec<Pending>> {
        let mine = self.my_key_ids();
        let mut out = Vec::new();
        for watched in &self.config.packages {
            let view = PackageView::read(&self.coord(watched)?)?;
            for state in view.requests.values() {
                let req = &state.request;
                let signed_by: Vec<String> =
                    state.signatures.iter().map(|s| s.key_id.clone()).collect();
                let rejected_by: Vec<String> = state
                    .rejections
                    .iter()
                    .map(|r| r.public_key.key_id())
                    .collect();
                let open = state.final_tx.is_none()
                    && state.rejections.is_empty()
                    && state.signatures.len() < usize::from(req.policy.threshold);
                out.push(Pending {
                    verdict: None,
                    problems: Vec::new(),
                    package: watched.package.clone(),
                    request: state.id.to_hex(),
                    what: describe(&req.record),
                    publisher: req.publisher.key_id(),
                    created_at: req.created_at,
                    expires_at: req.expires_at,
                    threshold: req.policy.threshold,
                    finalized: state.final_tx.is_some(),
                    my_keys_to_sign: req
                        .policy
                        .maintainers
                        .iter()
                        .map(|k| k.key_id())
                        .filter(|k| {
                            open && mine.contains(k)
                                && !signed_by.contains(k)
                                && !rejected_by.contains(k)
                        })
                        .collect(),
                    signed_by,
                    rejected_by,
                });
            }
        }
        out.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then(a.request.cmp(&b.request))
        });
        Ok(out)
    }

    /// The requests that need a signature (not final, not expired, not rejected, below m),
    /// each with the verdict of this machine's checks.
    pub fn pending(&self, now: u64) -> Result<Vec<Pending>> {
        let mut out: Vec<Pending> = self
            .requests()?
            .into_iter()
            .filter(|p| {
                !p.finalized
                    && p.expires_at > now
                    && p.rejected_by.is_empty()
                    && p.signed_by.len() < usize::from(p.threshold)
            })
            .collect();
        for p in &mut out {
            let options = ReviewOptions {
                skip_risk: true,
                ..ReviewOptions::default()
            };
            match self.review_with(&p.request, now, &options) {
                Ok(review) => {
                    let report = &review.report;
                    p.verdict = Some(if report.ready_to_sign() {
                        Verdict::Ready
                    } else if report.no_failures() {
                        Verdict::Waiting
                    } else {
                        Verdict::Failing
                    });
                    p.problems = report
                        .problems()
                        .map(|c| format!("{}: {}", c.title(), c.detail()))
                        .collect();
                }
                Err(e) => {
                    p.verdict = Some(Verdict::Waiting);
                    p.problems = vec![format!("could not review: {e}")];
                }
            }
        }
        Ok(out)
    }

    /// Finds a request by id or unique id prefix (at least 8 hex digits).
    fn find_request(&self, id: &str) -> Result<(Watched, PackageView, Digest)> {
        if id.len() < 8 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::UnknownRequest(format!(
                "{:?} is not a request id: give at least 8 hex digits (see `chainlock pending`)",
                chainlock_protocol::text::shown(id)
            )));
        }
        let id = id.to_ascii_lowercase();
        let mut found = Vec::new();
        for watched in &self.config.packages {
            let coord = self.coord(watched)?;
            // Resolve the id from the ref names alone, then read only that request's refs
            // (and the attestations, for the builders' view).
            let hits: Vec<String> = coord
                .refs()?
                .into_iter()
                .filter_map(|(name, _)| {
                    let rest = name.strip_prefix("refs/chainlock/req/")?;
                    let (rid, tail) = rest.split_once('/')?;
                    (tail == "request" && rid.starts_with(&id)).then(|| rid.to_string())
                })
                .collect();
            for rid in hits {
                let prefix = format!("req/{rid}/");
                let view = PackageView::read_where(&coord, |p| {
                    p.starts_with(&prefix) || p.starts_with("attest/")
                })?;
                if let Some(d) = view.requests.keys().next().copied() {
                    found.push((watched.clone(), view, d));
                } else {
                    let why = view
                        .invalid
                        .iter()
                        .find(|r| r.name.contains(&prefix))
                        .map(|r| r.reason.clone())
                        .unwrap_or_default();
                    return Err(Error::UnknownRequest(format!(
                        "request {rid} on {} failed verification and is not shown: {why}",
                        watched.remote
                    )));
                }
            }
        }
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(Error::UnknownRequest(format!(
                "no request {id} on the watched packages' remotes: run `chainlock sync`, then \
                 `chainlock pending`"
            ))),
            n => Err(Error::UnknownRequest(format!(
                "{n} requests start with {id}: give more digits"
            ))),
        }
    }

    /// The package's record chain as this machine knows it, starting at the pinned genesis.
    fn record_chain(&self, watched: &Watched) -> Result<Vec<KnownRecord>> {
        let id: PackageId = watched
            .package
            .parse()
            .map_err(|_| Error::Refused(format!("{} is not ecosystem:name", watched.package)))?;
        let chain = self.chain.record_chain(&id)?;
        if let Some(genesis) = chain.records.first() {
            if genesis.digest != watched.genesis {
                return Err(Error::Refused(format!(
                    "the chain backend's genesis of {} is {}, not the pinned {}: another package \
                     took this name, or the pin is wrong; do not sign until the maintainers \
                     agree which is right",
                    watched.package, genesis.digest, watched.genesis
                )));
            }
        }
        Ok(chain
            .records
            .into_iter()
            .map(|r| KnownRecord {
                digest: r.digest,
                record: r.record,
            })
            .collect())
    }

    /// Reviews request `id` (a unique prefix will do): runs every check of section 7 with this
    /// machine's knowledge, the diff from the watched clone, the builders' envelopes, and
    /// the range's risk flags.
    pub fn review(&self, id: &str, now: u64) -> Result<Review> {
        self.review_with(id, now, &ReviewOptions::default())
    }

    /// [`Self::review`] with options (an artifact file to compare with the source).
    pub fn review_with(&self, id: &str, now: u64, options: &ReviewOptions) -> Result<Review> {
        let (watched, view, digest) = self.find_request(id)?;
        let state = view
            .requests
            .get(&digest)
            .ok_or_else(|| Error::UnknownRequest(digest.to_hex()))?;
        let req = &state.request;
        let chain = self.record_chain(&watched)?;
        let trusted_policy = trusted_policy(&chain, &watched, req)?;
        let tx = crate::objects::request_record_tx(req).ok();
        let custody = match &tx {
            Some(rtx) => {
                let outpoint = rtx.custody_outpoint();
                let state = match self.chain.output_state(&outpoint)? {
                    OutputState::Unspent { .. } => CustodyState::Unspent,
                    OutputState::Spent { by } => CustodyState::Spent { by },
                    OutputState::Unknown => CustodyState::Unknown,
                };
                Some((outpoint, state))
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
        } = evidence::complete(req, &mut verification, Some(&watched.clone));
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
                chainlock_attest::evaluate(
                    &req.policy,
                    &inputs,
                    &r.source.commit,
                    &r.artifact.sha256.to_hex(),
                )
                .ok()
                .or(builders)
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
                match chainlock_review::scan_range(
                    &watched.clone,
                    base,
                    &r.source.commit,
                    &range_options,
                ) {
                    Ok(scan) => (Some(scan), None),
                    Err(e) => (None, Some(chainlock_protocol::text::shown(&e.to_string()))),
                }
            }
            _ => (None, None),
        };
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

    /// Signs request `id` with the key `key_uri`: reviews it again here, signs only the value
    /// a passing verification hands out, pushes the signature and logs it. Warnings (high
    /// risk flags, a disagreeing trusted builder) are refused unless `accept_warnings`; the
    /// ones accepted are kept in the audit log.
    pub fn sign(
        &self,
        id: &str,
        key_uri: &str,
        options: &OpenOptions,
        now: u64,
        accept_warnings: bool,
    ) -> Result<SignatureDoc> {
        self.sign_with(
            id,
            key_uri,
            options,
            now,
            accept_warnings,
            &ReviewOptions::default(),
        )
    }

    /// [`Self::sign`] with the review's options (the artifact compared).
    pub fn sign_with(
        &self,
        id: &str,
        key_uri: &str,
        options: &OpenOptions,
        now: u64,
        accept_warnings: bool,
        review_options: &ReviewOptions,
    ) -> Result<SignatureDoc> {
        let review = self.review_with(id, now, review_options)?;
        let ready = review
            .verification
            .as_ref()
            .and_then(Verification::ready_to_sign)
            .ok_or_else(|| {
                let problems: Vec<String> = review
                    .report
                    .problems()
                    .map(|c| format!("{}: {}", c.title(), c.detail()))
                    .collect();
                Error::NotReady(format!(
                    "{} check(s) did not pass: {}",
                    problems.len(),
                    problems.join("; ")
                ))
            })?;
        if !review.warnings.is_empty() && !accept_warnings {
            return Err(Error::Warnings(review.warnings.clone()));
        }
        let mut signer = chainlock_signer::open(key_uri, &options_with(&self.paths, options))?;
        let signature = chainlock_signer::sign_input(signer.as_mut(), &ready)?;
        let identity = signer.identity().clone();
        let doc = SignatureDoc {
            protocol: ProtocolVersion::V1,
            request: ready.request_id(),
            public_key: identity.public_key,
            signature: hex::encode(&signature),
        };
        history::append(
            &self.paths.history_file(),
            Entry {
                prev: Digest([0; 32]),
                action: Action::Sign,
                package: review.package.clone(),
                request: ready.request_id(),
                record: Some(ready.record_digest()),
                report: Some(ready.report_digest()),
                key_id: identity.key_id.clone(),
                time: now,
                reason: None,
                warnings: review.warnings.clone(),
            },
        )?;
        let watched = self.config.find(&review.package)?;
        let bytes = pretty(&doc)?;
        self.coord(watched)?.publish(
            &format!(
                "refs/chainlock/req/{}/sig/{}",
                ready.request_id(),
                identity.key_id
            ),
            &[("signature.json", &bytes)],
            "chainlock: signature",
        )?;
        Ok(doc)
    }

    /// Rejects request `id` with `reason`, signed by `key_uri` as a statement; pushes it and
    /// logs it.
    pub fn reject(
        &self,
        id: &str,
        reason: &str,
        key_uri: &str,
        options: &OpenOptions,
        now: u64,
    ) -> Result<Rejection> {
        if reason.trim().is_empty() || reason.len() > 4096 {
            return Err(Error::Refused(
                "give a reason of 1 to 4096 bytes: the other maintainers will read it".into(),
            ));
        }
        let (watched, view, digest) = self.find_request(id)?;
        let state = &view.requests[&digest];
        let mut signer = chainlock_signer::open(key_uri, &options_with(&self.paths, options))?;
        let identity = signer.identity().clone();
        if !state.request.policy.is_maintainer(&identity.public_key) {
            return Err(Error::Refused(format!(
                "key {} is not a maintainer of this request's policy",
                identity.key_id
            )));
        }
        let mut doc = Rejection {
            protocol: ProtocolVersion::V1,
            kind: RejectTag::Reject,
            request: digest,
            reason: reason.to_string(),
            created_at: now,
            public_key: identity.public_key,
            signature: None,
        };
        let statement = doc.digest()?;
        doc.signature = Some(chainlock_signer::sign_statement(
            signer.as_mut(),
            StatementKind::Reject,
            &statement.0,
        )?);
        history::append(
            &self.paths.history_file(),
            Entry {
                prev: Digest([0; 32]),
                action: Action::Reject,
                package: watched.package.clone(),
                request: digest,
                record: state.request.record.digest().ok(),
                report: None,
                key_id: identity.key_id.clone(),
                time: now,
                reason: Some(reason.to_string()),
                warnings: Vec::new(),
            },
        )?;
        let bytes = pretty(&doc)?;
        self.coord(&watched)?.publish(
            &format!("refs/chainlock/req/{digest}/reject/{}", identity.key_id),
            &[("rejection.json", &bytes)],
            "chainlock: rejection",
        )?;
        Ok(doc)
    }

    /// Assembles the signatures of request `id` (in key order), checks the whole input,
    /// broadcasts the transaction with its record, and pushes `final` and the record ref.
    pub fn finalize(&self, id: &str, now: u64) -> Result<FinalDoc> {
        let review = self.review(id, now)?;
        let (watched, view, digest) = self.find_request(id)?;
        let state = &view.requests[&digest];
        if let Some((_, doc)) = &state.final_tx {
            return Ok(doc.clone());
        }
        // Everything but the signatures must still hold: the custody unspent, the chain
        // continued, the evidence agreeing.
        let failing: Vec<String> = review
            .report
            .problems()
            .map(|c| format!("{}: {}", c.title(), c.detail()))
            .collect();
        if !failing.is_empty() {
            return Err(Error::NotReady(format!(
                "not finalizing, {} check(s) did not pass: {}",
                failing.len(),
                failing.join("; ")
            )));
        }
        let rtx = crate::objects::request_record_tx(&state.request).map_err(Error::Refused)?;
        let sigs: Vec<Vec<u8>> = state
            .signatures
            .iter()
            .map(|s| s.signature.clone())
            .collect();
        let combined = chainlock_signer::combine(&rtx, &sigs)?;
        let tx = combined.tx.tx().clone();
        let broadcast = self.chain.broadcast(&tx, Some(&state.request.record))?;
        let doc = FinalDoc {
            protocol: ProtocolVersion::V1,
            request: digest,
            tx: tx.to_hex(),
            txid: tx.txid().to_string(),
            status: match broadcast {
                chainlock_chain::Broadcast::Accepted { .. } => "accepted".into(),
                chainlock_chain::Broadcast::AlreadyKnown { .. } => "already known".into(),
            },
        };
        let coord = self.coord(&watched)?;
        let record_digest = state.request.record.digest()?;
        let record_json = jcs::to_canonical_bytes(&state.request.record)?;
        coord.publish(
            &format!("refs/chainlock/record/{record_digest}"),
            &[
                ("record.json", &record_json),
                ("tx.hex", tx.to_hex().as_bytes()),
            ],
            "chainlock: record",
        )?;
        coord.publish(
            &format!("refs/chainlock/req/{digest}/final"),
            &[("final.json", &pretty(&doc)?)],
            "chainlock: final",
        )?;
        Ok(doc)
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

    /// The audit log, its hash chain checked.
    pub fn history(&self) -> Result<History> {
        history::read(&self.paths.history_file())
    }

    /// The request `id` as it is on the remote (for `review` of files and the app).
    pub fn request(&self, id: &str) -> Result<SigningRequest> {
        let (_, view, digest) = self.find_request(id)?;
        Ok(view.requests[&digest].request.clone())
    }
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
            out.push(format!(
                "high risk flag {} in {}{}: {}",
                flag.rule.id(),
                chainlock_protocol::text::shown(&flag.file),
                flag.line.map(|l| format!(":{l}")).unwrap_or_default(),
                chainlock_protocol::text::shown(&flag.message)
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

fn options_with(paths: &Paths, options: &OpenOptions) -> OpenOptions {
    let mut o = options.clone();
    if o.config_dir.is_none() {
        o.config_dir = Some(paths.config_dir.clone());
    }
    o
}

fn pretty<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| Error::Refused(e.to_string()))?;
    bytes.push(b'\n');
    Ok(bytes)
}

fn describe(record: &Record) -> String {
    match record {
        Record::Release(r) => format!("release {}", chainlock_protocol::text::shown(&r.version)),
        other => other.kind().to_string(),
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
        change,
        fee: rtx.fee(),
        sighash: hex::encode(rtx.sighash()),
    }
}

/// Now, Unix seconds.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Reads `.chainlock/genesis` from the clone's work tree: `{"record": <digest>, "txid": ...}`.
fn read_pin(clone: &Path) -> Result<Option<Digest>> {
    let path: PathBuf = clone.join(".chainlock/genesis");
    if !path.exists() {
        return Ok(None);
    }
    let bytes = crate::fsio::read_capped(&path)?;
    let pin: crate::publisher::GenesisPin =
        crate::objects::parse_json(&bytes, ".chainlock/genesis").map_err(|reason| {
            Error::Damaged {
                path: path.clone(),
                reason,
            }
        })?;
    Ok(Some(pin.record))
}
