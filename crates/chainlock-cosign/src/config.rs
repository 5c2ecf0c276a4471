//! Where the co-signer keeps things: configuration in `$XDG_CONFIG_HOME/chainlock`
//! (`CHAINLOCK_CONFIG_DIR` overrides it), state in `$XDG_DATA_HOME/chainlock`
//! (`CHAINLOCK_DATA_DIR`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use chainlock_protocol::hash::Digest;

use crate::fsio;
use crate::{Error, Result};

/// The configuration file's name in the configuration directory.
pub const CONFIG_FILE: &str = "cosign.json";

/// The configuration and state directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// Configuration: watched packages, the chain backend (and the key index, `keys.json`).
    pub config_dir: PathBuf,
    /// State: coordination mirrors, the local ledger, the audit log.
    pub data_dir: PathBuf,
}

impl Paths {
    /// The directories from the environment (XDG base directories, then `~/.config` and
    /// `~/.local/share`).
    pub fn from_env() -> Result<Self> {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let pick = |own: &str, xdg: &str, fallback: &str| -> Result<PathBuf> {
            if let Some(dir) = std::env::var_os(own).filter(|v| !v.is_empty()) {
                return Ok(PathBuf::from(dir));
            }
            if let Some(dir) = std::env::var_os(xdg).filter(|v| !v.is_empty()) {
                return Ok(PathBuf::from(dir).join("chainlock"));
            }
            home.as_ref()
                .map(|h| h.join(fallback).join("chainlock"))
                .ok_or_else(|| {
                    Error::Refused(format!(
                        "neither {own}, {xdg} nor HOME is set: set one of them"
                    ))
                })
        };
        Ok(Paths {
            config_dir: pick("CHAINLOCK_CONFIG_DIR", "XDG_CONFIG_HOME", ".config")?,
            data_dir: pick("CHAINLOCK_DATA_DIR", "XDG_DATA_HOME", ".local/share")?,
        })
    }

    /// The configuration file.
    pub fn config_file(&self) -> PathBuf {
        self.config_dir.join(CONFIG_FILE)
    }

    /// The audit log.
    pub fn history_file(&self) -> PathBuf {
        self.data_dir.join("history.jsonl")
    }

    /// The default local ledger.
    pub fn default_ledger(&self) -> PathBuf {
        self.data_dir.join("ledger.sqlite")
    }

    /// The coordination mirror of a package.
    pub fn mirror(&self, package: &str) -> PathBuf {
        let safe: String = package
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.data_dir
            .join("coordination")
            .join(format!("{safe}.git"))
    }
}

/// A package this co-signer watches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Watched {
    /// `ecosystem:name`, as records name it (`npm:left-pad`).
    pub package: String,
    /// The coordination remote (git URL).
    pub remote: String,
    /// The co-signer's own clone of the package's source.
    pub clone: PathBuf,
    /// The pinned genesis record's digest (trust on first use).
    pub genesis: Digest,
}

/// Which chain backend answers "is this spent" and "this package's records".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum ChainConfig {
    /// The embedded local ledger (SQLite): demo, tests, offline. Not the BSV network.
    Local {
        /// The ledger file; the default is in the data directory.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<PathBuf>,
    },
    /// An ARC server (the BSV network): broadcasts and statuses. Its API key, if any, is in
    /// the OS keychain under [`ChainConfig::arc_key_name`]. With `lookups`, the whole loop
    /// runs on the network: a WhatsOnChain-style server answers the rest (ADR 0012).
    Arc {
        /// The base URL, such as `https://arc.taal.com`.
        url: String,
        /// The lookup server's base for one chain and network, such as
        /// `https://api.whatsonchain.com/v1/bsv/main`; absent in configurations written before
        /// lookups existed (ARC alone then).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lookups: Option<String>,
    },
}

impl ChainConfig {
    /// The keychain secret holding the API key of the ARC server at `url`.
    pub fn arc_key_name(url: &str) -> String {
        format!("arc-api-key:{}", url.trim_end_matches('/'))
    }
}

impl Default for ChainConfig {
    fn default() -> Self {
        ChainConfig::Local { path: None }
    }
}

/// The co-signer's configuration (`cosign.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The chain backend.
    #[serde(default)]
    pub chain: ChainConfig,
    /// Watched packages.
    #[serde(default)]
    pub packages: Vec<Watched>,
    /// Marks a demo workspace (`chainlock demo`): shown as such everywhere.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub demo: bool,
}

impl Config {
    /// Reads the configuration; a missing file is an empty configuration.
    pub fn load(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Ok(Config::default());
        }
        let bytes = fsio::read_capped(path)?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Damaged {
            path: path.to_path_buf(),
            reason: chainlock_protocol::text::shown(&e.to_string()),
        })
    }

    /// Writes the configuration atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut bytes =
            serde_json::to_vec_pretty(self).map_err(|e| Error::Refused(e.to_string()))?;
        bytes.push(b'\n');
        fsio::write_atomic(path, &bytes)
    }

    /// The watched package named `name` (`npm:pad`, or just `pad` when unambiguous).
    pub fn find(&self, name: &str) -> Result<&Watched> {
        if let Some(w) = self.packages.iter().find(|w| w.package == name) {
            return Ok(w);
        }
        let matches: Vec<&Watched> = self
            .packages
            .iter()
            .filter(|w| w.package.split_once(':').map(|(_, n)| n) == Some(name))
            .collect();
        match matches.as_slice() {
            [one] => Ok(one),
            _ => Err(Error::UnknownPackage(name.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_arc_configuration_written_before_lookups_still_reads_and_new_ones_round_trip() {
        let old: Config =
            serde_json::from_str(r#"{"chain": {"kind": "arc", "url": "https://arc.example"}}"#)
                .unwrap();
        assert_eq!(
            old.chain,
            ChainConfig::Arc {
                url: "https://arc.example".into(),
                lookups: None
            }
        );
        // Written back without the field, as before.
        assert!(!serde_json::to_string(&old).unwrap().contains("lookups"));
        let new = Config {
            chain: ChainConfig::Arc {
                url: "https://arc.example".into(),
                lookups: Some("https://api.whatsonchain.com/v1/bsv/main".into()),
            },
            ..Config::default()
        };
        let text = serde_json::to_string(&new).unwrap();
        assert_eq!(serde_json::from_str::<Config>(&text).unwrap(), new);
        // An unknown field is still refused.
        assert!(serde_json::from_str::<Config>(
            r#"{"chain": {"kind": "arc", "url": "u", "lookup": "typo"}}"#
        )
        .is_err());
    }
}
