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

/// What `prove` did with one record ref.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proved {
    /// `proof.beef` was added.
    Added,
    /// It already had one.
    Complete,
    /// Its transaction (or the custody transaction) is not in a block yet.
    NotMined,
    /// The ref could not be read or proven, with why.
    Failed(String),
}

/// Adds `proof.beef` to every record ref of the mirror that lacks one and whose transaction
/// is mined (on the local chain, mined now at `now`), as a child commit of the ref.
pub fn prove_all(chain: &dyn Chain, coord: &Coord, now: u64) -> Result<Vec<(String, Proved)>> {
    let mut out = Vec::new();
    // Mined once, and only when a bundle lacks its proof: no empty blocks for nothing.
    let mut mined = false;
    for (name, oid) in coord.refs()? {
        let Some(digest) = name.strip_prefix(RECORD_REFS) else {
            continue;
        };
        let digest = digest.to_string();
        if coord.read_file(oid, "proof.beef").is_ok() {
            out.push((digest, Proved::Complete));
            continue;
        }
        let read = |file: &str| {
            coord
                .read_file(oid, file)
                .map_err(|e| format!("{file}: {e}"))
        };
        let parts = read("record.json").and_then(|record| {
            let tx_hex = read("tx.hex")?;
            let text = String::from_utf8(tx_hex).map_err(|_| "tx.hex is not text".to_string())?;
            let tx = Transaction::from_hex(text.trim()).map_err(|e| format!("tx.hex: {e}"))?;
            Ok((record, tx))
        });
        let (record, tx) = match parts {
            Ok(p) => p,
            Err(e) => {
                out.push((digest, Proved::Failed(e)));
                continue;
            }
        };
        if !mined {
            chain.mine_pending(now)?;
            mined = true;
        }
        match record_beef(chain, &tx) {
            Ok(Some(beef)) => {
                let beef = beef.encode()?;
                coord.publish_on(
                    &name,
                    oid,
                    &[
                        ("record.json", &record),
                        ("tx.hex", tx.to_hex().as_bytes()),
                        ("proof.beef", &beef),
                    ],
                    "chainlock: proof",
                )?;
                out.push((digest, Proved::Added));
            }
            Ok(None) => out.push((digest, Proved::NotMined)),
            Err(e) => out.push((digest, Proved::Failed(e.to_string()))),
        }
    }
    Ok(out)
}
