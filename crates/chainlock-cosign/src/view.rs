//! What the coordination refs of one package say, every object verified on arrival.
//!
//! A ref that fails (bad JSON, wrong id, bad signature, unknown key, wrong path) is listed in
//! [`PackageView::invalid`] with its reason; it is never counted and never fatal.
//!
//! Verdicts are cached by ref name and commit id in the mirror (`chainlock-verified.json`):
//! a commit id names its content, and everything a verdict depends on is named in the ref
//! path (the request id) or is the content itself, so a later read skips the signature
//! checks of what it already verified and reads only what is new.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use chainlock_protocol::hash::Digest;
use chainlock_protocol::request::{Envelope, SigningRequest};
use chainlock_protocol::tx::Transaction;

use crate::coord::{Coord, NAMESPACE};
use crate::objects::{self, FinalDoc, Rejection, SignatureDoc, ValidSignature};
use crate::Result;

/// A request and everything verified about it on the remote.
#[derive(Debug, Clone)]
pub struct RequestState {
    /// The request id.
    pub id: Digest,
    /// The request.
    pub request: SigningRequest,
    /// Co-signatures that verified, in key order.
    pub signatures: Vec<ValidSignature>,
    /// Rejections that verified.
    pub rejections: Vec<Rejection>,
    /// The final transaction, when one verified.
    pub final_tx: Option<(Transaction, FinalDoc)>,
}

/// A ref that failed verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvalidRef {
    /// The ref's name (escaped for display).
    pub name: String,
    /// Why it is not counted.
    pub reason: String,
}

/// Everything the coordination remote holds for a package, verified.
#[derive(Debug, Clone, Default)]
pub struct PackageView {
    /// Requests by id.
    pub requests: BTreeMap<Digest, RequestState>,
    /// Attestation envelopes by source commit (verified against a policy when used).
    pub attestations: BTreeMap<String, Vec<(String, Envelope)>>,
    /// Refs that failed.
    pub invalid: Vec<InvalidRef>,
    /// The same, unescaped, for the verdict cache.
    invalid_raw: Vec<(String, String)>,
}

/// Verdicts already reached, by ref name: the commit id and, when invalid, why.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct VerifiedCache {
    version: u32,
    entries: BTreeMap<String, (String, Option<String>)>,
}

const CACHE_VERSION: u32 = 1;
const NO_REQUEST: &str = "no valid request with this id";
const CACHE_FILE: &str = "chainlock-verified.json";

impl VerifiedCache {
    fn path(coord: &Coord) -> PathBuf {
        coord.path().join(CACHE_FILE)
    }

    fn load(coord: &Coord) -> Self {
        // A damaged or old cache only costs time: everything is verified again.
        crate::fsio::read_capped(&Self::path(coord))
            .ok()
            .and_then(|b| serde_json::from_slice::<VerifiedCache>(&b).ok())
            .filter(|c| c.version == CACHE_VERSION)
            .unwrap_or_default()
    }

    fn save(&self, coord: &Coord) {
        if let Ok(bytes) = serde_json::to_vec(self) {
            let _ = crate::fsio::write_atomic(&Self::path(coord), &bytes);
        }
    }

    /// `Some(None)` when `name` at `oid` verified, `Some(Some(reason))` when it failed.
    fn get(&self, name: &str, oid: git2::Oid) -> Option<Option<String>> {
        self.entries
            .get(name)
            .filter(|(o, _)| *o == oid.to_string())
            .map(|(_, r)| r.clone())
    }
}

impl PackageView {
    /// Reads and verifies every coordination ref in the mirror.
    pub fn read(coord: &Coord) -> Result<Self> {
        Self::read_where(coord, |_| true)
    }

    /// Reads the refs whose path (after `refs/chainlock/`) `wanted` accepts; the requests of
    /// the signatures, rejections and finals read must be among them.
    pub fn read_where(coord: &Coord, wanted: impl Fn(&str) -> bool) -> Result<Self> {
        let refs: Vec<(String, git2::Oid)> = coord
            .refs()?
            .into_iter()
            .filter(|(name, _)| wanted(&name[NAMESPACE.len()..]))
            .collect();
        let mut cache = VerifiedCache::load(coord);
        let before = cache.entries.len();
        let mut changed = false;
        let view = Self::read_refs(coord, &refs, &mut cache, &mut changed);
        if changed || cache.entries.len() != before {
            cache.version = CACHE_VERSION;
            cache.save(coord);
        }
        Ok(view)
    }

    fn read_refs(
        coord: &Coord,
        refs: &[(String, git2::Oid)],
        cache: &mut VerifiedCache,
        changed: &mut bool,
    ) -> Self {
        let mut view = PackageView::default();
        let mut pending: Vec<(&str, Vec<&str>, git2::Oid, bool)> = Vec::new();
        // Requests first: signatures, rejections and finals are checked against them.
        for (name, oid) in refs {
            let path: Vec<&str> = name[NAMESPACE.len()..].split('/').collect();
            let known = cache.get(name, *oid);
            if let Some(Some(reason)) = &known {
                view.invalid(name, reason.clone());
                continue;
            }
            let trusted = known.is_some();
            match path.as_slice() {
                ["req", id, "request"] => match read_request(coord, *oid, id, trusted) {
                    Ok(req) => {
                        let id = req.0;
                        view.requests.insert(
                            id,
                            RequestState {
                                id,
                                request: req.1,
                                signatures: vec![],
                                rejections: vec![],
                                final_tx: None,
                            },
                        );
                    }
                    Err(reason) => view.invalid(name, reason),
                },
                _ => pending.push((name, path, *oid, trusted)),
            }
        }
        for (name, path, oid, trusted) in pending {
            match path.as_slice() {
                ["req", id, rest @ ..] => {
                    let state = Digest::from_hex("request id", id)
                        .ok()
                        .and_then(|d| view.requests.get_mut(&d));
                    let Some(state) = state else {
                        view.invalid(name, NO_REQUEST.into());
                        continue;
                    };
                    let outcome = match rest {
                        ["sig", key_id] => coord
                            .read_file(oid, "signature.json")
                            .and_then(|b| objects::parse_json::<SignatureDoc>(&b, "signature.json"))
                            .and_then(|doc| {
                                if trusted {
                                    objects::trusted_signature(&doc, key_id)
                                } else {
                                    objects::check_signature(
                                        &doc,
                                        &state.request,
                                        &state.id,
                                        key_id,
                                    )
                                }
                            })
                            .map(|sig| {
                                state.signatures.push(sig);
                                state.signatures.sort_by_key(|s| s.public_key);
                            }),
                        ["reject", key_id] => coord
                            .read_file(oid, "rejection.json")
                            .and_then(|b| objects::parse_json::<Rejection>(&b, "rejection.json"))
                            .and_then(|doc| {
                                if trusted {
                                    state.rejections.push(doc);
                                    return Ok(());
                                }
                                objects::check_rejection(&doc, &state.request, &state.id, key_id)
                                    .map(|()| state.rejections.push(doc))
                            }),
                        ["final"] => coord
                            .read_file(oid, "final.json")
                            .and_then(|b| objects::parse_json::<FinalDoc>(&b, "final.json"))
                            .and_then(|doc| {
                                objects::check_final(&doc, &state.request, &state.id)
                                    .map(|tx| state.final_tx = Some((tx, doc)))
                            }),
                        _ => Err("not a path of PROTOCOL.md section 8".into()),
                    };
                    if let Err(reason) = outcome {
                        view.invalid(name, reason);
                    }
                }
                ["attest", commit, key_id] => {
                    let outcome = coord
                        .read_file(oid, "envelope.json")
                        .and_then(|b| chainlock_attest::dsse::parse(&b).map_err(|e| e.to_string()))
                        .and_then(|env| {
                            let signer = chainlock_attest::dsse::signer_key_id(&env)
                                .map_err(|e| e.to_string())?
                                .to_string();
                            if signer != *key_id {
                                return Err(format!(
                                    "signed by key {signer}, under the ref of key {key_id}"
                                ));
                            }
                            Ok(env)
                        });
                    match outcome {
                        Ok(env) => view
                            .attestations
                            .entry(commit.to_string())
                            .or_default()
                            .push((key_id.to_string(), env)),
                        Err(reason) => view.invalid(name, reason),
                    }
                }
                // Record bundles are the chain's business (read by the chain backend and,
                // with proofs, by `verify-record`); flags come with the chain issue.
                ["record", _] | ["flag", _, _] => {}
                _ => view.invalid(name, "not a path of PROTOCOL.md section 8".into()),
            }
        }
        // Remember every verdict reached (refs with no verdict of their own, such as
        // record bundles, are cached as valid: they are read elsewhere).
        let invalid: BTreeMap<&str, &str> = view
            .invalid_raw
            .iter()
            .map(|(n, r)| (n.as_str(), r.as_str()))
            .collect();
        for (name, oid) in refs {
            let verdict = invalid.get(name.as_str()).map(|r| r.to_string());
            // A verdict that depends on another ref (its request) is reached again next time.
            if verdict.as_deref() == Some(NO_REQUEST) {
                continue;
            }
            let entry = (oid.to_string(), verdict);
            if cache.entries.get(name) != Some(&entry) {
                cache.entries.insert(name.clone(), entry);
                *changed = true;
            }
        }
        view
    }

    fn invalid(&mut self, name: &str, reason: String) {
        self.invalid_raw.push((name.to_string(), reason.clone()));
        self.invalid.push(InvalidRef {
            name: chainlock_protocol::text::shown(name),
            reason: chainlock_protocol::text::shown(&reason),
        });
    }
}

fn read_request(
    coord: &Coord,
    oid: git2::Oid,
    id: &str,
    trusted: bool,
) -> Result<(Digest, SigningRequest), String> {
    let bytes = coord.read_file(oid, "request.json")?;
    let req = SigningRequest::from_json(&bytes).map_err(|e| {
        format!(
            "request.json is not a valid request: {}",
            chainlock_protocol::text::shown(&e.to_string())
        )
    })?;
    if trusted {
        // Verified before at this very commit: its id is the one in the ref's path.
        let id = Digest::from_hex("request id", id).map_err(|e| e.to_string())?;
        return Ok((id, req));
    }
    let actual = req.id().map_err(|e| e.to_string())?;
    if actual.to_hex() != id {
        return Err(format!(
            "holds request {actual}, not {}",
            chainlock_protocol::text::shown(id)
        ));
    }
    req.verify_signature()
        .map_err(|e| format!("the publisher's statement does not verify: {e}"))?;
    if !req.policy.is_maintainer(&req.publisher) {
        return Err(format!(
            "published by key {}, which is not a maintainer of its policy",
            req.publisher.key_id()
        ));
    }
    Ok((actual, req))
}
