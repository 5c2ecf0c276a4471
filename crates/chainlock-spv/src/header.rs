//! Bitcoin's 80-byte block header, its hash, and a chain of headers a verifier trusts.
//!
//! Layout (all integers little-endian): version (4), previous block hash (32, internal byte
//! order), merkle root (32, internal byte order), time (4, Unix seconds), bits (4, the
//! compact difficulty target), nonce (4). The block hash is SHA-256d of those 80 bytes,
//! shown byte-reversed as Bitcoin shows it.

use std::fmt;

use chainlock_protocol::encode::Reader;
use chainlock_protocol::hash::sha256d;

use crate::{Error, Result};

/// A block hash, in internal byte order; displayed reversed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct BlockHash(pub [u8; 32]);

impl fmt::Display for BlockHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rev = self.0;
        rev.reverse();
        f.write_str(&hex::encode(rev))
    }
}

impl fmt::Debug for BlockHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlockHash({self})")
    }
}

/// An 80-byte block header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockHeader {
    /// Block version.
    pub version: u32,
    /// The previous block's hash (all zeros for a chain's first block).
    pub prev_hash: BlockHash,
    /// The merkle root of the block's transactions (internal byte order).
    pub merkle_root: [u8; 32],
    /// Block time, Unix seconds.
    pub time: u32,
    /// Compact difficulty target.
    pub bits: u32,
    /// Nonce.
    pub nonce: u32,
}

impl BlockHeader {
    /// Encoded length.
    pub const LEN: usize = 80;

    /// The consensus encoding.
    pub fn encode(&self) -> [u8; 80] {
        let mut out = [0u8; 80];
        out[0..4].copy_from_slice(&self.version.to_le_bytes());
        out[4..36].copy_from_slice(&self.prev_hash.0);
        out[36..68].copy_from_slice(&self.merkle_root);
        out[68..72].copy_from_slice(&self.time.to_le_bytes());
        out[72..76].copy_from_slice(&self.bits.to_le_bytes());
        out[76..80].copy_from_slice(&self.nonce.to_le_bytes());
        out
    }

    /// Decodes exactly 80 bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, "block header");
        let header = BlockHeader {
            version: r.u32("version")?,
            prev_hash: BlockHash(r.array("previous block hash")?),
            merkle_root: r.array("merkle root")?,
            time: r.u32("time")?,
            bits: r.u32("bits")?,
            nonce: r.u32("nonce")?,
        };
        r.finish()?;
        Ok(header)
    }

    /// The block hash: SHA-256d of the 80 bytes.
    pub fn hash(&self) -> BlockHash {
        BlockHash(sha256d(&self.encode()))
    }

    /// The target its compact `bits` encode, as a big-endian 256-bit number; None for a
    /// negative, zero or overflowing encoding (no valid header carries one).
    pub fn target(&self) -> Option<[u8; 32]> {
        let exponent = (self.bits >> 24) as usize;
        let mantissa = self.bits & 0x007f_ffff;
        if self.bits & 0x0080_0000 != 0 || mantissa == 0 {
            return None;
        }
        let bytes = [
            (mantissa >> 16) as u8,
            (mantissa >> 8) as u8,
            mantissa as u8,
        ];
        let mut target = [0u8; 32];
        for (i, b) in bytes.iter().enumerate() {
            // Byte i of the mantissa sits `exponent - 1 - i` bytes above the lowest.
            let Some(above) = exponent.checked_sub(1 + i) else {
                continue; // shifted out below the lowest byte
            };
            if above >= 32 {
                if *b != 0 {
                    return None;
                }
                continue;
            }
            target[31 - above] = *b;
        }
        (target != [0; 32]).then_some(target)
    }

    /// True when the header's hash is at or below the target its bits claim: the work was
    /// done. (Which target a chain must use is a separate question: see ADR 0012.)
    pub fn meets_target(&self) -> bool {
        let Some(target) = self.target() else {
            return false;
        };
        let mut hash = self.hash().0;
        hash.reverse(); // big-endian, as the target
        hash <= target
    }
}

/// Headers from height 0 up, each naming the one before: the best chain as a verifier knows
/// it. Its first header is at height 0 and names no previous block the verifier needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderChain {
    headers: Vec<BlockHeader>,
}

impl HeaderChain {
    /// A chain from headers in height order; refuses headers that do not link.
    pub fn new(headers: Vec<BlockHeader>) -> Result<Self> {
        for (i, pair) in headers.windows(2).enumerate() {
            let expected = pair[0].hash();
            if pair[1].prev_hash != expected {
                return Err(Error::HeadersDoNotLink {
                    height: i as u64 + 1,
                    expected: expected.to_string(),
                    found: pair[1].prev_hash.to_string(),
                });
            }
        }
        Ok(HeaderChain { headers })
    }

    /// Reads a headers file: 80-byte headers back to back, height 0 first.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() % BlockHeader::LEN != 0 {
            return Err(Error::HeadersLength { len: bytes.len() });
        }
        let headers = bytes
            .chunks_exact(BlockHeader::LEN)
            .map(BlockHeader::decode)
            .collect::<Result<Vec<_>>>()?;
        Self::new(headers)
    }

    /// The headers file: every header's 80 bytes, height 0 first.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.headers.iter().flat_map(|h| h.encode()).collect()
    }

    /// The header at `height`, if the chain reaches it.
    pub fn at(&self, height: u64) -> Option<&BlockHeader> {
        usize::try_from(height)
            .ok()
            .and_then(|h| self.headers.get(h))
    }

    /// The number of headers.
    pub fn len(&self) -> usize {
        self.headers.len()
    }

    /// True if there are no headers.
    pub fn is_empty(&self) -> bool {
        self.headers.is_empty()
    }

    /// The headers, height 0 first.
    pub fn headers(&self) -> &[BlockHeader] {
        &self.headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Bitcoin's genesis block header: a real header whose hash everyone knows.
    const GENESIS: &str = "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c";

    #[test]
    fn bitcoin_genesis_header_round_trips_and_hashes() {
        let bytes = hex::decode(GENESIS).unwrap();
        let h = BlockHeader::decode(&bytes).unwrap();
        assert_eq!(h.encode().to_vec(), bytes);
        assert_eq!(h.time, 1_231_006_505);
        assert_eq!(h.bits, 0x1d00_ffff);
        assert_eq!(
            h.hash().to_string(),
            "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
        );
    }

    #[test]
    fn work_is_checked_against_the_target_the_bits_claim() {
        let genesis = BlockHeader::decode(&hex::decode(GENESIS).unwrap()).unwrap();
        let target = genesis.target().unwrap();
        assert_eq!(hex::encode(&target[..6]), "00000000ffff");
        assert!(genesis.meets_target());
        let mut other = genesis;
        other.nonce += 1;
        assert!(!other.meets_target(), "a changed header lost its work");
        other.bits = 0x207f_ffff;
        assert_eq!(hex::encode(&other.target().unwrap()[..4]), "7fffff00");
        for bad in [0x0080_0000u32 | 0x2000_0001, 0x2100_0000, 0x2300_ffff] {
            other.bits = bad;
            assert!(other.target().is_none(), "{bad:08x}");
            assert!(!other.meets_target());
        }
    }

    #[test]
    fn truncated_header_and_unlinked_chain_are_refused() {
        let bytes = hex::decode(GENESIS).unwrap();
        assert!(BlockHeader::decode(&bytes[..79]).is_err());
        let g = BlockHeader::decode(&bytes).unwrap();
        let mut next = g;
        next.prev_hash = g.hash();
        assert_eq!(HeaderChain::new(vec![g, next]).unwrap().len(), 2);
        next.prev_hash = BlockHash([7; 32]);
        let err = HeaderChain::new(vec![g, next]).unwrap_err().to_string();
        assert!(err.contains("header 1 does not follow header 0"), "{err}");
        let err = HeaderChain::from_bytes(&bytes[..79])
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a multiple of 80"), "{err}");
    }
}
