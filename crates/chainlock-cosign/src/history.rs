//! The co-signer's audit log: every signature and rejection it made, append-only and
//! hash-chained, so that an edited, removed or reordered entry is detected.
//!
//! One JSON object per line; each entry carries `prev`, the SHA-256 of the previous line's
//! bytes (64 zeros for the first), and the report digest of what was shown when it signed.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use chainlock_protocol::hash::Digest;

use crate::fsio;
use crate::{Error, Result};

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// A co-signature.
    Sign,
    /// A rejection.
    Reject,
}

/// One entry of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// SHA-256 of the previous line (64 zeros for the first entry).
    pub prev: Digest,
    /// Sign or reject.
    pub action: Action,
    /// The package (`npm:pad`).
    pub package: String,
    /// The request id.
    pub request: Digest,
    /// The record digest the request commits to.
    pub record: Option<Digest>,
    /// The digest of the verification report shown (what was reviewed).
    pub report: Option<Digest>,
    /// The key id used.
    pub key_id: String,
    /// When, Unix seconds.
    pub time: u64,
    /// The reason of a rejection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The warnings acknowledged when signing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// The log read back, with the verdict on its chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct History {
    /// The entries, oldest first.
    pub entries: Vec<Entry>,
    /// `None` when the chain holds; otherwise where and how it breaks.
    pub broken: Option<String>,
}

/// Reads the log and checks its hash chain.
pub fn read(path: &Path) -> Result<History> {
    if !path.exists() {
        return Ok(History {
            entries: vec![],
            broken: None,
        });
    }
    let bytes = fsio::read_capped(path)?;
    let mut entries = Vec::new();
    let mut prev = Digest([0; 32]);
    let mut broken = None;
    for (n, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        match serde_json::from_slice::<Entry>(line) {
            Ok(entry) => {
                if entry.prev != prev && broken.is_none() {
                    broken = Some(format!(
                        "line {} does not follow line {}: the log was edited, or lines were \
                         removed or reordered",
                        n + 1,
                        n
                    ));
                }
                prev = Digest::of(line);
                entries.push(entry);
            }
            Err(e) => {
                if broken.is_none() {
                    broken = Some(format!("line {} is not an entry: {e}", n + 1));
                }
                prev = Digest::of(line);
            }
        }
    }
    Ok(History { entries, broken })
}

/// Appends an entry (its `prev` is set here) and syncs the file. Refuses to extend a log
/// whose chain is broken: the user must look at it first.
pub fn append(path: &Path, mut entry: Entry) -> Result<Entry> {
    let bytes = if path.exists() {
        fsio::read_capped(path)?
    } else {
        Vec::new()
    };
    let history = read(path)?;
    if let Some(why) = history.broken {
        return Err(Error::Refused(format!(
            "the audit log {} is damaged ({why}); move it aside and keep it for review before \
             signing again",
            path.display()
        )));
    }
    entry.prev = bytes
        .split(|b| *b == b'\n')
        .rfind(|l| !l.is_empty())
        .map(Digest::of)
        .unwrap_or(Digest([0; 32]));
    let mut line = serde_json::to_vec(&entry).map_err(|e| Error::Refused(e.to_string()))?;
    line.push(b'\n');
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create directory", dir, e))?;
    }
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io("cannot open", path, e))?;
    file.write_all(&line)
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io("cannot append to", path, e))?;
    Ok(entry)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn entry(n: u8) -> Entry {
        Entry {
            prev: Digest([0; 32]),
            action: Action::Sign,
            package: "npm:pad".into(),
            request: Digest([n; 32]),
            record: Some(Digest([n; 32])),
            report: Some(Digest([n; 32])),
            key_id: "ab".repeat(32),
            time: 1_800_000_000 + u64::from(n),
            reason: None,
            warnings: vec![],
        }
    }

    #[test]
    fn an_edit_anywhere_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("history.jsonl");
        for n in 1..=3 {
            append(&log, entry(n)).unwrap();
        }
        let h = read(&log).unwrap();
        assert_eq!(h.entries.len(), 3);
        assert_eq!(h.broken, None);
        // Change one digit of the second entry's time.
        let text = std::fs::read_to_string(&log).unwrap();
        let edited = text.replacen("1800000002", "1800000009", 1);
        std::fs::write(&log, &edited).unwrap();
        let h = read(&log).unwrap();
        assert!(
            h.broken.as_deref().unwrap().contains("line 3"),
            "{:?}",
            h.broken
        );
        assert!(
            append(&log, entry(4)).is_err(),
            "a broken log is not extended"
        );
        // Removing the first line breaks it too.
        let lines: Vec<&str> = text.lines().skip(1).collect();
        std::fs::write(&log, lines.join("\n") + "\n").unwrap();
        assert!(read(&log).unwrap().broken.is_some());
    }
}
