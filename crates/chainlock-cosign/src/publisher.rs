//! The publisher's side: a package's policy and genesis, custody top-ups, release requests.
//!
//! The publisher is one of the maintainers; what it builds is checked by every co-signer on
//! their own machine, so nothing here is trusted by anyone else.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use chainlock_chain::{Chain, PackageId};
use chainlock_protocol::bsm::StatementKind;
use chainlock_protocol::hash::{sha256, Digest};
use chainlock_protocol::policy::Policy;
use chainlock_protocol::record::{
    Artifact, Genesis, ProtocolVersion, Record, Release, Source, EMPTY_TREE,
};
use chainlock_protocol::record_tx::{self, RecordTxParams};
use chainlock_protocol::request::{Envelope, SigningRequest};
use chainlock_protocol::script::{Builder, Script};
use chainlock_protocol::tx::{OutPoint, SpentOutput, Transaction, TxIn, TxOut};
use chainlock_signer::keychain::Keychain;
use chainlock_signer::OpenOptions;

use crate::coord::Coord;
use crate::fsio;
use crate::view::PackageView;
use crate::{Error, Result};

/// How long a request is valid by default: three days, well within the protocol's seven.
pub const DEFAULT_LIFETIME_SECS: u64 = 3 * 24 * 60 * 60;
/// Satoshis per custody output by default: pays the fee of one record transaction many
/// times over at BSV's rates, and comes back as change.
pub const DEFAULT_CUSTODY_SATS: u64 = 10_000;
/// The fee rate publishers use, in satoshis per 1000 bytes.
pub const FEE_SAT_PER_KB: u64 = 100;

/// `.chainlock/genesis`: the package's pinned genesis record and its transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisPin {
    /// The genesis record's digest.
    pub record: Digest,
    /// The genesis record transaction's id, once final.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txid: Option<String>,
}

/// The policy file of a package: `.chainlock/policy.json` in its repository.
pub fn policy_path(repo: &Path) -> PathBuf {
    repo.join(".chainlock/policy.json")
}

/// Reads a package's policy file.
pub fn read_policy(repo: &Path) -> Result<Policy> {
    let path = policy_path(repo);
    let bytes = fsio::read_capped(&path)?;
    Ok(Policy::from_json(&bytes)?)
}

/// What a publisher works with.
pub struct Publisher<'a> {
    /// The chain backend.
    pub chain: &'a dyn Chain,
    /// The publisher's configuration directory (key index).
    pub config_dir: PathBuf,
    /// The coordination remote's local mirror.
    pub coord: Coord,
    /// The publisher's maintainer key (signs the request statement).
    pub publisher_key: String,
    /// The funding key (keychain key id) paying for custody outputs; change returns to it.
    pub funding_key: String,
    /// Signer options (Ledger over TCP ...).
    pub options: OpenOptions,
}

impl Publisher<'_> {
    fn keychain(&self) -> Result<Keychain> {
        Ok(Keychain::new(Some(self.config_dir.clone()))?)
    }

    /// The funding key's P2PKH script and public key hash.
    pub fn funding_script(&self) -> Result<(Script, [u8; 20])> {
        let info = self.keychain()?.find(&self.funding_key)?;
        let hash = info.public_key.hash160();
        Ok((Script::p2pkh(&hash), hash))
    }

    /// Creates `count` custody outputs of `satoshis` each for `policy`, spending the funding
    /// key's unspent outputs, with change back to it; broadcasts the top-up.
    pub fn fund(&self, policy: &Policy, count: usize, satoshis: u64) -> Result<Transaction> {
        if count == 0 || count > 100 {
            return Err(Error::Refused(
                "create 1 to 100 custody outputs at a time".into(),
            ));
        }
        let (funding_script, _) = self.funding_script()?;
        let coins = self.chain.unspent_outputs(&funding_script)?;
        let custody = policy.custody_script()?;
        let need = satoshis
            .checked_mul(count as u64)
            .ok_or_else(|| Error::Refused("that is more satoshis than exist".into()))?;
        let mut inputs = Vec::new();
        let mut total = 0u64;
        for (outpoint, out) in &coins {
            if total >= need + 1_000 {
                break;
            }
            inputs.push((*outpoint, out.clone()));
            total += out.value;
        }
        // A P2PKH input is about 148 bytes, an output about 34 (custody outputs up to 115).
        let size = 10 + inputs.len() * 148 + count * 115 + 34;
        let fee = (size as u64 * FEE_SAT_PER_KB).div_ceil(1000).max(1);
        if total < need + fee {
            return Err(Error::Refused(format!(
                "the funding key holds {total} satoshis in {} outputs; {need} plus a {fee} \
                 satoshi fee are needed: send coins to its address first{}",
                coins.len(),
                if self.chain.describe().contains("local") {
                    " (on the local ledger: `chainlock fund --faucet`)"
                } else {
                    ""
                }
            )));
        }
        let mut tx = Transaction {
            version: 1,
            inputs: inputs
                .iter()
                .map(|(outpoint, _)| TxIn {
                    prevout: *outpoint,
                    script_sig: Script::default(),
                    sequence: 0xffff_ffff,
                })
                .collect(),
            outputs: (0..count)
                .map(|_| TxOut {
                    value: satoshis,
                    script_pubkey: custody.clone(),
                })
                .collect(),
            lock_time: 0,
        };
        let change = total - need - fee;
        if change > 0 {
            tx.outputs.push(TxOut {
                value: change,
                script_pubkey: funding_script.clone(),
            });
        }
        let keychain = self.keychain()?;
        let info = keychain.find(&self.funding_key)?;
        let mut scripts = Vec::new();
        for (i, (_, out)) in inputs.iter().enumerate() {
            let spent = SpentOutput {
                script_pubkey: out.script_pubkey.clone(),
                value: out.value,
            };
            let sig = keychain.sign_funding_input(&info.key_id, &tx, i, &spent)?;
            let mut b = Builder::new();
            b.push(&sig).push(&info.public_key.to_bytes());
            scripts.push(b.into_script());
        }
        for (input, script) in tx.inputs.iter_mut().zip(scripts) {
            input.script_sig = script;
        }
        self.chain.broadcast(&tx, None)?;
        Ok(tx)
    }

    /// An unspent custody output of `policy`, with the transaction that created it.
    fn custody_output(&self, policy: &Policy) -> Result<(OutPoint, TxOut, Transaction)> {
        let custody = policy.custody_script()?;
        let mut outputs = self.chain.unspent_outputs(&custody)?;
        outputs.sort_by_key(|(o, _)| (o.txid.0, o.vout));
        let view = PackageView::read(&self.coord)?;
        // Skip outputs another open request already spends.
        let taken: Vec<OutPoint> = view
            .requests
            .values()
            .filter(|r| r.final_tx.is_none())
            .filter_map(|r| crate::objects::request_record_tx(&r.request).ok())
            .map(|t| t.custody_outpoint())
            .collect();
        let (outpoint, out) = outputs
            .into_iter()
            .find(|(o, _)| !taken.contains(o))
            .ok_or_else(|| {
                Error::Refused(
                    "no unspent custody output of the policy is free: top up with \
                     `chainlock fund`"
                        .into(),
                )
            })?;
        let funding = self.chain.transaction(&outpoint.txid)?.ok_or_else(|| {
            Error::Refused(format!(
                "the chain backend does not have transaction {}",
                outpoint.txid
            ))
        })?;
        Ok((outpoint, out, funding))
    }

    /// Builds, signs (the publisher's statement) and publishes a request for `record`.
    pub fn request(
        &self,
        record: Record,
        policy: &Policy,
        attestations: Vec<Envelope>,
        now: u64,
        lifetime: u64,
    ) -> Result<SigningRequest> {
        let (outpoint, out, funding) = self.custody_output(policy)?;
        let (_, change_hash) = self.funding_script()?;
        let rtx = record_tx::build(&RecordTxParams {
            custody_outpoint: outpoint,
            spent: SpentOutput {
                script_pubkey: out.script_pubkey.clone(),
                value: out.value,
            },
            record_digest: record.digest()?,
            change_pubkey_hash: Some(change_hash),
            fee_sat_per_kb: FEE_SAT_PER_KB,
        })?;
        let mut signer = chainlock_signer::open(&self.publisher_key, &self.options)?;
        let publisher = signer.identity().public_key;
        let mut req = SigningRequest::new(
            record,
            policy.clone(),
            attestations,
            &rtx,
            &funding,
            now,
            now + lifetime,
            publisher,
        )?;
        let id = req.id()?;
        let statement =
            chainlock_signer::sign_statement(signer.as_mut(), StatementKind::Request, &id.0)?;
        req.attach_signature(statement)?;
        let mut bytes =
            serde_json::to_vec_pretty(&req).map_err(|e| Error::Refused(e.to_string()))?;
        bytes.push(b'\n');
        self.coord.publish(
            &format!("refs/chainlock/req/{id}/request"),
            &[("request.json", &bytes)],
            "chainlock: request",
        )?;
        Ok(req)
    }

    /// The genesis record of `package` under `policy`.
    pub fn genesis(package: &PackageId, policy: &Policy) -> Record {
        Record::Genesis(Genesis {
            protocol: ProtocolVersion::V1,
            ecosystem: package.ecosystem,
            package: package.name.clone(),
            policy: policy.clone(),
        })
    }

    /// The release record of `tag` in `repo`, following the package's latest record:
    /// base = the latest release's commit (the empty tree before the first), previous = the
    /// head's digest, the diff digest from `repo`, the attestations on the remote for the
    /// commit that agree on the artifact.
    pub fn release(
        &self,
        package: &PackageId,
        repo: &Path,
        repository_url: &str,
        tag: &str,
        artifact: &Path,
    ) -> Result<(Record, Policy, Vec<Envelope>)> {
        let chain = self.chain.record_chain(package)?;
        let head = chain.head().ok_or_else(|| {
            Error::Refused(format!(
                "{package} has no genesis on the chain backend yet: finalize its genesis request first"
            ))
        })?;
        let policy = chain
            .records
            .iter()
            .rev()
            .find_map(|r| match &r.record {
                Record::Genesis(g) => Some(g.policy.clone()),
                Record::Rotation(rot) => Some(rot.policy.clone()),
                Record::Release(_) => None,
            })
            .ok_or_else(|| Error::Refused("no policy in the record chain".into()))?;
        let base = chain
            .records
            .iter()
            .rev()
            .find_map(|r| match &r.record {
                Record::Release(rel) => Some(rel.source.commit.clone()),
                _ => None,
            })
            .unwrap_or_else(|| EMPTY_TREE.to_string());
        let git = git2::Repository::open(repo)
            .map_err(|e| Error::git(format!("open {}", repo.display()), &e))?;
        let commit = git
            .revparse_single(&format!("refs/tags/{tag}"))
            .and_then(|o| o.peel_to_commit())
            .map_err(|e| Error::git(format!("find tag {tag} in {}", repo.display()), &e))?
            .id()
            .to_string();
        let base_arg = (base != EMPTY_TREE).then_some(base.as_str());
        let diff = chainlock_diff::diff_digest(repo, base_arg, &commit)?;
        let bytes = std::fs::read(artifact).map_err(|e| Error::io("cannot read", artifact, e))?;
        let artifact_sha = Digest(sha256(&bytes));
        let name = artifact
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| Error::Refused(format!("{} has no file name", artifact.display())))?;
        let view = PackageView::read(&self.coord)?;
        let envelopes: Vec<Envelope> = view
            .attestations
            .get(&commit)
            .map(|v| v.iter().map(|(_, e)| e.clone()).collect())
            .unwrap_or_default();
        let inputs: Vec<chainlock_attest::EnvelopeInput> = envelopes
            .iter()
            .enumerate()
            .map(|(i, e)| {
                chainlock_attest::EnvelopeInput::parsed(format!("attestation {}", i + 1), e.clone())
            })
            .collect();
        let report = chainlock_attest::evaluate(&policy, &inputs, &commit, &artifact_sha.to_hex())?;
        let attestation_digest = report
            .attestation_digest
            .as_deref()
            .map(|d| Digest::from_hex("attestation digest", d))
            .transpose()?
            .ok_or_else(|| {
                Error::Refused(format!(
                    "no trusted builder's attestation for commit {commit} agrees on {}: wait for \
                     the builders (`chainlock attest` pushes to refs/chainlock/attest/{commit}/...)",
                    artifact_sha
                ))
            })?;
        // The request carries the envelopes of the agreeing builders only.
        let agreeing: Vec<String> = report.agreeing.iter().map(|a| a.key_id.clone()).collect();
        let relied_on: Vec<Envelope> = view
            .attestations
            .get(&commit)
            .map(|v| {
                v.iter()
                    .filter(|(k, _)| agreeing.contains(k))
                    .map(|(_, e)| e.clone())
                    .collect()
            })
            .unwrap_or_default();
        let record = Record::Release(Release {
            protocol: ProtocolVersion::V1,
            ecosystem: package.ecosystem,
            package: package.name.clone(),
            version: tag.strip_prefix('v').unwrap_or(tag).to_string(),
            source: Source {
                repository: repository_url.to_string(),
                tag: tag.to_string(),
                commit,
                base_commit: base,
            },
            artifact: Artifact {
                name,
                size: bytes.len() as u64,
                sha256: artifact_sha,
            },
            diff_digest: Digest(diff.digest),
            attestation_digest,
            policy_digest: policy.digest()?,
            previous: head.digest,
        });
        Ok((record, policy, relied_on))
    }
}

/// Writes `.chainlock/policy.json` (never replacing one) into `repo`.
pub fn write_policy(repo: &Path, policy: &Policy) -> Result<PathBuf> {
    let path = policy_path(repo);
    let mut bytes = serde_json::to_vec_pretty(policy).map_err(|e| Error::Refused(e.to_string()))?;
    bytes.push(b'\n');
    fsio::write_new(&path, &bytes).map_err(|_| {
        Error::Refused(format!(
            "{} already exists: a package has one policy; change it with a rotation",
            path.display()
        ))
    })?;
    Ok(path)
}

/// Writes `.chainlock/genesis` into `repo` (replacing an earlier pin without a txid).
pub fn write_pin(repo: &Path, pin: &GenesisPin) -> Result<PathBuf> {
    let path = repo.join(".chainlock/genesis");
    let mut bytes = serde_json::to_vec_pretty(pin).map_err(|e| Error::Refused(e.to_string()))?;
    bytes.push(b'\n');
    fsio::write_atomic(&path, &bytes)?;
    Ok(path)
}

/// The URL of `repo`'s `origin` remote: the default coordination remote.
pub fn origin_url(repo: &Path) -> Result<String> {
    let git = git2::Repository::open(repo)
        .map_err(|e| Error::git(format!("open {} (pass --repo)", repo.display()), &e))?;
    let origin = git
        .find_remote("origin")
        .map_err(|e| Error::git("find the `origin` remote (pass --remote URL)", &e))?;
    origin
        .url()
        .map(str::to_string)
        .map_err(|_| Error::Refused("origin's URL is not UTF-8: pass --remote URL".into()))
}

/// Clones `remote` into `dir` unless `dir` exists (the co-signer's own clone).
pub fn clone_if_missing(remote: &str, dir: &Path) -> Result<bool> {
    if dir.exists() {
        return Ok(false);
    }
    git2::Repository::clone(remote, dir)
        .map_err(|e| Error::git(format!("clone {remote} into {}", dir.display()), &e))?;
    Ok(true)
}
