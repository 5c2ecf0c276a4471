//! A fake BSV network on 127.0.0.1: ARC (`/v1/tx`, `/v1/tx/{txid}`, `/v1/policy`, each request
//! and response checked against arc.yaml) and WhatsOnChain-style lookups (`/v1/bsv/test/...`,
//! the shapes of `docs/lookups.md`) over one local chain that mines real headers and merkle
//! roots. Every transaction posted is judged input by input by @bsv/sdk before the chain
//! relays it. `lie` makes the lookups lie in one way, to see the client refuse it.

use std::io::BufReader;
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use chainlock_chain::lookups::script_hash;
use chainlock_chain::{Broadcast, Chain, Error, LocalLedger, OutputState, TxStatus};
use chainlock_protocol::script::Script;
use chainlock_protocol::tx::{OutPoint, SpentOutput, Transaction, Txid};
use chainlock_spv::{BlockHeader, HeaderChain, MerklePath, PathNode};
use serde_json::{json, Value};

use crate::arc_server::{
    decode_ef, problem, read_request, with_submit, write_response, Doc, HttpRequest, NOW,
};

/// How the lookups lie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lie {
    /// `/tx/{txid}/hex` serves another transaction.
    WrongTx,
    /// `/proof/tsc` changes a node.
    BadProof,
    /// `/proof/tsc` names a block that is not on the chain.
    UnknownBlock,
    /// The tip's header names another previous block (its own hash recomputed).
    UnlinkedHeader,
    /// A header's merkle root changed, its claimed hash kept.
    ForgedHeader,
    /// The tip's header with a nonce whose hash misses the target (its hash recomputed).
    NoWork,
    /// `/spent` names an input that does not spend the output.
    WrongSpender,
    /// `/unspent/all` lists an output with a value it does not have.
    WrongValue,
}

#[derive(Default)]
pub struct NetState {
    pub requests: Vec<HttpRequest>,
    pub violations: Vec<String>,
    pub lie: Option<Lie>,
    pub drop_next: u32,
    pub judged: usize,
    /// Another chain the lookups answer from (a reorganisation, seen from the client).
    pub serve_from: Option<Arc<LocalLedger>>,
}

/// The fake network.
pub struct FakeNetwork {
    pub url: String,
    pub ledger: Arc<LocalLedger>,
    pub state: Arc<Mutex<NetState>>,
    _dir: tempfile::TempDir,
}

const WOC: &str = "/v1/bsv/test";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

impl FakeNetwork {
    /// A network with one block (height 0) mined.
    pub fn start() -> FakeNetwork {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Arc::new(LocalLedger::open(&dir.path().join("network.sqlite")).unwrap());
        ledger.mine(now()).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(NetState::default()));
        let doc = Arc::new(Doc::load());
        let (s, l) = (state.clone(), ledger.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (s, l, doc) = (s.clone(), l.clone(), doc.clone());
                std::thread::spawn(move || serve(stream, &s, &l, &doc));
            }
        });
        FakeNetwork {
            url,
            ledger,
            state,
            _dir: dir,
        }
    }

    /// The lookups' base URL (chain and network included, as WhatsOnChain's).
    pub fn lookups_url(&self) -> String {
        format!("{}{WOC}", self.url)
    }

    /// Coins from elsewhere, paying `script`: a faucet transaction, mined.
    pub fn coins(&self, script: &Script, satoshis: u64) -> Transaction {
        let tx = self.ledger.faucet(script, satoshis).unwrap();
        self.mine();
        tx
    }

    /// Mines what waits; the new block's height.
    pub fn mine(&self) -> u64 {
        let tip = self.ledger.headers().unwrap();
        let time = tip
            .headers()
            .last()
            .map_or(now(), |h| u64::from(h.time).max(now()));
        self.ledger.mine(time).unwrap().height
    }

    pub fn headers(&self) -> HeaderChain {
        self.ledger.headers().unwrap()
    }

    pub fn lie(&self, lie: Option<Lie>) {
        self.state.lock().unwrap().lie = lie;
    }

    pub fn violations(&self) -> Vec<String> {
        self.state.lock().unwrap().violations.clone()
    }

    /// How many transactions @bsv/sdk judged valid before the network relayed them.
    pub fn judged(&self) -> usize {
        self.state.lock().unwrap().judged
    }
}

fn serve(stream: TcpStream, state: &Mutex<NetState>, ledger: &LocalLedger, doc: &Doc) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    while let Some(req) = read_request(&mut reader) {
        {
            let mut st = state.lock().unwrap();
            st.requests.push(req.clone());
            if st.drop_next > 0 {
                st.drop_next -= 1;
                return;
            }
        }
        let (status, ct, text) = if let Some(path) = req.path.strip_prefix(WOC) {
            let (lie, other) = {
                let st = state.lock().unwrap();
                (st.lie, st.serve_from.clone())
            };
            let (status, text) = lookup(&req.method, path, other.as_deref().unwrap_or(ledger), lie);
            let ct = if path.ends_with("/hex") {
                "text/plain"
            } else {
                "application/json"
            };
            (status, ct, text)
        } else {
            let (status, v) = match doc.check_request(&req) {
                Err(v) => {
                    state
                        .lock()
                        .unwrap()
                        .violations
                        .push(format!("request: {v}"));
                    (400, problem(400, "Bad request", &v))
                }
                Ok(template) => {
                    let (status, v) = arc(&req, &template, state, ledger);
                    if let Err(e) = doc.check_response(&req.method, &template, status, &v) {
                        state
                            .lock()
                            .unwrap()
                            .violations
                            .push(format!("response: {e}"));
                    }
                    (status, v)
                }
            };
            (status, "application/json", v.to_string())
        };
        if !write_response(&mut stream, status, ct, &text) {
            return;
        }
    }
}

fn arc_status(ledger: &LocalLedger, txid: &Txid) -> Option<Value> {
    let mut v = json!({"timestamp": NOW, "txid": txid.to_string()});
    match ledger.tx_status(txid).unwrap() {
        TxStatus::Unknown | TxStatus::Rejected { .. } => return None,
        TxStatus::Accepted => v["txStatus"] = json!("SEEN_ON_NETWORK"),
        TxStatus::Mined { height, .. } => {
            let path = ledger.merkle_path(txid).unwrap().unwrap();
            let header = ledger.headers().unwrap().at(height).copied().unwrap();
            v["txStatus"] = json!("MINED");
            v["blockHeight"] = json!(height);
            v["blockHash"] = json!(header.hash().to_string());
            v["merklePath"] = json!(hex::encode(path.encode()));
        }
    }
    Some(v)
}

fn arc(
    req: &HttpRequest,
    template: &str,
    state: &Mutex<NetState>,
    ledger: &LocalLedger,
) -> (u16, Value) {
    match (req.method.as_str(), template) {
        ("GET", "/v1/policy") => (
            200,
            json!({"timestamp": NOW, "policy": {
            "maxscriptsizepolicy": 500000, "maxtxsigopscountspolicy": 4294967295u64,
            "maxtxsizepolicy": 10000000, "miningFee": {"satoshis": 1, "bytes": 1000}}}),
        ),
        ("GET", "/v1/tx/{txid}") => {
            let id = req.path.rsplit('/').next().unwrap();
            match Txid::from_display_hex(id)
                .ok()
                .and_then(|t| arc_status(ledger, &t))
            {
                Some(v) => (200, v),
                None => (
                    404,
                    problem(
                        404,
                        "Not found",
                        "The requested resource could not be found",
                    ),
                ),
            }
        }
        ("POST", "/v1/tx") => post(req, state, ledger),
        _ => (404, problem(404, "Not found", "no such endpoint")),
    }
}

fn post(req: &HttpRequest, state: &Mutex<NetState>, ledger: &LocalLedger) -> (u16, Value) {
    let body: Value = serde_json::from_slice(&req.body).unwrap();
    let Ok(bytes) = hex::decode(body["rawTx"].as_str().unwrap_or("")) else {
        return (
            463,
            problem(463, "Malformed transaction", "rawTx is not hex"),
        );
    };
    let (tx, ef) = match decode_ef(&bytes) {
        Some((tx, spent)) => (tx, Some(spent)),
        None => match Transaction::decode(&bytes) {
            Ok(tx) => (tx, None),
            Err(e) => return (463, problem(463, "Malformed transaction", &e.to_string())),
        },
    };
    let txid = tx.txid();
    if let Some(v) = arc_status(ledger, &txid) {
        return (200, with_submit(v));
    }
    let mut spent = Vec::new();
    for (i, input) in tx.inputs.iter().enumerate() {
        match (&ef, ledger.output_state(&input.prevout).unwrap()) {
            (Some(ef), _) => spent.push(ef[i].clone()),
            (None, OutputState::Unspent { output }) => spent.push(SpentOutput {
                script_pubkey: output.script_pubkey,
                value: output.value,
            }),
            (None, OutputState::Spent { .. }) => {}
            (None, OutputState::Unknown) => {
                return (
                    460,
                    problem(
                        460,
                        "Not extended format",
                        &format!("input {i}: parent unknown"),
                    ),
                )
            }
        }
    }
    if spent.len() == tx.inputs.len() {
        if let Err(error) = crate::judge::judge_inputs(&tx, &spent) {
            return (
                461,
                problem(
                    461,
                    "Malformed transaction",
                    &format!("unlocking script fails: {error}"),
                ),
            );
        }
    }
    let mut v = json!({"timestamp": NOW, "txid": txid.to_string()});
    match ledger.relay(&tx) {
        Ok(Broadcast::Accepted { .. } | Broadcast::AlreadyKnown { .. }) => {
            state.lock().unwrap().judged += 1;
            v["txStatus"] = json!("SEEN_ON_NETWORK");
        }
        Err(Error::DoubleSpend { spent_by, .. }) => {
            v["txStatus"] = json!("DOUBLE_SPEND_ATTEMPTED");
            v["competingTxs"] = json!([spent_by.to_string()]);
            v["extraInfo"] = json!("an input is already spent");
        }
        Err(e) => return (461, problem(461, "Malformed transaction", &e.to_string())),
    }
    (200, with_submit(v))
}

fn display(bytes: [u8; 32]) -> String {
    let mut b = bytes;
    b.reverse();
    hex::encode(b)
}

fn header_json(h: &BlockHeader, height: u64) -> Value {
    let mut v = json!({"hash": h.hash().to_string(), "height": height, "version": h.version,
        "merkleroot": display(h.merkle_root), "time": h.time, "bits": format!("{:08x}", h.bits),
        "nonce": h.nonce, "confirmations": 1});
    if height > 0 {
        v["previousblockhash"] = json!(h.prev_hash.to_string());
    }
    v
}

/// The TSC proof (WhatsOnChain's way: duplicates in full, the block hash as target) of a BUMP.
fn tsc_of(path: &MerklePath, txid: &Txid, target: String) -> Value {
    let index = path.levels[0]
        .iter()
        .find(|l| matches!(l.node, PathNode::Txid(h) if h == txid.0))
        .unwrap()
        .offset;
    let mut working = txid.0;
    let mut nodes = Vec::new();
    for (level, leaves) in path.levels.iter().enumerate() {
        let position = index >> level;
        let Some(sib) = leaves.iter().find(|l| l.offset == position ^ 1) else {
            break;
        };
        let hash = match sib.node {
            PathNode::Hash(h) | PathNode::Txid(h) => h,
            PathNode::Duplicate => working,
        };
        nodes.push(display(hash));
        let mut both = Vec::new();
        if position & 1 == 1 {
            both.extend_from_slice(&hash);
            both.extend_from_slice(&working);
        } else {
            both.extend_from_slice(&working);
            both.extend_from_slice(&hash);
        }
        working = chainlock_protocol::hash::sha256d(&both);
    }
    json!({"index": index, "txOrId": txid.to_string(), "target": target, "nodes": nodes})
}

fn not_found() -> (u16, String) {
    (404, json!({"error": "not found"}).to_string())
}

fn lookup(method: &str, path: &str, ledger: &LocalLedger, lie: Option<Lie>) -> (u16, String) {
    if method != "GET" {
        return not_found();
    }
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let headers = ledger.headers().unwrap();
    match parts.as_slice() {
        ["tx", id, "hex"] => {
            let Ok(txid) = Txid::from_display_hex(id) else {
                return not_found();
            };
            let Some(tx) = ledger.transaction(&txid).unwrap() else {
                return not_found();
            };
            if lie == Some(Lie::WrongTx) {
                let other = ledger
                    .history()
                    .unwrap()
                    .into_iter()
                    .map(|(t, _)| t)
                    .find(|t| t.txid() != txid)
                    .unwrap();
                return (200, other.to_hex());
            }
            (200, tx.to_hex())
        }
        ["tx", id, "proof", "tsc"] => {
            let Ok(txid) = Txid::from_display_hex(id) else {
                return not_found();
            };
            let Some(path) = ledger.merkle_path(&txid).unwrap() else {
                return (200, "null".into());
            };
            let header = headers.at(path.block_height).unwrap();
            let mut v = tsc_of(&path, &txid, header.hash().to_string());
            match lie {
                Some(Lie::BadProof) => {
                    let mut nodes = v["nodes"].as_array().cloned().unwrap_or_default();
                    if nodes.is_empty() {
                        nodes.push(json!("ee".repeat(32)));
                    } else {
                        nodes[0] = json!("ee".repeat(32));
                    }
                    v["nodes"] = json!(nodes);
                }
                Some(Lie::UnknownBlock) => v["target"] = json!("ab".repeat(32)),
                _ => {}
            }
            (200, v.to_string())
        }
        ["tx", id, vout, "spent"] => {
            let (Ok(txid), Ok(vout)) = (Txid::from_display_hex(id), vout.parse::<u32>()) else {
                return not_found();
            };
            let outpoint = OutPoint { txid, vout };
            let OutputState::Spent { by } = ledger.output_state(&outpoint).unwrap() else {
                return not_found();
            };
            let spender = ledger.transaction(&by).unwrap().unwrap();
            let vin = spender
                .inputs
                .iter()
                .position(|i| i.prevout == outpoint)
                .unwrap();
            let vin = if lie == Some(Lie::WrongSpender) {
                vin + 1
            } else {
                vin
            };
            let status = match ledger.tx_status(&by).unwrap() {
                TxStatus::Mined { .. } => "confirmed",
                _ => "unconfirmed",
            };
            (
                200,
                json!({"txid": by.to_string(), "vin": vin, "status": status}).to_string(),
            )
        }
        ["script", hash, "unspent", "all"] => {
            let script = ledger
                .history()
                .unwrap()
                .into_iter()
                .flat_map(|(t, _)| t.outputs)
                .map(|o| o.script_pubkey)
                .find(|s| script_hash(s) == *hash);
            let Some(script) = script else {
                return (
                    200,
                    json!({"script": hash, "result": [], "error": ""}).to_string(),
                );
            };
            let result: Vec<Value> = ledger
                .unspent_outputs(&script)
                .unwrap()
                .into_iter()
                .map(|(o, out)| {
                    let value = if lie == Some(Lie::WrongValue) { out.value + 1 } else { out.value };
                    let mut v = json!({"tx_pos": o.vout, "tx_hash": o.txid.to_string(), "value": value,
                        "isSpentInMempoolTx": false, "status": "unconfirmed", "hex": script.to_hex()});
                    if let TxStatus::Mined { height, .. } = ledger.tx_status(&o.txid).unwrap() {
                        v["height"] = json!(height);
                        v["status"] = json!("confirmed");
                    }
                    v
                })
                .collect();
            (
                200,
                json!({"script": hash, "result": result, "error": ""}).to_string(),
            )
        }
        ["script", hash, "history"] => {
            // ElectrumX's history, as WhatsOnChain serves it: transactions paying to the
            // script and those spending from it.
            let txs: Vec<Transaction> = ledger
                .history()
                .unwrap()
                .into_iter()
                .map(|(t, _)| t)
                .collect();
            let pays = |t: &Transaction| {
                t.outputs
                    .iter()
                    .any(|o| script_hash(&o.script_pubkey) == *hash)
            };
            let result: Vec<Value> = txs
                .iter()
                .filter(|t| {
                    pays(t)
                        || t.inputs.iter().any(|i| {
                            txs.iter().any(|p| {
                                p.txid() == i.prevout.txid
                                    && p.outputs
                                        .get(i.prevout.vout as usize)
                                        .is_some_and(|o| script_hash(&o.script_pubkey) == *hash)
                            })
                        })
                })
                .map(|t| {
                    let height = match ledger.tx_status(&t.txid()).unwrap() {
                        TxStatus::Mined { height, .. } => height as i64,
                        _ => 0,
                    };
                    json!({"tx_hash": t.txid().to_string(), "height": height})
                })
                .collect();
            (200, json!(result).to_string())
        }
        ["chain", "info"] => {
            let tip = headers.len() as u64 - 1;
            let hash = headers.at(tip).unwrap().hash();
            (200, json!({"chain": "test", "blocks": tip, "headers": tip, "bestblockhash": hash.to_string()}).to_string())
        }
        ["block", "height", h] => {
            let Ok(height) = h.parse::<u64>() else {
                return not_found();
            };
            let Some(header) = headers.at(height).copied() else {
                return not_found();
            };
            let tip = headers.len() as u64 - 1;
            let mut v = header_json(&header, height);
            match lie {
                Some(Lie::UnlinkedHeader) if height == tip && tip > 0 => {
                    let mut forged = header;
                    forged.prev_hash = chainlock_spv::BlockHash([7; 32]);
                    // With its work done, so the link is what gives it away.
                    while !forged.meets_target() {
                        forged.nonce += 1;
                    }
                    v = header_json(&forged, height);
                }
                Some(Lie::NoWork) if height == tip => {
                    let mut lazy = header;
                    while lazy.meets_target() {
                        lazy.nonce = lazy.nonce.wrapping_add(1);
                    }
                    v = header_json(&lazy, height);
                }
                Some(Lie::ForgedHeader) if height == tip => {
                    let mut forged = header;
                    forged.merkle_root = [9; 32];
                    v["merkleroot"] = json!(display(forged.merkle_root));
                }
                _ => {}
            }
            (200, v.to_string())
        }
        ["block", hash, "header"] => {
            let found = headers
                .headers()
                .iter()
                .enumerate()
                .find(|(_, h)| h.hash().to_string() == *hash);
            match found {
                Some((height, h)) => (200, header_json(h, height as u64).to_string()),
                None => not_found(),
            }
        }
        _ => not_found(),
    }
}
