//! A software Ledger running the Bitcoin Cash app (feature `test-support`), for tests of
//! this crate and of its users (the CLI, the desktop app) where no device is connected.
//!
//! [`SoftLedger`] is a [`Transport`] that parses the APDUs the way the app does (trusted inputs,
//! the BIP143 passes, the outputs, UNTRUSTED_HASH_SIGN, SIGN_MESSAGE), computes the digest itself from
//! what it was sent (not with the project's sighash code, so it checks the host
//! independently), and signs with a key derived from the path, returning the reply bytes a
//! device returns (the parity bit in the first byte included). [`Behaviour`] scripts failures:
//! a status word at a step, another app opened mid-way, a dropped connection, a high-S
//! signature. [`serve_speculos`] serves it on a local TCP port with Speculos's framing, so a
//! `chainlock` process can reach it through `CHAINLOCK_LEDGER_TCP`.
//!
//! Never used by the library itself; panics here are test failures by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use chainlock_protocol::encode::Reader;
use chainlock_protocol::hash::{sha256, sha256d};
use chainlock_protocol::keys::{PublicKey, SecretKey};
use k256::ecdsa::signature::hazmat::PrehashSigner;
use k256::ecdsa::{RecoveryId, Signature, SigningKey};

use super::transport::{Reply, Transport};
use super::DerivationPath;
use crate::{Error, Result};

/// Every APDU a [`SoftLedger`] received, in order.
pub type ApduLog = Arc<Mutex<Vec<Vec<u8>>>>;

/// What the software device does besides following the protocol.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// The app GET_APP_AND_VERSION reports (default "Bitcoin Cash").
    pub app: Option<String>,
    /// Answer this status word to the first APDU with this INS.
    pub fail: Option<(u8, u16)>,
    /// From the first APDU with this INS on, behave as the dashboard of another app
    /// ("Ethereum"): every E0 command answers 0x6D00.
    pub switch_app_at: Option<u8>,
    /// Drop the connection at the first APDU with this INS.
    pub disconnect_at: Option<u8>,
    /// Return (r, n - s) instead of the low-S signature.
    pub high_s: bool,
    /// Sign something other than what was sent (one more satoshi; one more message byte), as
    /// a faulty or tampered device would.
    pub wrong_digest: bool,
}

/// Parsed state of the signing flow, rebuilt from APDUs exactly as the app keeps it.
#[derive(Default)]
struct Flow {
    version: u32,
    /// (outpoint bytes, amount, sequence) from the first pass.
    inputs: Vec<([u8; 36], u64, u32)>,
    outputs_stream: Vec<u8>,
    hash_outputs: Option<[u8; 32]>,
    /// (outpoint, script code, amount, sequence) of the pass that signs.
    signing: Option<([u8; 36], Vec<u8>, u64, u32)>,
    buffer: Vec<u8>,
    continuing: bool,
}

/// The MAC key of trusted inputs: the app draws one at start; a fixed one does here.
const TRUSTED_INPUT_KEY: &[u8] = b"chainlock soft ledger trusted input";

/// The 8-byte MAC closing a trusted input over its first 48 bytes.
fn trusted_input_mac(body: &[u8]) -> [u8; 8] {
    let mut data = TRUSTED_INPUT_KEY.to_vec();
    data.extend_from_slice(body);
    sha256(&data)[..8].try_into().unwrap()
}

/// A software device running the Bitcoin Cash app's signing protocol (see the module docs).
pub struct SoftLedger {
    script: Behaviour,
    flow: Flow,
    message: Vec<u8>,
    message_path: Vec<u8>,
    message_len: usize,
    switched: bool,
    /// GET_TRUSTED_INPUT: the output index asked for and the transaction bytes so far.
    trusted: Option<(u32, Vec<u8>)>,
    log: ApduLog,
    odd_replies: Arc<Mutex<usize>>,
}

fn soft_key(path_bytes: &[u8]) -> SecretKey {
    let mut seed = b"chainlock soft ledger ".to_vec();
    seed.extend_from_slice(path_bytes);
    SecretKey::from_bytes(&sha256(&seed)).unwrap()
}

/// The public key the software device holds at `path`.
pub fn soft_public_key(path: &DerivationPath) -> PublicKey {
    soft_key(&path.to_apdu_bytes()).public_key()
}

fn signing_key(sk: &SecretKey) -> SigningKey {
    SigningKey::from_bytes((&*sk.to_bytes()).into()).unwrap()
}

impl SoftLedger {
    /// Every APDU this device receives, shared with the caller.
    pub fn log(&self) -> ApduLog {
        self.log.clone()
    }

    /// How many signature replies carried the parity bit (first byte 0x31).
    pub fn odd_replies(&self) -> Arc<Mutex<usize>> {
        self.odd_replies.clone()
    }

    /// A device that behaves as `script` says.
    pub fn new(script: Behaviour) -> Self {
        SoftLedger {
            script,
            flow: Flow::default(),
            message: Vec::new(),
            message_path: Vec::new(),
            message_len: 0,
            switched: false,
            trusted: None,
            log: Arc::default(),
            odd_replies: Arc::default(),
        }
    }

    fn ok(data: Vec<u8>) -> Result<Reply> {
        Ok(Reply { data, sw: 0x9000 })
    }

    fn sw(sw: u16) -> Result<Reply> {
        Ok(Reply {
            data: Vec::new(),
            sw,
        })
    }

    /// DER with the parity of R's y in bit 0 of the first byte, as the device answers.
    fn sign(&mut self, path_bytes: &[u8], digest: &[u8; 32]) -> Vec<u8> {
        let key = signing_key(&soft_key(path_bytes));
        let sig: Signature = key.sign_prehash(digest).unwrap();
        let recid =
            RecoveryId::trial_recovery_from_prehash(key.verifying_key(), digest, &sig).unwrap();
        let (sig, odd) = if self.script.high_s {
            let neg_s: k256::Scalar = -*sig.s().as_ref();
            let (r, _) = sig.split_bytes();
            let high = Signature::from_scalars(r, neg_s.to_bytes()).unwrap();
            (high, !recid.is_y_odd())
        } else {
            (sig, recid.is_y_odd())
        };
        let mut der = sig.to_der().as_bytes().to_vec();
        if odd {
            der[0] |= 1;
            *self.odd_replies.lock().unwrap() += 1;
        }
        der
    }

    fn parse_inputs(&mut self) -> std::result::Result<(), String> {
        let data = std::mem::take(&mut self.flow.buffer);
        let mut r = Reader::new(&data, "hash input start");
        let e = |e: chainlock_protocol::Error| e.to_string();
        let version = r.u32("version").map_err(e)?;
        let n = r.varint("inputs").map_err(e)?;
        let mut inputs = Vec::new();
        for _ in 0..n {
            let (outpoint, amount) = match r.u8("prefix").map_err(e)? {
                0x02 => {
                    let outpoint: [u8; 36] = r.array("outpoint").map_err(e)?;
                    (outpoint, r.u64("amount").map_err(e)?)
                }
                0x01 => {
                    if r.u8("trusted input length").map_err(e)? != 56 {
                        return Err("a trusted input is 56 bytes".into());
                    }
                    let t: [u8; 56] = r.array("trusted input").map_err(e)?;
                    if t[..2] != [0x32, 0x00] || t[48..] != trusted_input_mac(&t[..48]) {
                        return Err("a trusted input this device did not make".into());
                    }
                    let outpoint: [u8; 36] = t[4..40].try_into().unwrap();
                    (outpoint, u64::from_le_bytes(t[40..48].try_into().unwrap()))
                }
                _ => return Err("only 01 (trusted) and 02 (amount) inputs are expected".into()),
            };
            let script = r.var_bytes("script").map_err(e)?.to_vec();
            let sequence = r.u32("sequence").map_err(e)?;
            inputs.push((outpoint, amount, script, sequence));
        }
        r.finish().map_err(e)?;
        if !self.flow.continuing {
            if inputs.iter().any(|i| !i.2.is_empty()) {
                return Err("the first BIP143 pass carries no scripts".into());
            }
            self.flow.version = version;
            self.flow.inputs = inputs.into_iter().map(|(o, a, _, s)| (o, a, s)).collect();
        } else {
            let [(outpoint, amount, script, sequence)]: [_; 1] = inputs
                .try_into()
                .map_err(|_| "a signing pass names exactly one input".to_string())?;
            if version != self.flow.version {
                return Err("version changed between passes".into());
            }
            self.flow.signing = Some((outpoint, script, amount, sequence));
        }
        Ok(())
    }

    fn check_outputs(stream: &[u8]) -> std::result::Result<Vec<u8>, u16> {
        let mut r = Reader::new(stream, "outputs");
        let n = r.varint("count").map_err(|_| 0x6a80u16)?;
        let body_start = r.position();
        for _ in 0..n {
            let start = r.position();
            let value = r.u64("value").map_err(|_| 0x6a80u16)?;
            let script = r.var_bytes("script").map_err(|_| 0x6a80u16)?;
            if r.position() - start > 100 {
                return Err(0x6a80);
            }
            let p2pkh = script.len() == 25
                && script[..3] == [0x76, 0xa9, 0x14]
                && script[23..] == [0x88, 0xac];
            let p2sh = script.len() == 23 && script[..2] == [0xa9, 0x14] && script[22] == 0x87;
            let op_return = value == 0 && matches!(script, [0x6a, ..] | [0x00, 0x6a, ..]);
            if !(p2pkh || p2sh || op_return) {
                return Err(0x6f0f);
            }
        }
        r.finish().map_err(|_| 0x6a80u16)?;
        Ok(stream[body_start..].to_vec())
    }

    /// The BIP143 preimage with fork id 0, from what the APDUs said (not from the project's
    /// sighash code): the point of this device is to check the host independently.
    fn digest(&self, lock_time: u32, sighash_type: u8) -> Option<[u8; 32]> {
        let f = &self.flow;
        let (outpoint, script, amount, sequence) = f.signing.as_ref()?;
        let prevouts: Vec<u8> = f.inputs.iter().flat_map(|i| i.0).collect();
        let sequences: Vec<u8> = f.inputs.iter().flat_map(|i| i.2.to_le_bytes()).collect();
        if !f
            .inputs
            .iter()
            .any(|i| i.0 == *outpoint && i.1 == *amount && i.2 == *sequence)
        {
            return None;
        }
        let mut pre = f.version.to_le_bytes().to_vec();
        pre.extend_from_slice(&sha256d(&prevouts));
        pre.extend_from_slice(&sha256d(&sequences));
        pre.extend_from_slice(outpoint);
        chainlock_protocol::encode::write_var_bytes(&mut pre, script);
        let amount = amount + u64::from(self.script.wrong_digest);
        pre.extend_from_slice(&amount.to_le_bytes());
        pre.extend_from_slice(&sequence.to_le_bytes());
        pre.extend_from_slice(&f.hash_outputs?);
        pre.extend_from_slice(&lock_time.to_le_bytes());
        pre.extend_from_slice(&u32::from(sighash_type).to_le_bytes());
        Some(sha256d(&pre))
    }
}

impl Transport for SoftLedger {
    fn exchange(&mut self, apdu: &[u8]) -> Result<Reply> {
        self.log.lock().unwrap().push(apdu.to_vec());
        let (cla, ins, p1, p2) = (apdu[0], apdu[1], apdu[2], apdu[3]);
        let data = apdu.get(5..).unwrap_or_default().to_vec();
        assert_eq!(
            apdu.get(4).map(|l| usize::from(*l)).unwrap_or(0),
            data.len(),
            "Lc"
        );
        if self.script.disconnect_at == Some(ins) {
            return Err(Error::Disconnected);
        }
        if let Some((fail_ins, sw)) = self.script.fail {
            if fail_ins == ins {
                self.script.fail = None;
                return Self::sw(sw);
            }
        }
        if self.script.switch_app_at == Some(ins) {
            self.switched = true;
        }
        if cla == 0xb0 && ins == 0x01 {
            let name = if self.switched {
                "Ethereum".to_string()
            } else {
                self.script.app.clone().unwrap_or("Bitcoin Cash".into())
            };
            let mut out = vec![0x01, name.len() as u8];
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&[5]);
            out.extend_from_slice(b"2.2.4");
            out.extend_from_slice(&[1, 2]);
            return Self::ok(out);
        }
        if self.switched
            || self
                .script
                .app
                .as_deref()
                .is_some_and(|a| a != "Bitcoin Cash")
        {
            return Self::sw(if cla == 0xe0 { 0x6d00 } else { 0x6e00 });
        }
        match ins {
            0x40 => {
                let key = signing_key(&soft_key(&data));
                let mut out = vec![65];
                out.extend_from_slice(key.verifying_key().to_encoded_point(false).as_bytes());
                let address = b"1SoftLedgerAddressForTests";
                out.push(address.len() as u8);
                out.extend_from_slice(address);
                out.extend_from_slice(&[0xcc; 32]);
                Self::ok(out)
            }
            0x42 => {
                let (vout, tx) = match (p1, self.trusted.take()) {
                    (0x00, _) => (
                        u32::from_be_bytes(data[..4].try_into().unwrap()),
                        data[4..].to_vec(),
                    ),
                    (0x80, Some((vout, mut tx))) => {
                        tx.extend_from_slice(&data);
                        (vout, tx)
                    }
                    _ => return Self::sw(0x6b00),
                };
                // The transaction is complete when it parses as one, lock time included.
                let Ok(parsed) = chainlock_protocol::tx::Transaction::decode(&tx) else {
                    self.trusted = Some((vout, tx));
                    return Self::ok(Vec::new());
                };
                let Some(output) = parsed.outputs.get(vout as usize) else {
                    return Self::sw(0x6a80);
                };
                let mut out = vec![0x32, 0x00, 0x5a, 0xa5];
                out.extend_from_slice(&sha256d(&tx));
                out.extend_from_slice(&vout.to_le_bytes());
                out.extend_from_slice(&output.value.to_le_bytes());
                let mac = trusted_input_mac(&out);
                out.extend_from_slice(&mac);
                Self::ok(out)
            }
            0x44 => {
                if p1 == 0x00 {
                    if !self.flow.buffer.is_empty() {
                        self.parse_inputs()
                            .map_err(|e| Error::Transport { reason: e })?;
                    }
                    self.flow.continuing = p2 == 0x80;
                    if !self.flow.continuing {
                        if p2 != 0x02 && p2 != 0x03 {
                            return Self::sw(0x6b00);
                        }
                        self.flow = Flow::default();
                    }
                }
                self.flow.buffer.extend_from_slice(&data);
                Self::ok(Vec::new())
            }
            0x4a => {
                if !self.flow.buffer.is_empty() {
                    if let Err(e) = self.parse_inputs() {
                        return Err(Error::Transport { reason: e });
                    }
                }
                self.flow.outputs_stream.extend_from_slice(&data);
                if p1 == 0x00 {
                    return Self::ok(vec![0x00]);
                }
                match Self::check_outputs(&self.flow.outputs_stream) {
                    Ok(body) => {
                        self.flow.hash_outputs = Some(sha256d(&body));
                        Self::ok(vec![0x00, 0x00])
                    }
                    Err(sw) => Self::sw(sw),
                }
            }
            0x48 => {
                if !self.flow.buffer.is_empty() {
                    if let Err(e) = self.parse_inputs() {
                        return Err(Error::Transport { reason: e });
                    }
                }
                let depth = usize::from(data[0]);
                let path_bytes = data[..1 + 4 * depth].to_vec();
                let rest = &data[1 + 4 * depth..];
                assert_eq!(rest[0], 0, "no user validation code");
                let lock_time = u32::from_be_bytes(rest[1..5].try_into().unwrap());
                let sighash_type = rest[5];
                // The Bitcoin Cash app signs with ALL|FORKID only.
                if sighash_type != 0x41 {
                    return Self::sw(0x6a80);
                }
                let Some(digest) = self.digest(lock_time, sighash_type) else {
                    return Self::sw(0x6985);
                };
                let mut out = self.sign(&path_bytes, &digest);
                out.push(sighash_type);
                Self::ok(out)
            }
            0x4e if p1 == 0x00 => {
                let mut chunk = &data[..];
                if p2 == 0x01 {
                    let depth = usize::from(data[0]);
                    self.message_path = data[..1 + 4 * depth].to_vec();
                    self.message_len = usize::from(u16::from_be_bytes([
                        data[1 + 4 * depth],
                        data[2 + 4 * depth],
                    ]));
                    self.message.clear();
                    chunk = &data[3 + 4 * depth..];
                }
                self.message.extend_from_slice(chunk);
                if self.message.len() > self.message_len {
                    return Self::sw(0x6a80);
                }
                Self::ok(if self.message.len() == self.message_len {
                    vec![0, 0]
                } else {
                    vec![0]
                })
            }
            0x4e => {
                let mut pre = vec![0x18];
                pre.extend_from_slice(b"Bitcoin Signed Message:\n");
                let mut message = self.message.clone();
                if self.script.wrong_digest {
                    message.push(b'!');
                }
                chainlock_protocol::encode::write_var_bytes(&mut pre, &message);
                let digest = sha256d(&pre);
                let path_bytes = self.message_path.clone();
                Self::ok(self.sign(&path_bytes, &digest))
            }
            _ => Self::sw(0x6d00),
        }
    }
}

/// Serves software devices on 127.0.0.1 with Speculos's APDU framing (4-byte big-endian
/// length and APDU in; 4-byte length, data and status word out) and returns `HOST:PORT`, for
/// `CHAINLOCK_LEDGER_TCP`. Each connection gets a fresh [`SoftLedger`] behaving as `behaviour`
/// (the keys derive from the path, so every connection shows the same keys); with
/// `close_after`, a connection is dropped after that many APDUs, as a device pulled out
/// mid-way. The server runs until the process ends.
pub fn serve_speculos(behaviour: Behaviour, close_after: Option<usize>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut device = SoftLedger::new(behaviour.clone());
            let mut served = 0;
            while close_after != Some(served) {
                let mut len = [0u8; 4];
                if conn.read_exact(&mut len).is_err() {
                    break;
                }
                let mut apdu = vec![0u8; u32::from_be_bytes(len) as usize];
                conn.read_exact(&mut apdu).unwrap();
                let Ok(reply) = device.exchange(&apdu) else {
                    break;
                };
                let mut frame = (reply.data.len() as u32).to_be_bytes().to_vec();
                frame.extend_from_slice(&reply.data);
                frame.extend_from_slice(&reply.sw.to_be_bytes());
                if conn.write_all(&frame).is_err() {
                    break;
                }
                served += 1;
            }
        }
    });
    addr
}
