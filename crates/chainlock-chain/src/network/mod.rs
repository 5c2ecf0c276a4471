//! The BSV network as a [`Chain`]: ARC broadcasts and reports statuses, a WhatsOnChain-style
//! lookup server answers the rest, and a [`RecordSource`] offers the record contents the
//! network does not carry (ADR 0012).
//!
//! What is checked rather than believed: transactions hash to their txids, headers link from
//! height 0 to the tip the server names, each hashes to what it claims and meets its target, merkle proofs lead
//! to the merkle root of a header on that chain (so "mined" means proven, whatever ARC says),
//! spends come with the spending transaction, and a record counts only when its transaction
//! is on the network, commits to it, and spends a custody output of the policy in force
//! signed by m of its maintainers, following the package's chain from its genesis.
//! A lookup caught lying is refused with [`Error::Untrusted`], naming the server and the lie.

mod records;

use std::sync::{Mutex, PoisonError};

use chainlock_protocol::record::Record;
use chainlock_protocol::script::Script;
use chainlock_protocol::tx::{OutPoint, SpentOutput, Transaction, TxOut, Txid};
use chainlock_spv::{BlockHeader, HeaderChain, MerklePath};

use crate::arc::{ArcClient, ArcConfig, ArcStatus};
use crate::lookups::{LookupConfig, Lookups, TscTarget};
use crate::{Broadcast, Chain, OutputState, PackageId, RecordChain, Result, TxStatus};

/// A record's contents and its transaction, as offered by a [`RecordSource`]; the
/// [`NetworkChain`] decides whether it is on the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The record.
    pub record: Record,
    /// The transaction said to commit to it.
    pub tx: Transaction,
}

/// Where record contents come from (the network carries only their digests): for ChainLock,
/// the record refs of the package's coordination remote. Nothing it offers is trusted.
pub trait RecordSource: Send + Sync {
    /// What it reads ("the record refs of npm:pad's coordination remote").
    fn describe(&self) -> String;

    /// Every record of `package` it knows, with the transaction said to commit to it; an
    /// error says why the source cannot be read.
    fn candidates(&self, package: &PackageId) -> std::result::Result<Vec<Candidate>, String>;
}

/// ARC, the lookups and a record source, as one [`Chain`].
pub struct NetworkChain {
    arc: ArcClient,
    lookups: Lookups,
    records: Box<dyn RecordSource>,
    // Headers checked so far, height 0 first: each sync fetches only what is new.
    headers: Mutex<Vec<BlockHeader>>,
}

impl std::fmt::Debug for NetworkChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkChain")
            .field("arc", &self.arc)
            .field("lookups", &self.lookups)
            .finish_non_exhaustive()
    }
}

impl NetworkChain {
    /// The network through `arc` and `lookups`, with record contents from `records`.
    pub fn new(
        arc: ArcConfig,
        lookups: LookupConfig,
        records: Box<dyn RecordSource>,
    ) -> Result<Self> {
        Ok(NetworkChain {
            arc: ArcClient::new(arc)?,
            lookups: Lookups::new(lookups)?,
            records,
            headers: Mutex::new(Vec::new()),
        })
    }

    /// The ARC client.
    pub fn arc(&self) -> &ArcClient {
        &self.arc
    }

    /// The lookup client.
    pub fn lookups(&self) -> &Lookups {
        &self.lookups
    }

    /// The merkle path of `txid` and the header of its block, when the lookups serve a proof
    /// that leads to a header of the checked chain; a proof that does not is refused.
    pub fn proven(&self, txid: &Txid) -> Result<Option<(MerklePath, BlockHeader)>> {
        let Some((proof, target)) = self.lookups.tsc_proof(txid)? else {
            return Ok(None);
        };
        let chain = self.headers()?;
        let what = || format!("the merkle proof of {txid}");
        let found = chain.headers().iter().position(|h| match &target {
            TscTarget::BlockHash(hash) => h.hash() == *hash,
            TscTarget::Header(header) => h == header,
            TscTarget::MerkleRoot(root) => h.merkle_root == *root,
        });
        let Some(height) = found else {
            return Err(self.lookups.lie(
                what(),
                format!(
                    "its block ({target:?}) is not on the header chain (tip at height {})",
                    chain.len().saturating_sub(1)
                ),
            ));
        };
        let header = chain.headers()[height];
        let root = proof
            .root()
            .map_err(|e| self.lookups.lie(what(), e.to_string()))?;
        if root != header.merkle_root {
            return Err(self.lookups.lie(
                what(),
                format!(
                    "it leads to merkle root {}, not the root of block {} at height {height}",
                    hex::encode(root),
                    header.hash()
                ),
            ));
        }
        let path = proof
            .to_merkle_path(height as u64)
            .map_err(|e| self.lookups.lie(what(), e.to_string()))?;
        Ok(Some((path, header)))
    }

    /// Brings the checked header chain up to the lookups' tip: each new header must hash to
    /// what it claims, meet the target its bits claim, and name the one before; the last
    /// must be the tip named. A chain that no longer links where it did, or no longer leads
    /// to the tip (a reorganisation), is fetched again from height 0, once.
    fn sync_headers(&self) -> Result<HeaderChain> {
        let mut cache = self.headers.lock().unwrap_or_else(PoisonError::into_inner);
        let (tip_height, tip_hash) = self.lookups.tip()?;
        let wanted = usize::try_from(tip_height)
            .ok()
            .and_then(|h| h.checked_add(1))
            .ok_or_else(|| {
                self.lookups
                    .lie("the chain tip".into(), "height out of range".into())
            })?;
        cache.truncate(wanted);
        for attempt in 0..2 {
            let kept = cache.len();
            let linked = self.extend_headers(&mut cache, wanted)?;
            let last = cache.last().map(BlockHeader::hash);
            if linked && last == Some(tip_hash) {
                return HeaderChain::new(cache.clone())
                    .map_err(|e| self.lookups.lie("the headers".into(), e.to_string()));
            }
            // What this process kept from an earlier call no longer leads to the tip: a
            // reorganisation. Fetched again from height 0, once.
            if attempt == 0 && kept > 0 {
                cache.clear();
                continue;
            }
            cache.clear();
            return Err(self.lookups.lie(
                "the chain tip".into(),
                format!(
                    "it names {tip_hash} at height {tip_height}, but the headers lead to {last:?}"
                ),
            ));
        }
        Err(self
            .lookups
            .lie("the headers".into(), "they never settled".into()))
    }

    /// Fetches headers from `cache.len()` up to `wanted`, each checked (its hash, its work,
    /// its link to the one before). False when the first new one does not link to what was
    /// kept from before (stale); a header fetched now that does not link is a lie.
    fn extend_headers(&self, cache: &mut Vec<BlockHeader>, wanted: usize) -> Result<bool> {
        let kept = cache.len();
        while cache.len() < wanted {
            let height = cache.len();
            let header = self.lookups.header_at(height as u64)?;
            if !header.meets_target() {
                return Err(self.lookups.lie(
                    format!("the header at height {height}"),
                    format!(
                        "its hash {} is above the target its bits 0x{:08x} claim: no work was done",
                        header.hash(),
                        header.bits
                    ),
                ));
            }
            if let Some(before) = cache.last() {
                if header.prev_hash != before.hash() {
                    if height == kept {
                        return Ok(false);
                    }
                    return Err(self.lookups.lie(
                        format!("the header at height {height}"),
                        format!(
                            "it does not link to the header at height {}: its previous hash is {}, not {}",
                            height - 1,
                            header.prev_hash,
                            before.hash()
                        ),
                    ));
                }
            }
            cache.push(header);
        }
        Ok(true)
    }

    /// The outputs `tx` spends, from the lookups (each parent checked by its hash); None when
    /// one is not served (the transaction then goes raw, and ARC looks its parents up).
    fn spent_outputs(&self, tx: &Transaction) -> Result<Option<Vec<SpentOutput>>> {
        let mut spent = Vec::with_capacity(tx.inputs.len());
        for input in &tx.inputs {
            let Some(parent) = self.lookups.transaction(&input.prevout.txid)? else {
                return Ok(None);
            };
            let Some(out) = parent.outputs.get(input.prevout.vout as usize) else {
                return Ok(None);
            };
            spent.push(SpentOutput {
                script_pubkey: out.script_pubkey.clone(),
                value: out.value,
            });
        }
        Ok(Some(spent))
    }
}

impl Chain for NetworkChain {
    fn describe(&self) -> String {
        format!(
            "ARC at {} with lookups at {} (the BSV network)",
            self.arc.url(),
            self.lookups.url()
        )
    }

    fn broadcast(&self, tx: &Transaction, record: Option<&Record>) -> Result<Broadcast> {
        crate::arc::check_commitment(tx, record)?;
        let spent = self.spent_outputs(tx)?;
        self.arc.broadcast_tx(tx, spent.as_deref())
    }

    fn transaction(&self, txid: &Txid) -> Result<Option<Transaction>> {
        self.lookups.transaction(txid)
    }

    fn tx_status(&self, txid: &Txid) -> Result<TxStatus> {
        // Mined only when proven against the headers, whatever ARC says.
        if let Some((path, header)) = self.proven(txid)? {
            return Ok(TxStatus::Mined {
                height: path.block_height,
                block_time: u64::from(header.time),
            });
        }
        Ok(match self.arc.status(txid)? {
            Some((ArcStatus::Mined { .. }, _)) => TxStatus::Accepted,
            Some((arc, _)) => arc.to_tx_status(0),
            // ARC may not know a transaction another broadcaster sent: the lookups may.
            None => match self.lookups.transaction(txid)? {
                Some(_) => TxStatus::Accepted,
                None => TxStatus::Unknown,
            },
        })
    }

    fn output_state(&self, outpoint: &OutPoint) -> Result<OutputState> {
        if let Some(by) = self.lookups.spent_by(outpoint)? {
            return Ok(OutputState::Spent { by });
        }
        let Some(tx) = self.lookups.transaction(&outpoint.txid)? else {
            return Ok(OutputState::Unknown);
        };
        Ok(match tx.outputs.get(outpoint.vout as usize) {
            Some(output) if !crate::local::is_unspendable(&output.script_pubkey) => {
                OutputState::Unspent {
                    output: output.clone(),
                }
            }
            _ => OutputState::Unknown,
        })
    }

    fn record_chain(&self, package: &PackageId) -> Result<RecordChain> {
        records::record_chain(self, package)
    }

    fn unspent_outputs(&self, script: &Script) -> Result<Vec<(OutPoint, TxOut)>> {
        Ok(self
            .lookups
            .unspent(script)?
            .into_iter()
            .map(|u| (u.outpoint, u.output))
            .collect())
    }

    fn mine_pending(&self, _time: u64) -> Result<Option<crate::local::Block>> {
        Ok(None)
    }

    fn merkle_path(&self, txid: &Txid) -> Result<Option<MerklePath>> {
        Ok(self.proven(txid)?.map(|(path, _)| path))
    }

    fn headers(&self) -> Result<HeaderChain> {
        self.sync_headers()
    }
}
