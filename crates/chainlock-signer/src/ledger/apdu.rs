//! The legacy ("btchip") APDUs of the Ledger Bitcoin and Bitcoin Cash apps: pure encoders
//! and bounds-checked reply parsers, no I/O.
//!
//! The encodings follow the Ledger Bitcoin app's protocol as `@ledgerhq/hw-app-btc` speaks it
//! (byte for byte: the tests replay that package's recorded exchanges), including its
//! chunking of scripts, outputs and messages into blocks of [`BLOCK`] bytes.

use chainlock_protocol::encode::write_varint;
use chainlock_protocol::keys::{self, PublicKey};
use chainlock_protocol::script::Script;
use chainlock_protocol::tx::{OutPoint, Transaction, TxOut};
use k256::ecdsa::Signature;

use super::path::DerivationPath;
use super::transport::MAX_APDU_DATA;
use crate::{Error, Result};

/// Class byte of the Bitcoin app's commands.
pub const CLA_BTCHIP: u8 = 0xe0;
/// Class byte of BOLOS's own commands (GET_APP_AND_VERSION).
pub const CLA_BOLOS: u8 = 0xb0;
/// Size of the blocks hw-app-btc cuts scripts, outputs and messages into (`MAX_SCRIPT_BLOCK`).
pub const BLOCK: usize = 50;

/// P2 of the first HASH_INPUT_START: a new transaction hashed BIP143-style (forkid/segwit).
pub const P2_NEW_BIP143: u8 = 0x02;
/// P2 of the first HASH_INPUT_START: as [`P2_NEW_BIP143`], showing addresses as cashaddr.
pub const P2_NEW_BIP143_CASHADDR: u8 = 0x03;
/// P2 of every HASH_INPUT_START after a transaction's first pass.
pub const P2_CONTINUE: u8 = 0x80;

/// The commands this module encodes, named as the Bitcoin app's documentation names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// `B0 01`: which app is open, and its version (answered by BOLOS).
    GetAppAndVersion,
    /// `E0 40`: the public key (and address) of a derivation path.
    GetWalletPublicKey,
    /// `E0 42`: a trusted input from a whole previous transaction (legacy BTC flow).
    GetTrustedInput,
    /// `E0 44`: hash the transaction's version and inputs.
    HashInputStart,
    /// `E0 4A`: hash (and show) the outputs.
    HashInputFinalizeFull,
    /// `E0 48`: sign what was hashed.
    HashSign,
    /// `E0 4E`: sign a message (Bitcoin Signed Message).
    SignMessage,
}

impl Command {
    /// The command's name in the app's documentation.
    pub fn name(self) -> &'static str {
        match self {
            Command::GetAppAndVersion => "GET_APP_AND_VERSION",
            Command::GetWalletPublicKey => "GET_WALLET_PUBLIC_KEY",
            Command::GetTrustedInput => "GET_TRUSTED_INPUT",
            Command::HashInputStart => "UNTRUSTED_HASH_TRANSACTION_INPUT_START",
            Command::HashInputFinalizeFull => "UNTRUSTED_HASH_TRANSACTION_INPUT_FINALIZE_FULL",
            Command::HashSign => "UNTRUSTED_HASH_SIGN",
            Command::SignMessage => "SIGN_MESSAGE",
        }
    }
}

/// One APDU, tagged with the command it belongs to (for status word mapping).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Apdu {
    /// The command.
    pub command: Command,
    /// `CLA INS P1 P2 Lc data`.
    pub bytes: Vec<u8>,
}

impl Apdu {
    /// Builds an APDU; `data` longer than 255 bytes cannot be sent in one and is refused.
    fn new(command: Command, cla: u8, ins: u8, p1: u8, p2: u8, data: &[u8]) -> Result<Self> {
        if data.len() > MAX_APDU_DATA {
            return Err(Error::Transport {
                reason: format!(
                    "{} data of {} bytes does not fit in one APDU",
                    command.name(),
                    data.len()
                ),
            });
        }
        let mut bytes = Vec::with_capacity(5 + data.len());
        bytes.extend_from_slice(&[cla, ins, p1, p2, data.len() as u8]);
        bytes.extend_from_slice(data);
        Ok(Apdu { command, bytes })
    }

    /// The APDU as lowercase hex (for error messages and tests).
    pub fn to_hex(&self) -> String {
        hex::encode(&self.bytes)
    }
}

/// `B0 01 00 00 00`: GET_APP_AND_VERSION.
pub fn get_app_and_version() -> Apdu {
    Apdu {
        command: Command::GetAppAndVersion,
        bytes: vec![CLA_BOLOS, 0x01, 0x00, 0x00, 0x00],
    }
}

/// `E0 40`: the public key of `path`; with `display` the device shows the address and waits
/// for the user to confirm it. Addresses are asked in the legacy (base58) format, the one
/// BSV uses.
pub fn get_wallet_public_key(path: &DerivationPath, display: bool) -> Result<Apdu> {
    Apdu::new(
        Command::GetWalletPublicKey,
        CLA_BTCHIP,
        0x40,
        u8::from(display),
        0x00,
        &path.to_apdu_bytes(),
    )
}

/// How an input is named to HASH_INPUT_START.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputRef {
    /// BIP143 flow: prefix `02`, the outpoint and the amount it holds (which the digest
    /// commits to, so a lie about it only yields a signature that does not verify).
    Amount {
        /// The output spent.
        outpoint: OutPoint,
        /// Its value in satoshis.
        amount: u64,
    },
    /// A trusted input from GET_TRUSTED_INPUT: prefix `01`, its length, the bytes.
    Trusted(Vec<u8>),
}

impl InputRef {
    fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            InputRef::Amount { outpoint, amount } => {
                out.push(0x02);
                out.extend_from_slice(&outpoint.txid.0);
                out.extend_from_slice(&outpoint.vout.to_le_bytes());
                out.extend_from_slice(&amount.to_le_bytes());
            }
            InputRef::Trusted(bytes) => {
                out.push(0x01);
                // A trusted input is 56 bytes; the app refuses anything over 0x38.
                out.push(bytes.len() as u8);
                out.extend_from_slice(bytes);
            }
        }
    }
}

/// One input as hashed by HASH_INPUT_START: how it is named, the script to hash with it
/// (empty in a BIP143 first pass, the script code in the pass that signs it), its sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashedInput {
    /// The input.
    pub input: InputRef,
    /// The script hashed with it.
    pub script: Script,
    /// Its sequence number.
    pub sequence: u32,
}

/// `E0 44`: HASH_INPUT_START over `version` and `inputs`. `p2_new` is the P2 of a new
/// transaction ([`P2_NEW_BIP143`] ...) or [`P2_CONTINUE`] for a pass after the first.
pub fn hash_input_start(version: u32, inputs: &[HashedInput], p2: u8) -> Result<Vec<Apdu>> {
    let mut apdus = Vec::new();
    let mut head = version.to_le_bytes().to_vec();
    write_varint(&mut head, inputs.len() as u64);
    apdus.push(Apdu::new(
        Command::HashInputStart,
        CLA_BTCHIP,
        0x44,
        0x00,
        p2,
        &head,
    )?);
    for hashed in inputs {
        let mut data = Vec::with_capacity(1 + 57 + 3);
        hashed.input.encode_into(&mut data);
        write_varint(&mut data, hashed.script.len() as u64);
        apdus.push(Apdu::new(
            Command::HashInputStart,
            CLA_BTCHIP,
            0x44,
            0x80,
            p2,
            &data,
        )?);
        for block in script_blocks(hashed.script.as_bytes(), hashed.sequence) {
            apdus.push(Apdu::new(
                Command::HashInputStart,
                CLA_BTCHIP,
                0x44,
                0x80,
                p2,
                &block,
            )?);
        }
    }
    Ok(apdus)
}

/// A script cut into [`BLOCK`]-byte blocks with the 4-byte sequence appended to the last
/// (or alone when the script is empty), as hw-app-btc sends them.
fn script_blocks(script: &[u8], sequence: u32) -> Vec<Vec<u8>> {
    let mut blocks: Vec<Vec<u8>> = script.chunks(BLOCK).map(<[u8]>::to_vec).collect();
    match blocks.last_mut() {
        Some(last) => last.extend_from_slice(&sequence.to_le_bytes()),
        None => blocks.push(sequence.to_le_bytes().to_vec()),
    }
    blocks
}

/// The outputs as HASH_INPUT_FINALIZE_FULL takes them: a varint count, then each output.
pub fn outputs_stream(outputs: &[TxOut]) -> Vec<u8> {
    let mut out = Vec::new();
    write_varint(&mut out, outputs.len() as u64);
    for o in outputs {
        o.encode_into(&mut out);
    }
    out
}

/// `E0 4A FF 00`: tells the device which output is change (its path), so it is not shown.
pub fn provide_change_path(path: &DerivationPath) -> Result<Apdu> {
    Apdu::new(
        Command::HashInputFinalizeFull,
        CLA_BTCHIP,
        0x4a,
        0xff,
        0x00,
        &path.to_apdu_bytes(),
    )
}

/// `E0 4A`: the outputs stream in [`BLOCK`]-byte chunks, P1 `80` on the last, `00` before.
/// Returns each APDU with the byte range of the stream it carries.
pub fn hash_input_finalize_full(stream: &[u8]) -> Result<Vec<(Apdu, std::ops::Range<usize>)>> {
    let n = stream.len().div_ceil(BLOCK);
    let mut apdus = Vec::with_capacity(n);
    for (i, chunk) in stream.chunks(BLOCK).enumerate() {
        let p1 = if i + 1 == n { 0x80 } else { 0x00 };
        let start = i * BLOCK;
        apdus.push((
            Apdu::new(
                Command::HashInputFinalizeFull,
                CLA_BTCHIP,
                0x4a,
                p1,
                0x00,
                chunk,
            )?,
            start..start + chunk.len(),
        ));
    }
    Ok(apdus)
}

/// `E0 48`: sign what was hashed with the key at `path`: path, an empty user-validation code,
/// the lock time (big-endian, as the app reads it) and the one-byte sighash type.
pub fn hash_sign(path: &DerivationPath, lock_time: u32, sighash_type: u8) -> Result<Apdu> {
    let mut data = path.to_apdu_bytes();
    data.push(0x00);
    data.extend_from_slice(&lock_time.to_be_bytes());
    data.push(sighash_type);
    Apdu::new(Command::HashSign, CLA_BTCHIP, 0x48, 0x00, 0x00, &data)
}

/// `E0 42`: GET_TRUSTED_INPUT for output `vout` of `prev` (in its legacy serialization, as
/// hw-app-btc sends even a segwit transaction): the header with the output index, each input
/// with its script in blocks, the outputs one per APDU, then the lock time.
pub fn get_trusted_input(prev: &Transaction, vout: u32) -> Result<Vec<Apdu>> {
    let apdu =
        |p1: u8, data: &[u8]| Apdu::new(Command::GetTrustedInput, CLA_BTCHIP, 0x42, p1, 0x00, data);
    let mut head = vout.to_be_bytes().to_vec();
    head.extend_from_slice(&prev.version.to_le_bytes());
    write_varint(&mut head, prev.inputs.len() as u64);
    let mut apdus = vec![apdu(0x00, &head)?];
    for input in &prev.inputs {
        let mut data = input.prevout.txid.0.to_vec();
        data.extend_from_slice(&input.prevout.vout.to_le_bytes());
        write_varint(&mut data, input.script_sig.len() as u64);
        apdus.push(apdu(0x80, &data)?);
        for block in script_blocks(input.script_sig.as_bytes(), input.sequence) {
            apdus.push(apdu(0x80, &block)?);
        }
    }
    let mut count = Vec::new();
    write_varint(&mut count, prev.outputs.len() as u64);
    apdus.push(apdu(0x80, &count)?);
    for output in &prev.outputs {
        let mut data = Vec::new();
        output.encode_into(&mut data);
        apdus.push(apdu(0x80, &data)?);
    }
    apdus.push(apdu(0x80, &prev.lock_time.to_le_bytes())?);
    Ok(apdus)
}

/// `E0 4E`: SIGN_MESSAGE for `message` with the key at `path`: the prepare APDUs (path and
/// 2-byte length first, P2 `01`; then P2 `80`), then the sign APDU `E0 4E 80 00 01 00`.
pub fn sign_message(path: &DerivationPath, message: &[u8]) -> Result<Vec<Apdu>> {
    let len = u16::try_from(message.len())
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| Error::Transport {
            reason: format!(
                "a message to sign must be 1 to 65535 bytes, not {}",
                message.len()
            ),
        })?;
    let apdu = |p1: u8, p2: u8, data: &[u8]| {
        Apdu::new(Command::SignMessage, CLA_BTCHIP, 0x4e, p1, p2, data)
    };
    let path_bytes = path.to_apdu_bytes();
    // hw-app-btc leaves room for the path and 4 more bytes in the first block.
    let first = (BLOCK - 1 - 4 * path.components().len() - 4).min(message.len());
    let mut data = path_bytes;
    data.extend_from_slice(&len.to_be_bytes());
    data.extend_from_slice(&message[..first]);
    let mut apdus = vec![apdu(0x00, 0x01, &data)?];
    for chunk in message[first..].chunks(BLOCK) {
        apdus.push(apdu(0x00, 0x80, chunk)?);
    }
    apdus.push(apdu(0x80, 0x00, &[0x00])?);
    Ok(apdus)
}

/// What GET_APP_AND_VERSION says is open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppInfo {
    /// The app's name ("Bitcoin Cash"; "BOLOS" for the dashboard).
    pub name: String,
    /// Its version.
    pub version: String,
}

/// Parses GET_APP_AND_VERSION's reply: format `01`, then name and version, each with a
/// length byte (flags may follow).
pub fn parse_app_and_version(data: &[u8]) -> Result<AppInfo> {
    let mut r = ReplyReader::new(data, Command::GetAppAndVersion);
    let format = r.u8("format")?;
    if format != 0x01 {
        return Err(r.error(format!("unknown format {format:#04x}")));
    }
    let name = r.text("app name")?;
    let version = r.text("app version")?;
    Ok(AppInfo { name, version })
}

/// What GET_WALLET_PUBLIC_KEY returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletPublicKey {
    /// The key, compressed (the device returns it uncompressed).
    pub public_key: PublicKey,
    /// The address the device derived for it, as it shows it.
    pub address: String,
    /// The BIP32 chain code.
    pub chain_code: [u8; 32],
}

/// Parses GET_WALLET_PUBLIC_KEY's reply: key length and key (65-byte uncompressed or 33-byte
/// compressed), address length and address, 32-byte chain code. The key is checked to be on
/// the curve before it is compressed.
pub fn parse_wallet_public_key(data: &[u8]) -> Result<WalletPublicKey> {
    let mut r = ReplyReader::new(data, Command::GetWalletPublicKey);
    let key_len = usize::from(r.u8("public key length")?);
    let key = r.bytes(key_len, "public key")?;
    let point = k256::ecdsa::VerifyingKey::from_sec1_bytes(key).map_err(|_| {
        r.error(format!(
            "{} is not a secp256k1 public key",
            hex::encode(key)
        ))
    })?;
    let public_key = PublicKey::from_bytes(point.to_encoded_point(true).as_bytes())?;
    let address = r.text("address")?;
    let mut chain_code = [0u8; 32];
    chain_code.copy_from_slice(r.bytes(32, "chain code")?);
    Ok(WalletPublicKey {
        public_key,
        address,
        chain_code,
    })
}

/// A signature reply of UNTRUSTED_HASH_SIGN or SIGN_MESSAGE, with the first byte's parity bit
/// (set by the device when R's y is odd) cleared, parsed as strict DER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSignature {
    /// The signature as the device made it (possibly high S).
    pub signature: Signature,
    /// The parity bit the device reported in the first byte.
    pub y_odd: bool,
    /// The sighash byte after the DER (UNTRUSTED_HASH_SIGN only).
    pub sighash_type: Option<u8>,
}

/// Parses a signature reply. With `with_sighash_type`, the reply is DER then one sighash byte
/// (UNTRUSTED_HASH_SIGN); without, DER alone (SIGN_MESSAGE).
pub fn parse_signature(
    data: &[u8],
    command: Command,
    with_sighash_type: bool,
) -> Result<DeviceSignature> {
    let r = ReplyReader::new(data, command);
    let (&first, _) = data
        .split_first()
        .ok_or_else(|| r.error("empty signature".into()))?;
    if first & !1 != 0x30 {
        return Err(r.error(format!(
            "signature starts with {first:#04x}, not 0x30 or 0x31"
        )));
    }
    let der_len = usize::from(
        *data
            .get(1)
            .ok_or_else(|| r.error("signature is truncated".into()))?,
    ) + 2;
    let (der, rest) = data
        .split_at_checked(der_len)
        .ok_or_else(|| r.error("signature is truncated".into()))?;
    let sighash_type = match (with_sighash_type, rest) {
        (true, [t]) => Some(*t),
        (false, []) => None,
        _ => {
            return Err(r.error(format!(
                "{} unexpected bytes after the DER signature",
                rest.len()
            )))
        }
    };
    let mut der = der.to_vec();
    der[0] = 0x30;
    let signature = keys::parse_der_strict(&der).map_err(|e| r.error(e.to_string()))?;
    Ok(DeviceSignature {
        signature,
        y_odd: first & 1 == 1,
        sighash_type,
    })
}

/// A bounds-checked cursor over a device reply; errors name the command and the field.
struct ReplyReader<'a> {
    data: &'a [u8],
    pos: usize,
    command: Command,
}

impl<'a> ReplyReader<'a> {
    fn new(data: &'a [u8], command: Command) -> Self {
        ReplyReader {
            data,
            pos: 0,
            command,
        }
    }

    fn error(&self, reason: String) -> Error {
        Error::Transport {
            reason: format!(
                "malformed reply to {} at byte {}: {reason}",
                self.command.name(),
                self.pos
            ),
        }
    }

    fn bytes(&mut self, n: usize, field: &str) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.data.len());
        match end {
            Some(end) => {
                let out = &self.data[self.pos..end];
                self.pos = end;
                Ok(out)
            }
            None => Err(self.error(format!(
                "{field} needs {n} bytes, {} remain",
                self.data.len() - self.pos
            ))),
        }
    }

    fn u8(&mut self, field: &str) -> Result<u8> {
        Ok(self.bytes(1, field)?[0])
    }

    /// A length-prefixed printable ASCII string.
    fn text(&mut self, field: &str) -> Result<String> {
        let n = usize::from(self.u8(field)?);
        let raw = self.bytes(n, field)?;
        if !raw.iter().all(|b| (0x20..0x7f).contains(b)) {
            return Err(self.error(format!("{field} is not printable ASCII")));
        }
        Ok(String::from_utf8_lossy(raw).into_owned())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests {
    use super::*;

    #[test]
    fn app_and_version_parses_and_refuses_truncation() {
        let info =
            parse_app_and_version(&hex::decode("0107426974636f696e06312e332e32330102").unwrap())
                .unwrap();
        assert_eq!(
            info,
            AppInfo {
                name: "Bitcoin".into(),
                version: "1.3.23".into()
            }
        );
        for n in 0..9 {
            let data = hex::decode("0107426974636f696e06312e332e3233").unwrap();
            assert!(parse_app_and_version(&data[..n]).is_err(), "{n}");
        }
    }

    #[test]
    fn signature_parity_byte_is_cleared_and_trailing_bytes_refused() {
        let der = "3045022100c820c90ce84c6567617733cd6409c4b8f7469b863d811a3cdc73bf3fa43912bc0220320b7fd259939a6821d371f2b49a755d1ca588bffb1476fbb2da68907427b54b";
        let odd = hex::decode(format!("31{}01", &der[2..])).unwrap();
        let s = parse_signature(&odd, Command::HashSign, true).unwrap();
        assert!(s.y_odd);
        assert_eq!(s.sighash_type, Some(1));
        assert_eq!(hex::encode(s.signature.to_der().as_bytes()), der);
        assert!(parse_signature(&odd, Command::SignMessage, false).is_err());
        assert!(parse_signature(&odd[..10], Command::HashSign, true).is_err());
        assert!(parse_signature(&[], Command::HashSign, true).is_err());
        let mut bad = odd.clone();
        bad[0] = 0x32;
        assert!(parse_signature(&bad, Command::HashSign, true).is_err());
    }

    /// Replies come from a device that may be faulty or an impostor: every parser must
    /// return an error, never panic, on truncated, mutated and arbitrary bytes.
    #[test]
    fn reply_parsers_never_panic_on_hostile_bytes() {
        let recorded = [
            "0107426974636f696e06312e332e32330102",
            "410486b865b52b753d0a84d09bc20063fab5d8453ec33c215d4019a5801c9c6438b917770b2782e29a9ecc6edb67cd1f0fbf05ec4c1236884b6d686d6be3b1588abb2231334b453654666641724c683466564d36756f517a7673597135767765744a63564dbce80dd580792cd18af542790e56aa813178dc28644bb5f03dbd44c85f2d2e7a",
            "3145022100c820c90ce84c6567617733cd6409c4b8f7469b863d811a3cdc73bf3fa43912bc0220320b7fd259939a6821d371f2b49a755d1ca588bffb1476fbb2da68907427b54b01",
        ];
        let mut corpus: Vec<Vec<u8>> = Vec::new();
        for r in recorded {
            let bytes = hex::decode(r).unwrap();
            for n in 0..=bytes.len() {
                corpus.push(bytes[..n].to_vec());
            }
            for i in 0..bytes.len() {
                for flip in [0x01, 0x80, 0xff] {
                    let mut m = bytes.clone();
                    m[i] ^= flip;
                    corpus.push(m);
                }
            }
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for len in 0..300 {
            let v = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            corpus.push(v);
        }
        for bytes in &corpus {
            let _ = parse_app_and_version(bytes);
            let _ = parse_wallet_public_key(bytes);
            let _ = parse_signature(bytes, Command::HashSign, true);
            let _ = parse_signature(bytes, Command::SignMessage, false);
        }
    }

    #[test]
    fn message_longer_than_a_block_is_cut_as_hw_app_btc_cuts_it() {
        let path = DerivationPath::chainlock_default();
        let msg = [b'a'; 84];
        let apdus = sign_message(&path, &msg).unwrap();
        // First block: 50 - 1 - 20 - 4 = 25 message bytes after the path and the length.
        assert_eq!(apdus[0].bytes.len(), 5 + 21 + 2 + 25);
        assert_eq!(apdus[1].bytes[..5], [0xe0, 0x4e, 0x00, 0x80, 50]);
        assert_eq!(apdus[2].bytes[..5], [0xe0, 0x4e, 0x00, 0x80, 9]);
        assert_eq!(apdus[3].bytes, [0xe0, 0x4e, 0x80, 0x00, 0x01, 0x00]);
        assert!(sign_message(&path, &[]).is_err());
    }
}
