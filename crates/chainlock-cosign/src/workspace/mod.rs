//! The co-signer's side of the loop: watch, sync, pending, review, sign, reject, finalize.
//!
//! Everything a decision rests on is recomputed here from this machine's own knowledge: the
//! record chain from the chain backend (starting at the pinned genesis), the custody output's
//! state, the finals and rejections on the coordination remote, the diff from the co-signer's
//! own clone and the builders' envelopes verified against the policy.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use chainlock_chain::{Chain, LocalLedger, PackageId};
use chainlock_protocol::hash::Digest;
use chainlock_protocol::record::Record;
use chainlock_protocol::verify::KnownRecord;
use chainlock_signer::OpenOptions;

use crate::config::{ChainConfig, Config, Paths, Watched};
use crate::coord::Coord;
use crate::view::{InvalidRef, PackageView, RequestState};
use crate::{Error, Result};
pub use flag::{FlagKey, ReleaseRef};

mod actions;
mod flag;
mod prove;
mod review;

pub use chainlock_review::evidence::{Progress as ReviewProgress, Stage as ReviewStage};
pub use review::{Review, ReviewOptions, TxSummary};

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
            ChainConfig::Arc { url, lookups } => {
                let mut arc = chainlock_chain::arc::ArcConfig::new(url);
                // A keychain that cannot be read leaves the key unset: ARC then answers 401,
                // and that error says to set the key.
                arc.api_key = chainlock_signer::secret::get(&ChainConfig::arc_key_name(url))
                    .ok()
                    .flatten();
                match lookups {
                    None => Box::new(chainlock_chain::arc::ArcChain::new(arc)?),
                    Some(lookups) => Box::new(chainlock_chain::network::NetworkChain::new(
                        arc,
                        chainlock_chain::lookups::LookupConfig::new(lookups),
                        Box::new(crate::records::MirrorRecords::new(paths.clone())),
                    )?),
                }
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
        self.sync_with(&chainlock_diff::Cancel::new(), |_, _| {})
    }

    /// [`Self::sync`], telling `progress` `(packages done, packages in all)` after each
    /// package, and stopping with [`Error::Cancelled`] before the next package once `cancel`
    /// is set (a package's fetch and push finish whole or not at all).
    pub fn sync_with(
        &self,
        cancel: &chainlock_diff::Cancel,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<Vec<SyncSummary>> {
        let mine = self.my_key_ids();
        let mut out = Vec::new();
        let total = self.config.packages.len();
        for (done, watched) in self.config.packages.iter().enumerate() {
            if cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
            progress(done, total);
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
        progress(total, total);
        Ok(out)
    }

    /// The key ids of this machine's keys (keychain and Ledger).
    pub fn my_key_ids(&self) -> Vec<String> {
        self.my_keys().into_iter().map(|k| k.key_id).collect()
    }

    /// This machine's keys as its key index lists them (ids, labels; no secret is read).
    pub fn my_keys(&self) -> Vec<chainlock_signer::keychain::KeyInfo> {
        chainlock_signer::keychain::Keychain::new(Some(self.paths.config_dir.clone()))
            .and_then(|k| k.list())
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
                    p.problems = report.problem_lines();
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
        Ok(chain.known_records())
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
