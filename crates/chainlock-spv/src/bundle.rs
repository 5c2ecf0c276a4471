//! Verification bundles: a record, its transaction and the BEEF that proves it, checked
//! offline against block headers (PROTOCOL.md sections 3 and 8).
//!
//! [`verify_bundle`] checks what one bundle proves on its own: the record transaction is in
//! a block of the header chain (its merkle path leads to that header's root), output 0
//! commits to the record's digest, and the custody output it spends was created by a
//! transaction also proven in a block. [`verify_chain`] then walks a package's bundles from
//! the pinned genesis: each record names the one before, spends a custody output of the
//! policy in force (the genesis's, replaced by each rotation), signed by m of its keys with
//! ALL|FORKID; two records naming the same `previous` are a fork, and flagged.

use std::collections::HashMap;

use chainlock_protocol::checker::check_input;
use chainlock_protocol::hash::Digest;
use chainlock_protocol::policy::Policy;
use chainlock_protocol::record::Record;
use chainlock_protocol::record_tx::RecordTx;
use chainlock_protocol::sighash::SIGHASH_ALL_FORKID;
use chainlock_protocol::tx::{SpentOutput, Transaction, Txid};

use crate::{Beef, HeaderChain, MerklePath};

/// A release's bundle as `refs/chainlock/record/<digest>` holds it.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// `record.json`: the record's canonical JSON.
    pub record_json: Vec<u8>,
    /// `tx.hex`, decoded: the record transaction.
    pub tx: Transaction,
    /// `proof.beef`, decoded.
    pub beef: Beef,
}

impl Bundle {
    /// The file names of a bundle, as the record ref and a bundle directory hold them.
    pub const FILES: [&'static str; 3] = ["record.json", "tx.hex", "proof.beef"];

    /// A bundle from its three files' bytes; says which file is malformed.
    pub fn from_files(record_json: Vec<u8>, tx_hex: &[u8], beef: &[u8]) -> Result<Self, String> {
        let tx_text = std::str::from_utf8(tx_hex)
            .map_err(|_| "tx.hex is not text".to_string())?
            .trim();
        let tx = Transaction::from_hex(tx_text).map_err(|e| format!("tx.hex: {e}"))?;
        let beef = Beef::decode(beef).map_err(|e| format!("proof.beef: {e}"))?;
        Ok(Bundle {
            record_json,
            tx,
            beef,
        })
    }

    /// The digest of `record.json` as given (the record's digest when it is canonical).
    pub fn claimed_digest(&self) -> Digest {
        Digest::of(&self.record_json)
    }
}

/// Why a bundle, or a package's chain of bundles, does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Failure {
    /// `record.json` is not a valid record.
    #[error("record.json is not a valid record: {0}")]
    Record(String),
    /// The record transaction does not commit to this record.
    #[error("record field or commitment tampered: the record hashes to {record}, but output 0 of transaction {txid} commits to {committed}")]
    Commitment {
        /// The digest of `record.json`.
        record: Digest,
        /// The record transaction.
        txid: Txid,
        /// What its output 0 commits to (or "nothing").
        committed: String,
    },
    /// `tx.hex` and the BEEF disagree, or the BEEF lacks a transaction.
    #[error("the BEEF does not hold {what} {txid}")]
    NotInBeef {
        /// Which transaction.
        what: &'static str,
        /// Its id.
        txid: Txid,
    },
    /// A transaction in the BEEF has no merkle path.
    #[error("the {what} {txid} has no merkle path in the BEEF: it is not proven to be mined")]
    Unproven {
        /// Which transaction.
        what: &'static str,
        /// Its id.
        txid: Txid,
    },
    /// A merkle path that leads to no root.
    #[error("merkle path of the {what} {txid} is invalid: {reason}")]
    Path {
        /// Which transaction.
        what: &'static str,
        /// Its id.
        txid: Txid,
        /// Why.
        reason: String,
    },
    /// A merkle path whose root is not that of the best chain's header at its height.
    #[error("header not in the best chain: the merkle path of the {what} {txid} leads to root {root} at height {height}, {found}")]
    NotInBestChain {
        /// Which transaction.
        what: &'static str,
        /// Its id.
        txid: Txid,
        /// The block height its path names.
        height: u64,
        /// The root it computes (display order).
        root: String,
        /// What the header chain has there.
        found: String,
    },
    /// The spent custody output is not the policy's.
    #[error("wrong policy: {digest}'s transaction spends an output locked by {found}, not the custody script of policy {policy} in force")]
    WrongPolicy {
        /// The record.
        digest: Digest,
        /// The policy in force.
        policy: Digest,
        /// The locking script spent (hex).
        found: String,
    },
    /// The record names a policy other than the one in force.
    #[error("record {digest} names policy {claimed}, but the policy in force is {in_force}")]
    PolicyDigest {
        /// The record.
        digest: Digest,
        /// What it names.
        claimed: Digest,
        /// The policy in force.
        in_force: Digest,
    },
    /// The custody input is not signed by m of the policy's keys.
    #[error("signature: record {digest}'s custody input is not signed by the policy's maintainers: {reason}")]
    Signature {
        /// The record.
        digest: Digest,
        /// The checker's reason.
        reason: String,
    },
    /// The pinned genesis is missing, not a genesis, or not the first record.
    #[error("genesis: {0}")]
    Genesis(String),
    /// A record whose `previous` is not the record before it.
    #[error("chain broken: record {digest} names previous {previous}, which no verified record of the chain is")]
    Orphan {
        /// The record.
        digest: Digest,
        /// What it names.
        previous: Digest,
    },
}

/// What one bundle proves on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proven {
    /// The record's digest.
    pub digest: Digest,
    /// The record.
    pub record: Record,
    /// The record transaction.
    pub tx: Transaction,
    /// The custody output it spends.
    pub spent: SpentOutput,
    /// The height of the block holding the record transaction.
    pub height: u64,
    /// That block's time: where the challenge window starts (section 9).
    pub block_time: u32,
}

/// Checks one bundle against the header chain: everything but the policy and the record chain.
pub fn verify_bundle(bundle: &Bundle, headers: &HeaderChain) -> Result<Proven, Failure> {
    let record =
        Record::from_json(&bundle.record_json).map_err(|e| Failure::Record(e.to_string()))?;
    let digest = record
        .digest()
        .map_err(|e| Failure::Record(e.to_string()))?;
    let txid = bundle.tx.txid();
    let committed = bundle
        .tx
        .outputs
        .first()
        .and_then(|o| o.script_pubkey.parse_commitment().ok())
        .map(Digest);
    if committed != Some(digest) {
        return Err(Failure::Commitment {
            record: digest,
            txid,
            committed: committed.map_or_else(|| "nothing".into(), |d| d.to_string()),
        });
    }
    // Found by txid, so it is `tx.hex` byte for byte.
    let (_, path) = bundle.beef.find(&txid).ok_or(Failure::NotInBeef {
        what: "record transaction",
        txid,
    })?;
    let path = path.ok_or(Failure::Unproven {
        what: "record transaction",
        txid,
    })?;
    let header = prove("record transaction", &txid, path, headers)?;
    let input = bundle.tx.inputs.first().ok_or_else(|| Failure::Signature {
        digest,
        reason: "the record transaction has no input".into(),
    })?;
    let parent = input.prevout.txid;
    let (parent_tx, parent_path) = bundle.beef.find(&parent).ok_or(Failure::NotInBeef {
        what: "custody transaction",
        txid: parent,
    })?;
    let parent_path = parent_path.ok_or(Failure::Unproven {
        what: "custody transaction",
        txid: parent,
    })?;
    prove("custody transaction", &parent, parent_path, headers)?;
    let output = usize::try_from(input.prevout.vout)
        .ok()
        .and_then(|v| parent_tx.outputs.get(v))
        .ok_or_else(|| Failure::Signature {
            digest,
            reason: format!("it spends {}, an output that does not exist", input.prevout),
        })?;
    Ok(Proven {
        digest,
        record,
        tx: bundle.tx.clone(),
        spent: SpentOutput {
            script_pubkey: output.script_pubkey.clone(),
            value: output.value,
        },
        height: path.block_height,
        block_time: header,
    })
}

/// Checks that `path` leads from `txid` to the root of the header at its height; returns the
/// block's time.
fn prove(
    what: &'static str,
    txid: &Txid,
    path: &MerklePath,
    headers: &HeaderChain,
) -> Result<u32, Failure> {
    let root = path.compute_root(txid).map_err(|e| Failure::Path {
        what,
        txid: *txid,
        reason: e.to_string(),
    })?;
    let shown = Txid(root).to_string();
    match headers.at(path.block_height) {
        Some(header) if header.merkle_root == root => Ok(header.time),
        Some(header) => Err(Failure::NotInBestChain {
            what,
            txid: *txid,
            height: path.block_height,
            root: shown,
            found: format!(
                "but the best chain's header there is {} with root {}",
                header.hash(),
                Txid(header.merkle_root)
            ),
        }),
        None => Err(Failure::NotInBestChain {
            what,
            txid: *txid,
            height: path.block_height,
            root: shown,
            found: format!(
                "but the headers reach only height {}",
                headers.len().saturating_sub(1)
            ),
        }),
    }
}

/// Checks that `proven`'s custody input is signed by m of `policy`'s keys with ALL|FORKID.
fn check_signed(proven: &Proven, policy: &Policy) -> Result<(), Failure> {
    let digest = proven.digest;
    let policy_digest = policy
        .digest()
        .map_err(|e| Failure::Record(e.to_string()))?;
    let claimed = proven
        .record
        .signing_policy_digest()
        .map_err(|e| Failure::Record(e.to_string()))?;
    if claimed != policy_digest {
        return Err(Failure::PolicyDigest {
            digest,
            claimed,
            in_force: policy_digest,
        });
    }
    let custody = policy
        .custody_script()
        .map_err(|e| Failure::Record(e.to_string()))?;
    if proven.spent.script_pubkey != custody {
        return Err(Failure::WrongPolicy {
            digest,
            policy: policy_digest,
            found: proven.spent.script_pubkey.to_hex(),
        });
    }
    let signature = |reason: String| Failure::Signature { digest, reason };
    RecordTx::new(proven.tx.clone(), proven.spent.clone()).map_err(|e| signature(e.to_string()))?;
    let verdict = check_input(&proven.tx, RecordTx::INPUT_INDEX, &proven.spent);
    if let Some(reason) = verdict.reason() {
        return Err(signature(reason.to_string()));
    }
    if let Some(bad) = verdict
        .signatures()
        .iter()
        .find(|s| u32::from(s.sighash_type) != SIGHASH_ALL_FORKID)
    {
        return Err(signature(format!(
            "a signature carries sighash type {:#04x}; records are signed with ALL|FORKID (0x41) only",
            bad.sighash_type
        )));
    }
    Ok(())
}

/// One record of a verified chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainEntry {
    /// What its bundle proves.
    pub proven: Proven,
    /// The digest of the policy that signed it.
    pub signed_under: Digest,
    /// That policy's challenge window (section 9), in seconds.
    pub window_secs: u64,
}

/// Where a release stands in its challenge window (PROTOCOL.md section 9), flags aside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowStatus {
    /// Its block's time plus the window is still ahead.
    InWindow {
        /// When the window closes (Unix seconds).
        closes_at: u64,
    },
    /// The window has closed.
    Verified {
        /// When it closed.
        closed_at: u64,
    },
}

impl ChainEntry {
    /// The window status at `now`: `in-window` until the block's time plus the policy's
    /// `challenge_window_secs`, then `verified`. (A bundle is only ever of a mined
    /// transaction, so never `pending`; flags are not read here.)
    pub fn window(&self, now: u64) -> WindowStatus {
        let closes_at = u64::from(self.proven.block_time).saturating_add(self.window_secs);
        if now < closes_at {
            WindowStatus::InWindow { closes_at }
        } else {
            WindowStatus::Verified {
                closed_at: closes_at,
            }
        }
    }
}

/// A package's chain of records as its bundles prove it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainReport {
    /// The verified chain, genesis first.
    pub chain: Vec<ChainEntry>,
    /// Records off the chain: a second record naming the same `previous` (a fork), flagged.
    pub forks: Vec<Digest>,
    /// Bundles that failed, with why.
    pub failures: Vec<(Digest, Failure)>,
}

impl ChainReport {
    /// The verified record with this digest, if it is on the chain.
    pub fn entry(&self, digest: &Digest) -> Option<&ChainEntry> {
        self.chain.iter().find(|e| e.proven.digest == *digest)
    }
}

/// Verifies a package's bundles from the pinned genesis: each bundle on its own, then the
/// chain of records through `previous`, each signed under the policy in force. Fails only
/// when the genesis itself does not verify; every other failure is listed in the report.
pub fn verify_chain(
    bundles: &[Bundle],
    headers: &HeaderChain,
    genesis: &Digest,
) -> Result<ChainReport, Failure> {
    let mut report = ChainReport::default();
    let mut by_previous: HashMap<Option<Digest>, Vec<Proven>> = HashMap::new();
    let mut genesis_proven = None;
    for bundle in bundles {
        let claimed = Digest::of(&bundle.record_json);
        match verify_bundle(bundle, headers) {
            Ok(p) if p.digest == *genesis => genesis_proven = Some(p),
            Ok(p) => by_previous.entry(p.record.previous()).or_default().push(p),
            Err(f) if claimed == *genesis => return Err(f),
            Err(f) => report.failures.push((claimed, f)),
        }
    }
    let genesis_proven = genesis_proven
        .ok_or_else(|| Failure::Genesis(format!("no bundle holds the pinned genesis {genesis}")))?;
    let Record::Genesis(g) = &genesis_proven.record else {
        return Err(Failure::Genesis(format!(
            "the pinned record {genesis} is a {}, not a genesis",
            genesis_proven.record.kind()
        )));
    };
    let mut policy = g.policy.clone();
    check_signed(&genesis_proven, &policy)?;
    // Any other genesis of the package is a fork.
    for other in by_previous.remove(&None).unwrap_or_default() {
        report.forks.push(other.digest);
    }
    let mut head = genesis_proven.digest;
    report.chain.push(ChainEntry {
        signed_under: policy
            .digest()
            .map_err(|e| Failure::Record(e.to_string()))?,
        window_secs: policy.challenge_window_secs,
        proven: genesis_proven,
    });
    while let Some(mut next) = by_previous.remove(&Some(head)) {
        // The first mined continues the chain; the others are forks.
        next.sort_by_key(|p| (p.height, p.digest));
        let mut candidates = next.into_iter();
        let mut chosen = None;
        for p in candidates.by_ref() {
            match check_signed(&p, &policy) {
                Ok(()) => {
                    chosen = Some(p);
                    break;
                }
                Err(f) => report.failures.push((p.digest, f)),
            }
        }
        report.forks.extend(candidates.map(|p| p.digest));
        let Some(p) = chosen else { break };
        let signed_under = policy
            .digest()
            .map_err(|e| Failure::Record(e.to_string()))?;
        let window_secs = policy.challenge_window_secs;
        if let Record::Rotation(r) = &p.record {
            policy = r.policy.clone();
        }
        head = p.digest;
        report.chain.push(ChainEntry {
            proven: p,
            signed_under,
            window_secs,
        });
    }
    // Whatever is left names a previous that is not on the chain.
    for (previous, rest) in by_previous {
        for p in rest {
            report.failures.push((
                p.digest,
                Failure::Orphan {
                    digest: p.digest,
                    previous: previous.unwrap_or(Digest([0; 32])),
                },
            ));
        }
    }
    Ok(report)
}
