//! The one HTTP client of the network backends (ARC and the lookups): ureq over rustls
//! (ADR 0009), every request tried again on transport failures, 429 and 5xx with doubling
//! backoff, and an error that names the server, the request and how many attempts failed.

use std::time::Duration;

use crate::{Error, Result};

/// How hard to try: attempts, the first wait, the time one request may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// How many times a request is tried before its error is returned.
    pub attempts: u32,
    /// The wait before the first retry; doubled before each next one.
    pub backoff: Duration,
    /// How long one request may take.
    pub timeout: Duration,
}

impl Default for Retry {
    /// 4 attempts, 500 ms first backoff, 30 s per request.
    fn default() -> Self {
        Retry {
            attempts: 4,
            backoff: Duration::from_millis(500),
            timeout: Duration::from_secs(30),
        }
    }
}

/// A client of one server: its base URL, the headers every request carries, the retry rule.
pub struct HttpClient {
    url: String,
    headers: Vec<(String, String)>,
    retry: Retry,
    agent: ureq::Agent,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the headers: they may carry an API key.
        f.debug_struct("HttpClient")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// The largest answer read (4 MiB): a transaction, a proof, a page of outputs fit far below.
const ANSWER_LIMIT: u64 = 4 * 1024 * 1024;

impl HttpClient {
    /// A client for `url` (`http://` or `https://`, no trailing `/`), sending `headers` with
    /// every request; `None` when the URL is not http(s).
    pub fn new(url: &str, headers: Vec<(String, String)>, retry: Retry) -> Option<Self> {
        let url = url.trim_end_matches('/').to_string();
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return None;
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(retry.timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Some(HttpClient {
            url,
            headers,
            retry,
            agent,
        })
    }

    /// The server's base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `GET {url}{path}`: the status and the body, retried as the module says.
    pub fn get(&self, action: &'static str, path: &str) -> Result<(u16, String)> {
        self.request(action, path, None)
    }

    /// `POST {url}{path}` with a JSON body.
    pub fn post_json(
        &self,
        action: &'static str,
        path: &str,
        body: String,
    ) -> Result<(u16, String)> {
        self.request(action, path, Some(body))
    }

    /// An error about this server's answer to `action` (malformed, or a lie caught).
    pub fn answer_error(&self, action: &'static str, reason: String) -> Error {
        Error::Network {
            url: self.url.clone(),
            action,
            attempts: 1,
            reason,
        }
    }

    fn request(
        &self,
        action: &'static str,
        path: &str,
        body: Option<String>,
    ) -> Result<(u16, String)> {
        let url = format!("{}{path}", self.url);
        let attempts = self.retry.attempts.max(1);
        let mut wait = self.retry.backoff;
        let mut last = String::new();
        for attempt in 1..=attempts {
            match self.once(&url, body.as_deref()) {
                Ok((status, text)) if status == 429 || status >= 500 => {
                    last = format!(
                        "HTTP {status}: {}",
                        text.chars().take(300).collect::<String>()
                    );
                }
                Ok(answer) => return Ok(answer),
                Err(e) => last = e.to_string(),
            }
            if attempt < attempts {
                std::thread::sleep(wait);
                wait = wait.saturating_mul(2);
            }
        }
        Err(Error::Network {
            url: self.url.clone(),
            action,
            attempts,
            reason: last,
        })
    }

    fn once(
        &self,
        url: &str,
        body: Option<&str>,
    ) -> std::result::Result<(u16, String), ureq::Error> {
        let mut response = match body {
            Some(body) => {
                let mut req = self
                    .agent
                    .post(url)
                    .header("Content-Type", "application/json");
                for (k, v) in &self.headers {
                    req = req.header(k, v);
                }
                req.send(body)?
            }
            None => {
                let mut req = self.agent.get(url);
                for (k, v) in &self.headers {
                    req = req.header(k, v);
                }
                req.call()?
            }
        };
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(ANSWER_LIMIT)
            .read_to_string()?;
        Ok((status, text))
    }
}
