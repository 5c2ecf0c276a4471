//! The local ledger: the embedded default chain backend, a ledger in one SQLite file.
//!
//! It stands in for the BSV network on a machine with no network backend (the demo, tests, a
//! team trying ChainLock out) and is never presented as the network: [`Chain::describe`] says
//! "not the BSV network", and its coins come from a faucet whose input says "not real coins".
//!
//! It accepts a transaction only when every input spends a known unspent output and passes the
//! protocol's input checker, and the outputs do not exceed the inputs; a record transaction
//! only with its record, continuing its package's chain under the policy in force (`rules.rs`).
//! Each broadcast is one SQLite write transaction (`BEGIN IMMEDIATE`): the rules read and the
//! writes happen under one lock, and a refused broadcast changes nothing. WAL and a busy
//! timeout let several processes (co-signers' CLIs, the app) share one file.

mod blocks;
mod rules;
mod schema;
mod store;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use chainlock_protocol::record::Record;
use chainlock_protocol::script::{Builder, Script};
use chainlock_protocol::tx::{OutPoint, Transaction, TxIn, TxOut, Txid};
use chainlock_spv::{HeaderChain, MerklePath};
use rusqlite::{Connection, TransactionBehavior};

use crate::{Broadcast, Chain, Error, OutputState, PackageId, RecordChain, Result, TxStatus};
pub use blocks::{Block, COINBASE_MARK, LOCAL_BITS};
pub(crate) use store::is_unspendable;
pub use store::Origin;
use store::Store;

pub use schema::{APPLICATION_ID, SCHEMA_VERSION};

/// What the faucet's input says, so no one mistakes its coins for real ones.
pub const FAUCET_MARK: &[u8] = b"chainlock local faucet (not real coins)";

/// The most the faucet pays in one transaction: all the bitcoin there will ever be
/// (21 million coins of 10^8 satoshis), so every sum of faucet outputs a test can make stays
/// far from overflow.
pub const FAUCET_MAX_SATOSHIS: u64 = 21_000_000 * 100_000_000;

/// A ledger in one SQLite file (WAL mode), shared safely between processes.
pub struct LocalLedger {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for LocalLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalLedger")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl LocalLedger {
    /// Opens the ledger at `path`, creating the file and its schema if it does not exist.
    /// Refuses a file that is not SQLite, another program's database, a damaged ledger, or
    /// one written by a newer ChainLock, each with its own error.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = schema::open(path)?;
        Ok(LocalLedger {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    /// The ledger file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates `satoshis` paying to `script` out of nothing, as a transaction whose one input
    /// has the null outpoint and an unlocking script saying
    /// "chainlock local faucet (not real coins)" and a serial number (so two equal requests
    /// make two transactions). Only the local ledger has a faucet; it is not on [`Chain`].
    pub fn faucet(&self, script: &Script, satoshis: u64) -> Result<Transaction> {
        if satoshis == 0 || satoshis > FAUCET_MAX_SATOSHIS {
            return Err(Error::Amount(format!(
                "the faucet pays 1 to {FAUCET_MAX_SATOSHIS} satoshis, not {satoshis}"
            )));
        }
        self.write(|store| {
            let serial = store.next_seq()?;
            let mut script_sig = Builder::new();
            script_sig.push(FAUCET_MARK).push(&serial.to_le_bytes());
            let tx = Transaction {
                version: 1,
                inputs: vec![TxIn {
                    prevout: OutPoint {
                        txid: Txid([0; 32]),
                        vout: u32::MAX,
                    },
                    script_sig: script_sig.into_script(),
                    sequence: u32::MAX,
                }],
                outputs: vec![TxOut {
                    value: satoshis,
                    script_pubkey: script.clone(),
                }],
                lock_time: 0,
            };
            store.insert(&tx, Origin::Faucet, None)?;
            Ok(tx)
        })
    }

    /// Mines a block at `time` (Unix seconds, not before the tip's) holding every accepted
    /// transaction no block holds yet, after a coinbase; an empty block when none waits.
    /// No proof of work: see [`blocks`](self) and ADR 0008.
    pub fn mine(&self, time: u64) -> Result<Block> {
        self.write(|store| store.mine(time, false))
    }

    /// Accepts `tx` as a BSV node would, with the chain's rules only (known unspent inputs,
    /// each passing the input checker, outputs within inputs) and no record rules: the
    /// network carries no records. For a stand-in of the network (the tests' fake ARC and
    /// lookups mine into a local chain); the co-signing loop broadcasts with [`Chain`].
    pub fn relay(&self, tx: &Transaction) -> Result<Broadcast> {
        self.write(|store| {
            let txid = tx.txid();
            if store.has_transaction(&txid)? {
                return Ok(Broadcast::AlreadyKnown { txid });
            }
            rules::check_node(store, tx)?;
            store.insert(tx, Origin::Broadcast, None)?;
            Ok(Broadcast::Accepted { txid })
        })
    }

    /// Every transaction the ledger holds, in the order it accepted them, each with where it
    /// came from (the faucet, or a checked broadcast).
    pub fn history(&self) -> Result<Vec<(Transaction, Origin)>> {
        self.read(|store| store.history())
    }

    /// Runs `f` over the ledger's tables for reading, in one read transaction so that every
    /// query sees the same state.
    fn read<T>(&self, f: impl FnOnce(&Store<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.lock();
        let tx = conn
            .transaction()
            .map_err(|e| Error::database(&self.path, "starting a read", e))?;
        f(&Store {
            conn: &tx,
            path: &self.path,
        })
    }

    /// Runs `f` in one SQLite write transaction, taken with the write lock up front
    /// (`BEGIN IMMEDIATE`, waiting out other writers up to the busy timeout): committed when
    /// `f` succeeds, rolled back, leaving the file unchanged, when it fails.
    fn write<T>(&self, f: impl FnOnce(&Store<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| Error::database(&self.path, "taking the write lock", e))?;
        let out = f(&Store {
            conn: &tx,
            path: &self.path,
        })?;
        tx.commit()
            .map_err(|e| Error::database(&self.path, "committing", e))?;
        Ok(out)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the connection rolled its transaction back (rusqlite's
        // Transaction rolls back on drop), so the connection is usable again.
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Chain for LocalLedger {
    fn describe(&self) -> String {
        format!(
            "local ledger at {} (not the BSV network)",
            self.path.display()
        )
    }

    fn broadcast(&self, tx: &Transaction, record: Option<&Record>) -> Result<Broadcast> {
        self.write(|store| {
            let txid = tx.txid();
            if store.has_transaction(&txid)? {
                // The txid covers output 0, so a known record transaction is known with its
                // record; a different record with it is still a mistake worth saying.
                if let Some(record) = record {
                    let Some(committed) = store.record_digest_of(&txid)? else {
                        return Err(Error::UnexpectedRecord { txid });
                    };
                    let given = record.digest()?;
                    if given != committed {
                        return Err(Error::RecordMismatch {
                            txid,
                            committed,
                            given,
                        });
                    }
                }
                return Ok(Broadcast::AlreadyKnown { txid });
            }
            let new_record = rules::check(store, tx, record)?;
            store.insert(tx, Origin::Broadcast, new_record)?;
            Ok(Broadcast::Accepted { txid })
        })
    }

    fn transaction(&self, txid: &Txid) -> Result<Option<Transaction>> {
        self.read(|store| store.transaction(txid))
    }

    fn tx_status(&self, txid: &Txid) -> Result<TxStatus> {
        self.read(|store| store.status(txid))
    }

    fn output_state(&self, outpoint: &OutPoint) -> Result<OutputState> {
        self.read(|store| store.output_state(outpoint))
    }

    fn record_chain(&self, package: &PackageId) -> Result<RecordChain> {
        self.read(|store| Ok(RecordChain::assemble(store.records(package)?)))
    }

    fn unspent_outputs(&self, script: &Script) -> Result<Vec<(OutPoint, TxOut)>> {
        self.read(|store| store.unspent_outputs(script))
    }

    fn mine_pending(&self, time: u64) -> Result<Option<Block>> {
        // Co-signers' clocks differ: a block is never dated before the tip.
        self.write(|store| store.mine(time, true)).map(Some)
    }

    fn merkle_path(&self, txid: &Txid) -> Result<Option<MerklePath>> {
        self.read(|store| store.merkle_path(txid))
    }

    fn headers(&self) -> Result<HeaderChain> {
        self.read(|store| store.headers())
    }
}
