//! What a co-signer does once it has reviewed: sign, reject, finalize; and its audit log.
use chainlock_protocol::bsm::StatementKind;
use chainlock_protocol::hash::Digest;
use chainlock_protocol::jcs;
use chainlock_protocol::record::ProtocolVersion;
use chainlock_protocol::verify::Verification;
use chainlock_signer::OpenOptions;

use super::review::ReviewOptions;
use super::{options_with, pretty, Workspace};
use crate::history::{self, Action, Entry, History};
use crate::objects::{FinalDoc, RejectTag, Rejection, SignatureDoc};
use crate::{Error, Result};

impl Workspace {
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
                let problems: Vec<String> = review.report.problem_lines();
                Error::NotReady(format!(
                    "{} check(s) did not pass: {}",
                    problems.len(),
                    problems.join("; ")
                ))
            })?;
        if !review.warnings.is_empty() && !accept_warnings {
            return Err(Error::Warnings(review.warnings.clone()));
        }
        // The audit log must be able to take the entry before anything is signed.
        self.check_history()?;
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
        let rtx = crate::objects::request_record_tx(&state.request).map_err(Error::Refused)?;
        let sigs: Vec<Vec<u8>> = state
            .signatures
            .iter()
            .map(|s| s.signature.clone())
            .collect();
        let combined = chainlock_signer::combine(&rtx, &sigs)?;
        let tx = combined.tx.tx().clone();
        // A finalize that broadcast but could not push its refs is finished, not refused:
        // the custody output is spent by this very transaction.
        let already = self.chain.transaction(&tx.txid())?.is_some();
        // Otherwise everything but the signatures must still hold: the custody unspent, the
        // chain continued, the evidence agreeing.
        let failing: Vec<String> = review.report.problem_lines();
        if !already && !failing.is_empty() {
            return Err(Error::NotReady(format!(
                "not finalizing, {} check(s) did not pass: {}",
                failing.len(),
                failing.join("; ")
            )));
        }
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
        // On the local chain the transaction is mined now and `proof.beef` joins the bundle.
        let bundle = crate::bundle::record_bundle(self.chain.as_ref(), &record_json, &tx, now)?;
        let files: Vec<(&str, &[u8])> = bundle.iter().map(|(n, b)| (*n, b.as_slice())).collect();
        coord.publish(
            &format!("refs/chainlock/record/{record_digest}"),
            &files,
            "chainlock: record",
        )?;
        coord.publish(
            &format!("refs/chainlock/req/{digest}/final"),
            &[("final.json", &pretty(&doc)?)],
            "chainlock: final",
        )?;
        Ok(doc)
    }

    /// The audit log, its hash chain checked.
    pub fn history(&self) -> Result<History> {
        history::read(&self.paths.history_file())
    }

    /// Refuses when the audit log is damaged: nothing is signed that could not be logged.
    fn check_history(&self) -> Result<()> {
        match self.history()?.broken {
            None => Ok(()),
            Some(why) => Err(Error::Refused(format!(
                "the audit log {} is damaged ({why}); move it aside and keep it for review \
                 before signing again",
                self.paths.history_file().display()
            ))),
        }
    }
}
