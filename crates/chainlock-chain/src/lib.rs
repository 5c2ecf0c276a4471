//! Chain backends behind one trait: where record transactions are broadcast, and where a
//! co-signer learns a package's record chain and whether a custody output is spent.
//!
//! Design goals:
//! - **One trait, several backends.** [`Chain`] is what the co-signing loop needs from a chain:
//!   broadcast, transaction status, output state, a package's record chain, unspent outputs.
//!   The embedded default is the [`LocalLedger`], a ledger in one SQLite file; the BSV
//!   network is [`network::NetworkChain`]: ARC for broadcasts, WhatsOnChain-style lookups for
//!   the rest, every answer that can be checked checked (ADR 0012).
//! - **The local ledger enforces the protocol's rules, not only the node's.** It accepts a
//!   transaction only when every input spends a known unspent output and passes the protocol's
//!   input checker, and a record transaction only with its record, continuing the package's
//!   record chain under the policy in force (PROTOCOL.md sections 2 and 3).
//! - **Nothing half-written.** A broadcast is one SQLite transaction: a refused one changes
//!   nothing; two processes (two co-signers' CLIs) share one ledger file safely.
//!
//! What this crate must never do: present the local ledger as the BSV network. Its coins come
//! from a faucet that says "not real coins", and [`Chain::describe`] says which backend answers.

// Tests may panic on setup failures; the library itself may not.
#![cfg_attr(test, allow(clippy::expect_used, clippy::unwrap_used))]

pub mod arc;
pub mod error;
pub mod http;
pub mod local;
pub mod lookups;
pub mod network;
pub mod proof;
mod record_chain;

use std::fmt;
use std::str::FromStr;

use chainlock_protocol::hash::Digest;
use chainlock_protocol::record::{Ecosystem, Record};
use chainlock_protocol::script::Script;
use chainlock_protocol::tx::{OutPoint, Transaction, TxOut, Txid};
use chainlock_protocol::verify::{CustodyState, KnownRecord};
use chainlock_spv::{HeaderChain, MerklePath};

pub use error::{Error, Result};
pub use local::LocalLedger;

/// Where a transaction stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxStatus {
    /// The backend does not know the transaction.
    Unknown,
    /// Accepted and known (the local ledger's equivalent of a mempool), not yet in a block.
    Accepted,
    /// In a block.
    Mined {
        /// The block's height.
        height: u64,
        /// The block's time (Unix seconds): the challenge window starts here (section 9).
        block_time: u64,
    },
    /// Refused by the backend (a network backend's verdict; the local ledger refuses with an
    /// error and keeps nothing).
    Rejected {
        /// Why.
        reason: String,
    },
}

/// What a broadcast did: the same transaction twice is not an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Broadcast {
    /// The transaction is new and was accepted.
    Accepted {
        /// Its id.
        txid: Txid,
    },
    /// The backend already had it.
    AlreadyKnown {
        /// Its id.
        txid: Txid,
    },
}

impl Broadcast {
    /// The transaction's id, whichever way it went.
    pub fn txid(&self) -> Txid {
        match self {
            Broadcast::Accepted { txid } | Broadcast::AlreadyKnown { txid } => *txid,
        }
    }
}

/// An output's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputState {
    /// No known transaction created a spendable output there (OP_RETURN outputs, such as a
    /// record's commitment, are never spendable and never in the output set, as on the node).
    Unknown,
    /// Created and not spent.
    Unspent {
        /// The output.
        output: TxOut,
    },
    /// Spent.
    Spent {
        /// The transaction that spent it.
        by: Txid,
    },
}

impl OutputState {
    /// The state as request verification takes it (`verify::Context::custody`).
    pub fn custody_state(&self) -> CustodyState {
        match self {
            OutputState::Unknown => CustodyState::Unknown,
            OutputState::Unspent { .. } => CustodyState::Unspent,
            OutputState::Spent { by } => CustodyState::Spent { by: *by },
        }
    }
}

/// A record on the chain, with the transaction that commits to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainRecord {
    /// The record's digest (what output 0 of its transaction commits to).
    pub digest: Digest,
    /// The record.
    pub record: Record,
    /// The record transaction.
    pub txid: Txid,
    /// Where that transaction stands.
    pub status: TxStatus,
}

/// A package's identity: its registry and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageId {
    /// The registry.
    pub ecosystem: Ecosystem,
    /// The package name, as records carry it.
    pub name: String,
}

impl PackageId {
    /// A package from its registry and name.
    pub fn new(ecosystem: Ecosystem, name: impl Into<String>) -> Self {
        PackageId {
            ecosystem,
            name: name.into(),
        }
    }

    /// The package a record speaks of.
    pub fn of(record: &Record) -> Self {
        PackageId::new(record.ecosystem(), record.package())
    }
}

/// The registry's name as records spell it (`npm`, `pypi`, `crates`, `generic`).
pub fn ecosystem_name(ecosystem: Ecosystem) -> &'static str {
    match ecosystem {
        Ecosystem::Npm => "npm",
        Ecosystem::Pypi => "pypi",
        Ecosystem::Crates => "crates",
        Ecosystem::Generic => "generic",
    }
}

/// The registry named as records spell it.
pub fn parse_ecosystem(name: &str) -> Option<Ecosystem> {
    match name {
        "npm" => Some(Ecosystem::Npm),
        "pypi" => Some(Ecosystem::Pypi),
        "crates" => Some(Ecosystem::Crates),
        "generic" => Some(Ecosystem::Generic),
        _ => None,
    }
}

// By hand: the protocol's `Ecosystem` does not derive `Hash`.
impl std::hash::Hash for PackageId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        ecosystem_name(self.ecosystem).hash(state);
        self.name.hash(state);
    }
}

impl fmt::Display for PackageId {
    /// `npm:left-pad`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", ecosystem_name(self.ecosystem), self.name)
    }
}

impl FromStr for PackageId {
    type Err = Error;

    /// Parses `npm:left-pad` (the ecosystem, a colon, the name).
    fn from_str(text: &str) -> Result<Self> {
        let bad = || Error::PackageId {
            text: text.chars().take(200).collect(),
        };
        let (eco, name) = text.split_once(':').ok_or_else(bad)?;
        let ecosystem = parse_ecosystem(eco).ok_or_else(bad)?;
        if name.is_empty() {
            return Err(bad());
        }
        Ok(PackageId::new(ecosystem, name))
    }
}

/// A package's records as a backend knows them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordChain {
    /// The chain, genesis first, each record's `previous` the digest of the one before.
    pub records: Vec<ChainRecord>,
    /// Records of the package off that chain: those whose `previous` is already taken by
    /// another record (a fork, which verifiers flag), a second genesis, anything built on
    /// those, and records whose `previous` is unknown. Never hidden, never followed.
    pub forks: Vec<ChainRecord>,
}

impl RecordChain {
    /// The package's latest record: the one a new record's `previous` must name.
    pub fn head(&self) -> Option<&ChainRecord> {
        self.records.last()
    }

    /// The first record (the genesis), if the package has one.
    pub fn genesis(&self) -> Option<&ChainRecord> {
        self.records.first()
    }

    /// The chain as request verification takes it (`verify::Context::record_chain`), genesis
    /// first; forks are left out, since a request must build on the chain's head.
    pub fn known_records(&self) -> Vec<KnownRecord> {
        self.records
            .iter()
            .map(|r| KnownRecord {
                digest: r.digest,
                record: r.record.clone(),
            })
            .collect()
    }

    /// The policy in force at the head: the genesis's, replaced by each rotation.
    pub fn policy_in_force(&self) -> Option<&chainlock_protocol::policy::Policy> {
        self.records
            .iter()
            .fold(None, |current, r| match &r.record {
                Record::Genesis(g) => Some(&g.policy),
                Record::Rotation(rot) => Some(&rot.policy),
                Record::Release(_) => current,
            })
    }

    /// Orders a package's records (in the order the backend learnt them) into the chain and
    /// its forks: the first genesis starts the chain; at each step the first record naming the
    /// head as `previous` continues it, and every other record is a fork.
    pub fn assemble(records: Vec<ChainRecord>) -> Self {
        record_chain::assemble(records)
    }
}

/// A chain backend: the local ledger now, BSV network backends later.
pub trait Chain: Send + Sync {
    /// A line saying what this backend is ("local ledger at PATH (not the BSV network)").
    fn describe(&self) -> String;

    /// Submits a transaction; `record` is the record a record transaction commits to (its
    /// output 0 must commit to `record.digest()`), None for top-ups. Idempotent.
    fn broadcast(&self, tx: &Transaction, record: Option<&Record>) -> Result<Broadcast>;

    /// The transaction with this id, if the backend knows it.
    fn transaction(&self, txid: &Txid) -> Result<Option<Transaction>>;

    /// Where the transaction stands.
    fn tx_status(&self, txid: &Txid) -> Result<TxStatus>;

    /// Whether an output exists and is spent.
    fn output_state(&self, outpoint: &OutPoint) -> Result<OutputState>;

    /// The package's records, genesis first, following `previous`; forks reported, not hidden.
    fn record_chain(&self, package: &PackageId) -> Result<RecordChain>;

    /// Unspent outputs paying to `script` (custody outputs of a policy, or a funding key's
    /// P2PKH), in the order they were created.
    fn unspent_outputs(&self, script: &Script) -> Result<Vec<(OutPoint, TxOut)>>;

    /// Mines what waits, at `time`, on a chain this machine mines itself (the local chain);
    /// None from a network backend, whose miners decide when.
    fn mine_pending(&self, time: u64) -> Result<Option<local::Block>>;

    /// The merkle path (BUMP) of a mined transaction in its block; None until it is mined.
    fn merkle_path(&self, txid: &Txid) -> Result<Option<MerklePath>>;

    /// The best chain's headers as this backend knows them, height 0 first.
    fn headers(&self) -> Result<HeaderChain>;
}
