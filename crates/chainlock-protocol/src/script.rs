//! Scripts: parsing into instructions, minimal pushes, and the three templates the protocol
//! uses (custody multisig, P2PKH, the record commitment).

use std::fmt;

use crate::{Error, Result};

/// Opcodes the protocol's templates and checker need.
#[allow(missing_docs)] // the names are the opcodes' own
pub mod op {
    pub const OP_0: u8 = 0x00;
    pub const OP_PUSHDATA1: u8 = 0x4c;
    pub const OP_PUSHDATA2: u8 = 0x4d;
    pub const OP_PUSHDATA4: u8 = 0x4e;
    pub const OP_1NEGATE: u8 = 0x4f;
    pub const OP_1: u8 = 0x51;
    pub const OP_16: u8 = 0x60;
    pub const OP_RETURN: u8 = 0x6a;
    pub const OP_DUP: u8 = 0x76;
    pub const OP_EQUALVERIFY: u8 = 0x88;
    pub const OP_HASH160: u8 = 0xa9;
    pub const OP_CHECKSIG: u8 = 0xac;
    pub const OP_CHECKMULTISIG: u8 = 0xae;
}

/// Protocol tag in the commitment output.
pub const COMMITMENT_TAG: &[u8] = b"chainlock";
/// Protocol version byte in the commitment output.
pub const COMMITMENT_VERSION: u8 = 0x01;
/// Exact size of the commitment script.
pub const COMMITMENT_LEN: usize = 47;
/// Largest script the Ledger "Bitcoin Cash" app parses in an output (100-byte buffer less
/// 8 value bytes and 1 length byte).
pub const LEDGER_MAX_OUTPUT_SCRIPT: usize = 91;
/// Bare multisig is standard on BSV only up to three keys.
pub const MAX_CUSTODY_KEYS: usize = 3;

/// A compressed secp256k1 public key, as bytes (curve validity is checked by the key code).
pub type PubKeyBytes = [u8; 33];

/// A script, as raw bytes.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Script(Vec<u8>);

impl Script {
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for the empty script.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Parses hex text.
    pub fn from_hex(text: &str) -> Result<Self> {
        Ok(Script(crate::hash::from_hex("script", text)?))
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(&self.0)
    }

    /// The script's instructions; an error item ends the iteration on a truncated push.
    pub fn instructions(&self) -> Instructions<'_> {
        Instructions {
            data: &self.0,
            pos: 0,
        }
    }

    /// Parses every instruction, failing on a truncated push.
    pub fn parse(&self) -> Result<Vec<Instruction<'_>>> {
        self.instructions().collect()
    }

    /// True if the script holds only push instructions (as unlocking scripts must): the
    /// node's `IsPushOnly`, which also counts OP_1NEGATE and OP_1..OP_16.
    pub fn is_push_only(&self) -> bool {
        self.instructions().all(|i| match i {
            Ok(Instruction::Push(_)) => true,
            Ok(Instruction::Op(o)) => o <= op::OP_16,
            Err(_) => false,
        })
    }

    /// The custody output: `OP_m <pk1> .. <pkn> OP_n OP_CHECKMULTISIG`, keys in byte order.
    pub fn custody(threshold: usize, keys: &[PubKeyBytes]) -> Result<Self> {
        let mut sorted = keys.to_vec();
        sorted.sort_unstable();
        check_custody_params(threshold, &sorted)?;
        let mut b = Builder::new();
        b.small_int(threshold);
        for key in &sorted {
            b.push(key);
        }
        b.small_int(sorted.len());
        b.op(op::OP_CHECKMULTISIG);
        Ok(b.into_script())
    }

    /// Reads a custody multisig, requiring the exact template: direct 33-byte pushes of
    /// compressed keys, strictly increasing (sorted and distinct), 1 <= m <= n <= 3.
    pub fn parse_custody(&self) -> Result<Custody> {
        const T: &str = "custody multisig";
        let ins = self.parse().map_err(|e| template(T, e.to_string()))?;
        let (first, rest) = ins
            .split_first()
            .ok_or_else(|| template(T, "empty script"))?;
        let m = small_int(first).ok_or_else(|| template(T, "does not start with OP_1..OP_3"))?;
        if rest.len() < 2 {
            return Err(template(T, "too short"));
        }
        let (keys_ins, tail) = rest.split_at(rest.len() - 2);
        if tail[1] != Instruction::Op(op::OP_CHECKMULTISIG) {
            return Err(template(T, "does not end with OP_CHECKMULTISIG"));
        }
        let n = small_int(&tail[0]).ok_or_else(|| template(T, "key count is not OP_1..OP_3"))?;
        let mut keys = Vec::with_capacity(keys_ins.len());
        for (i, ins) in keys_ins.iter().enumerate() {
            match ins {
                Instruction::Push(data) if data.len() == 33 && (data[0] == 2 || data[0] == 3) => {
                    let mut key = [0u8; 33];
                    key.copy_from_slice(data);
                    keys.push(key);
                }
                _ => {
                    return Err(template(
                        T,
                        format!("key {} is not a compressed public key push", i + 1),
                    ))
                }
            }
        }
        if keys.len() != n {
            return Err(template(
                T,
                format!("says {n} keys but holds {}", keys.len()),
            ));
        }
        check_custody_params(m, &keys).map_err(|e| template(T, e.to_string()))?;
        // Only the canonical encoding: re-encode and compare, which rules out PUSHDATA forms.
        if Script::custody(m, &keys)?.0 != self.0 {
            return Err(template(T, "not the canonical encoding"));
        }
        Ok(Custody { threshold: m, keys })
    }

    /// `OP_DUP OP_HASH160 <20 bytes> OP_EQUALVERIFY OP_CHECKSIG`.
    pub fn p2pkh(pubkey_hash: &[u8; 20]) -> Self {
        let mut b = Builder::new();
        b.op(op::OP_DUP)
            .op(op::OP_HASH160)
            .push(pubkey_hash)
            .op(op::OP_EQUALVERIFY)
            .op(op::OP_CHECKSIG);
        b.into_script()
    }

    /// The public key hash of a P2PKH script, or an error if it is not exactly that template.
    pub fn parse_p2pkh(&self) -> Result<[u8; 20]> {
        let s = &self.0;
        if s.len() == 25
            && s[0] == op::OP_DUP
            && s[1] == op::OP_HASH160
            && s[2] == 20
            && s[23] == op::OP_EQUALVERIFY
            && s[24] == op::OP_CHECKSIG
        {
            let mut h = [0u8; 20];
            h.copy_from_slice(&s[3..23]);
            Ok(h)
        } else {
            Err(template(
                "P2PKH",
                "not OP_DUP OP_HASH160 <20 bytes> OP_EQUALVERIFY OP_CHECKSIG",
            ))
        }
    }

    /// The record commitment `OP_FALSE OP_RETURN <"chainlock"> <0x01> <digest>`: 47 bytes,
    /// every push a direct length opcode (never OP_1 for the version byte).
    pub fn commitment(record_digest: &[u8; 32]) -> Self {
        let mut s = Vec::with_capacity(COMMITMENT_LEN);
        s.extend_from_slice(&[op::OP_0, op::OP_RETURN, COMMITMENT_TAG.len() as u8]);
        s.extend_from_slice(COMMITMENT_TAG);
        s.extend_from_slice(&[1, COMMITMENT_VERSION, 32]);
        s.extend_from_slice(record_digest);
        Script(s)
    }

    /// The record digest a commitment script carries, or an error if the script is not
    /// exactly the 47-byte template.
    pub fn parse_commitment(&self) -> Result<[u8; 32]> {
        let s = &self.0;
        let prefix = Script::commitment(&[0; 32]);
        if s.len() != COMMITMENT_LEN || s[..15] != prefix.0[..15] {
            return Err(template(
                "chainlock commitment",
                "expected the 47 bytes 00 6a 09 'chainlock' 01 01 20 <32-byte digest>",
            ));
        }
        let mut d = [0u8; 32];
        d.copy_from_slice(&s[15..]);
        Ok(d)
    }
}

impl From<Vec<u8>> for Script {
    fn from(v: Vec<u8>) -> Self {
        Script(v)
    }
}

impl From<&[u8]> for Script {
    fn from(v: &[u8]) -> Self {
        Script(v.to_vec())
    }
}

impl fmt::Debug for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Script({})", self.to_hex())
    }
}

impl fmt::Display for Script {
    /// Assembly: pushes as hex, opcodes by name where the protocol knows them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for ins in self.instructions() {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            match ins {
                Ok(Instruction::Push([])) => f.write_str("OP_0")?,
                Ok(Instruction::Push(d)) => f.write_str(&hex::encode(d))?,
                Ok(Instruction::Op(o)) => f.write_str(&opcode_name(o))?,
                Err(_) => return f.write_str("[truncated push]"),
            }
        }
        Ok(())
    }
}

/// A parsed custody multisig.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Custody {
    /// Signatures required (m).
    pub threshold: usize,
    /// The keys, in byte order (n of them).
    pub keys: Vec<PubKeyBytes>,
}

impl Custody {
    /// Whether `key` is one of the custody keys: the one membership check, used by every
    /// signing path before a key is asked to sign.
    pub fn lists(&self, key: &crate::keys::PublicKey) -> bool {
        let bytes = key.to_bytes();
        self.keys.contains(&bytes)
    }
}

/// One script instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Instruction<'a> {
    /// Data pushed by OP_0, a direct push or OP_PUSHDATA1/2/4.
    Push(&'a [u8]),
    /// Any other opcode (including OP_1NEGATE and OP_1..OP_16).
    Op(u8),
}

/// Iterator over a script's instructions.
#[derive(Debug, Clone)]
pub struct Instructions<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Instructions<'a> {
    type Item = Result<Instruction<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let opcode = *self.data.get(self.pos)?;
        let at = self.pos;
        self.pos += 1;
        let (len_bytes, len) = match opcode {
            0x00..=0x4b => (0, usize::from(opcode)),
            op::OP_PUSHDATA1 | op::OP_PUSHDATA2 | op::OP_PUSHDATA4 => {
                let width = match opcode {
                    op::OP_PUSHDATA1 => 1,
                    op::OP_PUSHDATA2 => 2,
                    _ => 4,
                };
                let Some(raw) = self.data.get(self.pos..self.pos + width) else {
                    self.pos = self.data.len();
                    return Some(Err(Error::decode("script", at, "truncated push length")));
                };
                let mut buf = [0u8; 4];
                buf[..width].copy_from_slice(raw);
                (width, u32::from_le_bytes(buf) as usize)
            }
            other => return Some(Ok(Instruction::Op(other))),
        };
        let start = self.pos + len_bytes;
        match start.checked_add(len).filter(|end| *end <= self.data.len()) {
            Some(end) => {
                self.pos = end;
                Some(Ok(Instruction::Push(&self.data[start..end])))
            }
            None => {
                self.pos = self.data.len();
                Some(Err(Error::decode(
                    "script",
                    at,
                    format!("push of {len} bytes runs past the end"),
                )))
            }
        }
    }
}

/// Builds scripts with minimal pushes.
#[derive(Debug, Default)]
pub struct Builder(Vec<u8>);

impl Builder {
    /// An empty script.
    pub fn new() -> Self {
        Builder(Vec::new())
    }

    /// Appends an opcode.
    pub fn op(&mut self, opcode: u8) -> &mut Self {
        self.0.push(opcode);
        self
    }

    /// Appends OP_0..OP_16 for a small integer (callers check the range).
    pub fn small_int(&mut self, n: usize) -> &mut Self {
        debug_assert!(n <= 16);
        self.0.push(if n == 0 {
            op::OP_0
        } else {
            op::OP_1 - 1 + n as u8
        });
        self
    }

    /// Appends data with the smallest push opcode that carries it (MINIMALDATA).
    pub fn push(&mut self, data: &[u8]) -> &mut Self {
        match data {
            [] => self.0.push(op::OP_0),
            [n @ 1..=16] => self.0.push(op::OP_1 - 1 + n),
            [0x81] => self.0.push(op::OP_1NEGATE),
            _ => {
                match data.len() {
                    n @ 1..=0x4b => self.0.push(n as u8),
                    n @ 0x4c..=0xff => self.0.extend_from_slice(&[op::OP_PUSHDATA1, n as u8]),
                    n @ 0x100..=0xffff => {
                        self.0.push(op::OP_PUSHDATA2);
                        self.0.extend_from_slice(&(n as u16).to_le_bytes());
                    }
                    n => {
                        self.0.push(op::OP_PUSHDATA4);
                        self.0.extend_from_slice(&(n as u32).to_le_bytes());
                    }
                }
                self.0.extend_from_slice(data);
            }
        }
        self
    }

    /// The script built.
    pub fn into_script(self) -> Script {
        Script(self.0)
    }
}

/// True if `encoded` is the smallest push of `data` (the node's MINIMALDATA rule).
pub fn is_minimal_push(data: &[u8], encoded: &[u8]) -> bool {
    let mut b = Builder::new();
    b.push(data);
    b.0 == encoded
}

fn check_custody_params(threshold: usize, sorted_keys: &[PubKeyBytes]) -> Result<()> {
    let n = sorted_keys.len();
    if !(1..=MAX_CUSTODY_KEYS).contains(&n) {
        return Err(Error::Invalid(format!(
            "custody needs 1 to {MAX_CUSTODY_KEYS} keys, got {n}"
        )));
    }
    if !(1..=n).contains(&threshold) {
        return Err(Error::Invalid(format!(
            "custody threshold must be 1..={n}, got {threshold}"
        )));
    }
    if sorted_keys.windows(2).any(|w| w[0] >= w[1]) {
        return Err(Error::Invalid(
            "custody keys must be distinct and in byte order".into(),
        ));
    }
    if let Some(bad) = sorted_keys.iter().find(|k| k[0] != 2 && k[0] != 3) {
        return Err(Error::Invalid(format!(
            "{} is not a compressed public key",
            hex::encode(bad)
        )));
    }
    Ok(())
}

fn small_int(ins: &Instruction<'_>) -> Option<usize> {
    match ins {
        Instruction::Op(o) if (op::OP_1..=op::OP_1 + 2).contains(o) => {
            Some(usize::from(o - op::OP_1 + 1))
        }
        _ => None,
    }
}

fn template(name: &'static str, reason: impl Into<String>) -> Error {
    Error::Template {
        template: name,
        reason: reason.into(),
    }
}

fn opcode_name(o: u8) -> String {
    match o {
        op::OP_1NEGATE => "OP_1NEGATE".into(),
        op::OP_1..=op::OP_16 => format!("OP_{}", o - op::OP_1 + 1),
        op::OP_RETURN => "OP_RETURN".into(),
        op::OP_DUP => "OP_DUP".into(),
        op::OP_EQUALVERIFY => "OP_EQUALVERIFY".into(),
        op::OP_HASH160 => "OP_HASH160".into(),
        op::OP_CHECKSIG => "OP_CHECKSIG".into(),
        op::OP_CHECKMULTISIG => "OP_CHECKMULTISIG".into(),
        other => format!("0x{other:02x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> PubKeyBytes {
        let mut k = [b; 33];
        k[0] = 2;
        k
    }

    #[test]
    fn commitment_is_the_exact_47_bytes() {
        let s = Script::commitment(&[0xab; 32]);
        assert_eq!(s.len(), 47);
        assert_eq!(&s.to_hex()[..30], "006a09636861696e6c6f636b010120");
        assert_eq!(s.parse_commitment().unwrap(), [0xab; 32]);
    }

    #[test]
    fn custody_sorts_and_round_trips() {
        let s = Script::custody(2, &[key(9), key(1), key(5)]).unwrap();
        let c = s.parse_custody().unwrap();
        assert_eq!(c.threshold, 2);
        assert_eq!(c.keys, vec![key(1), key(5), key(9)]);
        assert_eq!(s.as_bytes()[0], 0x52);
        assert_eq!(s.as_bytes()[s.len() - 2..], [0x53, 0xae]);
    }

    #[test]
    fn custody_refuses_out_of_range_parameters() {
        assert!(Script::custody(0, &[key(1)]).is_err());
        assert!(Script::custody(2, &[key(1)]).is_err());
        assert!(Script::custody(1, &[key(1), key(2), key(3), key(4)]).is_err());
        assert!(Script::custody(1, &[key(1), key(1)]).is_err());
    }

    #[test]
    fn unsorted_custody_script_is_not_the_template() {
        let good = Script::custody(1, &[key(1), key(2)]).unwrap();
        let mut bytes = good.as_bytes().to_vec();
        bytes[2..35].copy_from_slice(&key(2));
        bytes[36..69].copy_from_slice(&key(1));
        assert!(Script::from(bytes).parse_custody().is_err());
    }

    #[test]
    fn p2pkh_round_trips() {
        let s = Script::p2pkh(&[7; 20]);
        assert_eq!(s.len(), 25);
        assert_eq!(s.parse_p2pkh().unwrap(), [7; 20]);
    }

    #[test]
    fn truncated_pushes_are_errors_not_panics() {
        for bytes in [
            &[0x05, 1, 2][..],
            &[0x4c][..],
            &[0x4d, 0xff][..],
            &[0x4e, 0xff, 0xff, 0xff, 0xff, 1][..],
        ] {
            assert!(Script::from(bytes).parse().is_err(), "{bytes:?}");
        }
    }
}
