//! Merkle roots over a block's transactions, and merkle paths in the BUMP format (BRC-74).
//!
//! A block's merkle tree hashes txids (internal byte order) in pairs with SHA-256d; a row of
//! odd length pairs its last node with itself. A BUMP lists, level by level from the txids
//! up, the nodes a verifier cannot compute: at level 0 the transactions of interest (flag 2)
//! and their siblings, above that each sibling on the way to the root (flag 0 with its hash,
//! or flag 1 when the sibling is the node itself, duplicated). Encoding: block height
//! (varint), tree height (1 byte), then per level a leaf count (varint) and per leaf its
//! offset (varint), flags (1 byte) and, unless duplicated, its 32-byte hash.

use std::collections::BTreeSet;

use chainlock_protocol::encode::{write_varint, Reader};
use chainlock_protocol::hash::sha256d;
use chainlock_protocol::tx::Txid;

use crate::{Error, Result};

/// The deepest tree a BUMP may describe: 2^64 transactions is more than any block holds.
pub const MAX_TREE_HEIGHT: u8 = 64;

const FLAG_HASH: u8 = 0;
const FLAG_DUPLICATE: u8 = 1;
const FLAG_TXID: u8 = 2;

fn hash_pair(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut both = [0u8; 64];
    both[..32].copy_from_slice(left);
    both[32..].copy_from_slice(right);
    sha256d(&both)
}

/// The merkle root of a block whose transactions have these txids, in block order; None for
/// no transactions (a block always has at least its coinbase).
pub fn merkle_root(txids: &[[u8; 32]]) -> Option<[u8; 32]> {
    let mut row: Vec<[u8; 32]> = txids.to_vec();
    if row.is_empty() {
        return None;
    }
    while row.len() > 1 {
        row = next_row(&row);
    }
    row.first().copied()
}

fn next_row(row: &[[u8; 32]]) -> Vec<[u8; 32]> {
    // `chunks(2)` never yields an empty chunk; a lone last node pairs with itself.
    row.chunks(2)
        .map(|pair| hash_pair(&pair[0], pair.get(1).unwrap_or(&pair[0])))
        .collect()
}

/// One node of a merkle path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathNode {
    /// A hash the verifier cannot compute (flag 0).
    Hash([u8; 32]),
    /// The sibling is the node itself, duplicated at the end of an odd row (flag 1).
    Duplicate,
    /// A transaction of interest, at level 0 (flag 2).
    Txid([u8; 32]),
}

/// A node at a position of one level of the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathLeaf {
    /// Its index in its level.
    pub offset: u64,
    /// What is there.
    pub node: PathNode,
}

/// A merkle path for one or more transactions of one block (a BUMP, BRC-74).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerklePath {
    /// The block's height.
    pub block_height: u64,
    /// Level 0 (the txids) first; leaves in the order they are encoded.
    pub levels: Vec<Vec<PathLeaf>>,
}

impl MerklePath {
    /// The path proving the transactions at `targets` (indices in block order) of a block
    /// whose txids are `txids`, in block order.
    pub fn from_block(block_height: u64, txids: &[[u8; 32]], targets: &[usize]) -> Result<Self> {
        let bad = |reason: String| Error::Path {
            height: block_height,
            reason,
        };
        if targets.is_empty() {
            return Err(bad("no transaction to prove".into()));
        }
        if let Some(t) = targets.iter().find(|&&t| t >= txids.len()) {
            return Err(bad(format!(
                "transaction index {t} is outside the block's {} transactions",
                txids.len()
            )));
        }
        let mut wanted: BTreeSet<usize> = targets.iter().copied().collect();
        if txids.len() == 1 {
            // One transaction: the root is its txid; BRC-74 writes the lone leaf alone.
            return Ok(MerklePath {
                block_height,
                levels: vec![vec![PathLeaf {
                    offset: 0,
                    node: PathNode::Txid(txids[0]),
                }]],
            });
        }
        let mut row: Vec<[u8; 32]> = txids.to_vec();
        let mut levels = Vec::new();
        while row.len() > 1 {
            let mut leaves = std::collections::BTreeMap::new();
            if levels.is_empty() {
                for &t in &wanted {
                    leaves.insert(t, PathNode::Txid(row[t]));
                }
            }
            for &o in &wanted {
                let sibling = o ^ 1;
                if wanted.contains(&sibling) {
                    continue;
                }
                let node = match row.get(sibling) {
                    Some(hash) => PathNode::Hash(*hash),
                    None => PathNode::Duplicate,
                };
                leaves.insert(sibling, node);
            }
            levels.push(
                leaves
                    .into_iter()
                    .map(|(offset, node)| PathLeaf {
                        offset: offset as u64,
                        node,
                    })
                    .collect(),
            );
            wanted = wanted.iter().map(|o| o >> 1).collect();
            row = next_row(&row);
        }
        Ok(MerklePath {
            block_height,
            levels,
        })
    }

    /// The txids this path proves (its flag-2 leaves at level 0).
    pub fn txids(&self) -> impl Iterator<Item = Txid> + '_ {
        self.levels
            .first()
            .into_iter()
            .flatten()
            .filter_map(|leaf| match leaf.node {
                PathNode::Txid(h) => Some(Txid(h)),
                _ => None,
            })
    }

    /// True if the path proves `txid`.
    pub fn proves(&self, txid: &Txid) -> bool {
        self.txids().any(|t| t == *txid)
    }

    /// The merkle root the path leads to from `txid`, which must be one of its level-0 leaves.
    pub fn compute_root(&self, txid: &Txid) -> Result<[u8; 32]> {
        let bad = |reason: String| Error::Path {
            height: self.block_height,
            reason,
        };
        let level0 = self
            .levels
            .first()
            .ok_or_else(|| bad("it has no levels".into()))?;
        let index = level0
            .iter()
            .find(|leaf| matches!(leaf.node, PathNode::Txid(h) | PathNode::Hash(h) if h == txid.0))
            .map(|leaf| leaf.offset)
            .ok_or_else(|| bad(format!("transaction {txid} is not at its level 0")))?;
        if self.levels.len() == 1 && level0.len() == 1 {
            // A block of one transaction: its root is the txid.
            return Ok(txid.0);
        }
        let mut working = txid.0;
        for h in 0..self.levels.len() {
            let position = index >> h;
            let sibling = match self.find_or_compute(h, position ^ 1)? {
                Some(hash) => hash,
                None => working,
            };
            working = if position & 1 == 1 {
                hash_pair(&sibling, &working)
            } else {
                hash_pair(&working, &sibling)
            };
        }
        Ok(working)
    }

    /// The hash at `offset` of level `h`, from the path or from the level below;
    /// `None` when it is a duplicate of its sibling.
    fn find_or_compute(&self, h: usize, offset: u64) -> Result<Option<[u8; 32]>> {
        let bad = |reason: String| Error::Path {
            height: self.block_height,
            reason,
        };
        if let Some(leaf) = self
            .levels
            .get(h)
            .and_then(|level| level.iter().find(|leaf| leaf.offset == offset))
        {
            return Ok(match leaf.node {
                PathNode::Hash(hash) | PathNode::Txid(hash) => Some(hash),
                PathNode::Duplicate => None,
            });
        }
        if h == 0 {
            return Err(bad(format!(
                "the node at level 0, offset {offset} is missing: the path does not lead to a root"
            )));
        }
        // Hostile offsets near 2^64 have no children: refused, never wrapped.
        let left_offset = offset
            .checked_mul(2)
            .filter(|o| *o < u64::MAX)
            .ok_or_else(|| bad(format!("offset {offset} at level {h} is out of range")))?;
        let left = self.find_or_compute(h - 1, left_offset)?.ok_or_else(|| {
            bad(format!(
                "level {} offset {left_offset} is marked duplicate but is a left node",
                h - 1
            ))
        })?;
        let right = self
            .find_or_compute(h - 1, left_offset + 1)?
            .unwrap_or(left);
        Ok(Some(hash_pair(&left, &right)))
    }

    /// Appends the BUMP encoding.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        write_varint(out, self.block_height);
        out.push(self.levels.len() as u8);
        for level in &self.levels {
            write_varint(out, level.len() as u64);
            for leaf in level {
                write_varint(out, leaf.offset);
                match leaf.node {
                    PathNode::Hash(h) => {
                        out.push(FLAG_HASH);
                        out.extend_from_slice(&h);
                    }
                    PathNode::Duplicate => out.push(FLAG_DUPLICATE),
                    PathNode::Txid(h) => {
                        out.push(FLAG_TXID);
                        out.extend_from_slice(&h);
                    }
                }
            }
        }
    }

    /// The BUMP encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Decodes exactly one BUMP.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, "merkle path (BUMP)");
        let path = Self::decode_from(&mut r)?;
        r.finish()?;
        Ok(path)
    }

    /// Decodes one BUMP from a reader, leaving what follows.
    pub fn decode_from(r: &mut Reader<'_>) -> Result<Self> {
        let block_height = r.varint("block height")?;
        let tree_height = r.u8("tree height")?;
        if tree_height == 0 || tree_height > MAX_TREE_HEIGHT {
            return Err(r
                .error(format!(
                    "tree height {tree_height} is outside 1..={MAX_TREE_HEIGHT}"
                ))
                .into());
        }
        let mut levels = Vec::with_capacity(usize::from(tree_height));
        for level in 0..tree_height {
            // Each leaf is at least an offset byte and a flags byte.
            let n = r.count("leaf count", 2)?;
            let mut leaves = Vec::with_capacity(n);
            let mut seen = BTreeSet::new();
            for _ in 0..n {
                let offset = r.varint("leaf offset")?;
                if !seen.insert(offset) {
                    return Err(r
                        .error(format!("level {level} lists offset {offset} twice"))
                        .into());
                }
                let node = match r.u8("leaf flags")? {
                    FLAG_HASH => PathNode::Hash(r.array("leaf hash")?),
                    FLAG_DUPLICATE => PathNode::Duplicate,
                    FLAG_TXID if level == 0 => PathNode::Txid(r.array("leaf txid")?),
                    FLAG_TXID => {
                        return Err(r
                            .error(format!(
                                "a txid leaf (flag 2) at level {level}, above level 0"
                            ))
                            .into())
                    }
                    other => {
                        return Err(r
                            .error(format!("leaf flags {other:#04x} are none of 0, 1, 2"))
                            .into())
                    }
                };
                leaves.push(PathLeaf { offset, node });
            }
            levels.push(leaves);
        }
        Ok(MerklePath {
            block_height,
            levels,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: u8) -> Vec<[u8; 32]> {
        (0..n).map(|i| sha256d(&[i])).collect()
    }

    #[test]
    fn every_transaction_of_every_small_block_proves_to_the_root() {
        for n in 1..=13u8 {
            let txids = ids(n);
            let root = merkle_root(&txids).unwrap();
            for t in 0..usize::from(n) {
                let path = MerklePath::from_block(7, &txids, &[t]).unwrap();
                let decoded = MerklePath::decode(&path.encode()).unwrap();
                assert_eq!(decoded, path);
                assert_eq!(
                    path.compute_root(&Txid(txids[t])).unwrap(),
                    root,
                    "n={n} t={t}"
                );
                // Any other hash at level 0 leads elsewhere or nowhere.
                assert!(path.compute_root(&Txid([9; 32])).is_err());
            }
            // A compound path for every transaction proves each.
            let all: Vec<usize> = (0..usize::from(n)).collect();
            let path = MerklePath::from_block(7, &txids, &all).unwrap();
            for t in &txids {
                assert_eq!(path.compute_root(&Txid(*t)).unwrap(), root);
            }
        }
    }

    #[test]
    fn two_transactions_hash_as_bitcoin_does() {
        let txids = ids(2);
        let mut both = txids[0].to_vec();
        both.extend_from_slice(&txids[1]);
        assert_eq!(merkle_root(&txids).unwrap(), sha256d(&both));
        assert_eq!(merkle_root(&txids[..1]).unwrap(), txids[0]);
        assert_eq!(merkle_root(&[]), None);
    }

    #[test]
    fn a_changed_sibling_changes_the_root() {
        let txids = ids(5);
        let root = merkle_root(&txids).unwrap();
        let mut path = MerklePath::from_block(1, &txids, &[4]).unwrap();
        path.levels[1][0].node = PathNode::Hash([1; 32]);
        assert_ne!(path.compute_root(&Txid(txids[4])).unwrap(), root);
    }

    #[test]
    fn hostile_offsets_are_refused_without_panicking() {
        let txid = [3u8; 32];
        // A txid at the largest offset, and levels that must be computed from below.
        let path = MerklePath {
            block_height: 1,
            levels: vec![
                vec![PathLeaf {
                    offset: u64::MAX,
                    node: PathNode::Txid(txid),
                }],
                vec![],
                vec![],
            ],
        };
        assert!(path.compute_root(&Txid(txid)).is_err());
        let deep = MerklePath {
            block_height: 1,
            levels: (0..64)
                .map(|h| {
                    if h == 0 {
                        vec![PathLeaf {
                            offset: 0,
                            node: PathNode::Txid(txid),
                        }]
                    } else {
                        vec![]
                    }
                })
                .collect(),
        };
        assert!(deep.compute_root(&Txid(txid)).is_err());
    }

    #[test]
    fn hostile_bumps_are_refused_with_where() {
        for (bytes, needle) in [
            (vec![1, 0], "tree height 0"),
            (vec![1, 65], "tree height 65"),
            (vec![1, 1, 0xfd, 0xff, 0xff], "cannot fit"),
            (vec![1, 1, 1, 0, 3], "none of 0, 1, 2"),
            (vec![1, 1, 2, 0, 1, 0, 1], "offset 0 twice"),
            (vec![1, 2, 1, 0, 1, 1, 1, 2], "above level 0"),
        ] {
            let err = MerklePath::decode(&bytes).unwrap_err().to_string();
            assert!(err.contains(needle), "{bytes:?}: {err}");
        }
    }
}
