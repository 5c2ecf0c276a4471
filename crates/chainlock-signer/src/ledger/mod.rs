//! The Ledger signer: a maintainer key on a Ledger running the "Bitcoin Cash" app.
//!
//! Ledger ships no BSV app, but BSV and BCH share the `ALL|FORKID` digest (BIP143 with fork
//! id 0), so the Bitcoin Cash app signs custody inputs that BSV nodes accept. The app speaks
//! the legacy Bitcoin app protocol ("btchip"): [`apdu`] encodes it, [`btchip`] runs it over a
//! [`transport::Transport`] (USB HID, the Speculos emulator's TCP port, or a replay of recorded
//! exchanges), and [`LedgerSigner`] implements [`Signer`] on top.
//!
//! Signing the custody input of a verified request (PROTOCOL.md section 2):
//! 1. the outputs are checked on the host against the app's limits ([`check_output`]), so an
//!    output the app would refuse fails before the device is involved; the funding
//!    transaction is checked to create the output spent (its txid, the custody script, the
//!    amount);
//! 2. GET_TRUSTED_INPUT (`E0 42`) with the whole funding transaction: the device hashes it
//!    and returns a trusted input (outpoint and amount under its own MAC), so it knows the
//!    amount it signs for and shows no "unverified inputs" warning;
//! 3. first pass, HASH_INPUT_START with P2 `02` (BIP143 mode): the version, then the trusted
//!    input with an empty script, then its sequence;
//! 4. HASH_INPUT_FINALIZE_FULL with the outputs, which the device shows for approval (see
//!    [`screens`] for exactly what it shows);
//! 5. second pass, HASH_INPUT_START with P2 `80`: the trusted input again with the custody
//!    script as script code;
//! 6. UNTRUSTED_HASH_SIGN with lock time 0 and sighash `0x41` (the app then asks to approve
//!    the path, which is not a BIP44 one);
//! 7. the reply's parity bit (first byte 0x31) is cleared, the DER parsed strictly, S
//!    normalised low, and the signature verified against the device's key over the sighash
//!    computed here from the transaction. A signature that does not verify is discarded.
//!
//! All of it is tested against the real Bitcoin Cash app 2.4.6 in the Speculos emulator
//! (`tests/speculos.rs`), and replayed from its recorded exchanges (`tests/ledger_replay.rs`).
//!
//! P2 `02` rather than hw-app-btc's `03` for Bitcoin Cash: in the app (`hash_input_start`),
//! both select the BIP143 digest, and `03` only switches the addresses it shows to cashaddr;
//! the fork id comes from the app's coin settings, which force `ALL|FORKID` whatever P2 says.
//! BSV addresses are base58, so `02` shows the change address the way BSV wallets show it.
//!
//! What this module must never do: send the device a digest to sign (the device hashes the
//! transaction itself, and the host recomputes that hash independently to check the result);
//! return a signature that did not verify; pick a device when several are connected.

pub mod apdu;
pub mod btchip;
pub mod path;
pub mod screens;
#[cfg(feature = "test-support")]
pub mod soft;
#[cfg(feature = "test-support")]
pub mod speculos;
pub mod status;
pub mod transport;

use base64ct::{Base64, Encoding};
use chainlock_protocol::bsm::{self, StatementKind};
use chainlock_protocol::keys;
use chainlock_protocol::record_tx::RecordTx;
use chainlock_protocol::script::Script;
use chainlock_protocol::sighash::SIGHASH_ALL_FORKID;
use chainlock_protocol::tx::{Transaction, TxOut};
use chainlock_protocol::verify::ReadyToSign;
use k256::ecdsa::Signature;

pub use apdu::AppInfo;
pub use btchip::Btchip;
pub use path::{DerivationPath, DEFAULT_PATH};
pub use transport::{HidTransport, Replay, TcpTransport, Transport};

use crate::signer::{Signer, SignerIdentity, SignerKind};
use crate::{Error, OpenOptions, Result};
use apdu::{HashedInput, InputRef};

/// The name GET_APP_AND_VERSION reports for the only app ChainLock signs with.
pub const APP_NAME: &str = "Bitcoin Cash";
/// Largest output the app parses: 8 value bytes, the script length and the script.
pub const MAX_OUTPUT_LEN: usize = 100;

/// Opens the Ledger signer for `path` (what follows `ledger://`; empty for [`DEFAULT_PATH`]):
/// over the Speculos TCP port when `options.ledger_tcp` is set, else the one Ledger on USB.
pub fn open(path: &str, options: &OpenOptions) -> Result<Box<dyn Signer>> {
    let path = DerivationPath::parse(path)?;
    let transport: Box<dyn Transport> = match &options.ledger_tcp {
        Some(addr) => Box::new(TcpTransport::connect(addr, transport::DEFAULT_TCP_TIMEOUT)?),
        None => Box::new(HidTransport::open()?),
    };
    Ok(Box::new(LedgerSigner::open(
        transport,
        path,
        options.confirm_on_device,
    )?))
}

/// A maintainer key on a Ledger, at one derivation path.
pub struct LedgerSigner<T: Transport = Box<dyn Transport>> {
    btchip: Btchip<T>,
    path: DerivationPath,
    app: AppInfo,
    identity: SignerIdentity,
}

impl<T: Transport> LedgerSigner<T> {
    /// Checks that the Bitcoin Cash app is open and reads the key at `path`; with
    /// `confirm_on_device` the user confirms its address on the device first.
    pub fn open(transport: T, path: DerivationPath, confirm_on_device: bool) -> Result<Self> {
        let mut btchip = Btchip::new(transport);
        let app = btchip.app_and_version()?;
        if app.name != APP_NAME {
            return Err(Error::WrongApp {
                name: app.name,
                version: app.version,
            });
        }
        let key = btchip.wallet_public_key(&path, confirm_on_device)?;
        let identity = SignerIdentity {
            key_id: crate::key_id(&key.public_key),
            public_key: key.public_key,
            label: format!("Ledger {path}"),
            kind: SignerKind::Ledger,
            uri: format!("ledger://{path}"),
        };
        Ok(LedgerSigner {
            btchip,
            path,
            app,
            identity,
        })
    }

    /// The app open on the device, as it reported itself.
    pub fn app(&self) -> &AppInfo {
        &self.app
    }

    /// The derivation path of the key.
    pub fn path(&self) -> &DerivationPath {
        &self.path
    }

    /// The client (for tests that check a replay was played to its end).
    pub fn btchip(&self) -> &Btchip<T> {
        &self.btchip
    }

    /// Signs the custody input of `tx`, whose custody output `funding` created: the whole of
    /// [`Signer::sign_input`], which hands in a verified request's two transactions.
    fn sign_record_tx(&mut self, tx: &RecordTx, funding: &Transaction) -> Result<Vec<u8>> {
        self.check_custody_key(tx)?;
        self.sign_custody_input(tx, funding)
    }

    /// Refuses a transaction this key cannot sign for: asking the user to approve a signature
    /// that cannot count would only train them to approve without reading.
    fn check_custody_key(&self, tx: &RecordTx) -> Result<()> {
        if tx.custody().lists(&self.identity.public_key) {
            Ok(())
        } else {
            Err(Error::NotCustodyKey {
                key_id: self.identity.key_id.clone(),
            })
        }
    }

    /// Runs the BIP143 flow for the custody input and returns the device's signature, checked:
    /// strict DER, S made low, valid for this key over the sighash computed here.
    ///
    /// The input is named by a trusted input (`E0 42`) read from `funding`: the device hashes
    /// the whole funding transaction, so it knows the amount it signs for and shows no
    /// "unverified inputs" warning.
    fn sign_custody_input(&mut self, tx: &RecordTx, funding: &Transaction) -> Result<Vec<u8>> {
        let t = tx.tx();
        for (i, out) in t.outputs.iter().enumerate() {
            check_output(i, out)?;
        }
        let input = &t.inputs[RecordTx::INPUT_INDEX];
        check_funding(tx, funding)?;
        let trusted = self.btchip.trusted_input_of(funding, input.prevout.vout)?;
        let named = InputRef::Trusted(trusted.bytes);
        let first_pass = [HashedInput {
            input: named.clone(),
            script: Script::default(),
            sequence: input.sequence,
        }];
        self.btchip
            .hash_input_start(t.version, &first_pass, apdu::P2_NEW_BIP143)?;
        self.btchip.hash_outputs(&t.outputs, None)?;
        let signing = [HashedInput {
            input: named,
            script: tx.spent().script_pubkey.clone(),
            sequence: input.sequence,
        }];
        self.btchip
            .hash_input_start(t.version, &signing, apdu::P2_CONTINUE)?;
        let device = self
            .btchip
            .hash_sign(&self.path, t.lock_time, SIGHASH_ALL_FORKID as u8)?;

        let mut out = low_s(&device.signature).to_der().as_bytes().to_vec();
        out.push(SIGHASH_ALL_FORKID as u8);
        keys::verify_input_signature(
            &self.identity.public_key,
            &out,
            t,
            RecordTx::INPUT_INDEX,
            tx.spent(),
        )
        .map_err(|_| self.bad_signature(format!("custody input of transaction {}", t.txid())))?;
        Ok(out)
    }

    fn bad_signature(&self, what: String) -> Error {
        Error::BadSignature {
            key_id: self.identity.key_id.clone(),
            what,
        }
    }
}

impl<T: Transport> crate::signer::Sealed for LedgerSigner<T> {}

impl<T: Transport> Signer for LedgerSigner<T> {
    fn identity(&self) -> &SignerIdentity {
        &self.identity
    }

    fn sign_input(&mut self, ready: &ReadyToSign) -> Result<Vec<u8>> {
        self.sign_record_tx(ready.record_tx(), ready.funding_tx())
    }

    fn sign_statement(&mut self, kind: StatementKind, digest: &[u8; 32]) -> Result<String> {
        let text = bsm::statement_text(kind, digest);
        let device = self.btchip.sign_message(&self.path, text.as_bytes())?;
        let what = || format!("statement {text}");
        let compact = bsm::compact_from_signature(
            &self.identity.public_key,
            &bsm::message_digest(text.as_bytes()),
            &device.signature,
        )
        .map_err(|_| self.bad_signature(what()))?;
        let encoded = Base64::encode_string(&compact);
        bsm::verify_statement(&self.identity.public_key, kind, digest, &encoded)
            .map_err(|_| self.bad_signature(what()))?;
        Ok(encoded)
    }
}

/// Checks that `funding` is the transaction whose output the custody input spends, holding
/// the custody script and the amount the digest commits to.
fn check_funding(tx: &RecordTx, funding: &Transaction) -> Result<()> {
    let prevout = tx.custody_outpoint();
    let mismatch = |reason: String| Err(Error::FundingMismatch { reason });
    if funding.txid() != prevout.txid {
        return mismatch(format!(
            "its txid is {}, the input spends {}",
            funding.txid(),
            prevout.txid
        ));
    }
    match funding.outputs.get(prevout.vout as usize) {
        None => mismatch(format!(
            "it has {} outputs, the input spends output {}",
            funding.outputs.len(),
            prevout.vout
        )),
        Some(out) if out.value != tx.spent().value => mismatch(format!(
            "output {} holds {} satoshis, the transaction says {}",
            prevout.vout,
            out.value,
            tx.spent().value
        )),
        Some(out) if out.script_pubkey != tx.spent().script_pubkey => {
            mismatch(format!("output {} is not the custody script", prevout.vout))
        }
        Some(_) => Ok(()),
    }
}

/// The signature with S at most half the group order: BSV nodes accept only that form, and
/// (r, n - s) is as valid as (r, s), so the host may normalise what the device returned.
fn low_s(sig: &Signature) -> Signature {
    sig.normalize_s().unwrap_or(*sig)
}

/// Checks output `index` against what the Bitcoin Cash app can show: P2PKH, P2SH, or an
/// `OP_RETURN` (optionally after `OP_FALSE`) carrying no value, and at most
/// [`MAX_OUTPUT_LEN`] bytes with its value and script length.
pub fn check_output(index: usize, output: &TxOut) -> Result<()> {
    let refuse = |reason: String| Err(Error::UnsupportedOutput { index, reason });
    let s = output.script_pubkey.as_bytes();
    if output.encoded_len() > MAX_OUTPUT_LEN {
        return refuse(format!(
            "it is {} bytes with its value and length, over the app's {MAX_OUTPUT_LEN}",
            output.encoded_len()
        ));
    }
    let p2pkh = output.script_pubkey.parse_p2pkh().is_ok();
    let p2sh = s.len() == 23 && s[0] == 0xa9 && s[1] == 0x14 && s[22] == 0x87;
    let op_return = matches!(s, [0x6a, ..] | [0x00, 0x6a, ..]);
    if op_return && output.value != 0 {
        return refuse(format!(
            "an OP_RETURN output must carry 0 satoshis, it carries {}",
            output.value
        ));
    }
    if !(p2pkh || p2sh || op_return) {
        return refuse("the app shows only P2PKH, P2SH and zero-value OP_RETURN outputs".into());
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests {
    use super::*;

    #[test]
    fn output_check_follows_the_app() {
        let ok = [
            TxOut {
                value: 0,
                script_pubkey: Script::commitment(&[1; 32]),
            },
            TxOut {
                value: 9,
                script_pubkey: Script::p2pkh(&[2; 20]),
            },
            TxOut {
                value: 9,
                script_pubkey: Script::from(
                    hex::decode(format!("a914{}87", "33".repeat(20))).unwrap(),
                ),
            },
            TxOut {
                value: 0,
                script_pubkey: Script::from(vec![0x6a; 91]),
            },
        ];
        for (i, o) in ok.iter().enumerate() {
            check_output(i, o).unwrap();
        }
        let bad = [
            TxOut {
                value: 1,
                script_pubkey: Script::commitment(&[1; 32]),
            },
            TxOut {
                value: 0,
                script_pubkey: Script::from(vec![0x6a; 92]),
            },
            TxOut {
                value: 9,
                script_pubkey: Script::custody(1, &[[2; 33]]).unwrap(),
            },
            TxOut {
                value: 0,
                script_pubkey: Script::default(),
            },
        ];
        for (i, o) in bad.iter().enumerate() {
            let err = check_output(i, o).unwrap_err();
            assert_eq!(err.kind(), "unsupported_output", "{i}");
            assert!(err.to_string().contains(&format!("output {i}")), "{err}");
        }
    }
}
