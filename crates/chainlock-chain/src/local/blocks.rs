//! The local chain's blocks: mined on demand, with real 80-byte headers and real merkle roots,
//! so the merkle paths it hands out are real proofs a BSV library verifies (ADR 0008).
//!
//! A block holds a coinbase (its height pushed first, as BIP 34 has it, then
//! "chainlock local chain (not real coins)", paying nothing) and then every accepted
//! transaction no block holds yet, in acceptance order. Headers: version 1, the previous
//! block's hash (zeros for height 0), the merkle root, the time given, bits 0x207fffff
//! (regtest's easiest target) and the first nonce from 0 whose hash meets that target (about
//! two tries: the work is trivial, but every header is valid, so the network chain's work
//! check holds for the fake network built on it). A verifier of the local chain trusts its
//! header file, not work.

use chainlock_protocol::script::{op, Builder};
use chainlock_protocol::tx::{OutPoint, Transaction, TxIn, TxOut, Txid};
use chainlock_spv::{merkle_root, BlockHash, BlockHeader, HeaderChain, MerklePath};
use rusqlite::{params, OptionalExtension};

use super::store::Store;
use crate::{Error, Result};

/// What the coinbase of every local block says.
pub const COINBASE_MARK: &[u8] = b"chainlock local chain (not real coins)";

/// The compact target in every local header: regtest's easiest, met in about two tries.
pub const LOCAL_BITS: u32 = 0x207f_ffff;

/// A mined block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Its height.
    pub height: u64,
    /// Its header.
    pub header: BlockHeader,
    /// Its transactions, the coinbase first.
    pub txids: Vec<Txid>,
}

fn coinbase(height: u64) -> Transaction {
    let mut script_sig = Builder::new();
    // BIP 34: the height, little-endian, minimal; makes every coinbase's txid unique.
    let bytes = height.to_le_bytes();
    let len = bytes.iter().rposition(|b| *b != 0).map_or(1, |i| i + 1);
    script_sig.push(&bytes[..len]).push(COINBASE_MARK);
    let mut commitment = Builder::new();
    commitment.op(op::OP_0).op(op::OP_RETURN);
    Transaction {
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
            value: 0,
            script_pubkey: commitment.into_script(),
        }],
        lock_time: 0,
    }
}

impl Store<'_> {
    /// Mines a block at `time` holding every accepted transaction no block holds yet; with
    /// `catch_up`, a `time` before the tip's becomes the tip's (another machine's clock ran
    /// ahead), otherwise it is refused.
    pub(crate) fn mine(&self, time: u64, catch_up: bool) -> Result<Block> {
        let time32 = u32::try_from(time).map_err(|_| {
            Error::Mining(format!("block time {time} does not fit a header's 32 bits"))
        })?;
        let tip: Option<(i64, Vec<u8>, i64)> = self
            .conn
            .query_row(
                "SELECT height, hash, time FROM blocks ORDER BY height DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(self.err("reading the chain tip"))?;
        let mut time32 = time32;
        let (height, prev_hash) = match tip {
            None => (0u64, BlockHash([0; 32])),
            Some((h, hash, tip_time)) => {
                if catch_up && i64::from(time32) < tip_time {
                    time32 = u32::try_from(tip_time).unwrap_or(time32);
                }
                if i64::from(time32) < tip_time {
                    return Err(Error::Mining(format!(
                        "block time {time} is before the tip's {tip_time}: local blocks keep time order"
                    )));
                }
                let hash = <[u8; 32]>::try_from(hash.as_slice())
                    .map_err(|_| self.corrupt("a stored block hash is not 32 bytes".into()))?;
                (self.value(h)? + 1, BlockHash(hash))
            }
        };
        let pending: Vec<Vec<u8>> = self
            .conn
            .prepare(
                "SELECT t.txid FROM transactions t LEFT JOIN block_transactions b ON b.txid = t.txid
                 WHERE b.txid IS NULL ORDER BY t.seq",
            )
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(self.err("listing unmined transactions"))?;
        let coinbase = coinbase(height);
        let mut txids = vec![coinbase.txid()];
        for raw in &pending {
            txids.push(self.txid(raw)?);
        }
        let ids: Vec<[u8; 32]> = txids.iter().map(|t| t.0).collect();
        let mut header = BlockHeader {
            version: 1,
            prev_hash,
            merkle_root: merkle_root(&ids).unwrap_or([0; 32]),
            time: time32,
            bits: LOCAL_BITS,
            nonce: 0,
        };
        // Half of all hashes meet the easiest target: this ends after a few tries.
        while !header.meets_target() && header.nonce < u32::MAX {
            header.nonce += 1;
        }
        let h = i64::try_from(height)
            .map_err(|_| Error::Mining(format!("height {height} is out of range")))?;
        self.conn
            .execute(
                "INSERT INTO blocks (height, hash, header, time, coinbase) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![h, &header.hash().0[..], &header.encode()[..], i64::from(time32), coinbase.encode()],
            )
            .map_err(self.err("storing a block"))?;
        for (position, txid) in txids.iter().enumerate() {
            self.conn
                .execute(
                    "INSERT INTO block_transactions (txid, height, position) VALUES (?1, ?2, ?3)",
                    params![&txid.0[..], h, position as i64],
                )
                .map_err(self.err("listing a transaction in its block"))?;
        }
        Ok(Block {
            height,
            header,
            txids,
        })
    }

    /// The height and time of the block holding `txid`, if one does.
    pub(crate) fn mined_at(&self, txid: &Txid) -> Result<Option<(u64, u64)>> {
        let row: Option<(i64, i64)> = self
            .conn
            .query_row(
                "SELECT b.height, k.time FROM block_transactions b JOIN blocks k ON k.height = b.height
                 WHERE b.txid = ?1",
                [&txid.0[..]],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.err("looking up a transaction's block"))?;
        row.map(|(h, t)| Ok((self.value(h)?, self.value(t)?)))
            .transpose()
    }

    /// Every header, height 0 first, checked to link.
    pub(crate) fn headers(&self) -> Result<HeaderChain> {
        let raws: Vec<Vec<u8>> = self
            .conn
            .prepare("SELECT header FROM blocks ORDER BY height")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(self.err("reading the headers"))?;
        let headers = raws
            .iter()
            .map(|raw| BlockHeader::decode(raw))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| self.corrupt(format!("a stored header does not decode: {e}")))?;
        HeaderChain::new(headers)
            .map_err(|e| self.corrupt(format!("the stored headers do not link: {e}")))
    }

    /// The merkle path of `txid` in its block, recomputed from the block's transactions and
    /// checked against the stored header's root.
    pub(crate) fn merkle_path(&self, txid: &Txid) -> Result<Option<MerklePath>> {
        let Some((height, _)) = self.mined_at(txid)? else {
            return Ok(None);
        };
        let h = i64::try_from(height).unwrap_or(i64::MAX);
        let raws: Vec<Vec<u8>> = self
            .conn
            .prepare("SELECT txid FROM block_transactions WHERE height = ?1 ORDER BY position")
            .and_then(|mut s| s.query_map([h], |r| r.get(0))?.collect())
            .map_err(self.err("reading a block's transactions"))?;
        let ids = raws
            .iter()
            .map(|raw| self.txid(raw).map(|t| t.0))
            .collect::<Result<Vec<_>>>()?;
        let index = ids.iter().position(|t| *t == txid.0).unwrap_or(0);
        let path = MerklePath::from_block(height, &ids, &[index])
            .map_err(|e| self.corrupt(format!("block {height}: {e}")))?;
        let header: Vec<u8> = self
            .conn
            .query_row("SELECT header FROM blocks WHERE height = ?1", [h], |r| {
                r.get(0)
            })
            .map_err(self.err("reading a header"))?;
        let header = BlockHeader::decode(&header)
            .map_err(|e| self.corrupt(format!("header {height} does not decode: {e}")))?;
        if merkle_root(&ids) != Some(header.merkle_root) {
            return Err(self.corrupt(format!(
                "block {height}'s transactions no longer hash to its header's merkle root"
            )));
        }
        Ok(Some(path))
    }
}
