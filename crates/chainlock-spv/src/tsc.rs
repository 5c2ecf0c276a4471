//! Merkle proofs in the TSC format (the Technical Standards Committee's "Merkle proof
//! standardised format", as WhatsOnChain serves it at `/tx/{txid}/proof/tsc`), turned into
//! the BUMP ([`MerklePath`]) the rest of ChainLock reads.
//!
//! A TSC proof names the transaction's `index` in its block and, from the txids up, the
//! sibling at each level (`nodes`; `*` when the sibling is the node itself, duplicated at the
//! end of an odd row: WhatsOnChain writes that hash in full instead). Its `target` says which
//! block: a block hash (WhatsOnChain's default), a whole header, or a merkle root. A proof
//! says nothing by itself: the root it leads to must be the merkle root of a header the
//! verifier already trusts, which [`TscProof::to_merkle_path`]'s caller checks.

use chainlock_protocol::tx::Txid;

use crate::{Error, MerklePath, PathLeaf, PathNode, Result};

/// One sibling on the way up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TscNode {
    /// A hash (internal byte order).
    Hash([u8; 32]),
    /// `*`: the node itself, duplicated.
    Duplicate,
}

/// A TSC merkle proof of one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TscProof {
    /// The transaction's index in its block.
    pub index: u64,
    /// The transaction it proves.
    pub txid: Txid,
    /// The siblings from the txids up.
    pub nodes: Vec<TscNode>,
}

impl TscProof {
    /// The merkle root the proof leads to.
    pub fn root(&self) -> Result<[u8; 32]> {
        self.check_index(0)?;
        let mut working = self.txid.0;
        for (level, node) in self.nodes.iter().enumerate() {
            let sibling = match node {
                TscNode::Hash(h) => *h,
                TscNode::Duplicate => working,
            };
            let mut both = [0u8; 64];
            if (self.index >> level) & 1 == 1 {
                both[..32].copy_from_slice(&sibling);
                both[32..].copy_from_slice(&working);
            } else {
                both[..32].copy_from_slice(&working);
                both[32..].copy_from_slice(&sibling);
            }
            working = chainlock_protocol::hash::sha256d(&both);
        }
        Ok(working)
    }

    /// The same proof as a BUMP of the block at `block_height` (the height is not in a TSC
    /// proof: the caller finds its block among the headers it trusts).
    pub fn to_merkle_path(&self, block_height: u64) -> Result<MerklePath> {
        self.check_index(block_height)?;
        if self.nodes.is_empty() {
            // The block's only transaction: its txid is the root.
            return Ok(MerklePath {
                block_height,
                levels: vec![vec![PathLeaf {
                    offset: 0,
                    node: PathNode::Txid(self.txid.0),
                }]],
            });
        }
        let mut levels = Vec::with_capacity(self.nodes.len());
        for (level, node) in self.nodes.iter().enumerate() {
            let position = self.index >> level;
            let sibling = PathLeaf {
                offset: position ^ 1,
                node: match node {
                    TscNode::Hash(h) => PathNode::Hash(*h),
                    TscNode::Duplicate => PathNode::Duplicate,
                },
            };
            let mut leaves = vec![sibling];
            if level == 0 {
                leaves.push(PathLeaf {
                    offset: position,
                    node: PathNode::Txid(self.txid.0),
                });
            }
            leaves.sort_by_key(|l| l.offset);
            levels.push(leaves);
        }
        Ok(MerklePath {
            block_height,
            levels,
        })
    }

    /// An index must fit the tree the nodes describe (and a BUMP's 64 levels).
    fn check_index(&self, block_height: u64) -> Result<()> {
        let depth = self.nodes.len();
        if depth > usize::from(crate::merkle::MAX_TREE_HEIGHT) {
            return Err(Error::Path {
                height: block_height,
                reason: format!("a TSC proof of {depth} levels is deeper than any block"),
            });
        }
        if depth < 64 && self.index >> depth != 0 {
            return Err(Error::Path {
                height: block_height,
                reason: format!(
                    "index {} does not fit a tree of {depth} levels: the proof is not of one block",
                    self.index
                ),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle_root;

    fn ids(n: u8) -> Vec<[u8; 32]> {
        (0..n).map(|i| [i + 1; 32]).collect()
    }

    /// The TSC proof of `target` in a block of `txids`, built from our own BUMP.
    fn tsc_of(txids: &[[u8; 32]], target: usize, star_duplicates: bool) -> TscProof {
        let path = MerklePath::from_block(0, txids, &[target]).unwrap();
        let mut nodes = Vec::new();
        let mut working = txids[target];
        for (level, leaves) in path.levels.iter().enumerate() {
            let position = (target as u64) >> level;
            let sib = leaves.iter().find(|l| l.offset == position ^ 1);
            let Some(sib) = sib else { break };
            let hash = match sib.node {
                PathNode::Hash(h) | PathNode::Txid(h) => h,
                PathNode::Duplicate => working,
            };
            nodes.push(match sib.node {
                PathNode::Duplicate if star_duplicates => TscNode::Duplicate,
                _ => TscNode::Hash(hash),
            });
            let mut both = [0u8; 64];
            if position & 1 == 1 {
                both[..32].copy_from_slice(&hash);
                both[32..].copy_from_slice(&working);
            } else {
                both[..32].copy_from_slice(&working);
                both[32..].copy_from_slice(&hash);
            }
            working = chainlock_protocol::hash::sha256d(&both);
        }
        TscProof {
            index: target as u64,
            txid: Txid(txids[target]),
            nodes,
        }
    }

    #[test]
    fn every_position_of_odd_and_even_blocks_converts_to_a_bump_with_the_same_root() {
        for n in [1u8, 2, 3, 5, 8, 11] {
            let txids = ids(n);
            let root = merkle_root(&txids).unwrap();
            for target in 0..usize::from(n) {
                for star in [false, true] {
                    let tsc = tsc_of(&txids, target, star);
                    assert_eq!(tsc.root().unwrap(), root, "n={n} target={target}");
                    let bump = tsc.to_merkle_path(7).unwrap();
                    assert_eq!(bump.block_height, 7);
                    assert!(bump.proves(&Txid(txids[target])));
                    assert_eq!(bump.compute_root(&Txid(txids[target])).unwrap(), root);
                    // And it survives the BUMP encoding.
                    let again = MerklePath::decode(&bump.encode()).unwrap();
                    assert_eq!(again.compute_root(&Txid(txids[target])).unwrap(), root);
                }
            }
        }
    }

    #[test]
    fn a_wrong_node_or_index_leads_elsewhere_or_is_refused() {
        let txids = ids(6);
        let root = merkle_root(&txids).unwrap();
        let mut tsc = tsc_of(&txids, 3, false);
        tsc.nodes[1] = TscNode::Hash([0xee; 32]);
        assert_ne!(tsc.root().unwrap(), root);
        let mut tsc = tsc_of(&txids, 3, false);
        tsc.index = 2;
        assert_ne!(tsc.root().unwrap(), root);
        tsc.index = 1 << 20;
        let err = tsc.to_merkle_path(5).unwrap_err().to_string();
        assert!(err.contains("does not fit"), "{err}");
    }
}
