//! A record's verification bundle, as `refs/chainlock/record/<digest>` holds it (PROTOCOL.md
//! section 8): `record.json`, `tx.hex` and, once the transaction is mined, `proof.beef`.

use chainlock_chain::proof::record_beef;
use chainlock_chain::Chain;
use chainlock_protocol::tx::Transaction;

use chainlock_spv::bundle::Bundle;

use crate::coord::Coord;
use crate::Result;

/// Prefix of the record refs.
pub const RECORD_REFS: &str = "refs/chainlock/record/";

/// Every record ref in a coordination mirror, each read as a bundle or with why it cannot be
/// (a file missing, such as `proof.beef` before the transaction is mined, or malformed).
pub fn read_bundles(coord: &Coord) -> Result<Vec<(String, std::result::Result<Bundle, String>)>> {
    let mut out = Vec::new();
    for (name, oid) in coord.refs()? {
        let Some(digest) = name.strip_prefix(RECORD_REFS) else {
            continue;
        };
        let read = |file: &str| {
            coord
                .read_file(oid, file)
                .map_err(|e| format!("{file}: {e}"))
        };
        let bundle = (|| {
            let [record, tx, beef] = Bundle::FILES;
            Bundle::from_files(read(record)?, &read(tx)?, &read(beef)?)
        })();
        out.push((digest.to_string(), bundle));
    }
    Ok(out)
}

/// The files of a record's bundle. On a chain this machine mines (the local chain) the
/// record transaction is mined first, at `now`; on a network, `proof.beef` joins once a
/// block holds the transaction.
pub fn record_bundle(
    chain: &dyn Chain,
    record_json: &[u8],
    tx: &Transaction,
    now: u64,
) -> Result<Vec<(&'static str, Vec<u8>)>> {
    chain.mine_pending(now)?;
    let mut files = vec![
        ("record.json", record_json.to_vec()),
        ("tx.hex", tx.to_hex().into_bytes()),
    ];
    if let Some(beef) = record_beef(chain, tx)? {
        files.push(("proof.beef", beef.encode()?));
    }
    Ok(files)
}
