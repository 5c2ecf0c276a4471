//! The OS keychain signer: secret keys live in the platform's secret store (Secret Service on
//! Linux, Keychain on macOS, Credential Manager on Windows) and nowhere else.
//!
//! Each key is one keychain entry, service [`SERVICE`], account = key id, secret = the 32
//! raw key bytes. Keychains cannot always enumerate their entries, so an index of key ids,
//! public keys and labels is kept in `<config dir>/keys.json` ([`config_dir`]); it holds no
//! secret and is written atomically (temporary file, fsync, rename) under a lock file.
//!
//! A secret is read from the keychain for one signing call, checked against the public key
//! the index recorded, used and zeroized: a [`KeychainSigner`] never holds it between calls.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chainlock_protocol::bsm::StatementKind;
use chainlock_protocol::hash::sha256d;
use chainlock_protocol::keys::{PublicKey, SecretKey};
use chainlock_protocol::verify::ReadyToSign;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::signer::{is_key_id, KeyUri, Signer, SignerIdentity, SignerKind};
use crate::{Error, Result};

/// The keychain service name every ChainLock key is stored under.
pub const SERVICE: &str = "chainlock";
/// Environment variable that overrides the config directory holding the key index.
pub const CONFIG_DIR_ENV: &str = "CHAINLOCK_CONFIG_DIR";
/// File name of the key index inside the config directory.
pub const INDEX_FILE: &str = "keys.json";
/// Longest label accepted.
pub const MAX_LABEL_LEN: usize = 100;

/// The index never grows near this; a bigger file is not ours and is refused unread.
const MAX_INDEX_BYTES: u64 = 1 << 20;
/// How long to wait for another `chainlock` process to release the index lock.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// The default config directory: `$CHAINLOCK_CONFIG_DIR`, else the platform's per-user
/// config directory joined with `chainlock` (`$XDG_CONFIG_HOME/chainlock` or
/// `~/.config/chainlock` on Linux, `~/Library/Application Support/chainlock` on macOS,
/// `%APPDATA%\chainlock` on Windows).
pub fn config_dir() -> Result<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = var(CONFIG_DIR_ENV) {
        return Ok(dir);
    }
    let base = if cfg!(windows) {
        var("APPDATA")
    } else if cfg!(target_os = "macos") {
        var("HOME").map(|h| h.join("Library/Application Support"))
    } else {
        var("XDG_CONFIG_HOME")
            .filter(|p| p.is_absolute())
            .or_else(|| var("HOME").map(|h| h.join(".config")))
    };
    base.map(|b| b.join("chainlock"))
        .ok_or_else(|| Error::Index {
            path: PathBuf::from(INDEX_FILE),
            reason: format!(
                "no home directory is known; set {CONFIG_DIR_ENV} to a directory for the key index"
            ),
        })
}

/// A key known to this machine, as the index records it (no secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    /// Lowercase hex SHA-256 of the public key.
    pub key_id: String,
    /// The compressed public key.
    pub public_key: PublicKey,
    /// The user's label for it.
    pub label: String,
    /// For a key on a Ledger, its derivation path (`m/45'/236'/0'/0/0`): the device holds
    /// the secret and the index only its public key. Absent for keychain keys, so indexes
    /// written before Ledger keys were indexed read as they always did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger_path: Option<String>,
}

impl KeyInfo {
    /// The key URI that opens this key: `keychain://<key-id>`, or `ledger://<path>` for a key
    /// on a Ledger.
    pub fn uri(&self) -> String {
        match &self.ledger_path {
            Some(path) => KeyUri::Ledger { path: path.clone() },
            None => KeyUri::Keychain {
                key_id: self.key_id.clone(),
            },
        }
        .to_string()
    }

    /// Which backend holds the key.
    pub fn kind(&self) -> SignerKind {
        if self.ledger_path.is_some() {
            SignerKind::Ledger
        } else {
            SignerKind::Keychain
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IndexFile {
    pub(crate) version: u32,
    pub(crate) keys: Vec<KeyInfo>,
}

const INDEX_VERSION: u32 = 1;

/// The keys of this user in the OS keychain, with their index.
#[derive(Debug, Clone)]
pub struct Keychain {
    dir: PathBuf,
}

impl Keychain {
    /// The keychain with its index in `config_dir`, or in [`config_dir()`] for `None`.
    pub fn new(config_dir: Option<PathBuf>) -> Result<Self> {
        let dir = match config_dir {
            Some(dir) => dir,
            None => self::config_dir()?,
        };
        Ok(Keychain { dir })
    }

    /// The index file.
    pub fn index_path(&self) -> PathBuf {
        self.dir.join(INDEX_FILE)
    }

    /// The keys in the index, in the order they were added.
    pub fn list(&self) -> Result<Vec<KeyInfo>> {
        Ok(self.read_index()?.keys)
    }

    /// Finds a key in the index by its id or a unique prefix of it (at least 8 digits).
    pub fn find(&self, id_or_prefix: &str) -> Result<KeyInfo> {
        let not_found = || Error::KeyNotFound {
            key_id: chainlock_protocol::text::quoted(id_or_prefix),
        };
        if id_or_prefix.len() < 8 || !id_or_prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(not_found());
        }
        let wanted = id_or_prefix.to_ascii_lowercase();
        let mut matches = self
            .list()?
            .into_iter()
            .filter(|k| k.key_id.starts_with(&wanted));
        match (matches.next(), matches.next()) {
            (Some(key), None) => Ok(key),
            (Some(_), Some(_)) => Err(Error::AmbiguousKeyId { prefix: wanted }),
            (None, _) => Err(not_found()),
        }
    }

    /// Generates a key with the OS random number generator and stores it.
    pub fn generate(&self, label: &str) -> Result<KeyInfo> {
        self.store(SecretKey::generate(), label)
    }

    /// Stores an existing secret key (see [`parse_secret`] for the accepted forms).
    pub fn import(&self, secret: SecretKey, label: &str) -> Result<KeyInfo> {
        self.store(secret, label)
    }

    /// Checks that the keychain holds the key's secret and that it matches the indexed
    /// public key; the secret is read and dropped (zeroized) at once.
    pub fn check(&self, key: &KeyInfo) -> Result<()> {
        load_secret(&key.key_id, Some(&key.public_key)).map(drop)
    }

    /// Deletes the key from the keychain and the index. A key missing from the keychain but
    /// still indexed is removed from the index; one in the keychain but not indexed is
    /// deleted from the keychain.
    pub fn delete(&self, key_id: &str) -> Result<KeyInfo> {
        let _lock = IndexLock::acquire(&self.dir)?;
        let mut index = self.read_index()?;
        let info = match index.keys.iter().position(|k| k.key_id == key_id) {
            Some(pos) => index.keys.remove(pos),
            None => unindexed_info(key_id)?,
        };
        // A Ledger key has no keychain entry: only its index line goes.
        if info.ledger_path.is_none() {
            match entry(key_id)?.delete_credential() {
                Ok(()) | Err(keyring::Error::NoEntry) => {}
                Err(e) => return Err(map_keyring_error(key_id, e)),
            }
        }
        self.write_index(&index)?;
        Ok(info)
    }

    /// Signs input `input_index` of a top-up transaction with key `key_id` used as a funding
    /// key: the spent output must be a P2PKH of that key (never a custody output: a
    /// maintainer's consent is given only through [`crate::sign_input`] on a verified request).
    pub fn sign_funding_input(
        &self,
        key_id: &str,
        tx: &chainlock_protocol::tx::Transaction,
        input_index: usize,
        spent: &chainlock_protocol::tx::SpentOutput,
    ) -> Result<Vec<u8>> {
        let info = self.find(key_id)?;
        let secret = load_secret(&info.key_id, Some(&info.public_key))?;
        Ok(secret.sign_p2pkh_input(tx, input_index, spent)?)
    }

    /// Opens the signer for a key. Its identity comes from the index; a key that is in the
    /// keychain but not indexed is still usable (its public key is derived from the secret).
    /// `key_id` may be a unique prefix of 8 digits or more, as everywhere a key id is taken.
    pub fn open(&self, key_id: &str) -> Result<KeychainSigner> {
        let info = if is_key_id(key_id) {
            match self.list()?.into_iter().find(|k| k.key_id == key_id) {
                Some(info) => info,
                None => unindexed_info(key_id)?,
            }
        } else {
            self.find(key_id)?
        };
        if let Some(path) = &info.ledger_path {
            // Its secret is on the device: opening it from the keychain could only fail later,
            // with a message about a missing keychain entry.
            return Err(Error::InvalidUri {
                uri: format!("keychain://{}", info.key_id),
                reason: format!(
                    "key {} is on a Ledger, not in the OS keychain: sign with ledger://{path}",
                    info.key_id
                ),
            });
        }
        let uri = info.uri();
        Ok(KeychainSigner {
            identity: SignerIdentity {
                public_key: info.public_key,
                key_id: info.key_id,
                label: info.label,
                kind: SignerKind::Keychain,
                uri,
            },
        })
    }

    fn store(&self, secret: SecretKey, label: &str) -> Result<KeyInfo> {
        check_label(label)?;
        let public_key = secret.public_key();
        let key_id = public_key.key_id();
        let _lock = IndexLock::acquire(&self.dir)?;
        let mut index = self.read_index()?;
        let entry = entry(&key_id)?;
        let info = KeyInfo {
            key_id: key_id.clone(),
            public_key,
            label: label.to_string(),
            ledger_path: None,
        };
        match entry.get_secret() {
            Ok(mut existing) => {
                existing.zeroize();
                if index.keys.iter().any(|k| k.key_id == key_id) {
                    return Err(Error::KeyExists { key_id });
                }
                // In the keychain but not indexed (the index was lost or is new on this
                // machine): storing it again is how the user gets it listed, so repair the
                // index, once the entry is shown to hold this very key.
                load_secret(&key_id, Some(&public_key))?;
                index.keys.push(info.clone());
                self.write_index(&index)?;
                return Ok(info);
            }
            Err(keyring::Error::NoEntry) => {}
            Err(e) => return Err(map_keyring_error(&key_id, e)),
        }
        if index.keys.iter().any(|k| k.key_id == key_id) {
            // Indexed but gone from the keychain: the old index line is stale; replace it.
            index.keys.retain(|k| k.key_id != key_id);
        }
        let bytes = secret.to_bytes();
        entry
            .set_secret(bytes.as_slice())
            .map_err(|e| map_keyring_error(&key_id, e))?;
        drop(bytes);
        // Read it back: a keychain that silently dropped the write would lose a key we are
        // about to tell the user exists.
        if let Err(e) = load_secret(&key_id, Some(&public_key)) {
            let _ = entry.delete_credential();
            return Err(e);
        }
        index.keys.push(info.clone());
        if let Err(e) = self.write_index(&index) {
            // Without an index line the key would be invisible to `key list`: undo the store.
            let _ = entry.delete_credential();
            return Err(e);
        }
        Ok(info)
    }

    pub(crate) fn read_index(&self) -> Result<IndexFile> {
        let path = self.index_path();
        let index_err = |reason: String| Error::Index {
            path: path.clone(),
            reason,
        };
        let file = match fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(IndexFile {
                    version: INDEX_VERSION,
                    keys: Vec::new(),
                })
            }
            Err(e) => return Err(index_err(e.to_string())),
        };
        let len = file.metadata().map_err(|e| index_err(e.to_string()))?.len();
        if len > MAX_INDEX_BYTES {
            return Err(index_err(format!(
                "{len} bytes is larger than any key index"
            )));
        }
        let index: IndexFile =
            serde_json::from_reader(std::io::BufReader::new(file)).map_err(|e| {
                let reason = chainlock_protocol::text::printable_cut(&e.to_string(), 160);
                index_err(format!("not a key index: {reason}"))
            })?;
        if index.version != INDEX_VERSION {
            return Err(index_err(format!(
                "index version {} is not supported (expected {INDEX_VERSION})",
                index.version
            )));
        }
        for key in &index.keys {
            if key.public_key.key_id() != key.key_id {
                return Err(index_err(format!(
                    "key id {} does not match its public key",
                    key.key_id
                )));
            }
        }
        Ok(index)
    }

    pub(crate) fn write_index(&self, index: &IndexFile) -> Result<()> {
        let path = self.index_path();
        let index_err = |reason: String| Error::Index {
            path: path.clone(),
            reason,
        };
        let mut json = serde_json::to_vec_pretty(index).map_err(|e| index_err(e.to_string()))?;
        json.push(b'\n');
        chainlock_fs::write(&path, &json, chainlock_fs::Options::REPLACE_PRIVATE)
            .map_err(|e| index_err(e.to_string()))
    }
}

impl Keychain {
    /// The directory holding the index.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
}

/// A key in the OS keychain, as a [`Signer`].
#[derive(Debug)]
pub struct KeychainSigner {
    identity: SignerIdentity,
}

impl crate::signer::Sealed for KeychainSigner {}

impl Signer for KeychainSigner {
    fn identity(&self) -> &SignerIdentity {
        &self.identity
    }

    fn sign_input(&mut self, ready: &ReadyToSign) -> Result<Vec<u8>> {
        let secret = load_secret(&self.identity.key_id, Some(&self.identity.public_key))?;
        Ok(secret.sign_custody_input(ready)?)
    }

    fn sign_statement(&mut self, kind: StatementKind, digest: &[u8; 32]) -> Result<String> {
        let secret = load_secret(&self.identity.key_id, Some(&self.identity.public_key))?;
        Ok(secret.sign_statement(kind, digest))
    }
}

/// Parses secret key material for import: 64 hex digits (the 32 key bytes, big-endian), or
/// a WIF for a compressed key (mainnet `K`/`L`, testnet `c`). Surrounding whitespace is
/// ignored; errors never quote the material.
pub fn parse_secret(text: &str) -> Result<SecretKey> {
    let invalid = |reason: &str| Error::InvalidImport {
        reason: reason.to_string(),
    };
    let text = text.trim();
    let mut bytes = Zeroizing::new([0u8; 32]);
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode_to_slice(text, bytes.as_mut_slice()).map_err(|_| invalid("invalid hex"))?;
    } else {
        let raw = base58check_decode(text)
            .ok_or_else(|| invalid("neither 64 hex digits nor a valid WIF"))?;
        match raw.as_slice() {
            [0x80 | 0xef, key @ .., 0x01] if key.len() == 32 => bytes.copy_from_slice(key),
            [0x80 | 0xef, key @ ..] if key.len() == 32 => {
                return Err(invalid(
                    "this WIF is for an uncompressed key; ChainLock uses compressed keys only",
                ))
            }
            _ => return Err(invalid("not a WIF private key")),
        }
    }
    SecretKey::from_bytes(&bytes)
        .map_err(|_| invalid("the value is zero or not below the secp256k1 order"))
}

/// Base58Check decoding into a zeroized buffer (WIF carries a secret, so no library buffer
/// may keep a copy); `None` for bad characters, a bad checksum or an absurd length.
fn base58check_decode(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    // A WIF is 51 or 52 characters; nothing longer is worth decoding.
    if text.is_empty() || text.len() > 64 {
        return None;
    }
    let mut out = Zeroizing::new(Vec::with_capacity(48));
    for c in text.bytes() {
        let mut carry = ALPHABET.iter().position(|&a| a == c)? as u32;
        for byte in out.iter_mut().rev() {
            carry += u32::from(*byte) * 58;
            *byte = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            out.insert(0, (carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let zeros = text.bytes().take_while(|&c| c == b'1').count();
    let mut full = Zeroizing::new(vec![0u8; zeros]);
    full.extend_from_slice(&out);
    if full.len() < 4 {
        return None;
    }
    let (payload, checksum) = full.split_at(full.len() - 4);
    let check = sha256d(payload);
    if check[..4] != *checksum {
        return None;
    }
    Some(Zeroizing::new(payload.to_vec()))
}

pub(crate) fn check_label(label: &str) -> Result<()> {
    if label.chars().count() > MAX_LABEL_LEN || label.chars().any(char::is_control) {
        return Err(Error::InvalidLabel {
            reason: format!(
                "a label is at most {MAX_LABEL_LEN} characters, without control characters"
            ),
        });
    }
    Ok(())
}

fn entry(key_id: &str) -> Result<keyring::Entry> {
    keyring::Entry::new(SERVICE, key_id).map_err(|e| map_keyring_error(key_id, e))
}

/// What is known of a key that is in the keychain but not in the index: its public key,
/// derived from the secret, and no label.
fn unindexed_info(key_id: &str) -> Result<KeyInfo> {
    let secret = load_secret(key_id, None)?;
    Ok(KeyInfo {
        key_id: key_id.to_string(),
        public_key: secret.public_key(),
        label: String::new(),
        ledger_path: None,
    })
}

/// Reads a key's secret from the keychain; with `expected`, refuses a secret whose public
/// key differs (an entry overwritten by someone else must not sign under our identity).
fn load_secret(key_id: &str, expected: Option<&PublicKey>) -> Result<SecretKey> {
    let raw = Zeroizing::new(
        entry(key_id)?
            .get_secret()
            .map_err(|e| map_keyring_error(key_id, e))?,
    );
    let corrupt = |reason: &str| Error::CorruptEntry {
        key_id: key_id.to_string(),
        reason: reason.to_string(),
    };
    let bytes: Zeroizing<[u8; 32]> = match <[u8; 32]>::try_from(raw.as_slice()) {
        Ok(b) => Zeroizing::new(b),
        Err(_) => return Err(corrupt("the entry does not hold 32 bytes")),
    };
    let secret =
        SecretKey::from_bytes(&bytes).map_err(|_| corrupt("not a valid secp256k1 secret key"))?;
    let public_key = secret.public_key();
    if public_key.key_id() != key_id || expected.is_some_and(|pk| *pk != public_key) {
        return Err(corrupt("the secret does not belong to this key id"));
    }
    Ok(secret)
}

/// Maps the keychain's errors to ours, by platform: on the Secret Service, "no storage
/// access" only ever means a locked collection whose unlock prompt failed or was dismissed.
pub(crate) fn map_keyring_error(key_id: &str, err: keyring::Error) -> Error {
    let key_id = key_id.to_string();
    match err {
        keyring::Error::NoEntry => Error::KeyNotFound { key_id },
        keyring::Error::NoStorageAccess(e) => {
            if cfg!(any(
                target_os = "linux",
                target_os = "freebsd",
                target_os = "openbsd"
            )) {
                Error::KeychainLocked { key_id }
            } else {
                Error::AccessDenied {
                    key_id,
                    reason: e.to_string(),
                }
            }
        }
        keyring::Error::PlatformFailure(e) => {
            let reason = e.to_string();
            let lower = reason.to_ascii_lowercase();
            // gnome-keyring refuses writes to a locked collection with a plain D-Bus error
            // (org.freedesktop.Secret.Error.IsLocked) instead of offering an unlock prompt.
            if lower.contains("islocked")
                || lower.contains("locked collection")
                || lower.contains("is locked")
            {
                Error::KeychainLocked { key_id }
            } else if reason.contains("AccessDenied")
                || reason.to_ascii_lowercase().contains("access denied")
            {
                Error::AccessDenied { key_id, reason }
            } else if reason.contains("ServiceUnknown")
                || reason.contains("org.freedesktop.secrets")
            {
                Error::Keychain {
                    key_id,
                    reason: format!("no Secret Service is running ({reason})"),
                }
            } else {
                Error::Keychain { key_id, reason }
            }
        }
        keyring::Error::BadEncoding(mut bytes) => {
            bytes.zeroize();
            Error::CorruptEntry {
                key_id,
                reason: "unexpected encoding".into(),
            }
        }
        keyring::Error::Ambiguous(_) => Error::CorruptEntry {
            key_id,
            reason: "the keychain holds more than one entry for this key".into(),
        },
        other => Error::Keychain {
            key_id,
            reason: other.to_string(),
        },
    }
}

/// A lock file beside the index, so two `chainlock` processes never lose each other's
/// index updates. Removed on drop.
pub(crate) struct IndexLock {
    path: PathBuf,
}

impl IndexLock {
    pub(crate) fn acquire(dir: &Path) -> Result<Self> {
        create_private_dir(dir)?;
        let path = dir.join(format!("{INDEX_FILE}.lock"));
        let start = Instant::now();
        loop {
            match fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(_) => return Ok(IndexLock { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && start.elapsed() < LOCK_WAIT => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => {
                    return Err(Error::Index {
                        path: path.clone(),
                        reason: format!(
                            "cannot take the index lock ({e}); if no other chainlock is running, delete {}",
                            path.display()
                        ),
                    })
                }
            }
        }
    }
}

impl Drop for IndexLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| Error::Index {
        path: dir.to_path_buf(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests {
    use super::*;

    // Key and WIFs from the Bitcoin wiki's "Wallet import format" page.
    const SECRET_HEX: &str = "0c28fca386c7a227600b2fe50b7cae11ec86d3bf1fbe471be89827e19d72aa1d";
    const WIF_COMPRESSED: &str = "KwdMAjGmerYanjeui5SHS7JkmpZvVipYvB2LJGU1ZxJwYvP98617";
    const WIF_UNCOMPRESSED: &str = "5HueCGU8rMjxEXxiPuD5BDku4MkFqeZyd4dZ1jvhTVqvbTLvyTJ";

    #[test]
    fn imports_hex_and_compressed_wif_as_the_same_key() {
        let from_hex = parse_secret(SECRET_HEX).unwrap();
        let from_upper = parse_secret(&format!(" {}\n", SECRET_HEX.to_uppercase())).unwrap();
        let from_wif = parse_secret(WIF_COMPRESSED).unwrap();
        assert_eq!(
            from_hex.to_bytes().as_slice(),
            hex::decode(SECRET_HEX).unwrap().as_slice()
        );
        assert_eq!(from_upper.public_key(), from_hex.public_key());
        assert_eq!(from_wif.public_key(), from_hex.public_key());
    }

    #[test]
    fn refuses_bad_material_without_quoting_it() {
        let mut flipped = WIF_COMPRESSED.to_string();
        flipped.replace_range(10..11, "z");
        for (bad, why) in [
            (WIF_UNCOMPRESSED, "uncompressed"),
            (flipped.as_str(), "neither"),
            ("", "neither"),
            ("0OIl", "neither"),
            (&"0".repeat(64), "zero"),
            (&"f".repeat(64), "order"),
            (&"1".repeat(200), "neither"),
        ] {
            let err = parse_secret(bad).unwrap_err();
            assert_eq!(err.kind(), "invalid_import");
            let text = err.to_string();
            assert!(text.contains(why), "{bad}: {text}");
            assert!(
                bad.len() < 8 || !text.contains(bad),
                "the error quotes the material: {text}"
            );
        }
    }

    #[test]
    fn index_round_trips_and_refuses_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let store = Keychain::new(Some(dir.path().join("chainlock"))).unwrap();
        assert!(store.list().unwrap().is_empty());
        let key = SecretKey::from_bytes(&[7; 32]).unwrap().public_key();
        let info = KeyInfo {
            key_id: key.key_id(),
            public_key: key,
            label: "l".into(),
            ledger_path: None,
        };
        let index = IndexFile {
            version: INDEX_VERSION,
            keys: vec![info.clone()],
        };
        create_private_dir(&store.dir).unwrap();
        store.write_index(&index).unwrap();
        assert_eq!(store.list().unwrap(), vec![info.clone()]);
        assert_eq!(store.find(&info.key_id[..8]).unwrap(), info);
        assert_eq!(store.find("abc").unwrap_err().kind(), "key_not_found");
        // A unique prefix opens the key (what `keychain://80a9f999` names), with its full id.
        let signer = store.open(&info.key_id[..8]).unwrap();
        assert_eq!(signer.identity().key_id, info.key_id);
        assert_eq!(signer.identity().uri, format!("keychain://{}", info.key_id));
        assert_eq!(
            store.open("00000000").unwrap_err().kind(),
            "key_not_found",
            "a prefix matching no key"
        );
        // No temporary file is left beside the index.
        let names: Vec<_> = fs::read_dir(&store.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(INDEX_FILE)]);
        // A key id that does not match its public key is refused, naming the file.
        let text = fs::read_to_string(store.index_path())
            .unwrap()
            .replace(&info.key_id, &"ab".repeat(32));
        fs::write(store.index_path(), text).unwrap();
        let err = store.list().unwrap_err();
        assert_eq!(err.kind(), "index");
        assert!(err.to_string().contains("keys.json"), "{err}");
        fs::write(store.index_path(), "{\"version\":2,\"keys\":[]}").unwrap();
        assert!(store.list().unwrap_err().to_string().contains("version 2"));
    }

    #[test]
    fn labels_are_bounded() {
        assert!(check_label("alice laptop").is_ok());
        assert!(check_label(&"x".repeat(MAX_LABEL_LEN + 1)).is_err());
        assert!(check_label("a\nb").is_err());
    }
}
