//! A record's verification bundle, as `refs/chainlock/record/<digest>` holds it (PROTOCOL.md
//! section 8): `record.json`, `tx.hex` and, once the transaction is mined, `proof.beef`.

use chainlock_chain::proof::record_beef;
use chainlock_chain::Chain;
use chainlock_protocol::tx::Transaction;

use crate::Result;

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
