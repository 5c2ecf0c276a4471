//! `prove`: verification bundles completed once their transactions are mined.

use super::Workspace;
use crate::bundle::{prove_all, Proved};
use crate::Result;

impl Workspace {
    /// For every watched package, adds `proof.beef` to each record ref whose transaction is
    /// mined and that lacks one (a ref finalized on a network backend before its block, or
    /// by an older chainlock); returns (package, record digest, what happened).
    pub fn prove(&self, now: u64) -> Result<Vec<(String, String, Proved)>> {
        let mut out = Vec::new();
        for watched in &self.config.packages {
            let coord = self.coord(watched)?;
            coord.sync()?;
            for (digest, proved) in prove_all(self.chain.as_ref(), &coord, now)? {
                out.push((watched.package.clone(), digest, proved));
            }
        }
        Ok(out)
    }
}
