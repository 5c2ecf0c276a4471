//! A client of the Bitcoin app's legacy protocol over any [`Transport`]: sends the APDUs of
//! [`super::apdu`], checks every status word, and maps failures to errors the user can act on.
//!
//! The steps are public so that tests can drive the recorded `hw-app-btc` flows (other
//! sighash types, several inputs, trusted inputs) through the same code the signer uses.

use std::ops::Range;

use chainlock_protocol::tx::{OutPoint, Transaction, TxOut, Txid};

use super::apdu::{self, Apdu, AppInfo, Command, DeviceSignature, HashedInput, WalletPublicKey};
use super::path::DerivationPath;
use super::status::{self, SW_INCORRECT_DATA, SW_OK, SW_TECHNICAL_PROBLEM};
use super::transport::Transport;
use crate::{Error, Result};

/// The Bitcoin app's protocol over a transport.
pub struct Btchip<T: Transport> {
    transport: T,
}

impl<T: Transport> Btchip<T> {
    /// A client over `transport`.
    pub fn new(transport: T) -> Self {
        Btchip { transport }
    }

    /// The transport (for a replay's [`super::transport::Replay::finish`]).
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// Gives the transport back.
    pub fn into_transport(self) -> T {
        self.transport
    }

    /// Sends one APDU; returns the reply data on 0x9000 and the mapped error otherwise.
    pub fn send(&mut self, apdu: &Apdu) -> Result<Vec<u8>> {
        let reply = self.transport.exchange(&apdu.bytes)?;
        if reply.sw == SW_OK {
            return Ok(reply.data);
        }
        if status::is_wrong_app(reply.sw) {
            return Err(self.wrong_app(apdu.command, reply.sw));
        }
        Err(status::to_error(apdu.command, reply.sw))
    }

    /// The app that answered "unknown command": asks BOLOS which app is open, so the error
    /// names it ("the Ledger has Ethereum 1.10.3 open").
    fn wrong_app(&mut self, command: Command, sw: u16) -> Error {
        let unknown = || Error::WrongApp {
            name: "an app that is not Bitcoin Cash".into(),
            version: format!("(status {sw:#06x})"),
        };
        if command == Command::GetAppAndVersion {
            return unknown();
        }
        match self.transport.exchange(&apdu::get_app_and_version().bytes) {
            Ok(reply) if reply.sw == SW_OK => match apdu::parse_app_and_version(&reply.data) {
                Ok(info) if info.name != super::APP_NAME => Error::WrongApp {
                    name: info.name,
                    version: info.version,
                },
                // The right app does not know the command: an app too old or too new for us.
                Ok(_) => status::to_error(command, sw),
                Err(_) => unknown(),
            },
            _ => unknown(),
        }
    }

    /// GET_APP_AND_VERSION: the app open on the device.
    pub fn app_and_version(&mut self) -> Result<AppInfo> {
        let data = self.send(&apdu::get_app_and_version())?;
        apdu::parse_app_and_version(&data)
    }

    /// GET_WALLET_PUBLIC_KEY for `path`; with `display` the user confirms the address on
    /// the device first.
    pub fn wallet_public_key(
        &mut self,
        path: &DerivationPath,
        display: bool,
    ) -> Result<WalletPublicKey> {
        let data = self.send(&apdu::get_wallet_public_key(path, display)?)?;
        apdu::parse_wallet_public_key(&data)
    }

    /// HASH_INPUT_START over `version` and `inputs` with P2 `p2`.
    pub fn hash_input_start(&mut self, version: u32, inputs: &[HashedInput], p2: u8) -> Result<()> {
        for a in apdu::hash_input_start(version, inputs, p2)? {
            self.send(&a)?;
        }
        Ok(())
    }

    /// GET_TRUSTED_INPUT APDUs, sent in order; returns the trusted input.
    pub fn trusted_input(&mut self, apdus: &[Apdu]) -> Result<Vec<u8>> {
        let mut last = Vec::new();
        for a in apdus {
            last = self.send(a)?;
        }
        Ok(last)
    }

    /// GET_TRUSTED_INPUT for output `vout` of `prev`: the device reads the whole transaction,
    /// hashes it itself, and vouches (with a MAC only it can check) for the outpoint and the
    /// amount. The reply is checked to name that outpoint and that output's amount.
    pub fn trusted_input_of(&mut self, prev: &Transaction, vout: u32) -> Result<TrustedInput> {
        let data = self.trusted_input(&apdu::get_trusted_input(prev, vout)?)?;
        let trusted = TrustedInput::parse(data)?;
        let expected = OutPoint {
            txid: prev.txid(),
            vout,
        };
        let amount = prev.outputs.get(vout as usize).map(|o| o.value);
        if trusted.outpoint != expected || Some(trusted.amount) != amount {
            return Err(Error::Transport {
                reason: format!(
                    "the device's trusted input names {}:{} holding {} satoshis, not {}:{vout} holding {amount:?}",
                    trusted.outpoint.txid, trusted.outpoint.vout, trusted.amount, expected.txid
                ),
            });
        }
        Ok(trusted)
    }

    /// The change path (so the device does not show that output), then the outputs. A refusal
    /// of the outputs names the output the refused chunk completed.
    pub fn hash_outputs(
        &mut self,
        outputs: &[TxOut],
        change_path: Option<&DerivationPath>,
    ) -> Result<()> {
        if let Some(path) = change_path {
            self.send(&apdu::provide_change_path(path)?)?;
        }
        let stream = apdu::outputs_stream(outputs);
        let spans = output_spans(outputs, &stream);
        for (a, range) in apdu::hash_input_finalize_full(&stream)? {
            let reply = self.transport.exchange(&a.bytes)?;
            match reply.sw {
                SW_OK => {}
                sw if sw == SW_INCORRECT_DATA || sw & 0xff00 == SW_TECHNICAL_PROBLEM => {
                    let index = refused_output(outputs, &spans, &range);
                    return Err(Error::UnsupportedOutput {
                        index,
                        reason: format!(
                            "the Bitcoin Cash app refused it (status {sw:#06x}); it shows only P2PKH, P2SH and zero-value OP_RETURN outputs of at most {} bytes",
                            super::MAX_OUTPUT_LEN
                        ),
                    });
                }
                sw if status::is_wrong_app(sw) => return Err(self.wrong_app(a.command, sw)),
                sw => return Err(status::to_error(a.command, sw)),
            }
        }
        Ok(())
    }

    /// UNTRUSTED_HASH_SIGN: signs what was hashed with the key at `path`. Returns the device's
    /// signature with the parity bit cleared and the sighash byte it appended, which must be
    /// `sighash_type`.
    pub fn hash_sign(
        &mut self,
        path: &DerivationPath,
        lock_time: u32,
        sighash_type: u8,
    ) -> Result<DeviceSignature> {
        let data = self.send(&apdu::hash_sign(path, lock_time, sighash_type)?)?;
        let sig = apdu::parse_signature(&data, Command::HashSign, true)?;
        if sig.sighash_type != Some(sighash_type) {
            return Err(Error::Transport {
                reason: format!(
                    "the device appended sighash type {:?} to its signature, not {sighash_type:#04x}",
                    sig.sighash_type
                ),
            });
        }
        Ok(sig)
    }

    /// SIGN_MESSAGE: the device signs `message` as a Bitcoin Signed Message with the key at
    /// `path`, after the user approves the text on screen.
    pub fn sign_message(
        &mut self,
        path: &DerivationPath,
        message: &[u8],
    ) -> Result<DeviceSignature> {
        let apdus = apdu::sign_message(path, message)?;
        let mut last = Vec::new();
        for a in &apdus {
            last = self.send(a)?;
        }
        apdu::parse_signature(&last, Command::SignMessage, false)
    }
}

/// A trusted input as GET_TRUSTED_INPUT returns it: magic `32 00`, two random bytes, the
/// outpoint, the amount, and an 8-byte MAC under a key that never leaves the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedInput {
    /// The 56 bytes, sent back as they are.
    pub bytes: Vec<u8>,
    /// The output it vouches for.
    pub outpoint: OutPoint,
    /// That output's value in satoshis.
    pub amount: u64,
}

impl TrustedInput {
    /// Length of a trusted input.
    pub const LEN: usize = 56;

    /// Parses GET_TRUSTED_INPUT's reply.
    pub fn parse(bytes: Vec<u8>) -> Result<Self> {
        let malformed = |why: String| Error::Transport {
            reason: format!("malformed reply to GET_TRUSTED_INPUT: {why}"),
        };
        if bytes.len() != Self::LEN || bytes[..2] != [0x32, 0x00] {
            return Err(malformed(format!(
                "{} is not 56 bytes starting 3200",
                hex::encode(&bytes)
            )));
        }
        let mut txid = [0u8; 32];
        txid.copy_from_slice(&bytes[4..36]);
        let mut vout = [0u8; 4];
        vout.copy_from_slice(&bytes[36..40]);
        let mut amount = [0u8; 8];
        amount.copy_from_slice(&bytes[40..48]);
        Ok(TrustedInput {
            outpoint: OutPoint {
                txid: Txid(txid),
                vout: u32::from_le_bytes(vout),
            },
            amount: u64::from_le_bytes(amount),
            bytes,
        })
    }
}

/// The byte range each output occupies in the outputs stream (after the count varint).
fn output_spans(outputs: &[TxOut], stream: &[u8]) -> Vec<Range<usize>> {
    let total: usize = outputs.iter().map(TxOut::encoded_len).sum();
    let mut start = stream.len() - total;
    outputs
        .iter()
        .map(|o| {
            let r = start..start + o.encoded_len();
            start = r.end;
            r
        })
        .collect()
}

/// The output a refused chunk concerns. The app checks an output when its last byte arrives,
/// so it is one that ends within the chunk: the first of those the host's own check refuses,
/// else the first of them, else the one the chunk is in the middle of.
fn refused_output(outputs: &[TxOut], spans: &[Range<usize>], chunk: &Range<usize>) -> usize {
    let ending: Vec<usize> = (0..spans.len())
        .filter(|&i| spans[i].end > chunk.start && spans[i].end <= chunk.end)
        .collect();
    ending
        .iter()
        .copied()
        .find(|&i| super::check_output(i, &outputs[i]).is_err())
        .or_else(|| ending.first().copied())
        .or_else(|| {
            spans
                .iter()
                .position(|s| s.start < chunk.end && s.end > chunk.start)
        })
        .unwrap_or(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests {
    use super::*;
    use chainlock_protocol::script::Script;

    #[test]
    fn trusted_inputs_parse_as_the_app_makes_them() {
        // Returned by the Bitcoin Cash app 2.4.6 in Speculos for output 1 (20,000 satoshis).
        let raw = hex::decode("3200024ef805d30a9126d2944ad7faae085f5bc9ef0754e5e53fa779157e63d8d21c7ce901000000204e000000000000b93196784b3e0e73").unwrap();
        let t = TrustedInput::parse(raw.clone()).unwrap();
        assert_eq!((t.outpoint.vout, t.amount), (1, 20_000));
        assert_eq!(t.outpoint.txid.0[0], 0xf8);
        for bad in [&raw[..55], &[&[0x31u8][..], &raw[1..]].concat()[..]] {
            assert_eq!(
                TrustedInput::parse(bad.to_vec()).unwrap_err().kind(),
                "transport"
            );
        }
    }

    #[test]
    fn a_refused_chunk_names_the_output_it_completes() {
        let outputs = vec![
            TxOut {
                value: 0,
                script_pubkey: Script::commitment(&[7; 32]),
            },
            TxOut {
                value: 5,
                script_pubkey: Script::p2pkh(&[1; 20]),
            },
        ];
        let stream = apdu::outputs_stream(&outputs);
        let spans = output_spans(&outputs, &stream);
        assert_eq!(spans, vec![1..57, 57..91]);
        assert_eq!(refused_output(&outputs, &spans, &(0..50)), 0);
        assert_eq!(refused_output(&outputs, &spans, &(50..91)), 0);
        assert_eq!(refused_output(&outputs, &spans, &(57..91)), 1);
        let mut bad = outputs.clone();
        bad[1].script_pubkey = Script::from(vec![0x51]);
        let spans = output_spans(&bad, &apdu::outputs_stream(&bad));
        assert_eq!(refused_output(&bad, &spans, &(50..67)), 1);
    }
}
