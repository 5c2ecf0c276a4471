//! BEEF: transactions with the merkle paths that prove them (BRC-62, version 1, which
//! ChainLock writes; BRC-96, version 2, read and written as well).
//!
//! Version 1: the version `01 00 BE EF`, the BUMPs (a count, then each), the transactions
//! (a count, then each: the raw transaction, a byte 1 or 0 for whether a BUMP proves it, and
//! if 1 the BUMP's index). Version 2 puts a format byte before each transaction instead:
//! 0 raw, 1 BUMP index then raw, 2 a txid alone. Parents come before their children.

use chainlock_protocol::encode::{write_varint, Reader};
use chainlock_protocol::tx::{Transaction, Txid};

use crate::{Error, MerklePath, Result};

/// BRC-62's version number, `0100BEEF` as bytes.
pub const BEEF_V1: u32 = 0xEFBE_0001;
/// BRC-96's version number, `0200BEEF` as bytes.
pub const BEEF_V2: u32 = 0xEFBE_0002;
/// BRC-95's prefix of an Atomic BEEF (one subject transaction), which this crate refuses.
pub const ATOMIC_BEEF: u32 = 0x0101_0101;

/// Which BEEF layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeefVersion {
    /// BRC-62.
    V1,
    /// BRC-96.
    V2,
}

/// One transaction of a BEEF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BeefTx {
    /// A whole transaction, proven by the BUMP at `bump` or by its parents in the BEEF.
    Raw {
        /// The transaction.
        tx: Transaction,
        /// The index of the BUMP that proves it, if one does.
        bump: Option<usize>,
    },
    /// A txid alone (version 2 only): the reader is trusted to know it.
    TxidOnly(Txid),
}

impl BeefTx {
    /// The transaction's id.
    pub fn txid(&self) -> Txid {
        match self {
            BeefTx::Raw { tx, .. } => tx.txid(),
            BeefTx::TxidOnly(txid) => *txid,
        }
    }
}

/// A BEEF: BUMPs and transactions, parents first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Beef {
    /// The layout.
    pub version: BeefVersion,
    /// The merkle paths.
    pub bumps: Vec<MerklePath>,
    /// The transactions, parents before children.
    pub txs: Vec<BeefTx>,
}

impl Beef {
    /// The encoding; refuses a txid-only entry in version 1, which cannot carry one.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let version = match self.version {
            BeefVersion::V1 => BEEF_V1,
            BeefVersion::V2 => BEEF_V2,
        };
        out.extend_from_slice(&version.to_le_bytes());
        write_varint(&mut out, self.bumps.len() as u64);
        for bump in &self.bumps {
            bump.encode_into(&mut out);
        }
        write_varint(&mut out, self.txs.len() as u64);
        for item in &self.txs {
            match (self.version, item) {
                (BeefVersion::V1, BeefTx::Raw { tx, bump }) => {
                    out.extend_from_slice(&tx.encode());
                    match bump {
                        Some(i) => {
                            out.push(1);
                            write_varint(&mut out, *i as u64);
                        }
                        None => out.push(0),
                    }
                }
                (BeefVersion::V1, BeefTx::TxidOnly(txid)) => {
                    return Err(Error::Beef(format!(
                        "transaction {txid} is a txid alone, which BEEF V1 cannot carry: write version 2"
                    )))
                }
                (BeefVersion::V2, BeefTx::Raw { tx, bump: None }) => {
                    out.push(0);
                    out.extend_from_slice(&tx.encode());
                }
                (BeefVersion::V2, BeefTx::Raw { tx, bump: Some(i) }) => {
                    out.push(1);
                    write_varint(&mut out, *i as u64);
                    out.extend_from_slice(&tx.encode());
                }
                (BeefVersion::V2, BeefTx::TxidOnly(txid)) => {
                    out.push(2);
                    out.extend_from_slice(&txid.0);
                }
            }
        }
        Ok(out)
    }

    /// Decodes a BEEF (version 1 or 2) and checks its structure ([`Beef::check`]).
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, "BEEF");
        let version = match r.u32("BEEF version")? {
            BEEF_V1 => BeefVersion::V1,
            BEEF_V2 => BeefVersion::V2,
            ATOMIC_BEEF => {
                return Err(r
                    .error("this is an Atomic BEEF (BRC-95, prefix 01010101): give the BEEF without its prefix")
                    .into())
            }
            other => {
                return Err(r
                    .error(format!(
                        "version {other:#010x} is neither BEEF V1 (0100BEEF) nor V2 (0200BEEF): this is not a BEEF"
                    ))
                    .into())
            }
        };
        // A BUMP is at least a height, a tree height, a count, an offset and flags.
        let n_bumps = r.count("BUMP count", 5)?;
        let mut bumps = Vec::with_capacity(n_bumps);
        for _ in 0..n_bumps {
            bumps.push(MerklePath::decode_from(&mut r)?);
        }
        // A transaction is at least 10 bytes; a txid-only entry 33.
        let n_txs = r.count("transaction count", 10)?;
        let mut txs = Vec::with_capacity(n_txs);
        for _ in 0..n_txs {
            let item = match version {
                BeefVersion::V1 => {
                    let tx = Transaction::decode_from(&mut r)?;
                    let bump = match r.u8("has-BUMP byte")? {
                        0 => None,
                        1 => Some(bump_index(&mut r)?),
                        other => {
                            return Err(r
                                .error(format!("the has-BUMP byte is {other}, not 0 or 1"))
                                .into())
                        }
                    };
                    BeefTx::Raw { tx, bump }
                }
                BeefVersion::V2 => match r.u8("transaction format byte")? {
                    0 => BeefTx::Raw {
                        tx: Transaction::decode_from(&mut r)?,
                        bump: None,
                    },
                    1 => {
                        let bump = Some(bump_index(&mut r)?);
                        BeefTx::Raw {
                            tx: Transaction::decode_from(&mut r)?,
                            bump,
                        }
                    }
                    2 => BeefTx::TxidOnly(Txid(r.array("txid")?)),
                    other => {
                        return Err(r
                            .error(format!(
                                "the transaction format byte is {other}, not 0, 1 or 2"
                            ))
                            .into())
                    }
                },
            };
            txs.push(item);
        }
        r.finish()?;
        let beef = Beef {
            version,
            bumps,
            txs,
        };
        beef.check()?;
        Ok(beef)
    }

    /// Checks the structure: every BUMP index in range and every proven transaction a txid
    /// leaf of its BUMP; no txid-only entry in version 1; each unproven transaction's inputs,
    /// where the BEEF holds their transactions, come before it.
    pub fn check(&self) -> Result<()> {
        let mut seen = std::collections::HashSet::new();
        for (i, item) in self.txs.iter().enumerate() {
            match item {
                BeefTx::TxidOnly(_) if self.version == BeefVersion::V1 => {
                    return Err(Error::Beef(format!(
                        "transaction {i} is a txid alone, which BEEF V1 cannot carry"
                    )))
                }
                BeefTx::TxidOnly(_) => {}
                BeefTx::Raw { tx, bump: Some(b) } => {
                    let txid = tx.txid();
                    let path = self.bumps.get(*b).ok_or_else(|| {
                        Error::Beef(format!(
                            "transaction {txid} names BUMP {b}, but there are {} BUMPs",
                            self.bumps.len()
                        ))
                    })?;
                    if !path.proves(&txid) {
                        return Err(Error::Beef(format!(
                            "transaction {txid} names BUMP {b}, which does not list it"
                        )));
                    }
                }
                BeefTx::Raw { tx, bump: None } => {
                    let txid = tx.txid();
                    let later: Vec<Txid> = self.txs[i + 1..].iter().map(BeefTx::txid).collect();
                    if let Some(input) = tx.inputs.iter().find(|input| {
                        !seen.contains(&input.prevout.txid) && later.contains(&input.prevout.txid)
                    }) {
                        return Err(Error::Beef(format!(
                            "transaction {txid} comes before its parent {}: parents come first",
                            input.prevout.txid
                        )));
                    }
                }
            }
            seen.insert(item.txid());
        }
        Ok(())
    }

    /// The transaction with this id and the BUMP that proves it, if any.
    pub fn find(&self, txid: &Txid) -> Option<(&Transaction, Option<&MerklePath>)> {
        self.txs.iter().find_map(|item| match item {
            BeefTx::Raw { tx, bump } if tx.txid() == *txid => {
                Some((tx, bump.and_then(|b| self.bumps.get(b))))
            }
            _ => None,
        })
    }

    /// A version 1 BEEF of proven transactions, each with its own BUMP, parents first as
    /// given; two transactions of one block get one BUMP each (BRC-62 allows either).
    pub fn of_proven(txs: Vec<(Transaction, MerklePath)>) -> Self {
        let mut bumps = Vec::with_capacity(txs.len());
        let mut items = Vec::with_capacity(txs.len());
        for (tx, path) in txs {
            items.push(BeefTx::Raw {
                tx,
                bump: Some(bumps.len()),
            });
            bumps.push(path);
        }
        Beef {
            version: BeefVersion::V1,
            bumps,
            txs: items,
        }
    }
}

fn bump_index(r: &mut Reader<'_>) -> Result<usize> {
    let i = r.varint("BUMP index")?;
    usize::try_from(i).map_err(|_| r.error(format!("BUMP index {i} is out of range")).into())
}
