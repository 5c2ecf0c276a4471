//! Record contents for the network chain: the record refs (`refs/chainlock/record/<digest>`)
//! of the watched packages' coordination mirrors, as `chainlock sync` last fetched them. The
//! network chain trusts none of it: it keeps a record only when the network holds its
//! transaction, committing to it and signed under the policy in force (ADR 0012).

use chainlock_chain::network::{Candidate, RecordSource};
use chainlock_chain::PackageId;
use chainlock_protocol::record::Record;
use chainlock_protocol::tx::Transaction;

use crate::bundle::RECORD_REFS;
use crate::config::{Config, Paths};
use crate::coord::Coord;

/// The record refs of the coordination mirrors of this workspace's watched packages.
#[derive(Debug, Clone)]
pub struct MirrorRecords {
    paths: Paths,
}

impl MirrorRecords {
    /// The mirrors under `paths` (the watched packages are read from the configuration on
    /// every call, so a package watched later is seen).
    pub fn new(paths: Paths) -> Self {
        MirrorRecords { paths }
    }
}

impl RecordSource for MirrorRecords {
    fn describe(&self) -> String {
        format!(
            "the record refs of the coordination mirrors in {}",
            self.paths.data_dir.join("coordination").display()
        )
    }

    fn candidates(&self, package: &PackageId) -> Result<Vec<Candidate>, String> {
        let config = Config::load(&self.paths.config_file()).map_err(|e| e.to_string())?;
        let name = package.to_string();
        let mut out = Vec::new();
        for watched in config.packages.iter().filter(|w| w.package == name) {
            let mirror = self.paths.mirror(&watched.package);
            if !mirror.exists() {
                continue;
            }
            let coord = Coord::open(&mirror, &watched.remote).map_err(|e| e.to_string())?;
            for (ref_name, oid) in coord.refs().map_err(|e| e.to_string())? {
                if !ref_name.starts_with(RECORD_REFS) {
                    continue;
                }
                // A ref that does not read is no candidate; the chain decides about the rest.
                let record = coord
                    .read_file(oid, "record.json")
                    .ok()
                    .and_then(|b| Record::from_json(&b).ok());
                let tx = coord
                    .read_file(oid, "tx.hex")
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .and_then(|t| Transaction::from_hex(t.trim()).ok());
                if let (Some(record), Some(tx)) = (record, tx) {
                    out.push(Candidate { record, tx });
                }
            }
        }
        Ok(out)
    }
}
