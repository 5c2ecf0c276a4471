//! SPV data for ChainLock, with no I/O: what a consumer needs to check a release offline.
//!
//! Design goals:
//! - **The network's own formats.** Block headers are Bitcoin's 80 bytes, merkle paths are
//!   BUMPs (BRC-74) and transactions travel with their paths as BEEF (BRC-62, and BRC-96 read
//!   and written too), so any BSV wallet or library can read what ChainLock writes, and
//!   ChainLock reads what they write, byte for byte.
//! - **Hostile input never panics.** Every decoder bounds its allocations by the input's size
//!   and says where it stopped; a merkle path that does not lead to a root says why.
//! - **Verification needs only headers.** [`bundle::verify_chain`] checks a package's record
//!   bundles against a header chain a consumer already has: no node, no network.

// Tests may panic on setup failures; the library itself may not.
#![cfg_attr(test, allow(clippy::expect_used, clippy::unwrap_used))]

pub mod beef;
pub mod bundle;
pub mod error;
pub mod header;
pub mod merkle;
pub mod tsc;

pub use beef::{Beef, BeefTx, BeefVersion};
pub use error::{Error, Result};
pub use header::{BlockHash, BlockHeader, HeaderChain};
pub use merkle::{merkle_root, MerklePath, PathLeaf, PathNode};
pub use tsc::{TscNode, TscProof};
