//! Reading and writing the ledger's tables. No rules here: `rules.rs` decides what may be
//! written, this module only maps rows to protocol types and back.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use chainlock_protocol::hash::Digest;
use chainlock_protocol::record::Record;
use chainlock_protocol::script::{op, Script};
use chainlock_protocol::tx::{OutPoint, Transaction, TxOut, Txid};
use rusqlite::{params, Connection, OptionalExtension};

use crate::{ecosystem_name, ChainRecord, Error, OutputState, PackageId, Result, TxStatus};

/// Where a transaction in the local ledger came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Created out of nothing by the local faucet.
    Faucet,
    /// Broadcast and checked.
    Broadcast,
}

impl Origin {
    fn as_str(self) -> &'static str {
        match self {
            Origin::Faucet => "faucet",
            Origin::Broadcast => "broadcast",
        }
    }
}

/// A record to store beside its transaction.
pub(crate) struct NewRecord<'a> {
    pub(crate) digest: Digest,
    pub(crate) record: &'a Record,
}

/// The ledger's tables over one connection (or one open SQLite transaction).
pub(crate) struct Store<'a> {
    pub(crate) conn: &'a Connection,
    pub(crate) path: &'a Path,
}

impl Store<'_> {
    pub(super) fn err(&self, action: &'static str) -> impl FnOnce(rusqlite::Error) -> Error + '_ {
        move |e| Error::database(self.path, action, e)
    }

    pub(super) fn corrupt(&self, detail: String) -> Error {
        Error::Corrupt {
            path: self.path.to_path_buf(),
            detail,
        }
    }

    /// True if the ledger holds the transaction.
    pub(crate) fn has_transaction(&self, txid: &Txid) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT 1 FROM transactions WHERE txid = ?1",
                [&txid.0[..]],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
            .map_err(self.err("looking up a transaction"))
    }

    /// The transaction, decoded.
    pub(crate) fn transaction(&self, txid: &Txid) -> Result<Option<Transaction>> {
        let raw: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT raw FROM transactions WHERE txid = ?1",
                [&txid.0[..]],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err("reading a transaction"))?;
        raw.map(|raw| {
            Transaction::decode(&raw).map_err(|e| {
                self.corrupt(format!("stored transaction {txid} does not decode: {e}"))
            })
        })
        .transpose()
    }

    /// Every transaction in acceptance order, with whether the faucet made it.
    pub(crate) fn history(&self) -> Result<Vec<(Transaction, Origin)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT raw, origin FROM transactions ORDER BY seq")
            .map_err(self.err("listing transactions"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, String>(1)?))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(self.err("listing transactions"))?;
        rows.into_iter()
            .map(|(raw, origin)| {
                let tx = Transaction::decode(&raw).map_err(|e| {
                    self.corrupt(format!("a stored transaction does not decode: {e}"))
                })?;
                let origin = match origin.as_str() {
                    "faucet" => Origin::Faucet,
                    _ => Origin::Broadcast,
                };
                Ok((tx, origin))
            })
            .collect()
    }

    /// Where a stored transaction stands: `Mined` once a block holds it, `Accepted` before.
    pub(crate) fn status(&self, txid: &Txid) -> Result<TxStatus> {
        if !self.has_transaction(txid)? {
            return Ok(TxStatus::Unknown);
        }
        Ok(match self.mined_at(txid)? {
            Some((height, block_time)) => TxStatus::Mined { height, block_time },
            None => TxStatus::Accepted,
        })
    }

    /// An output and what spent it, if anything.
    pub(crate) fn output_state(&self, outpoint: &OutPoint) -> Result<OutputState> {
        let row: Option<(i64, Vec<u8>, Option<Vec<u8>>)> = self
            .conn
            .query_row(
                "SELECT value, script, spent_by FROM outputs WHERE txid = ?1 AND vout = ?2",
                params![&outpoint.txid.0[..], outpoint.vout],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(self.err("looking up an output"))?;
        let Some((value, script, spent_by)) = row else {
            return Ok(OutputState::Unknown);
        };
        match spent_by {
            Some(by) => Ok(OutputState::Spent {
                by: self.txid(&by)?,
            }),
            None => Ok(OutputState::Unspent {
                output: TxOut {
                    value: self.value(value)?,
                    script_pubkey: Script::from(script),
                },
            }),
        }
    }

    /// Unspent outputs locked by exactly `script`, oldest first.
    pub(crate) fn unspent_outputs(&self, script: &Script) -> Result<Vec<(OutPoint, TxOut)>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT o.txid, o.vout, o.value FROM outputs o JOIN transactions t ON t.txid = o.txid
                 WHERE o.script = ?1 AND o.spent_by IS NULL ORDER BY t.seq, o.vout",
            )
            .map_err(self.err("listing unspent outputs"))?;
        let rows = stmt
            .query_map([script.as_bytes()], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, u32>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(self.err("listing unspent outputs"))?;
        rows.into_iter()
            .map(|(txid, vout, value)| {
                Ok((
                    OutPoint {
                        txid: self.txid(&txid)?,
                        vout,
                    },
                    TxOut {
                        value: self.value(value)?,
                        script_pubkey: script.clone(),
                    },
                ))
            })
            .collect()
    }

    /// The package's records in the order the ledger accepted them.
    pub(crate) fn records(&self, package: &PackageId) -> Result<Vec<ChainRecord>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT r.digest, r.json, r.txid FROM records r JOIN transactions t ON t.txid = r.txid
                 WHERE r.ecosystem = ?1 AND r.package = ?2 ORDER BY t.seq",
            )
            .map_err(self.err("reading the package's records"))?;
        let rows = stmt
            .query_map(
                params![ecosystem_name(package.ecosystem), package.name],
                |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, Vec<u8>>(2)?,
                    ))
                },
            )
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(self.err("reading the package's records"))?;
        rows.into_iter()
            .map(|(digest, json, txid)| {
                let digest = self.digest(&digest)?;
                // The stored JSON must still hash to its key: a record edited in the file is
                // damage, not a record.
                if Digest::of(&json) != digest {
                    return Err(
                        self.corrupt(format!("record {digest} no longer hashes to its digest"))
                    );
                }
                let record = Record::from_json(&json)
                    .map_err(|e| self.corrupt(format!("record {digest} does not parse: {e}")))?;
                let txid = self.txid(&txid)?;
                Ok(ChainRecord {
                    digest,
                    record,
                    txid,
                    status: self.status(&txid)?,
                })
            })
            .collect()
    }

    /// The record digest a transaction committed to, if it is a record transaction.
    pub(crate) fn record_digest_of(&self, txid: &Txid) -> Result<Option<Digest>> {
        let digest: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT digest FROM records WHERE txid = ?1",
                [&txid.0[..]],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err("looking up a record"))?;
        digest.map(|d| self.digest(&d)).transpose()
    }

    /// The next acceptance sequence number (the faucet's nonce).
    pub(crate) fn next_seq(&self) -> Result<i64> {
        self.conn
            .query_row(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM transactions",
                [],
                |r| r.get(0),
            )
            .map_err(self.err("reading the ledger's length"))
    }

    /// Writes an accepted transaction: the transaction, its spendable outputs, the spends of
    /// the outputs it consumes, and its record. Call inside an SQLite transaction.
    pub(crate) fn insert(
        &self,
        tx: &Transaction,
        origin: Origin,
        record: Option<NewRecord<'_>>,
    ) -> Result<Txid> {
        let txid = tx.txid();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        self.conn
            .execute(
                "INSERT INTO transactions (txid, raw, origin, accepted_at) VALUES (?1, ?2, ?3, ?4)",
                params![&txid.0[..], tx.encode(), origin.as_str(), now],
            )
            .map_err(self.err("storing the transaction"))?;
        for (vout, out) in tx.outputs.iter().enumerate() {
            if is_unspendable(&out.script_pubkey) {
                continue;
            }
            let value = i64::try_from(out.value).map_err(|_| {
                Error::Amount(format!("output {vout} value {} is out of range", out.value))
            })?;
            self.conn
                .execute(
                    "INSERT INTO outputs (txid, vout, value, script) VALUES (?1, ?2, ?3, ?4)",
                    params![
                        &txid.0[..],
                        vout as i64,
                        value,
                        out.script_pubkey.as_bytes()
                    ],
                )
                .map_err(self.err("storing an output"))?;
        }
        if origin == Origin::Broadcast {
            for input in &tx.inputs {
                let changed = self
                    .conn
                    .execute(
                        "UPDATE outputs SET spent_by = ?1 WHERE txid = ?2 AND vout = ?3 AND spent_by IS NULL",
                        params![&txid.0[..], &input.prevout.txid.0[..], input.prevout.vout],
                    )
                    .map_err(self.err("marking an output spent"))?;
                // The rules checked every input is unspent under this same write lock.
                if changed != 1 {
                    return Err(self.corrupt(format!(
                        "output {} changed under the write lock",
                        input.prevout
                    )));
                }
            }
        }
        if let Some(new) = record {
            let json = new.record.canonical_bytes()?;
            self.conn
                .execute(
                    "INSERT INTO records (digest, ecosystem, package, kind, previous, txid, json)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        &new.digest.0[..],
                        ecosystem_name(new.record.ecosystem()),
                        new.record.package(),
                        new.record.kind(),
                        new.record.previous().map(|d| d.0.to_vec()),
                        &txid.0[..],
                        json,
                    ],
                )
                .map_err(self.err("storing the record"))?;
        }
        Ok(txid)
    }

    pub(super) fn txid(&self, bytes: &[u8]) -> Result<Txid> {
        <[u8; 32]>::try_from(bytes)
            .map(Txid)
            .map_err(|_| self.corrupt(format!("a stored txid is {} bytes", bytes.len())))
    }

    fn digest(&self, bytes: &[u8]) -> Result<Digest> {
        <[u8; 32]>::try_from(bytes)
            .map(Digest)
            .map_err(|_| self.corrupt(format!("a stored digest is {} bytes", bytes.len())))
    }

    pub(super) fn value(&self, value: i64) -> Result<u64> {
        u64::try_from(value).map_err(|_| self.corrupt(format!("a stored value is {value}")))
    }
}

/// `OP_RETURN ...` or `OP_FALSE OP_RETURN ...`: provably unspendable, never in the output set.
pub(crate) fn is_unspendable(script: &Script) -> bool {
    matches!(
        script.as_bytes(),
        [op::OP_RETURN, ..] | [op::OP_0, op::OP_RETURN, ..]
    )
}
