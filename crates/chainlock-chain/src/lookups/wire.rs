//! The JSON WhatsOnChain answers with (`docs/lookups.md` lists the endpoints and shapes), read
//! into ChainLock's types. Reading is not trusting: the caller checks every answer it can.

use chainlock_protocol::tx::Txid;
use chainlock_spv::{BlockHash, BlockHeader, TscNode, TscProof};
use serde::Deserialize;
use serde_json::Value;

/// `GET /tx/{txid}/{vout}/spent`: where an output was spent.
#[derive(Debug, Clone, Deserialize)]
pub struct SpentAnswer {
    /// The spending transaction.
    pub txid: String,
    /// Its input that spends the output.
    pub vin: u32,
}

/// One output of `GET /script/{scripthash}/unspent/all`.
#[derive(Debug, Clone, Deserialize)]
pub struct UnspentAnswer {
    /// The transaction that created it.
    pub tx_hash: String,
    /// Its index.
    pub tx_pos: u32,
    /// Its value, satoshis.
    pub value: u64,
    /// The block height, for confirmed outputs.
    #[serde(default)]
    pub height: Option<u64>,
    /// Whether a transaction in the mempool already spends it.
    #[serde(default, rename = "isSpentInMempoolTx")]
    pub spent_in_mempool: bool,
}

/// A list answer: `{"result": [...]}` (`/unspent/all`, `/history`), or the older bare array.
pub fn result_list<T: serde::de::DeserializeOwned>(v: Value) -> Result<Vec<T>, String> {
    let list = match v {
        Value::Array(_) => v,
        Value::Object(mut o) => o.remove("result").unwrap_or(Value::Array(vec![])),
        _ => return Err("neither a list nor an object with `result`".into()),
    };
    serde_json::from_value(list).map_err(|e| e.to_string())
}

/// One transaction of `GET /script/{scripthash}/history`.
#[derive(Debug, Clone, Deserialize)]
pub struct HistoryAnswer {
    /// The transaction.
    pub tx_hash: String,
}

/// `GET /chain/info`: the tip.
#[derive(Debug, Clone, Deserialize)]
pub struct ChainInfo {
    /// The tip's height.
    pub blocks: u64,
    /// The tip's hash.
    pub bestblockhash: String,
}

/// A block or header answer (`/block/height/{h}`, `/block/{hash}/header`): the fields of the
/// 80-byte header, the hash the server says it has, and its height.
#[derive(Debug, Clone, Deserialize)]
pub struct HeaderAnswer {
    /// The block hash, as the server claims it.
    pub hash: String,
    /// The height.
    pub height: u64,
    /// The version.
    pub version: i64,
    /// The merkle root (display hex).
    pub merkleroot: String,
    /// Unix seconds.
    pub time: u32,
    /// The compact target, hex.
    pub bits: String,
    /// The nonce.
    pub nonce: u32,
    /// The previous block's hash (absent at height 0).
    #[serde(default)]
    pub previousblockhash: Option<String>,
}

/// A hash shown reversed (block hashes, merkle roots, txids), in internal byte order.
pub fn display_hash(text: &str) -> Result<[u8; 32], String> {
    let mut bytes: [u8; 32] = hex::decode(text)
        .map_err(|e| format!("{text:.80} is not hex: {e}"))?
        .try_into()
        .map_err(|_| format!("{text:.80} is not 32 bytes"))?;
    bytes.reverse();
    Ok(bytes)
}

impl HeaderAnswer {
    /// The 80-byte header these fields make, refused unless it hashes to the hash claimed.
    pub fn header(&self) -> Result<BlockHeader, String> {
        let header = BlockHeader {
            version: u32::try_from(self.version & 0xffff_ffff).map_err(|e| e.to_string())?,
            prev_hash: BlockHash(match &self.previousblockhash {
                Some(p) if !p.is_empty() => display_hash(p)?,
                _ => [0; 32],
            }),
            merkle_root: display_hash(&self.merkleroot)?,
            time: self.time,
            bits: u32::from_str_radix(&self.bits, 16)
                .map_err(|e| format!("bits {:.20} is not hex: {e}", self.bits))?,
            nonce: self.nonce,
        };
        let claimed = BlockHash(display_hash(&self.hash)?);
        if header.hash() != claimed {
            return Err(format!(
                "the header's fields hash to {}, not the {} it claims",
                header.hash(),
                claimed
            ));
        }
        Ok(header)
    }
}

/// What a TSC proof is anchored to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TscTarget {
    /// A block hash (WhatsOnChain's default).
    BlockHash(BlockHash),
    /// A whole header.
    Header(BlockHeader),
    /// A merkle root.
    MerkleRoot([u8; 32]),
}

/// `GET /tx/{txid}/proof/tsc`: one TSC proof object, or a list holding one (WhatsOnChain has
/// served both); `null` or an empty list when the transaction is not in a block.
pub fn tsc_proof(v: Value) -> Result<Option<(TscProof, TscTarget)>, String> {
    let v = match v {
        Value::Null => return Ok(None),
        Value::Array(mut list) => match list.len() {
            0 => return Ok(None),
            1 => list.remove(0),
            n => return Err(format!("{n} proofs for one transaction")),
        },
        other => other,
    };
    let index = v["index"].as_u64().ok_or("no integer `index`")?;
    let tx_or_id = v["txOrId"].as_str().ok_or("no `txOrId`")?;
    let txid = if tx_or_id.len() == 64 {
        Txid(display_hash(tx_or_id)?)
    } else {
        chainlock_protocol::tx::Transaction::from_hex(tx_or_id)
            .map_err(|e| format!("txOrId is neither a txid nor a transaction: {e}"))?
            .txid()
    };
    let target = v["target"].as_str().ok_or("no `target`")?;
    let target = match v["targetType"].as_str().unwrap_or("hash") {
        "hash" => TscTarget::BlockHash(BlockHash(display_hash(target)?)),
        "merkleRoot" => TscTarget::MerkleRoot(display_hash(target)?),
        "header" => TscTarget::Header(
            hex::decode(target)
                .ok()
                .and_then(|b| BlockHeader::decode(&b).ok())
                .ok_or("target is not an 80-byte header")?,
        ),
        other => {
            return Err(format!(
                "targetType {other:.40} is not hash, header or merkleRoot"
            ))
        }
    };
    if v["composite"].as_bool() == Some(true) {
        return Err("composite proofs are not read".into());
    }
    let nodes = v["nodes"]
        .as_array()
        .ok_or("no `nodes` list")?
        .iter()
        .map(|n| match n.as_str() {
            Some("*") => Ok(TscNode::Duplicate),
            Some(h) => display_hash(h).map(TscNode::Hash),
            None => Err("a node that is not a string".to_string()),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some((TscProof { index, txid, nodes }, target)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Bitcoin's genesis block, as a block answer gives it.
    fn genesis_answer() -> HeaderAnswer {
        serde_json::from_value(json!({
            "hash": "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
            "height": 0, "version": 1,
            "merkleroot": "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b",
            "time": 1231006505, "bits": "1d00ffff", "nonce": 2083236893,
            "confirmations": 900000, "chainwork": "0000000000000000000000000000000000000000000000000000000100010001"
        }))
        .unwrap()
    }

    #[test]
    fn a_header_answer_becomes_the_header_it_claims_or_is_refused() {
        let header = genesis_answer().header().unwrap();
        assert_eq!(header.hash().to_string(), genesis_answer().hash);
        assert!(header.meets_target());
        let mut bent = genesis_answer();
        bent.nonce += 1;
        let err = bent.header().unwrap_err();
        assert!(err.contains("hash to"), "{err}");
        bent = genesis_answer();
        bent.bits = "zz".into();
        assert!(bent.header().unwrap_err().contains("not hex"));
    }

    #[test]
    fn tsc_proofs_read_in_every_shape_whatsonchain_serves() {
        let txid = "ab".repeat(32);
        let node = "cd".repeat(32);
        let target = "00".repeat(31) + "01";
        let one = json!({"index": 1, "txOrId": txid, "target": target, "nodes": [node, "*"]});
        let (p, t) = tsc_proof(one.clone()).unwrap().unwrap();
        assert_eq!(p.index, 1);
        assert_eq!(p.txid.to_string(), txid);
        assert_eq!(p.nodes.len(), 2);
        assert_eq!(p.nodes[1], TscNode::Duplicate);
        assert!(matches!(t, TscTarget::BlockHash(h) if h.to_string() == target));
        // A list holding one, and the unmined answers.
        assert_eq!(tsc_proof(json!([one.clone()])).unwrap().unwrap().0, p);
        assert!(tsc_proof(Value::Null).unwrap().is_none());
        assert!(tsc_proof(json!([])).unwrap().is_none());
        assert!(tsc_proof(json!([one.clone(), one.clone()])).is_err());
        // Other targets.
        let mut root = one.clone();
        root["targetType"] = json!("merkleRoot");
        assert!(matches!(
            tsc_proof(root).unwrap().unwrap().1,
            TscTarget::MerkleRoot(_)
        ));
        let mut header = one.clone();
        header["targetType"] = json!("header");
        header["target"] = json!("01".repeat(80));
        assert!(matches!(
            tsc_proof(header.clone()).unwrap().unwrap().1,
            TscTarget::Header(_)
        ));
        header["target"] = json!("01".repeat(79));
        assert!(tsc_proof(header).is_err());
        // A full transaction instead of its id: the id is its hash.
        let tx = chainlock_protocol::tx::Transaction {
            version: 1,
            inputs: vec![],
            outputs: vec![],
            lock_time: 0,
        };
        let mut full = one.clone();
        full["txOrId"] = json!(tx.to_hex());
        assert_eq!(tsc_proof(full).unwrap().unwrap().0.txid, tx.txid());
        // Malformed: refused, never guessed.
        for bad in [
            json!({"txOrId": txid, "target": target, "nodes": []}),
            json!({"index": 0, "txOrId": txid, "target": target, "nodes": ["xyz"]}),
            json!({"index": 0, "txOrId": txid, "target": target, "nodes": [], "composite": true}),
            json!({"index": 0, "txOrId": txid, "target": target, "targetType": "other", "nodes": []}),
        ] {
            assert!(tsc_proof(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn unspent_lists_read_in_both_shapes() {
        let item = json!({"tx_hash": "ab".repeat(32), "tx_pos": 1, "value": 5, "height": 7});
        assert_eq!(
            result_list::<UnspentAnswer>(json!([item.clone()]))
                .unwrap()
                .len(),
            1
        );
        let all = result_list::<UnspentAnswer>(json!({"result": [item], "error": ""})).unwrap();
        assert_eq!(
            (all[0].tx_pos, all[0].value, all[0].height),
            (1, 5, Some(7))
        );
        assert!(result_list::<UnspentAnswer>(json!("nope")).is_err());
    }
}
