//! Flags on a watched package's releases, and their status in the challenge window
//! (PROTOCOL.md section 9; `crate::flags` holds the rules).

use std::path::Path;

use chainlock_chain::{PackageId, TxStatus};
use chainlock_protocol::bsm::{statement_text, StatementKind};
use chainlock_protocol::hash::Digest;
use chainlock_protocol::jcs;
use chainlock_protocol::policy::Policy;
use chainlock_protocol::record::{ProtocolVersion, Record};
use chainlock_signer::OpenOptions;

use super::{options_with, pretty, Workspace};
use crate::config::Watched;
use crate::flags::{self, Flag, FlagTag, ReleaseStatus, SeenFlag, Severity, Signed};
use crate::{Error, Result};

/// Which key signs a flag.
#[derive(Debug, Clone, Copy)]
pub enum FlagKey<'a> {
    /// A maintainer key by URI (`keychain://<id>`, `ledger://...`).
    Maintainer(&'a str),
    /// A builder's Ed25519 key file.
    Builder(&'a Path),
}

/// A release of a watched package as the chain backend knows it.
#[derive(Debug, Clone)]
pub struct ReleaseRef {
    /// The package.
    pub watched: Watched,
    /// The record digest.
    pub digest: Digest,
    /// The policy in force when it was signed (its window and who counts).
    pub policy: Policy,
    /// Its block's time, once mined.
    pub block_time: Option<u64>,
    /// The record.
    pub record: Record,
}

impl Workspace {
    /// The release `PACKAGE@VERSION` (or `@<record digest>`) of a watched package, or the
    /// release whose bundle directory (`record.json`, as `verify-record` reads it) is
    /// `target`. Either way the chain backend must hold it.
    pub fn find_release(&self, target: &str) -> Result<ReleaseRef> {
        let dir = Path::new(target);
        if dir.is_dir() {
            let file = dir.join("record.json");
            if !file.is_file() {
                return Err(Error::Refused(format!(
                    "{} is a directory without record.json: give a bundle directory (record.json, \
                     tx.hex, proof.beef) or PACKAGE@VERSION",
                    dir.display()
                )));
            }
            let bytes = crate::fsio::read_capped(&file)?;
            let record = Record::from_json(&bytes).map_err(|e| Error::Damaged {
                path: file.clone(),
                reason: e.to_string(),
            })?;
            return self.find_release(&format!("{}@{}", PackageId::of(&record), record.digest()?));
        }
        let (package, which) = target.rsplit_once('@').ok_or_else(|| {
            Error::Refused(format!(
                "{} is not PACKAGE@VERSION (such as npm:left-pad@1.0.0)",
                chainlock_protocol::text::shown(target)
            ))
        })?;
        let watched = self.config.find(package)?.clone();
        let id: PackageId = watched.package.parse()?;
        let chain = self.chain.record_chain(&id)?;
        let mut policy = None;
        for r in &chain.records {
            let matches = match &r.record {
                Record::Release(rel) => rel.version == which || r.digest.to_hex() == which,
                _ => r.digest.to_hex() == which,
            };
            if matches {
                let policy: Policy = policy.clone().ok_or_else(|| {
                    Error::Refused(format!("{target} is a genesis: only releases are flagged"))
                })?;
                let block_time = match r.status {
                    TxStatus::Mined { block_time, .. } => Some(block_time),
                    _ => None,
                };
                return Ok(ReleaseRef {
                    watched,
                    digest: r.digest,
                    policy,
                    block_time,
                    record: r.record.clone(),
                });
            }
            match &r.record {
                Record::Genesis(g) => policy = Some(g.policy.clone()),
                Record::Rotation(rot) => policy = Some(rot.policy.clone()),
                Record::Release(_) => {}
            }
        }
        Err(Error::Refused(format!(
            "{} has no release {} on {}: run `chainlock sync`, or check the version",
            watched.package,
            chainlock_protocol::text::shown(which),
            self.chain.describe()
        )))
    }

    /// Flags release `target` with `key`, publishing `refs/chainlock/flag/<digest>/<key-id>`.
    #[allow(clippy::too_many_arguments)]
    pub fn flag(
        &self,
        target: &str,
        severity: Severity,
        reason: &str,
        evidence: Vec<String>,
        key: FlagKey<'_>,
        options: &OpenOptions,
        now: u64,
    ) -> Result<(Flag, String)> {
        if reason.trim().is_empty() || reason.len() > 4096 {
            return Err(Error::Refused(
                "give a reason of 1 to 4096 bytes: maintainers and consumers will read it".into(),
            ));
        }
        let release = self.find_release(target)?;
        let flag = Flag {
            protocol: ProtocolVersion::V1,
            kind: FlagTag::Flag,
            record: release.digest,
            severity,
            reason: reason.to_string(),
            evidence,
            created_at: now,
        };
        let digest = flag.digest()?;
        let (signed, key_id) = self.sign_as(key, StatementKind::Flag, &digest, options)?;
        self.coord(&release.watched)?.publish(
            &format!("{}{}/{key_id}", flags::FLAG_REFS, release.digest),
            &[
                ("flag.json", &jcs::to_canonical_bytes(&flag)?),
                ("signature.json", &pretty(&signed)?),
            ],
            "chainlock: flag",
        )?;
        Ok((flag, key_id))
    }

    /// Withdraws `key`'s flag on release `target`.
    pub fn withdraw_flag(
        &self,
        target: &str,
        key: FlagKey<'_>,
        options: &OpenOptions,
    ) -> Result<String> {
        let release = self.find_release(target)?;
        let coord = self.coord(&release.watched)?;
        let signer_key_id = self.key_id_of(key, options)?;
        let seen = flags::read_flags(&coord, &release.digest)?;
        let mine = seen
            .iter()
            .find(|f| f.key_id == signer_key_id)
            .and_then(|f| f.flag.clone())
            .ok_or_else(|| {
                Error::Refused(format!(
                    "key {signer_key_id} has no flag on {target}: nothing to withdraw"
                ))
            })?;
        let (signed, key_id) =
            self.sign_as(key, StatementKind::Withdraw, &mine.digest()?, options)?;
        coord.publish(
            &format!("{}{}/{key_id}", flags::WITHDRAW_REFS, release.digest),
            &[("withdraw.json", &pretty(&signed)?)],
            "chainlock: withdraw flag",
        )?;
        Ok(key_id)
    }

    /// The status of release `target` at `now`, and every flag on it (from the mirror as
    /// last synced).
    pub fn release_status(
        &self,
        target: &str,
        now: u64,
    ) -> Result<(ReleaseRef, ReleaseStatus, Vec<SeenFlag>)> {
        let release = self.find_release(target)?;
        let seen = flags::read_flags(&self.coord(&release.watched)?, &release.digest)?;
        let status = flags::status(release.block_time, &release.policy, &seen, now);
        Ok((release, status, seen))
    }

    fn key_id_of(&self, key: FlagKey<'_>, options: &OpenOptions) -> Result<String> {
        match key {
            FlagKey::Maintainer(uri) => {
                let signer = chainlock_signer::open(uri, &options_with(&self.paths, options))?;
                Ok(signer.identity().key_id.clone())
            }
            FlagKey::Builder(path) => Ok(chainlock_attest::key::BuilderKey::load(path)?
                .public_key()
                .key_id()),
        }
    }

    fn sign_as(
        &self,
        key: FlagKey<'_>,
        kind: StatementKind,
        digest: &Digest,
        options: &OpenOptions,
    ) -> Result<(Signed, String)> {
        match key {
            FlagKey::Maintainer(uri) => {
                let mut signer = chainlock_signer::open(uri, &options_with(&self.paths, options))?;
                let identity = signer.identity().clone();
                let signature = chainlock_signer::sign_statement(signer.as_mut(), kind, &digest.0)?;
                Ok((
                    Signed {
                        public_key: identity.public_key.to_hex(),
                        signature,
                    },
                    identity.key_id,
                ))
            }
            FlagKey::Builder(path) => {
                let builder = chainlock_attest::key::BuilderKey::load(path)?;
                let signature = builder.sign_message(statement_text(kind, &digest.0).as_bytes());
                let public = builder.public_key();
                Ok((
                    Signed {
                        public_key: public.to_hex(),
                        signature: hex::encode(signature),
                    },
                    public.key_id(),
                ))
            }
        }
    }
}
