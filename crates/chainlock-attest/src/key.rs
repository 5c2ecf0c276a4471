//! Builder keys: Ed25519, kept in a PKCS#8 PEM file readable only by its owner.
//!
//! The file is the same `-----BEGIN PRIVATE KEY-----` document that
//! `openssl genpkey -algorithm ed25519` writes, so builders can inspect it with standard tools.
//! Builder keys are a separate domain from maintainer keys (PROTOCOL.md section 1): this module
//! knows nothing of secp256k1 or the keychain, and a builder key is never accepted elsewhere.

use std::fmt;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use base64ct::{Base64, Encoding};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::{Error, Result};

/// DER of PKCS#8 `PrivateKeyInfo` for Ed25519 (RFC 8410) up to the 32-byte seed.
const PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
const PEM_BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
const PEM_END: &str = "-----END PRIVATE KEY-----";
/// A key file is a few lines; anything larger is not one (and is not read into memory).
const MAX_KEY_FILE: u64 = 4096;

/// A builder's public key: Ed25519, 32 bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BuilderPublicKey([u8; 32]);

impl BuilderPublicKey {
    /// Parses a key from 64 lowercase hex digits, rejecting points that are not valid keys.
    pub fn from_hex(what: &str, text: &str) -> Result<Self> {
        let bad = |reason: &str| Error::PublicKey {
            what: what.to_string(),
            reason: reason.to_string(),
        };
        if !chainlock_protocol::hash::is_lower_hex(text, &[64]) {
            return Err(bad("expected 64 lowercase hex digits"));
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).map_err(|e| bad(&e.to_string()))?;
        Self::from_bytes(what, &bytes)
    }

    /// Parses a key from its 32 bytes, rejecting anything but the one canonical encoding of a
    /// point of the prime-order subgroup: invalid points, small-order points, points with a
    /// torsion component, and non-canonical encodings (y >= p). Otherwise one secret could
    /// stand for two "distinct" builders, and verifiers could disagree on a signature.
    pub fn from_bytes(what: &str, bytes: &[u8; 32]) -> Result<Self> {
        let bad = |reason: &str| Error::PublicKey {
            what: what.to_string(),
            reason: reason.to_string(),
        };
        let key = VerifyingKey::from_bytes(bytes).map_err(|e| bad(&e.to_string()))?;
        if key.is_weak() {
            return Err(bad("a weak (small-order) point"));
        }
        let point = key.to_edwards();
        if point.compress().to_bytes() != *bytes {
            return Err(bad("a non-canonical encoding of the point"));
        }
        if !point.is_torsion_free() {
            return Err(bad(
                "a point with a small-order component (not in the prime-order subgroup)",
            ));
        }
        Ok(Self(*bytes))
    }

    /// The 32 key bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    /// Lowercase hex of the key bytes, as policies list builders.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The key id: lowercase hex SHA-256 of the 32 key bytes (PROTOCOL.md section 1).
    pub fn key_id(&self) -> String {
        hex::encode(Sha256::digest(self.0))
    }

    /// Verifies an Ed25519 signature strictly (canonical S, no small-order keys or points).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<()> {
        let bad = || Error::BadSignature {
            key_id: self.key_id(),
        };
        let sig = ed25519_dalek::Signature::from_slice(signature).map_err(|_| bad())?;
        let key = VerifyingKey::from_bytes(&self.0).map_err(|_| bad())?;
        key.verify_strict(message, &sig).map_err(|_| bad())
    }
}

impl fmt::Display for BuilderPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for BuilderPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BuilderPublicKey({})", self.to_hex())
    }
}

/// A builder's signing key. The secret is zeroized on drop and never printed.
pub struct BuilderKey {
    signing: SigningKey,
}

impl fmt::Debug for BuilderKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BuilderKey {{ public: {} }}", self.public_key())
    }
}

impl BuilderKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Result<Self> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::getrandom(seed.as_mut_slice()).map_err(|e| Error::KeyFormat {
            path: PathBuf::from("<new key>"),
            reason: format!("the operating system's random source failed: {e}"),
        })?;
        Ok(Self::from_seed(&seed))
    }

    /// The key for a 32-byte RFC 8032 seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self {
            signing: SigningKey::from_bytes(seed),
        }
    }

    /// The public key.
    pub fn public_key(&self) -> BuilderPublicKey {
        BuilderPublicKey(self.signing.verifying_key().to_bytes())
    }

    /// Signs `message` as it is (Ed25519): a builder's flag signs the statement text
    /// `chainlock/1 flag <digest>` (PROTOCOL.md section 9), besides DSSE envelopes.
    pub fn sign_message(&self, message: &[u8]) -> [u8; 64] {
        self.sign_pae(message)
    }

    /// Signs DSSE's pre-authentication encoding of a payload.
    pub(crate) fn sign_pae(&self, pae: &[u8]) -> [u8; 64] {
        self.signing.sign(pae).to_bytes()
    }

    /// The key as a PKCS#8 PEM document.
    fn to_pem(&self) -> Zeroizing<String> {
        let mut der = Zeroizing::new([0u8; 48]);
        der[..16].copy_from_slice(&PKCS8_PREFIX);
        der[16..].copy_from_slice(self.signing.as_bytes());
        let b64 = Zeroizing::new(Base64::encode_string(der.as_slice()));
        Zeroizing::new(format!("{PEM_BEGIN}\n{}\n{PEM_END}\n", b64.as_str()))
    }

    /// Parses a PKCS#8 PEM Ed25519 private key (the form `openssl genpkey` writes).
    pub fn from_pem(path: &Path, text: &str) -> Result<Self> {
        let bad = |reason: &str| Error::KeyFormat {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        };
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        if lines.next() != Some(PEM_BEGIN) {
            return Err(bad("expected a PEM `PRIVATE KEY` block"));
        }
        let body: Zeroizing<String> =
            Zeroizing::new(lines.by_ref().take_while(|l| *l != PEM_END).collect());
        if lines.next().is_some() {
            return Err(bad("unexpected text after the PEM block"));
        }
        if !text.contains(PEM_END) {
            return Err(bad("the PEM block is not terminated"));
        }
        let mut der = Zeroizing::new([0u8; 48]);
        let decoded = Base64::decode(body.as_bytes(), der.as_mut_slice())
            .map_err(|_| bad("the PEM body is not a 48-byte PKCS#8 Ed25519 key"))?;
        if decoded.len() != 48 || decoded[..16] != PKCS8_PREFIX {
            return Err(bad("not a PKCS#8 Ed25519 private key (RFC 8410)"));
        }
        let mut seed = Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(&der[16..]);
        Ok(Self::from_seed(&seed))
    }

    /// Writes the key to a new file readable only by its owner, never overwriting one.
    ///
    /// The key is written to a temporary file (created with `O_EXCL`, mode 0600) in the same
    /// directory and linked into place, which fails if `path` exists: nothing half-written is
    /// ever found at `path`, and an existing key is never replaced.
    pub fn write_new(&self, path: &Path) -> Result<()> {
        let pem = self.to_pem();
        chainlock_fs::write(path, pem.as_bytes(), chainlock_fs::Options::NEW_PRIVATE).map_err(|e| {
            match e {
                chainlock_fs::Error::Exists { path } => Error::KeyExists { path },
                chainlock_fs::Error::Io {
                    action,
                    path,
                    error: source,
                } => Error::Io {
                    action,
                    path,
                    source,
                },
                other => Error::io("cannot create", path, std::io::Error::other(other)),
            }
        })
    }

    /// Loads a key file, refusing one that anyone but its owner can read or write.
    pub fn load(path: &Path) -> Result<Self> {
        // Before opening: opening a FIFO or a device could block or have effects.
        let listed = std::fs::metadata(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::KeyMissing { path: path.into() }
            } else {
                Error::io("cannot open builder key", path, e)
            }
        })?;
        if !listed.is_file() {
            return Err(Error::KeyFormat {
                path: path.to_path_buf(),
                reason: "not a regular file".to_string(),
            });
        }
        let file =
            std::fs::File::open(path).map_err(|e| Error::io("cannot open builder key", path, e))?;
        let meta = file
            .metadata()
            .map_err(|e| Error::io("cannot inspect builder key", path, e))?;
        if !meta.is_file() {
            return Err(Error::KeyFormat {
                path: path.to_path_buf(),
                reason: "not a regular file".to_string(),
            });
        }
        let mode = meta.mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(Error::KeyPermissions {
                path: path.to_path_buf(),
                mode,
            });
        }
        if meta.len() > MAX_KEY_FILE {
            return Err(Error::KeyFormat {
                path: path.to_path_buf(),
                reason: "larger than any key file".to_string(),
            });
        }
        let mut text = Zeroizing::new(String::new());
        file.take(MAX_KEY_FILE)
            .read_to_string(&mut text)
            .map_err(|e| Error::io("cannot read builder key", path, e))?;
        Self::from_pem(path, &text)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    // RFC 8032 section 7.1, TEST 1.
    const SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    const PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    const SIGNATURE: &str = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";

    fn rfc_key() -> BuilderKey {
        let mut seed = [0u8; 32];
        hex::decode_to_slice(SEED, &mut seed).unwrap();
        BuilderKey::from_seed(&seed)
    }

    #[test]
    fn rfc8032_vector() {
        let key = rfc_key();
        assert_eq!(key.public_key().to_hex(), PUBLIC);
        assert_eq!(hex::encode(key.sign_pae(b"")), SIGNATURE);
        key.public_key()
            .verify(b"", &hex::decode(SIGNATURE).unwrap())
            .unwrap();
        assert!(key
            .public_key()
            .verify(b"x", &hex::decode(SIGNATURE).unwrap())
            .is_err());
    }

    #[test]
    fn key_id_is_sha256_of_the_key_bytes() {
        let pk = BuilderPublicKey::from_hex("test", PUBLIC).unwrap();
        assert_eq!(
            pk.key_id(),
            hex::encode(Sha256::digest(hex::decode(PUBLIC).unwrap()))
        );
    }

    #[test]
    fn public_key_parsing_is_strict() {
        assert!(BuilderPublicKey::from_hex("k", &PUBLIC.to_uppercase()).is_err());
        assert!(BuilderPublicKey::from_hex("k", &PUBLIC[..62]).is_err());
        // The identity point has small order.
        let identity = format!("01{}", "00".repeat(31));
        assert!(BuilderPublicKey::from_hex("k", &identity).is_err());

        // The RFC 8032 key plus the point of order 2 (y = -1): the same secret signs for
        // both under a cofactorless verifier, so it must not pass as a second key.
        let order_two = VerifyingKey::from_bytes(
            &hex::decode(format!("ec{}7f", "ff".repeat(30)))
                .unwrap()
                .try_into()
                .unwrap(),
        )
        .unwrap();
        let public = BuilderPublicKey::from_hex("k", PUBLIC).unwrap();
        let mixed = VerifyingKey::from_bytes(&public.to_bytes())
            .unwrap()
            .to_edwards()
            + order_two.to_edwards();
        let err = BuilderPublicKey::from_bytes("k", &mixed.compress().to_bytes()).unwrap_err();
        assert!(err.to_string().contains("small-order component"), "{err}");

        // y = p + 3, a second encoding of the point with y = 3.
        let non_canonical: [u8; 32] = hex::decode(format!("f0{}7f", "ff".repeat(30)))
            .unwrap()
            .try_into()
            .unwrap();
        let err = BuilderPublicKey::from_bytes("k", &non_canonical).unwrap_err();
        assert!(err.to_string().contains("non-canonical"), "{err}");
    }

    #[test]
    fn reads_the_rfc8410_example_key() {
        // RFC 8410 section 10.3; its public key is the one of section 10.1 (checked with
        // `openssl pkey -pubout`).
        let pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n";
        let key = BuilderKey::from_pem(Path::new("rfc8410.pem"), pem).unwrap();
        assert_eq!(
            key.public_key().to_hex(),
            "19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1"
        );
        assert_eq!(key.to_pem().as_str(), pem);
    }

    #[test]
    fn pem_parsing_is_strict() {
        let key = rfc_key();
        let back = BuilderKey::from_pem(Path::new("k.pem"), &key.to_pem()).unwrap();
        assert_eq!(back.public_key(), key.public_key());
        for bad in [
            "garbage",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n",
            "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\nextra\n",
            // An X25519 key (OID 1.3.101.110) is not a builder key.
            "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VuBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n",
        ] {
            assert!(BuilderKey::from_pem(Path::new("k.pem"), bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn key_files_are_owner_only_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("builder.pem");
        let key = BuilderKey::generate().unwrap();
        key.write_new(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(matches!(
            BuilderKey::generate().unwrap().write_new(&path),
            Err(Error::KeyExists { .. })
        ));
        assert_eq!(
            BuilderKey::load(&path).unwrap().public_key(),
            key.public_key()
        );

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        match BuilderKey::load(&path) {
            Err(Error::KeyPermissions { mode, .. }) => assert_eq!(mode, 0o640),
            other => panic!("expected a permissions error, got {other:?}"),
        }
        // No temporary files are left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_fifo_or_directory_is_refused_without_being_opened() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("key.pem");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo runs (coreutils)");
        assert!(made.success());
        // Opening a FIFO with no writer would block this test forever.
        for path in [fifo.as_path(), dir.path()] {
            match BuilderKey::load(path) {
                Err(Error::KeyFormat { reason, .. }) => assert_eq!(reason, "not a regular file"),
                other => panic!("expected a format error, got {other:?}"),
            }
        }
    }
}
