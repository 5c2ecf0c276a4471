//! What the coordination refs of one package say, every object verified on arrival.
//!
//! A ref that fails (bad JSON, wrong id, bad signature, unknown key, wrong path) is listed in
//! [`PackageView::invalid`] with its reason; it is never counted and never fatal.

use std::collections::BTreeMap;

use serde::Serialize;

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
}

impl PackageView {
    /// Reads and verifies every coordination ref in the mirror.
    pub fn read(coord: &Coord) -> Result<Self> {
        let refs = coord.refs()?;
        let mut view = PackageView::default();
        let mut pending: Vec<(&str, Vec<&str>, git2::Oid)> = Vec::new();
        // Requests first: signatures, rejections and finals are checked against them.
        for (name, oid) in &refs {
            let path: Vec<&str> = name[NAMESPACE.len()..].split('/').collect();
            match path.as_slice() {
                ["req", id, "request"] => match read_request(coord, *oid, id) {
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
                _ => pending.push((name, path, *oid)),
            }
        }
        for (name, path, oid) in pending {
            match path.as_slice() {
                ["req", id, rest @ ..] => {
                    let state = Digest::from_hex("request id", id)
                        .ok()
                        .and_then(|d| view.requests.get_mut(&d));
                    let Some(state) = state else {
                        view.invalid(name, "no valid request with this id".into());
                        continue;
                    };
                    let outcome = match rest {
                        ["sig", key_id] => coord
                            .read_file(oid, "signature.json")
                            .and_then(|b| objects::parse_json::<SignatureDoc>(&b, "signature.json"))
                            .and_then(|doc| {
                                objects::check_signature(&doc, &state.request, &state.id, key_id)
                            })
                            .map(|sig| {
                                state.signatures.push(sig);
                                state.signatures.sort_by_key(|s| s.public_key);
                            }),
                        ["reject", key_id] => coord
                            .read_file(oid, "rejection.json")
                            .and_then(|b| objects::parse_json::<Rejection>(&b, "rejection.json"))
                            .and_then(|doc| {
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
        Ok(view)
    }

    fn invalid(&mut self, name: &str, reason: String) {
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
) -> Result<(Digest, SigningRequest), String> {
    let bytes = coord.read_file(oid, "request.json")?;
    let req = SigningRequest::from_json(&bytes).map_err(|e| {
        format!(
            "request.json is not a valid request: {}",
            chainlock_protocol::text::shown(&e.to_string())
        )
    })?;
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
