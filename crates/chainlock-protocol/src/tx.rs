//! Transactions with exact (de)serialization.

use std::fmt;

use crate::encode::{write_var_bytes, write_varint, Reader};
use crate::hash::{from_hex, sha256d};
use crate::script::Script;
use crate::{Error, Result};

/// Smallest possible encoded input: outpoint (36) + empty script length (1) + sequence (4).
const MIN_INPUT_SIZE: usize = 41;
/// Smallest possible encoded output: value (8) + empty script length (1).
const MIN_OUTPUT_SIZE: usize = 9;

/// A transaction id, stored in internal byte order and shown reversed, as Bitcoin shows it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Txid(pub [u8; 32]);

impl Txid {
    /// Parses the usual display form (byte-reversed hex).
    pub fn from_display_hex(text: &str) -> Result<Self> {
        let mut bytes = crate::hash::digest_from_hex("txid", text)?;
        bytes.reverse();
        Ok(Txid(bytes))
    }
}

impl fmt::Display for Txid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rev = self.0;
        rev.reverse();
        f.write_str(&hex::encode(rev))
    }
}

impl fmt::Debug for Txid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Txid({self})")
    }
}

/// A reference to an output of an earlier transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OutPoint {
    /// The transaction that created the output.
    pub txid: Txid,
    /// The output's index in it.
    pub vout: u32,
}

impl fmt::Display for OutPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.txid, self.vout)
    }
}

/// A transaction input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxIn {
    /// The output being spent.
    pub prevout: OutPoint,
    /// The unlocking script.
    pub script_sig: Script,
    /// The sequence number.
    pub sequence: u32,
}

/// A transaction output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxOut {
    /// Value in satoshis.
    pub value: u64,
    /// The locking script.
    pub script_pubkey: Script,
}

impl TxOut {
    /// Size of the output as serialized: value, script length varint, script.
    pub fn encoded_len(&self) -> usize {
        let mut buf = Vec::with_capacity(9);
        write_varint(&mut buf, self.script_pubkey.len() as u64);
        8 + buf.len() + self.script_pubkey.len()
    }

    /// Appends the consensus encoding.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.value.to_le_bytes());
        write_var_bytes(out, self.script_pubkey.as_bytes());
    }
}

/// An output being spent, as a signer or checker must know it: the sighash commits to its
/// value, and its locking script is the script code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpentOutput {
    /// The locking script of the output being spent.
    pub script_pubkey: Script,
    /// Its value in satoshis.
    pub value: u64,
}

/// A transaction (BSV has no segregated witness: the legacy layout is the only one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// Version (signed in consensus, kept as raw bits here).
    pub version: u32,
    /// Inputs, in order.
    pub inputs: Vec<TxIn>,
    /// Outputs, in order.
    pub outputs: Vec<TxOut>,
    /// Lock time.
    pub lock_time: u32,
}

impl Transaction {
    /// Decodes a transaction; every byte must be consumed.
    pub fn decode(data: &[u8]) -> Result<Self> {
        let mut r = Reader::new(data, "transaction");
        let tx = Self::decode_from(&mut r)?;
        r.finish()?;
        Ok(tx)
    }

    /// Decodes a transaction from hex text.
    pub fn from_hex(text: &str) -> Result<Self> {
        Self::decode(&from_hex("transaction", text)?)
    }

    /// Decodes one transaction from a reader, leaving any bytes after it.
    pub fn decode_from(r: &mut Reader<'_>) -> Result<Self> {
        let version = r.u32("version")?;
        let n_in = r.count("input count", MIN_INPUT_SIZE)?;
        let mut inputs = Vec::with_capacity(n_in);
        for i in 0..n_in {
            let txid = Txid(r.array(&format!("input {i} previous txid"))?);
            let vout = r.u32(&format!("input {i} previous output index"))?;
            let script_sig = Script::from(r.var_bytes(&format!("input {i} unlocking script"))?);
            let sequence = r.u32(&format!("input {i} sequence"))?;
            inputs.push(TxIn {
                prevout: OutPoint { txid, vout },
                script_sig,
                sequence,
            });
        }
        let n_out = r.count("output count", MIN_OUTPUT_SIZE)?;
        let mut outputs = Vec::with_capacity(n_out);
        for i in 0..n_out {
            let value = r.u64(&format!("output {i} value"))?;
            let script_pubkey = Script::from(r.var_bytes(&format!("output {i} locking script"))?);
            outputs.push(TxOut {
                value,
                script_pubkey,
            });
        }
        let lock_time = r.u32("lock time")?;
        Ok(Transaction {
            version,
            inputs,
            outputs,
            lock_time,
        })
    }

    /// The consensus encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len_hint());
        out.extend_from_slice(&self.version.to_le_bytes());
        write_varint(&mut out, self.inputs.len() as u64);
        for input in &self.inputs {
            out.extend_from_slice(&input.prevout.txid.0);
            out.extend_from_slice(&input.prevout.vout.to_le_bytes());
            write_var_bytes(&mut out, input.script_sig.as_bytes());
            out.extend_from_slice(&input.sequence.to_le_bytes());
        }
        write_varint(&mut out, self.outputs.len() as u64);
        for output in &self.outputs {
            output.encode_into(&mut out);
        }
        out.extend_from_slice(&self.lock_time.to_le_bytes());
        out
    }

    /// The consensus encoding as lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.encode())
    }

    /// The transaction id.
    pub fn txid(&self) -> Txid {
        Txid(sha256d(&self.encode()))
    }

    /// Sum of output values, or an error if it overflows (no valid transaction does).
    pub fn output_total(&self) -> Result<u64> {
        self.outputs
            .iter()
            .try_fold(0u64, |acc, o| acc.checked_add(o.value))
            .ok_or_else(|| Error::Invalid("output values overflow".into()))
    }

    fn encoded_len_hint(&self) -> usize {
        10 + self
            .inputs
            .iter()
            .map(|i| 41 + i.script_sig.len())
            .sum::<usize>()
            + self
                .outputs
                .iter()
                .map(|o| 9 + o.script_pubkey.len())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A mainnet-style transaction: 1 input, 2 outputs (from the BSV node's sighash vectors).
    const SAMPLE: &str = "0100000001b14bdcbc3e01bdaad36cc08e81e69c82e1060bc14e518db2b49aa43ad90ba26000000000490047304402203f16c6f40162ab686621ef3000b04e75418a0c0cb2d8aebeac894ae360ac1e780220ddc15ecdfc3507ac48e1681a33eb60996631bf6bf5bc0a0682c4db743ce7ca2b01ffffffff0140420f00000000001976a914660d4ef3a743e3e696ad990364e555c271ad504b88ac00000000";

    #[test]
    fn decode_encode_round_trip() {
        let tx = Transaction::from_hex(SAMPLE).unwrap();
        assert_eq!(tx.inputs.len(), 1);
        assert_eq!(tx.outputs.len(), 1);
        assert_eq!(tx.outputs[0].value, 1_000_000);
        assert_eq!(tx.to_hex(), SAMPLE);
    }

    #[test]
    fn truncation_names_the_field() {
        let bytes = hex::decode(SAMPLE).unwrap();
        let err = Transaction::decode(&bytes[..bytes.len() - 2]).unwrap_err();
        assert!(err.to_string().contains("lock time"), "{err}");
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut bytes = hex::decode(SAMPLE).unwrap();
        bytes.push(0);
        let err = Transaction::decode(&bytes).unwrap_err();
        assert!(err.to_string().contains("trailing"), "{err}");
    }
}
