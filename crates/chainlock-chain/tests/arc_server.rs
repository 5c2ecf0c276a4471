//! A fake ARC on 127.0.0.1 that follows `shared/vectors/arc/arc.yaml`: every request it
//! receives and every response it gives is checked against the document (violations are
//! collected and the tests assert there are none), and every transaction is judged input by
//! input by the @bsv/sdk interpreter (`tests/judge/spend.mjs`, node's script flags).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chainlock_protocol::encode::Reader;
use chainlock_protocol::hash::sha256d;
use chainlock_protocol::script::Script;
use chainlock_protocol::tx::{OutPoint, SpentOutput, Transaction, TxIn, TxOut, Txid};
use chainlock_spv::{merkle_root, BlockHash, BlockHeader, HeaderChain, MerklePath};
use serde_json::{json, Value};

/// arc.yaml as JSON (read with Python's yaml module, as CI has it).
pub struct Doc(Value);

impl Doc {
    pub fn load() -> Doc {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors/arc/arc.yaml");
        // Debian's interpreter, where scripts/setup installs python3-yaml (the `python3` on
        // PATH may be another one, without it).
        let python = if std::path::Path::new("/usr/bin/python3").exists() {
            "/usr/bin/python3"
        } else {
            "python3"
        };
        let out = std::process::Command::new(python)
            .args([
                "-c",
                "import json,sys,yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)",
            ])
            .arg(&path)
            .output()
            .expect("python3 with yaml reads arc.yaml (scripts/setup installs python3-yaml)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Doc(serde_json::from_slice(&out.stdout).unwrap())
    }

    fn resolve<'a>(&'a self, v: &'a Value) -> &'a Value {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let mut at = &self.0;
                for part in r.trim_start_matches("#/").split('/') {
                    at = &at[part];
                }
                self.resolve(at)
            }
            None => v,
        }
    }

    /// Validates `value` against `schema` (the subset of OpenAPI 3.0 arc.yaml uses).
    pub fn validate(&self, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
        self.validate_in(schema, value, at, &[])
    }

    /// The properties an object schema and its `allOf` branches declare.
    fn declared(&self, schema: &Value) -> Vec<String> {
        let schema = self.resolve(schema);
        let mut out: Vec<String> = schema["properties"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        for s in schema["allOf"].as_array().into_iter().flatten() {
            out.extend(self.declared(s));
        }
        out
    }

    /// `siblings`: properties declared by the other branches of an enclosing `allOf`, which
    /// `additionalProperties: false` in one branch does not forbid (the document composes
    /// `PolicyResponse` that way: `timestamp` beside `policy`).
    fn validate_in(
        &self,
        schema: &Value,
        value: &Value,
        at: &str,
        siblings: &[String],
    ) -> Result<(), String> {
        let schema = self.resolve(schema);
        if value.is_null() {
            return if schema["nullable"] == true
                || schema.get("type").is_none() && schema.get("allOf").is_none()
            {
                Ok(())
            } else {
                Err(format!("{at}: null where the document does not allow it"))
            };
        }
        if let Some(all) = schema["allOf"].as_array() {
            let mut names = self.declared(schema);
            names.extend_from_slice(siblings);
            for s in all {
                self.validate_in(s, value, at, &names)?;
            }
        }
        if let Some(any) = schema["oneOf"].as_array() {
            if !any.iter().any(|s| self.validate(s, value, at).is_ok()) {
                return Err(format!("{at}: matches none of oneOf"));
            }
        }
        match schema["type"].as_str() {
            Some("object") => {
                let obj = value.as_object().ok_or(format!("{at}: not an object"))?;
                for r in schema["required"].as_array().into_iter().flatten() {
                    let r = r.as_str().unwrap();
                    if !obj.contains_key(r) {
                        return Err(format!("{at}: required field {r} missing"));
                    }
                }
                let props = schema["properties"].as_object();
                for (k, v) in obj {
                    match props.and_then(|p| p.get(k)) {
                        Some(s) => self.validate(s, v, &format!("{at}.{k}"))?,
                        None if schema["additionalProperties"] == false
                            && !siblings.contains(k) =>
                        {
                            return Err(format!("{at}: field {k} is not in the document"))
                        }
                        None => {}
                    }
                }
            }
            Some("array") => {
                for (i, v) in value
                    .as_array()
                    .ok_or(format!("{at}: not an array"))?
                    .iter()
                    .enumerate()
                {
                    self.validate(&schema["items"], v, &format!("{at}[{i}]"))?;
                }
            }
            Some("string") => {
                let s = value.as_str().ok_or(format!("{at}: not a string"))?;
                if let Some(e) = schema["enum"].as_array() {
                    if !e.iter().any(|x| x == s) {
                        return Err(format!("{at}: {s} is not one of the document's values"));
                    }
                }
            }
            Some("integer") if !(value.is_u64() || value.is_i64()) => {
                return Err(format!("{at}: not an integer"));
            }
            Some("boolean") => {
                value.as_bool().ok_or(format!("{at}: not a boolean"))?;
            }
            _ => {}
        }
        Ok(())
    }

    /// The operation for a request path, and the document's path template.
    fn operation(&self, method: &str, path: &str) -> Option<(&Value, String)> {
        for (template, item) in self.0["paths"].as_object()? {
            let t: Vec<&str> = template.split('/').collect();
            let p: Vec<&str> = path.split('/').collect();
            if t.len() == p.len() && t.iter().zip(&p).all(|(a, b)| a == b || a.starts_with('{')) {
                let op = &item[method.to_lowercase()];
                return (!op.is_null()).then(|| (op, template.clone()));
            }
        }
        None
    }

    /// Every rule of the document a request can break.
    pub fn check_request(&self, req: &HttpRequest) -> Result<String, String> {
        let (op, template) = self.operation(&req.method, &req.path).ok_or(format!(
            "{} {} is not in the document",
            req.method, req.path
        ))?;
        for p in op["parameters"].as_array().into_iter().flatten() {
            let p = self.resolve(p);
            if p["in"] == "header" {
                let name = p["name"].as_str().unwrap();
                if let Some(v) = req.header(name) {
                    let value = match p["schema"]["type"].as_str() {
                        Some("boolean") => json!(v == "true" || v == "false"),
                        Some("integer") => json!(v.parse::<i64>().is_ok()),
                        _ => json!(true),
                    };
                    if value != true {
                        return Err(format!(
                            "header {name}: {v:?} is not a {}",
                            p["schema"]["type"]
                        ));
                    }
                }
            }
        }
        // Headers the document does not declare: only the deployment id @bsv/sdk's own ARC
        // client sends (and ours, to match it).
        for (k, _) in &req.headers {
            if k.to_lowercase().starts_with('x') && !k.eq_ignore_ascii_case("XDeployment-ID") {
                let declared = self.0["components"]["parameters"]
                    .as_object()
                    .unwrap()
                    .values()
                    .any(|p| {
                        p["name"]
                            .as_str()
                            .is_some_and(|n| n.eq_ignore_ascii_case(k))
                    });
                if !declared {
                    return Err(format!("header {k} is not in the document"));
                }
            }
        }
        if let Some(auth) = req.header("Authorization") {
            if !auth.starts_with("Bearer ") || auth.len() <= 7 {
                return Err(format!("Authorization {auth:?} is not BearerAuth"));
            }
        }
        if req.method == "POST" {
            let ct = req
                .header("Content-Type")
                .ok_or("a POST without Content-Type")?;
            let content = &op["requestBody"]["content"];
            let schema = content
                .get(ct)
                .ok_or(format!("Content-Type {ct} is not in the document"))?;
            if ct == "application/json" {
                let body: Value = serde_json::from_slice(&req.body)
                    .map_err(|e| format!("body is not JSON: {e}"))?;
                self.validate(&schema["schema"], &body, "request body")?;
            }
        }
        Ok(template)
    }

    /// Checks a response against the operation's declared responses.
    pub fn check_response(
        &self,
        method: &str,
        template: &str,
        status: u16,
        body: &Value,
    ) -> Result<(), String> {
        let op = &self.0["paths"][template][method.to_lowercase()];
        let response = self.resolve(&op["responses"][status.to_string()]);
        if response.is_null() {
            return Err(format!(
                "{method} {template} does not declare status {status}"
            ));
        }
        match response["content"]["application/json"]["schema"].clone() {
            Value::Null => Ok(()),
            schema => self.validate(&schema, body, &format!("{method} {template} {status}")),
        }
    }
}

/// A request as the server read it.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct Entry {
    status: &'static str,
    height: Option<u64>,
    path: Option<MerklePath>,
    competing: Vec<String>,
}

#[derive(Default)]
pub struct State {
    txs: HashMap<Txid, Entry>,
    order: Vec<Txid>,
    outputs: HashMap<OutPoint, (TxOut, Option<Txid>)>,
    pub requests: Vec<HttpRequest>,
    pub violations: Vec<String>,
    pub drop_next: u32,
    pub api_key: Option<String>,
    blocks: Vec<BlockHeader>,
}

/// The fake ARC server.
pub struct FakeArc {
    pub url: String,
    pub state: Arc<Mutex<State>>,
}

impl FakeArc {
    pub fn start() -> FakeArc {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let doc = Arc::new(Doc::load());
        let s = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (s, doc) = (s.clone(), doc.clone());
                std::thread::spawn(move || serve(stream, &s, &doc));
            }
        });
        FakeArc { url, state }
    }

    /// Outputs the server knows without a transaction (coins from elsewhere).
    pub fn know(&self, outpoint: OutPoint, output: TxOut) {
        self.state
            .lock()
            .unwrap()
            .outputs
            .insert(outpoint, (output, None));
    }

    /// Mines every transaction seen and not mined into one block; its height.
    pub fn mine(&self) -> u64 {
        let mut st = self.state.lock().unwrap();
        let height = st.blocks.len() as u64;
        let mut ids = vec![sha256d(&height.to_le_bytes())];
        let pending: Vec<Txid> = st
            .order
            .iter()
            .filter(|t| st.txs[t].status == "SEEN_ON_NETWORK")
            .copied()
            .collect();
        ids.extend(pending.iter().map(|t| t.0));
        for (i, t) in pending.iter().enumerate() {
            let e = st.txs.get_mut(t).unwrap();
            e.status = "MINED";
            e.height = Some(height);
            e.path = Some(MerklePath::from_block(height, &ids, &[i + 1]).unwrap());
        }
        let header = BlockHeader {
            version: 1,
            prev_hash: st
                .blocks
                .last()
                .map_or(BlockHash([0; 32]), BlockHeader::hash),
            merkle_root: merkle_root(&ids).unwrap(),
            time: 1_800_000_000 + height as u32 * 600,
            bits: 0x207f_ffff,
            nonce: 0,
        };
        st.blocks.push(header);
        height
    }

    pub fn headers(&self) -> HeaderChain {
        HeaderChain::new(self.state.lock().unwrap().blocks.clone()).unwrap()
    }

    pub fn violations(&self) -> Vec<String> {
        self.state.lock().unwrap().violations.clone()
    }

    pub fn posts(&self) -> Vec<HttpRequest> {
        self.state
            .lock()
            .unwrap()
            .requests
            .iter()
            .filter(|r| r.method == "POST")
            .cloned()
            .collect()
    }
}

/// Reads one HTTP/1.1 request; None when the peer closed the connection.
pub fn read_request(reader: &mut impl BufRead) -> Option<HttpRequest> {
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(HttpRequest {
        method,
        path,
        headers,
        body,
    })
}

/// Writes one response; false when the peer has gone.
pub fn write_response(
    stream: &mut impl Write,
    status: u16,
    content_type: &str,
    text: &str,
) -> bool {
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        text.len()
    );
    stream
        .write_all(head.as_bytes())
        .and_then(|_| stream.write_all(text.as_bytes()))
        .is_ok()
}

fn serve(stream: TcpStream, state: &Mutex<State>, doc: &Doc) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    while let Some(req) = read_request(&mut reader) {
        {
            let mut st = state.lock().unwrap();
            st.requests.push(req.clone());
            if st.drop_next > 0 {
                st.drop_next -= 1;
                return; // the connection closes with no answer: a transport failure
            }
        }
        let (status, answer) = match doc.check_request(&req) {
            Err(v) => {
                state
                    .lock()
                    .unwrap()
                    .violations
                    .push(format!("request: {v}"));
                (400, problem(400, "Bad request", &v))
            }
            Ok(template) => {
                let (status, answer) = handle(&req, &template, state);
                if let Err(v) = doc.check_response(&req.method, &template, status, &answer) {
                    state
                        .lock()
                        .unwrap()
                        .violations
                        .push(format!("response: {v}"));
                }
                (status, answer)
            }
        };
        if !write_response(&mut stream, status, "application/json", &answer.to_string()) {
            return;
        }
    }
}

pub fn problem(status: u16, title: &str, detail: &str) -> Value {
    json!({"type": format!("https://bitcoin-sv.github.io/arc/#/errors?id=_{status}"), "title": title, "status": status, "detail": detail})
}

pub const NOW: &str = "2027-01-01T00:00:00Z";

fn tx_json(txid: &Txid, e: &Entry) -> Value {
    let mut v = json!({"timestamp": NOW, "txid": txid.to_string(), "txStatus": e.status});
    if let Some(h) = e.height {
        v["blockHeight"] = json!(h);
        v["merklePath"] = json!(hex::encode(e.path.as_ref().unwrap().encode()));
    }
    if !e.competing.is_empty() {
        v["competingTxs"] = json!(e.competing);
        v["extraInfo"] = json!("an input is already spent");
    }
    v
}

fn handle(req: &HttpRequest, template: &str, state: &Mutex<State>) -> (u16, Value) {
    {
        let st = state.lock().unwrap();
        if let Some(key) = &st.api_key {
            if req.header("Authorization") != Some(&format!("Bearer {key}")) {
                return (401, Value::Null);
            }
        }
    }
    match (req.method.as_str(), template) {
        ("GET", "/v1/policy") => (
            200,
            json!({"timestamp": NOW, "policy": {
            "maxscriptsizepolicy": 500000, "maxtxsigopscountspolicy": 4294967295u64,
            "maxtxsizepolicy": 10000000, "miningFee": {"satoshis": 1, "bytes": 1000}}}),
        ),
        ("GET", "/v1/tx/{txid}") => {
            let id = req.path.rsplit('/').next().unwrap();
            let st = state.lock().unwrap();
            match Txid::from_display_hex(id)
                .ok()
                .and_then(|t| st.txs.get(&t).map(|e| tx_json(&t, e)))
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
        ("POST", "/v1/tx") => post_tx(req, state),
        _ => (404, problem(404, "Not found", "no such endpoint")),
    }
}

/// Decodes the extended format (BRC-30), if that is what `bytes` are.
pub fn decode_ef(bytes: &[u8]) -> Option<(Transaction, Vec<SpentOutput>)> {
    if bytes.len() < 10 || bytes[4..10] != [0, 0, 0, 0, 0, 0xef] {
        return None;
    }
    let mut r = Reader::new(&bytes[10..], "EF");
    let n = r.varint("inputs").ok()?;
    let mut inputs = Vec::new();
    let mut spent = Vec::new();
    for _ in 0..n {
        let txid = Txid(r.array("txid").ok()?);
        let vout = r.u32("vout").ok()?;
        let script_sig = Script::from(r.var_bytes("script").ok()?.to_vec());
        let sequence = r.u32("seq").ok()?;
        let value = r.u64("value").ok()?;
        let script_pubkey = Script::from(r.var_bytes("lock").ok()?.to_vec());
        inputs.push(TxIn {
            prevout: OutPoint { txid, vout },
            script_sig,
            sequence,
        });
        spent.push(SpentOutput {
            script_pubkey,
            value,
        });
    }
    let n = r.varint("outputs").ok()?;
    let mut outputs = Vec::new();
    for _ in 0..n {
        let value = r.u64("value").ok()?;
        let script_pubkey = Script::from(r.var_bytes("lock").ok()?.to_vec());
        outputs.push(TxOut {
            value,
            script_pubkey,
        });
    }
    let lock_time = r.u32("lock").ok()?;
    r.finish().ok()?;
    let version = u32::from_le_bytes(bytes[..4].try_into().ok()?);
    Some((
        Transaction {
            version,
            inputs,
            outputs,
            lock_time,
        },
        spent,
    ))
}

fn post_tx(req: &HttpRequest, state: &Mutex<State>) -> (u16, Value) {
    let body: Value = serde_json::from_slice(&req.body).unwrap();
    let Ok(bytes) = hex::decode(body["rawTx"].as_str().unwrap_or("")) else {
        return (
            463,
            problem(463, "Malformed transaction", "rawTx is not hex"),
        );
    };
    let beef = if bytes.starts_with(&[0x01, 0x00, 0xbe, 0xef]) {
        match chainlock_spv::Beef::decode(&bytes) {
            Ok(b) => Some(b),
            Err(e) => return (463, problem(463, "Malformed transaction", &e.to_string())),
        }
    } else {
        None
    };
    let from_beef = beef.as_ref().and_then(|b| match b.txs.last() {
        Some(chainlock_spv::BeefTx::Raw { tx, .. }) => {
            // The spent outputs from the parents the BEEF carries.
            let spent: Option<Vec<SpentOutput>> = tx
                .inputs
                .iter()
                .map(|i| {
                    b.find(&i.prevout.txid)
                        .and_then(|(p, _)| p.outputs.get(i.prevout.vout as usize))
                        .map(|o| SpentOutput {
                            script_pubkey: o.script_pubkey.clone(),
                            value: o.value,
                        })
                })
                .collect();
            Some((tx.clone(), spent?))
        }
        _ => None,
    });
    let (tx, ef_spent) = match from_beef.or_else(|| decode_ef(&bytes)) {
        Some((tx, spent)) => (tx, Some(spent)),
        None => match Transaction::decode(&bytes) {
            Ok(tx) => (tx, None),
            Err(e) => return (463, problem(463, "Malformed transaction", &e.to_string())),
        },
    };
    let txid = tx.txid();
    let mut st = state.lock().unwrap();
    if let Some(e) = st.txs.get(&txid) {
        return (200, with_submit(tx_json(&txid, e)));
    }
    // The spent outputs: from the extended format (checked against what the server knows,
    // when it knows them), or from the server's own output set.
    let mut spent = Vec::new();
    let mut competing = Vec::new();
    for (i, input) in tx.inputs.iter().enumerate() {
        let known = st.outputs.get(&input.prevout).cloned();
        if let Some((_, Some(by))) = &known {
            competing.push(by.to_string());
        }
        match (&ef_spent, known) {
            (Some(ef), _) => spent.push(ef[i].clone()),
            (None, Some((out, _))) => spent.push(SpentOutput {
                script_pubkey: out.script_pubkey,
                value: out.value,
            }),
            (None, None) => {
                return (
                    460,
                    problem(
                        460,
                        "Not extended format",
                        &format!("input {i}: parent unknown; send the extended format"),
                    ),
                )
            }
        }
    }
    if !competing.is_empty() {
        let e = Entry {
            status: "DOUBLE_SPEND_ATTEMPTED",
            height: None,
            path: None,
            competing,
        };
        let v = tx_json(&txid, &e);
        st.txs.insert(txid, e);
        return (200, with_submit(v));
    }
    drop(st);
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
    let mut st = state.lock().unwrap();
    for input in &tx.inputs {
        if let Some(o) = st.outputs.get_mut(&input.prevout) {
            o.1 = Some(txid);
        }
    }
    for (vout, out) in tx.outputs.iter().enumerate() {
        st.outputs.insert(
            OutPoint {
                txid,
                vout: vout as u32,
            },
            (out.clone(), None),
        );
    }
    let e = Entry {
        status: "SEEN_ON_NETWORK",
        height: None,
        path: None,
        competing: vec![],
    };
    let v = tx_json(&txid, &e);
    st.txs.insert(txid, e);
    st.order.push(txid);
    (200, with_submit(v))
}

pub fn with_submit(mut v: Value) -> Value {
    v["status"] = json!(200);
    v["title"] = json!("OK");
    v
}
