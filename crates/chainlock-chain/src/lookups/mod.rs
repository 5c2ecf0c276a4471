//! A WhatsOnChain-style lookup client: a transaction's raw bytes, its merkle proof (TSC),
//! whether an output is spent, the unspent outputs of a script, and block headers
//! (`docs/lookups.md` lists the endpoints and the answers followed).
//!
//! Nothing a lookup says that can be checked is taken on trust: a transaction must hash to
//! the txid asked for, a header's fields must hash to the hash claimed, a spend must come with
//! a spending transaction whose input really spends the output, an unspent output must be in
//! the transaction that created it. Merkle proofs are checked against headers by the
//! [`NetworkChain`](crate::network::NetworkChain), which holds the header chain. A lie is an
//! [`Error::Untrusted`] that names the server and says what was wrong.

pub mod wire;

use chainlock_protocol::hash::sha256;
use chainlock_protocol::script::Script;
use chainlock_protocol::tx::{OutPoint, Transaction, TxOut, Txid};
use chainlock_spv::{BlockHash, BlockHeader, TscProof};
use serde::de::DeserializeOwned;

use crate::http::{HttpClient, Retry};
use crate::{Error, Result};
pub use wire::TscTarget;

/// How to reach a lookup server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupConfig {
    /// The API's base for one chain and network, such as
    /// `https://api.whatsonchain.com/v1/bsv/main`.
    pub url: String,
    /// Retries and timeouts.
    pub retry: Retry,
}

impl LookupConfig {
    /// Defaults for `url` (the retry defaults of [`Retry`]).
    pub fn new(url: &str) -> Self {
        LookupConfig {
            url: url.trim_end_matches('/').to_string(),
            retry: Retry::default(),
        }
    }
}

/// An unspent output as a lookup server lists it, checked against its transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unspent {
    /// Where.
    pub outpoint: OutPoint,
    /// The output, from the transaction itself.
    pub output: TxOut,
    /// The block height, once confirmed.
    pub height: Option<u64>,
}

/// A client of one lookup server.
#[derive(Debug)]
pub struct Lookups {
    http: HttpClient,
}

/// The ElectrumX-style script hash WhatsOnChain indexes scripts by: SHA-256 of the locking
/// script, shown byte-reversed.
pub fn script_hash(script: &Script) -> String {
    let mut h = sha256(script.as_bytes());
    h.reverse();
    hex::encode(h)
}

impl Lookups {
    /// A client for `config.url` (http or https).
    pub fn new(config: LookupConfig) -> Result<Self> {
        let http = HttpClient::new(&config.url, Vec::new(), config.retry).ok_or_else(|| {
            Error::LookupUrl {
                url: config.url.chars().take(200).collect(),
            }
        })?;
        Ok(Lookups { http })
    }

    /// The server's base URL.
    pub fn url(&self) -> &str {
        self.http.url()
    }

    /// `GET /tx/{txid}/hex`: the transaction, None when the server does not know it; refused
    /// unless it hashes to `txid`.
    pub fn transaction(&self, txid: &Txid) -> Result<Option<Transaction>> {
        let action = "GET /tx/{txid}/hex";
        let Some(text) = self.text(action, &format!("/tx/{txid}/hex"))? else {
            return Ok(None);
        };
        let tx = Transaction::from_hex(text.trim()).map_err(|e| {
            self.lie(
                format!("transaction {txid}"),
                format!("its answer is not a transaction: {e}"),
            )
        })?;
        if tx.txid() != *txid {
            return Err(self.lie(
                format!("transaction {txid}"),
                format!(
                    "it served transaction {}, whose hash is not the txid asked for",
                    tx.txid()
                ),
            ));
        }
        Ok(Some(tx))
    }

    /// `GET /tx/{txid}/proof/tsc`: the TSC proof and its target, None while unmined; refused
    /// when it proves another transaction. The caller checks it against its headers.
    pub fn tsc_proof(&self, txid: &Txid) -> Result<Option<(TscProof, TscTarget)>> {
        let action = "GET /tx/{txid}/proof/tsc";
        let Some(v) = self.json::<serde_json::Value>(action, &format!("/tx/{txid}/proof/tsc"))?
        else {
            return Ok(None);
        };
        let proof =
            wire::tsc_proof(v).map_err(|e| self.lie(format!("the merkle proof of {txid}"), e))?;
        if let Some((p, _)) = &proof {
            if p.txid != *txid {
                return Err(self.lie(
                    format!("the merkle proof of {txid}"),
                    format!("it proves transaction {}", p.txid),
                ));
            }
        }
        Ok(proof)
    }

    /// `GET /tx/{txid}/{vout}/spent`: the transaction spending `outpoint`, None when unspent;
    /// refused unless that transaction (fetched and hashed) really spends it.
    pub fn spent_by(&self, outpoint: &OutPoint) -> Result<Option<Txid>> {
        let action = "GET /tx/{txid}/{vout}/spent";
        let path = format!("/tx/{}/{}/spent", outpoint.txid, outpoint.vout);
        let Some(answer) = self.json::<wire::SpentAnswer>(action, &path)? else {
            return Ok(None);
        };
        let what = format!("the spend of {outpoint}");
        let by = wire::display_hash(&answer.txid)
            .map(Txid)
            .map_err(|e| self.lie(what.clone(), e))?;
        let spender = self.transaction(&by)?.ok_or_else(|| {
            self.lie(
                what.clone(),
                format!("it names {by} as the spender but does not serve it"),
            )
        })?;
        let spends = spender
            .inputs
            .get(answer.vin as usize)
            .is_some_and(|i| i.prevout == *outpoint);
        if !spends {
            return Err(self.lie(
                what,
                format!("input {} of {by} does not spend it", answer.vin),
            ));
        }
        Ok(Some(by))
    }

    /// `GET /script/{scripthash}/unspent/all`: the unspent outputs paying to `script`,
    /// confirmed and not, each checked against its transaction; outputs a mempool transaction
    /// already spends are left out.
    pub fn unspent(&self, script: &Script) -> Result<Vec<Unspent>> {
        let action = "GET /script/{scripthash}/unspent/all";
        let path = format!("/script/{}/unspent/all", script_hash(script));
        let Some(v) = self.json::<serde_json::Value>(action, &path)? else {
            return Ok(Vec::new());
        };
        let what = || format!("the unspent outputs of script {}", script_hash(script));
        let list = wire::result_list::<wire::UnspentAnswer>(v).map_err(|e| self.lie(what(), e))?;
        let mut out = Vec::new();
        for u in list.into_iter().filter(|u| !u.spent_in_mempool) {
            let txid = wire::display_hash(&u.tx_hash)
                .map(Txid)
                .map_err(|e| self.lie(what(), e))?;
            let outpoint = OutPoint {
                txid,
                vout: u.tx_pos,
            };
            let tx = self.transaction(&txid)?.ok_or_else(|| {
                self.lie(
                    what(),
                    format!("it lists {outpoint} but does not serve {txid}"),
                )
            })?;
            let output = tx
                .outputs
                .get(u.tx_pos as usize)
                .filter(|o| o.script_pubkey == *script && o.value == u.value)
                .ok_or_else(|| {
                    self.lie(
                        what(),
                        format!(
                            "{outpoint} does not pay {} satoshis to that script",
                            u.value
                        ),
                    )
                })?
                .clone();
            out.push(Unspent {
                outpoint,
                output,
                height: u.height.filter(|h| *h > 0),
            });
        }
        Ok(out)
    }

    /// `GET /script/{scripthash}/history`: the transactions paying to (or spending from)
    /// `script`, each fetched and checked by its hash; only those with an output paying to
    /// `script` are returned (the outputs' spends are asked with [`Lookups::spent_by`]).
    pub fn funding_history(&self, script: &Script) -> Result<Vec<Transaction>> {
        let action = "GET /script/{scripthash}/history";
        let path = format!("/script/{}/history", script_hash(script));
        let Some(v) = self.json::<serde_json::Value>(action, &path)? else {
            return Ok(Vec::new());
        };
        let what = || format!("the history of script {}", script_hash(script));
        let list = wire::result_list::<wire::HistoryAnswer>(v).map_err(|e| self.lie(what(), e))?;
        let mut out: Vec<Transaction> = Vec::new();
        for item in list {
            let txid = wire::display_hash(&item.tx_hash)
                .map(Txid)
                .map_err(|e| self.lie(what(), e))?;
            if out.iter().any(|t| t.txid() == txid) {
                continue;
            }
            let tx = self.transaction(&txid)?.ok_or_else(|| {
                self.lie(what(), format!("it lists {txid} but does not serve it"))
            })?;
            if tx.outputs.iter().any(|o| o.script_pubkey == *script) {
                out.push(tx);
            }
        }
        Ok(out)
    }

    /// `GET /chain/info`: the tip's height and hash.
    pub fn tip(&self) -> Result<(u64, BlockHash)> {
        let action = "GET /chain/info";
        let info: wire::ChainInfo = self
            .json(action, "/chain/info")?
            .ok_or_else(|| self.http.answer_error(action, "404: no chain info".into()))?;
        let hash = wire::display_hash(&info.bestblockhash)
            .map_err(|e| self.lie("the chain tip".into(), e))?;
        Ok((info.blocks, BlockHash(hash)))
    }

    /// `GET /block/height/{height}`: the header at `height`, refused unless its fields hash
    /// to the hash the server gives and the height is the one asked for.
    pub fn header_at(&self, height: u64) -> Result<BlockHeader> {
        let action = "GET /block/height/{height}";
        let answer: wire::HeaderAnswer = self
            .json(action, &format!("/block/height/{height}"))?
            .ok_or_else(|| {
                self.http
                    .answer_error(action, format!("404: no block at height {height}"))
            })?;
        let what = format!("the header at height {height}");
        if answer.height != height {
            return Err(self.lie(what, format!("it answered with height {}", answer.height)));
        }
        answer.header().map_err(|e| self.lie(what, e))
    }

    /// `GET /block/{hash}/header`: the header and its height, None for an unknown block;
    /// refused unless its fields hash to `hash`.
    pub fn header_by_hash(&self, hash: &BlockHash) -> Result<Option<(u64, BlockHeader)>> {
        let action = "GET /block/{hash}/header";
        let Some(answer) =
            self.json::<wire::HeaderAnswer>(action, &format!("/block/{hash}/header"))?
        else {
            return Ok(None);
        };
        let header = answer
            .header()
            .map_err(|e| self.lie(format!("block {hash}"), e))?;
        if header.hash() != *hash {
            return Err(self.lie(
                format!("block {hash}"),
                format!("it served block {}", header.hash()),
            ));
        }
        Ok(Some((answer.height, header)))
    }

    /// A lie caught: what was asked about, and what was wrong.
    pub(crate) fn lie(&self, what: String, reason: String) -> Error {
        Error::Untrusted {
            url: self.url().to_string(),
            what,
            reason,
        }
    }

    /// The body of a 200, None for a 404, an error otherwise.
    fn text(&self, action: &'static str, path: &str) -> Result<Option<String>> {
        let (status, body) = self.http.get(action, path)?;
        match status {
            200 => Ok(Some(body)),
            404 => Ok(None),
            _ => Err(self.http.answer_error(
                action,
                format!(
                    "HTTP {status}: {}",
                    body.chars().take(300).collect::<String>()
                ),
            )),
        }
    }

    fn json<T: DeserializeOwned>(&self, action: &'static str, path: &str) -> Result<Option<T>> {
        let Some(body) = self.text(action, path)? else {
            return Ok(None);
        };
        serde_json::from_str(&body).map(Some).map_err(|e| {
            self.http.answer_error(
                action,
                format!("the answer is not the JSON WhatsOnChain gives: {e}"),
            )
        })
    }
}
