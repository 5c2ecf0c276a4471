//! Maintainer signers behind one trait: the OS keychain and the Ledger.
//!
//! A [`Signer`] holds one maintainer key (PROTOCOL.md section 1) and can do exactly two
//! things with it: co-sign the custody input of a request that passed every check
//! ([`chainlock_protocol::verify::ReadyToSign`], which only verification constructs),
//! computing the `ALL|FORKID` digest itself, and sign a ChainLock statement as a Bitcoin
//! Signed Message. The trait is sealed: its backends are this crate's. Key URIs choose the
//! backend: `keychain://<key-id>` ([`keychain`]) or `ledger://<derivation-path>` ([`ledger`]).
//!
//! Callers sign through [`sign_input`] and [`sign_statement`], which refuse a key that is
//! not a custody key of the input and verify every signature against the signer's public
//! key and the digest this crate computed before returning it.
//!
//! What this crate must never do: sign a digest or bytes handed in from outside; write a
//! secret key anywhere but the OS keychain; log, print or keep a secret key in memory
//! longer than one signing call (secrets are zeroized on drop).
//!
//! Backends: [`keychain`] (OS keychain, key index in the config directory) and [`ledger`]
//! (`ledger::open(path, &OpenOptions)`: USB HID, or Speculos over TCP with
//! `OpenOptions::ledger_tcp`). [`combine()`] assembles co-signatures into the custody input.
//! With the `test-support` feature, `testing` runs a private gnome-keyring Secret Service
//! and `ledger::soft` a software Ledger, for tests of this crate and of its users.

pub mod combine;
pub mod error;
pub mod index;
pub mod keychain;
pub mod ledger;
pub mod secret;
pub mod signer;
#[cfg(feature = "test-support")]
pub mod testing;

use chainlock_protocol::bsm::{self, StatementKind};
use chainlock_protocol::keys;
use chainlock_protocol::record_tx::RecordTx;
use chainlock_protocol::verify::ReadyToSign;

pub use combine::{combine, Combined};
pub use error::{Error, Result};
pub use signer::{is_key_id, is_key_id_prefix, key_id, KeyUri, Signer, SignerIdentity, SignerKind};

/// Environment variable naming a Speculos `HOST:PORT` to use instead of a USB Ledger.
pub const LEDGER_TCP_ENV: &str = "CHAINLOCK_LEDGER_TCP";

/// How to open a signer; the defaults suit an interactive user with a USB Ledger.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Talk to a Ledger emulator (Speculos APDU port, `HOST:PORT`) instead of USB HID.
    pub ledger_tcp: Option<String>,
    /// Ask the Ledger to display the public key and wait for the user's confirmation.
    pub confirm_on_device: bool,
    /// Where the key index lives; `None` for the default ([`keychain::config_dir`]).
    pub config_dir: Option<std::path::PathBuf>,
}

impl OpenOptions {
    /// Options from the environment: `CHAINLOCK_LEDGER_TCP` (the key index directory is
    /// resolved later, by [`keychain::config_dir`], which reads `CHAINLOCK_CONFIG_DIR`).
    pub fn from_env() -> Self {
        OpenOptions {
            ledger_tcp: std::env::var(LEDGER_TCP_ENV).ok().filter(|v| !v.is_empty()),
            confirm_on_device: false,
            config_dir: None,
        }
    }
}

/// Opens the signer a key URI names: `keychain://<key-id>` or `ledger://<derivation-path>`
/// (`ledger://` alone = the default ChainLock path).
pub fn open(uri: &str, options: &OpenOptions) -> Result<Box<dyn Signer>> {
    match KeyUri::parse(uri)? {
        KeyUri::Keychain { key_id } => {
            let store = keychain::Keychain::new(options.config_dir.clone())?;
            Ok(Box::new(store.open(&key_id)?))
        }
        KeyUri::Ledger { path } => ledger::open(&path, options),
    }
}

/// Signs the custody input of a verified request with `signer`, after checking that the
/// signer's key is one of the custody keys, and returns the signature (DER + 0x41) only once
/// it verifies against that key and the sighash computed here from the verified transaction.
pub fn sign_input(signer: &mut dyn Signer, ready: &ReadyToSign) -> Result<Vec<u8>> {
    let identity = signer.identity().clone();
    let tx = ready.record_tx();
    if !tx.custody().lists(&identity.public_key) {
        return Err(Error::NotCustodyKey {
            key_id: identity.key_id,
        });
    }
    let signature = signer.sign_input(ready)?;
    keys::verify_input_signature(
        &identity.public_key,
        &signature,
        tx.tx(),
        RecordTx::INPUT_INDEX,
        tx.spent(),
    )
    .map_err(|_| Error::BadSignature {
        key_id: identity.key_id.clone(),
        what: format!("custody input of transaction {}", tx.tx().txid()),
    })?;
    Ok(signature)
}

/// Signs the statement `chainlock/1 <kind> <digest>` with `signer` and returns the base64
/// compact signature only once it verifies against the signer's public key.
pub fn sign_statement(
    signer: &mut dyn Signer,
    kind: StatementKind,
    digest: &[u8; 32],
) -> Result<String> {
    let identity = signer.identity().clone();
    let signature = signer.sign_statement(kind, digest)?;
    bsm::verify_statement(&identity.public_key, kind, digest, &signature).map_err(|_| {
        Error::BadSignature {
            key_id: identity.key_id.clone(),
            what: format!("statement {}", bsm::statement_text(kind, digest)),
        }
    })?;
    Ok(signature)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests {
    use chainlock_protocol::hash::Digest;
    use chainlock_protocol::keys::SecretKey;
    use chainlock_protocol::record_tx::{self, RecordTxParams};
    use chainlock_protocol::script::Script;
    use chainlock_protocol::tx::{OutPoint, SpentOutput, Transaction, Txid};

    use super::*;

    /// An in-memory signer that can be made to misbehave, to test the checked wrappers.
    struct Faulty {
        key: SecretKey,
        identity: SignerIdentity,
        /// Sign this transaction instead of the one asked for.
        other_tx: Option<RecordTx>,
        /// Sign this statement kind instead of the one asked for.
        other_kind: Option<StatementKind>,
        calls: usize,
    }

    impl Faulty {
        fn new(seed: u8) -> Self {
            let key = SecretKey::from_bytes(&[seed; 32]).unwrap();
            let public_key = key.public_key();
            let identity = SignerIdentity {
                public_key,
                key_id: public_key.key_id(),
                label: "faulty".into(),
                kind: SignerKind::Keychain,
                uri: format!("keychain://{}", public_key.key_id()),
            };
            Faulty {
                key,
                identity,
                other_tx: None,
                other_kind: None,
                calls: 0,
            }
        }
    }

    impl crate::signer::Sealed for Faulty {}

    impl Signer for Faulty {
        fn identity(&self) -> &SignerIdentity {
            &self.identity
        }
        fn sign_input(&mut self, ready: &ReadyToSign) -> Result<Vec<u8>> {
            self.calls += 1;
            let tx = self.other_tx.as_ref().unwrap_or(ready.record_tx());
            Ok(chainlock_protocol::testing::sign_unverified_input(
                &self.key,
                tx.tx(),
                RecordTx::INPUT_INDEX,
                tx.spent(),
            )?)
        }
        fn sign_statement(&mut self, kind: StatementKind, digest: &[u8; 32]) -> Result<String> {
            self.calls += 1;
            Ok(self
                .key
                .sign_statement(self.other_kind.unwrap_or(kind), digest))
        }
    }

    fn ready(tx: RecordTx) -> ReadyToSign {
        chainlock_protocol::testing::ready_to_sign_unverified(
            tx,
            Transaction {
                version: 1,
                inputs: vec![],
                outputs: vec![],
                lock_time: 0,
            },
        )
    }

    fn tx(keys: &[&Faulty], digest: u8) -> RecordTx {
        let keys: Vec<[u8; 33]> = keys
            .iter()
            .map(|s| s.identity.public_key.to_bytes())
            .collect();
        record_tx::build(&RecordTxParams {
            custody_outpoint: OutPoint {
                txid: Txid([1; 32]),
                vout: 0,
            },
            spent: SpentOutput {
                script_pubkey: Script::custody(1, &keys).unwrap(),
                value: 10_000,
            },
            record_digest: Digest([digest; 32]),
            change_pubkey_hash: None,
            fee_sat_per_kb: 50,
        })
        .unwrap()
    }

    #[test]
    fn an_honest_signature_is_returned() {
        let mut signer = Faulty::new(3);
        let tx = tx(&[&signer], 9);
        let sig = sign_input(&mut signer, &ready(tx.clone())).unwrap();
        keys::verify_input_signature(&signer.identity.public_key, &sig, tx.tx(), 0, tx.spent())
            .unwrap();
        let statement = sign_statement(&mut signer, StatementKind::Reject, &[4; 32]).unwrap();
        bsm::verify_statement(
            &signer.identity.public_key,
            StatementKind::Reject,
            &[4; 32],
            &statement,
        )
        .unwrap();
    }

    #[test]
    fn a_signature_over_anything_else_is_discarded() {
        let mut signer = Faulty::new(3);
        let asked = tx(&[&signer], 9);
        signer.other_tx = Some(tx(&[&signer], 8));
        let err = sign_input(&mut signer, &ready(asked.clone())).unwrap_err();
        assert_eq!(err.kind(), "bad_signature");
        assert!(
            err.to_string().contains(&asked.tx().txid().to_string()),
            "{err}"
        );
        signer.other_kind = Some(StatementKind::Request);
        let err = sign_statement(&mut signer, StatementKind::Reject, &[4; 32]).unwrap_err();
        assert_eq!(err.kind(), "bad_signature");
    }

    #[test]
    fn a_key_outside_the_custody_is_never_asked_to_sign() {
        let custodian = Faulty::new(3);
        let mut outsider = Faulty::new(5);
        let err = sign_input(&mut outsider, &ready(tx(&[&custodian], 9))).unwrap_err();
        assert_eq!(err.kind(), "not_custody_key");
        assert_eq!(outsider.calls, 0);
    }
}
