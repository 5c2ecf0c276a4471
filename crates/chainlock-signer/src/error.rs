//! The one error type of the signer crate.
//!
//! Every variant is one thing the user can act on, and [`Error::kind`] gives it a stable
//! name, so the desktop app can tell "device locked" from "rejected on device" from "wrong
//! app open" without parsing messages. Messages end with what to do next.

use std::path::PathBuf;

/// Every way opening a signer or signing with it can fail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A key URI that names no backend or is malformed.
    #[error(
        "invalid key URI {uri}: {reason}; use keychain://<key-id> or ledger://<derivation-path>"
    )]
    InvalidUri {
        /// The URI as given.
        uri: String,
        /// What is wrong with it.
        reason: String,
    },

    // ---- OS keychain ----
    /// The keychain (Secret Service collection, macOS keychain) is locked.
    #[error("the OS keychain holding key {key_id} is locked: unlock it (log in to the desktop session or unlock the login keyring) and retry")]
    KeychainLocked {
        /// The key that was being used.
        key_id: String,
    },
    /// The keychain refused access, or no keychain service is reachable.
    #[error("access to the OS keychain was denied for key {key_id}: {reason}; allow chainlock to use the keychain (or start a Secret Service such as gnome-keyring) and retry")]
    AccessDenied {
        /// The key that was being used.
        key_id: String,
        /// What the keychain said.
        reason: String,
    },
    /// No keychain entry (or no index entry) for this key id.
    #[error("no key {key_id} in the OS keychain: run `chainlock key list` to see the keys on this machine")]
    KeyNotFound {
        /// The key id asked for.
        key_id: String,
    },
    /// A key id prefix that matches more than one indexed key.
    #[error("{prefix} matches more than one key: give more digits of the key id (see `chainlock key list`)")]
    AmbiguousKeyId {
        /// The prefix given.
        prefix: String,
    },
    /// A key with this id is already stored.
    #[error("key {key_id} is already in the OS keychain: nothing to do (see `chainlock key show {key_id}`)")]
    KeyExists {
        /// The key id.
        key_id: String,
    },
    /// The keychain entry exists but does not hold a valid secp256k1 secret key.
    #[error("the OS keychain entry for key {key_id} is not a valid secret key ({reason}): delete it with `chainlock key delete {key_id}` and import the key again")]
    CorruptEntry {
        /// The key id.
        key_id: String,
        /// Why it is invalid (never the secret itself).
        reason: String,
    },
    /// Key material offered for import that is not a secret key.
    #[error("cannot import the key: {reason}; give 64 hex digits or a compressed-key WIF")]
    InvalidImport {
        /// What is wrong with it (never the material itself).
        reason: String,
    },
    /// A key label that is too long or holds control characters.
    #[error("invalid key label: {reason}")]
    InvalidLabel {
        /// What is wrong with it, and what a label may be.
        reason: String,
    },
    /// Any other failure of the OS keychain.
    #[error("the OS keychain failed for key {key_id}: {reason}; check that the keychain service is running and retry")]
    Keychain {
        /// The key that was being used.
        key_id: String,
        /// What the keychain said.
        reason: String,
    },
    /// The key index in the config directory cannot be read or written.
    #[error("cannot use the key index {}: {reason}; check the file and its directory's permissions", path.display())]
    Index {
        /// The index file.
        path: PathBuf,
        /// Why.
        reason: String,
    },

    // ---- Ledger ----
    /// No Ledger is connected (or none answers on the transport).
    #[error("no Ledger found: connect and unlock it, open the Bitcoin Cash app, and retry")]
    NoDevice,
    /// More than one Ledger is connected.
    #[error("more than one Ledger is connected: unplug all but the one to sign with")]
    MultipleDevices,
    /// The Ledger is locked (PIN not entered).
    #[error("the Ledger is locked: enter its PIN and retry")]
    DeviceLocked,
    /// The app open on the Ledger is not the one ChainLock signs with.
    #[error("the Ledger has {name} {version} open: open the Bitcoin Cash app and retry")]
    WrongApp {
        /// Name of the app open.
        name: String,
        /// Its version.
        version: String,
    },
    /// The user refused on the device.
    #[error("the signature was rejected on the Ledger: nothing was signed")]
    RejectedOnDevice,
    /// The transaction has an output the Ledger app cannot show.
    #[error("the Ledger app cannot show output {index}: {reason}")]
    UnsupportedOutput {
        /// Which output.
        index: usize,
        /// Why the app refuses it.
        reason: String,
    },
    /// The device went away mid-exchange.
    #[error("the Ledger was disconnected: reconnect it, open the Bitcoin Cash app, and retry")]
    Disconnected,
    /// The funding transaction given with a record transaction does not create the output
    /// its custody input spends, so the device cannot be shown a trusted input for it.
    #[error("the funding transaction does not create the custody output being spent ({reason}): the signing request is inconsistent; ask its publisher to publish it again")]
    FundingMismatch {
        /// What differs.
        reason: String,
    },
    /// The device did not answer in time.
    #[error("the Ledger did not answer within {secs} s: check the device screen and retry")]
    Timeout {
        /// How long we waited.
        secs: u64,
    },
    /// The device answered with a status word we do not expect.
    #[error(
        "the Ledger answered status {sw:#06x} to {command}: update the Bitcoin Cash app and retry"
    )]
    DeviceStatus {
        /// The command sent.
        command: String,
        /// The status word.
        sw: u16,
    },
    /// Any failure of the transport (HID, TCP to Speculos).
    #[error("cannot talk to the Ledger: {reason}; reconnect it and retry")]
    Transport {
        /// What failed.
        reason: String,
    },

    // ---- Any backend ----
    /// The signature returned does not verify against the signer's key and the digest we
    /// computed: it is never stored or passed on.
    #[error("the signature from {key_id} does not verify ({what}): it was discarded; the signer may be faulty or tampered with")]
    BadSignature {
        /// The signer's key id.
        key_id: String,
        /// What was being signed.
        what: String,
    },
    /// The signer's key is not one of the custody keys of the input it was asked to sign.
    #[error("key {key_id} is not one of the custody keys of this transaction: sign with a maintainer key of the policy in force")]
    NotCustodyKey {
        /// The signer's key id.
        key_id: String,
    },
    /// A signature offered for combining that verifies for none of the custody keys.
    #[error("signature {index} (counting from 0) verifies for none of the custody keys of this transaction: it was made for another transaction or key; ask its signer to sign again")]
    UnknownSignature {
        /// Its position among the signatures given.
        index: usize,
    },
    /// Two signatures by the same key: a key counts once.
    #[error("key {key_id} signed twice: each key counts once; give one signature per key")]
    DuplicateSignature {
        /// The key that signed twice.
        key_id: String,
    },
    /// Fewer valid signatures by distinct custody keys than the threshold.
    #[error("{have} valid signature(s) by distinct custody keys, {need} required: collect more co-signatures")]
    InsufficientSignatures {
        /// Distinct keys that signed.
        have: usize,
        /// The threshold m.
        need: usize,
    },
    /// The assembled input does not pass the node-like checker.
    #[error("the assembled input does not spend its custody output: {reason}")]
    CombinedInvalid {
        /// The checker's reason.
        reason: String,
    },
    /// A protocol-level failure (malformed key, transaction, signature).
    #[error(transparent)]
    Protocol(#[from] chainlock_protocol::Error),
}

/// Result alias for the signer crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A stable machine-readable name for the error, for the UI and `--json` output.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::InvalidUri { .. } => "invalid_uri",
            Error::KeychainLocked { .. } => "keychain_locked",
            Error::AccessDenied { .. } => "access_denied",
            Error::KeyNotFound { .. } => "key_not_found",
            Error::AmbiguousKeyId { .. } => "ambiguous_key_id",
            Error::KeyExists { .. } => "key_exists",
            Error::CorruptEntry { .. } => "corrupt_entry",
            Error::InvalidImport { .. } => "invalid_import",
            Error::InvalidLabel { .. } => "invalid_label",
            Error::Keychain { .. } => "keychain",
            Error::Index { .. } => "index",
            Error::NoDevice => "no_device",
            Error::MultipleDevices => "multiple_devices",
            Error::DeviceLocked => "device_locked",
            Error::WrongApp { .. } => "wrong_app",
            Error::RejectedOnDevice => "rejected_on_device",
            Error::UnsupportedOutput { .. } => "unsupported_output",
            Error::Disconnected => "disconnected",
            Error::FundingMismatch { .. } => "funding_mismatch",
            Error::Timeout { .. } => "timeout",
            Error::DeviceStatus { .. } => "device_status",
            Error::Transport { .. } => "transport",
            Error::BadSignature { .. } => "bad_signature",
            Error::NotCustodyKey { .. } => "not_custody_key",
            Error::UnknownSignature { .. } => "unknown_signature",
            Error::DuplicateSignature { .. } => "duplicate_signature",
            Error::InsufficientSignatures { .. } => "insufficient_signatures",
            Error::CombinedInvalid { .. } => "combined_invalid",
            Error::Protocol(_) => "protocol",
        }
    }
}

/// Errors reach the window as `{kind, message}`: the kind to branch on, the message to show.
impl serde::Serialize for Error {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Error", 2)?;
        s.serialize_field("kind", self.kind())?;
        s.serialize_field("message", &self.to_string())?;
        s.end()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests {
    use super::*;

    #[test]
    fn errors_serialize_as_kind_and_message() {
        let err = Error::KeychainLocked {
            key_id: "ab".into(),
        };
        let v = serde_json::to_value(&err).unwrap();
        assert_eq!(v["kind"], "keychain_locked");
        assert!(v["message"].as_str().unwrap().contains("unlock"));
        assert_eq!(v.as_object().unwrap().len(), 2);
    }
}
