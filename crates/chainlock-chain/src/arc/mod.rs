//! The ARC backend: the BSV transaction processor's public API (`shared/vectors/arc/arc.yaml`):
//! `POST /v1/tx` to broadcast (extended format, BEEF or raw, as `{"rawTx": hex}`),
//! `GET /v1/tx/{txid}` for a status, `GET /v1/policy` for fees (ADR 0009).
//!
//! Every request carries `XDeployment-ID` and, when an API key is set, `Authorization:
//! Bearer`; POSTs carry `Content-Type: application/json`, as @bsv/sdk's `ARC` broadcaster
//! sends them. Transport failures, 429 and 5xx answers are retried with exponential backoff
//! ([`crate::http`], shared with the lookups); the error names the request and how many
//! attempts failed. A broadcast is idempotent: a
//! transaction ARC already holds (and did not refuse) is `AlreadyKnown`, without a second POST.
//!
//! ARC answers for transactions only: it serves no record chains, output states or headers,
//! and says so ([`Error::Unsupported`]); [`crate::network::NetworkChain`] adds lookups for them.

pub mod wire;

use std::time::Duration;

use chainlock_protocol::record::Record;
use chainlock_protocol::script::Script;
use chainlock_protocol::tx::{OutPoint, SpentOutput, Transaction, TxOut, Txid};
use chainlock_spv::{HeaderChain, MerklePath};

use crate::http::{HttpClient, Retry};
use crate::{Broadcast, Chain, Error, OutputState, PackageId, RecordChain, Result, TxStatus};
pub use wire::{extended_format, ArcPolicy, ArcStatus, TxAnswer};

/// How to reach an ARC server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArcConfig {
    /// The base URL, such as `https://arc.taal.com` (no trailing `/v1`).
    pub url: String,
    /// The API key, sent as `Authorization: Bearer <key>` when set.
    pub api_key: Option<String>,
    /// `XDeployment-ID`: who is calling.
    pub deployment_id: String,
    /// How many times a request is tried before its error is returned.
    pub attempts: u32,
    /// The wait before the first retry; doubled before each next one.
    pub backoff: Duration,
    /// How long one request may take.
    pub timeout: Duration,
}

impl ArcConfig {
    /// Defaults for `url`: 4 attempts, 500 ms first backoff, 30 s per request.
    pub fn new(url: &str) -> Self {
        ArcConfig {
            url: url.trim_end_matches('/').to_string(),
            api_key: None,
            deployment_id: format!("chainlock-{}", env!("CARGO_PKG_VERSION")),
            attempts: 4,
            backoff: Duration::from_millis(500),
            timeout: Duration::from_secs(30),
        }
    }
}

/// What to send to `POST /v1/tx`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submission {
    /// The extended format (BRC-30): ARC checks scripts and fees from it alone.
    Extended(Vec<u8>),
    /// BEEF (BRC-62): the transaction with its unconfirmed ancestry and proofs.
    Beef(Vec<u8>),
    /// The plain transaction (what @bsv/sdk sends when it does not know the spent outputs).
    Raw(Vec<u8>),
}

/// A client of one ARC server.
pub struct ArcClient {
    config: ArcConfig,
    http: HttpClient,
}

impl std::fmt::Debug for ArcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the API key.
        f.debug_struct("ArcClient")
            .field("url", &self.config.url)
            .finish_non_exhaustive()
    }
}

impl ArcClient {
    /// A client for `config.url`, which must be `http://` or `https://`.
    pub fn new(config: ArcConfig) -> Result<Self> {
        let mut headers = vec![("XDeployment-ID".to_string(), config.deployment_id.clone())];
        if let Some(key) = config.api_key.as_deref().filter(|k| !k.is_empty()) {
            headers.push(("Authorization".to_string(), format!("Bearer {key}")));
        }
        let retry = Retry {
            attempts: config.attempts,
            backoff: config.backoff,
            timeout: config.timeout,
        };
        let http = HttpClient::new(&config.url, headers, retry).ok_or_else(|| Error::ArcUrl {
            url: config.url.chars().take(200).collect(),
        })?;
        Ok(ArcClient { config, http })
    }

    /// The server's base URL.
    pub fn url(&self) -> &str {
        &self.config.url
    }

    /// `GET /v1/policy`: fees and limits.
    pub fn policy(&self) -> Result<ArcPolicy> {
        let action = "GET /v1/policy";
        let (status, body) = self.request(action, "/v1/policy", None)?;
        if status != 200 {
            return Err(self.problem(action, status, &body, None));
        }
        serde_json::from_str::<wire::PolicyAnswer>(&body)
            .map(|a| a.policy)
            .map_err(|e| self.malformed(action, &e))
    }

    /// `GET /v1/tx/{txid}`: None when ARC does not know the transaction (404).
    pub fn status(&self, txid: &Txid) -> Result<Option<(ArcStatus, TxAnswer)>> {
        let action = "GET /v1/tx/{txid}";
        let (status, body) = self.request(action, &format!("/v1/tx/{txid}"), None)?;
        match status {
            200 => {
                let answer: TxAnswer =
                    serde_json::from_str(&body).map_err(|e| self.malformed(action, &e))?;
                Ok(Some((ArcStatus::of(&answer), answer)))
            }
            404 => Ok(None),
            _ => Err(self.problem(action, status, &body, Some(*txid))),
        }
    }

    /// `POST /v1/tx`: ARC's verdict, or the refusal with its reason as an error.
    pub fn submit(&self, txid: &Txid, submission: &Submission) -> Result<(ArcStatus, TxAnswer)> {
        let action = "POST /v1/tx";
        let bytes = match submission {
            Submission::Extended(b) | Submission::Beef(b) | Submission::Raw(b) => b,
        };
        let body = serde_json::json!({ "rawTx": hex::encode(bytes) }).to_string();
        let (status, text) = self.request(action, "/v1/tx", Some(body))?;
        if status != 200 {
            return Err(self.problem(action, status, &text, Some(*txid)));
        }
        let answer: TxAnswer =
            serde_json::from_str(&text).map_err(|e| self.malformed(action, &e))?;
        let arc = ArcStatus::of(&answer);
        if arc.is_refusal() {
            return Err(Error::ArcRefused {
                txid: *txid,
                reason: arc_reason(&arc),
            });
        }
        Ok((arc, answer))
    }

    /// Broadcasts `tx` in the extended format when every spent output is given, else raw;
    /// idempotent: a transaction ARC already holds is not sent again.
    pub fn broadcast_tx(
        &self,
        tx: &Transaction,
        spent: Option<&[SpentOutput]>,
    ) -> Result<Broadcast> {
        let txid = tx.txid();
        if let Some((arc, _)) = self.status(&txid)? {
            if !arc.is_refusal() {
                return Ok(Broadcast::AlreadyKnown { txid });
            }
        }
        let submission = match spent.and_then(|s| extended_format(tx, s)) {
            Some(ef) => Submission::Extended(ef),
            None => Submission::Raw(tx.encode()),
        };
        self.submit(&txid, &submission)?;
        Ok(Broadcast::Accepted { txid })
    }

    fn request(
        &self,
        action: &'static str,
        path: &str,
        body: Option<String>,
    ) -> Result<(u16, String)> {
        match body {
            Some(body) => self.http.post_json(action, path, body),
            None => self.http.get(action, path),
        }
    }

    fn problem(&self, action: &'static str, status: u16, body: &str, txid: Option<Txid>) -> Error {
        let reason = match serde_json::from_str::<wire::Problem>(body) {
            Ok(p) => {
                let extra = p.extra_info.map(|e| format!(" ({e})")).unwrap_or_default();
                format!("{} {}: {}{extra}", p.status, p.title, p.detail)
            }
            Err(_) => format!(
                "HTTP {status}: {}",
                body.chars().take(300).collect::<String>()
            ),
        };
        match (txid, status) {
            (_, 401 | 403) => Error::Network {
                url: self.config.url.clone(),
                action,
                attempts: 1,
                reason: format!(
                    "{reason}; set the ARC API key (`chainlock chain use arc URL --api-key-stdin`)"
                ),
            },
            (Some(txid), 400..=499) => Error::ArcRefused { txid, reason },
            _ => Error::Network {
                url: self.config.url.clone(),
                action,
                attempts: 1,
                reason,
            },
        }
    }

    fn malformed(&self, action: &'static str, e: &serde_json::Error) -> Error {
        Error::Network {
            url: self.config.url.clone(),
            action,
            attempts: 1,
            reason: format!("the answer does not follow ARC's API: {e}"),
        }
    }
}

fn arc_reason(arc: &ArcStatus) -> String {
    match arc {
        ArcStatus::Rejected { reason } => reason.clone(),
        ArcStatus::DoubleSpend { competing, reason } => {
            format!("{reason} (competing: {})", competing.join(", "))
        }
        other => format!("{other:?}"),
    }
}

/// Refuses a record that is not the one `tx`'s output 0 commits to, before anything is sent.
pub(crate) fn check_commitment(tx: &Transaction, record: Option<&Record>) -> Result<()> {
    let Some(record) = record else {
        return Ok(());
    };
    let committed = tx
        .outputs
        .first()
        .and_then(|o| o.script_pubkey.parse_commitment().ok())
        .map(chainlock_protocol::hash::Digest);
    let given = record.digest()?;
    if committed == Some(given) {
        return Ok(());
    }
    Err(match committed {
        Some(committed) => Error::RecordMismatch {
            txid: tx.txid(),
            committed,
            given,
        },
        None => Error::UnexpectedRecord { txid: tx.txid() },
    })
}

/// ARC as a [`Chain`]: broadcast, status and merkle paths; nothing else.
#[derive(Debug)]
pub struct ArcChain {
    client: ArcClient,
}

impl ArcChain {
    /// The backend for `config`.
    pub fn new(config: ArcConfig) -> Result<Self> {
        Ok(ArcChain {
            client: ArcClient::new(config)?,
        })
    }

    /// The client underneath.
    pub fn client(&self) -> &ArcClient {
        &self.client
    }

    fn unsupported(&self, what: &'static str) -> Error {
        Error::Unsupported {
            backend: self.describe(),
            what,
        }
    }
}

impl Chain for ArcChain {
    fn describe(&self) -> String {
        format!("ARC at {} (the BSV network)", self.client.url())
    }

    fn broadcast(&self, tx: &Transaction, record: Option<&Record>) -> Result<Broadcast> {
        check_commitment(tx, record)?;
        self.client.broadcast_tx(tx, None)
    }

    fn transaction(&self, _txid: &Txid) -> Result<Option<Transaction>> {
        // ARC serves statuses, not transactions: a caller that needs one has it already.
        Ok(None)
    }

    fn tx_status(&self, txid: &Txid) -> Result<TxStatus> {
        Ok(match self.client.status(txid)? {
            None => TxStatus::Unknown,
            Some((arc, answer)) => {
                // ARC does not report the block's time; its answer's time is an upper bound
                // until the header is read (header services: not built, ADR 0009).
                let time = wire::unix_seconds(&answer.timestamp).unwrap_or(0);
                arc.to_tx_status(time)
            }
        })
    }

    fn output_state(&self, _outpoint: &OutPoint) -> Result<OutputState> {
        Err(self.unsupported(
            "output states (add lookups: `chainlock chain use arc URL --lookups URL`)",
        ))
    }

    fn record_chain(&self, _package: &PackageId) -> Result<RecordChain> {
        Err(self.unsupported(
            "record chains (add lookups: `chainlock chain use arc URL --lookups URL`)",
        ))
    }

    fn unspent_outputs(&self, _script: &Script) -> Result<Vec<(OutPoint, TxOut)>> {
        Err(self.unsupported(
            "unspent outputs (add lookups: `chainlock chain use arc URL --lookups URL`)",
        ))
    }

    fn mine_pending(&self, _time: u64) -> Result<Option<crate::local::Block>> {
        Ok(None)
    }

    fn merkle_path(&self, txid: &Txid) -> Result<Option<MerklePath>> {
        let Some((
            ArcStatus::Mined {
                merkle_path: Some(hex_path),
                ..
            },
            _,
        )) = self.client.status(txid)?
        else {
            return Ok(None);
        };
        let bytes = hex::decode(&hex_path).map_err(|e| Error::Network {
            url: self.client.url().to_string(),
            action: "GET /v1/tx/{txid}",
            attempts: 1,
            reason: format!("merklePath is not hex: {e}"),
        })?;
        MerklePath::decode(&bytes)
            .map(Some)
            .map_err(|e| Error::Network {
                url: self.client.url().to_string(),
                action: "GET /v1/tx/{txid}",
                attempts: 1,
                reason: format!("merklePath is not a BUMP: {e}"),
            })
    }

    fn headers(&self) -> Result<HeaderChain> {
        Err(self.unsupported(
            "block headers (add lookups: `chainlock chain use arc URL --lookups URL`)",
        ))
    }
}
