//! The signer contract: who a signer is, what it may sign, and how a key URI names it.

use std::fmt;

use chainlock_protocol::bsm::StatementKind;
use chainlock_protocol::keys::PublicKey;
use chainlock_protocol::verify::ReadyToSign;

use crate::{Error, Result};

/// Which backend holds a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SignerKind {
    /// The OS keychain (Secret Service, macOS Keychain, Windows Credential Manager).
    Keychain,
    /// A Ledger hardware wallet running the Bitcoin Cash app.
    Ledger,
}

impl SignerKind {
    /// The stable lowercase name (`keychain`, `ledger`), as used in URIs and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            SignerKind::Keychain => "keychain",
            SignerKind::Ledger => "ledger",
        }
    }
}

impl fmt::Display for SignerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who a signer is: enough to show it and to match it against a policy. Serializes as
/// `{public_key (hex), key_id, label, kind, uri}` for the window and `--json` output.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SignerIdentity {
    /// The compressed secp256k1 public key.
    pub public_key: PublicKey,
    /// Lowercase hex SHA-256 of the public key bytes (PROTOCOL.md section 1).
    pub key_id: String,
    /// A human label ("alice laptop", "ledger m/45'/236'/0'/0/0").
    pub label: String,
    /// The backend holding the key.
    pub kind: SignerKind,
    /// The key URI that opens this signer again.
    pub uri: String,
}

/// Seals [`Signer`]: only this crate's backends implement it, so no code elsewhere can
/// pass off a signer that skips the checks.
pub trait Sealed {}

/// A maintainer key that can co-sign custody inputs of verified requests and sign ChainLock
/// statements, and nothing else. Sealed: the backends are this crate's.
///
/// There is deliberately no method that signs a digest, bytes or a transaction handed in:
/// the signer takes a [`ReadyToSign`], which only a verification that passed every check can
/// produce, and computes the digest from its transaction; or it signs the fixed statement
/// text of PROTOCOL.md section 1, whose message prefix keeps it apart from any transaction
/// digest. Callers go through [`crate::sign_input`] and [`crate::sign_statement`], which
/// verify what the signer returns before handing it on.
pub trait Signer: Sealed + Send {
    /// Who this signer is.
    fn identity(&self) -> &SignerIdentity;

    /// Signs the custody input of a verified request's record transaction. Computes the
    /// ALL|FORKID digest itself from it; returns strict DER (low S) followed by 0x41.
    fn sign_input(&mut self, ready: &ReadyToSign) -> Result<Vec<u8>>;

    /// Signs `chainlock/1 <kind> <hex digest>` as a Bitcoin Signed Message; returns base64
    /// of the 65-byte compact (recoverable) signature.
    fn sign_statement(&mut self, kind: StatementKind, digest: &[u8; 32]) -> Result<String>;
}

/// A parsed key URI: `keychain://<key-id>` or `ledger://<derivation-path>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyUri {
    /// A key in the OS keychain, named by its key id (64 lowercase hex digits) or a unique
    /// prefix of it (8 digits or more), resolved against the key index when opened.
    Keychain {
        /// The key id, or a prefix of it.
        key_id: String,
    },
    /// A key on a Ledger; an empty path means the default ChainLock path.
    Ledger {
        /// The BIP32 path as written after `ledger://` (`m/45'/236'/0'/0/0`), or empty.
        path: String,
    },
}

/// Longest URI accepted: a key id URI is 75 bytes, a 10-level path well under 200.
const MAX_URI_LEN: usize = 256;

impl KeyUri {
    /// Parses a key URI, refusing anything but the two schemes.
    pub fn parse(uri: &str) -> Result<Self> {
        let invalid = |reason: &str| Error::InvalidUri {
            uri: chainlock_protocol::text::quoted(uri),
            reason: reason.to_string(),
        };
        if uri.len() > MAX_URI_LEN {
            return Err(invalid("too long"));
        }
        if let Some(key_id) = uri.strip_prefix("keychain://") {
            if !is_key_id_prefix(key_id) {
                return Err(invalid(
                    "a keychain key id is 64 lowercase hex digits, or a unique prefix of 8 or \
                     more (see `chainlock key list`)",
                ));
            }
            return Ok(KeyUri::Keychain {
                key_id: key_id.to_string(),
            });
        }
        if let Some(path) = uri.strip_prefix("ledger://") {
            // The path's syntax is the Ledger backend's to check; here only its alphabet.
            if !path
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'm' | b'/' | b'\'' | b'h' | b'H'))
            {
                return Err(invalid("a Ledger path looks like m/45'/236'/0'/0/0"));
            }
            return Ok(KeyUri::Ledger {
                path: path.to_string(),
            });
        }
        Err(invalid("unknown scheme"))
    }

    /// The backend this URI names.
    pub fn kind(&self) -> SignerKind {
        match self {
            KeyUri::Keychain { .. } => SignerKind::Keychain,
            KeyUri::Ledger { .. } => SignerKind::Ledger,
        }
    }
}

impl fmt::Display for KeyUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyUri::Keychain { key_id } => write!(f, "keychain://{key_id}"),
            KeyUri::Ledger { path } => write!(f, "ledger://{path}"),
        }
    }
}

/// True for a key id or a prefix of one that may name a key: 8 to 64 lowercase hex digits.
pub fn is_key_id_prefix(text: &str) -> bool {
    chainlock_protocol::hash::is_lower_hex(text, &(8..=64).collect::<Vec<_>>())
}

/// True for a key id: exactly 64 lowercase hex digits.
pub fn is_key_id(text: &str) -> bool {
    chainlock_protocol::hash::is_lower_hex(text, &[64])
}

/// The key id of a public key: lowercase hex SHA-256 of its 33 compressed bytes.
pub fn key_id(public_key: &PublicKey) -> String {
    public_key.key_id()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests {
    use super::*;

    #[test]
    fn parses_both_schemes() {
        let id = "ab".repeat(32);
        assert_eq!(
            KeyUri::parse(&format!("keychain://{id}")).unwrap(),
            KeyUri::Keychain { key_id: id.clone() }
        );
        assert_eq!(
            KeyUri::parse("ledger://m/45'/236'/0'/0/0").unwrap(),
            KeyUri::Ledger {
                path: "m/45'/236'/0'/0/0".into()
            }
        );
        assert_eq!(
            KeyUri::parse("ledger://").unwrap(),
            KeyUri::Ledger {
                path: String::new()
            }
        );
        assert_eq!(
            KeyUri::parse(&format!("keychain://{id}"))
                .unwrap()
                .to_string(),
            format!("keychain://{id}")
        );
        // A unique prefix, as `key show` takes, resolved when the keychain opens it.
        assert_eq!(
            KeyUri::parse("keychain://80a9f999").unwrap(),
            KeyUri::Keychain {
                key_id: "80a9f999".into()
            }
        );
    }

    #[test]
    fn identity_serializes_for_the_window() {
        let pk = PublicKey::from_hex(
            "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
        )
        .unwrap();
        let identity = SignerIdentity {
            public_key: pk,
            key_id: key_id(&pk),
            label: "l".into(),
            kind: SignerKind::Ledger,
            uri: "ledger://".into(),
        };
        let v = serde_json::to_value(&identity).unwrap();
        assert_eq!(v["public_key"], pk.to_hex());
        assert_eq!(v["kind"], "ledger");
        assert_eq!(v["key_id"], pk.key_id());
    }

    #[test]
    fn refuses_other_uris() {
        for bad in [
            "file:///tmp/key",
            "keychain://",
            "keychain://ABAB",
            "keychain://80a9f99",
            "keychain://80A9F999",
            &format!("keychain://{}", "AB".repeat(32)),
            &format!("keychain://{}/x", "ab".repeat(32)),
            "ledger://m/45'/236'; rm -rf",
            "",
        ] {
            let err = KeyUri::parse(bad).unwrap_err();
            assert_eq!(err.kind(), "invalid_uri", "{bad}");
        }
        assert!(KeyUri::parse(&format!("ledger://{}", "1/".repeat(200))).is_err());
    }
}
