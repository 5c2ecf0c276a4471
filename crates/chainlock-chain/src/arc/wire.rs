//! ARC's wire formats (`shared/vectors/arc/arc.yaml`): the extended transaction format its
//! `POST /v1/tx` takes, the JSON it answers with, and how its statuses map to ours.

use chainlock_protocol::encode::write_var_bytes;
use chainlock_protocol::tx::{SpentOutput, Transaction};
use serde::Deserialize;

use crate::TxStatus;

/// The extended format (BRC-30): the transaction with each input's spent output (value and
/// locking script) after its sequence, marked by `0000000000EF` after the version, so ARC
/// can check scripts and fees without looking the parents up.
pub fn extended_format(tx: &Transaction, spent: &[SpentOutput]) -> Option<Vec<u8>> {
    if spent.len() != tx.inputs.len() {
        return None;
    }
    let mut out = Vec::new();
    out.extend_from_slice(&tx.version.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0, 0, 0xef]);
    chainlock_protocol::encode::write_varint(&mut out, tx.inputs.len() as u64);
    for (input, spent) in tx.inputs.iter().zip(spent) {
        out.extend_from_slice(&input.prevout.txid.0);
        out.extend_from_slice(&input.prevout.vout.to_le_bytes());
        write_var_bytes(&mut out, input.script_sig.as_bytes());
        out.extend_from_slice(&input.sequence.to_le_bytes());
        out.extend_from_slice(&spent.value.to_le_bytes());
        write_var_bytes(&mut out, spent.script_pubkey.as_bytes());
    }
    chainlock_protocol::encode::write_varint(&mut out, tx.outputs.len() as u64);
    for output in &tx.outputs {
        output.encode_into(&mut out);
    }
    out.extend_from_slice(&tx.lock_time.to_le_bytes());
    Some(out)
}

/// `TransactionResponse` / `TransactionStatus` (the fields ChainLock reads).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TxAnswer {
    /// The transaction id.
    pub txid: String,
    /// ARC's status name.
    pub tx_status: String,
    /// The block height, once mined.
    #[serde(default)]
    pub block_height: Option<u64>,
    /// The block hash, once mined.
    #[serde(default)]
    pub block_hash: Option<String>,
    /// The merkle path (BUMP hex), once mined.
    #[serde(default)]
    pub merkle_path: Option<String>,
    /// What ARC adds (why it rejected, ...).
    #[serde(default)]
    pub extra_info: Option<String>,
    /// Transactions spending the same outputs.
    #[serde(default)]
    pub competing_txs: Option<Vec<String>>,
    /// When ARC answered (RFC 3339).
    pub timestamp: String,
}

/// An RFC 7807 problem (`ErrorFields`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// The title.
    pub title: String,
    /// The HTTP status it reports.
    pub status: u16,
    /// The long description.
    pub detail: String,
    /// What the miner added.
    #[serde(default)]
    pub extra_info: Option<String>,
}

/// `PolicyResponse`: the fee and limits ARC applies.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PolicyAnswer {
    /// The policy.
    pub policy: ArcPolicy,
}

/// `Policy`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArcPolicy {
    /// Largest script, bytes.
    pub maxscriptsizepolicy: u64,
    /// Most signature operations.
    pub maxtxsigopscountspolicy: u64,
    /// Largest transaction, bytes.
    pub maxtxsizepolicy: u64,
    /// The mining fee: `satoshis` per `bytes`.
    pub mining_fee: FeeAmount,
}

/// `FeeAmount`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct FeeAmount {
    /// Satoshis ...
    pub satoshis: u64,
    /// ... per this many bytes.
    pub bytes: u64,
}

impl ArcPolicy {
    /// The fee rate in satoshis per 1000 bytes, rounded up (what `RecordTxParams` takes).
    pub fn sat_per_kb(&self) -> u64 {
        let fee = self.mining_fee;
        if fee.bytes == 0 {
            return fee.satoshis.saturating_mul(1000);
        }
        (fee.satoshis.saturating_mul(1000)).div_ceil(fee.bytes)
    }
}

/// Where a transaction stands on ARC, in ChainLock's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArcStatus {
    /// ARC has it and is passing it on (QUEUED ... ACCEPTED_BY_NETWORK).
    Received {
        /// ARC's status name.
        arc: String,
    },
    /// Miners have it in their mempools (SEEN_ON_NETWORK).
    Seen,
    /// In a block of the best chain.
    Mined {
        /// Its height.
        height: u64,
        /// Its hash (display hex).
        block_hash: Option<String>,
        /// Its merkle path (BUMP hex), when ARC gives one.
        merkle_path: Option<String>,
    },
    /// Refused (REJECTED, MINED_IN_STALE_BLOCK, orphans, unknown statuses), with why.
    Rejected {
        /// ARC's status name and extra information.
        reason: String,
    },
    /// Another transaction spends the same outputs.
    DoubleSpend {
        /// The competing transactions.
        competing: Vec<String>,
        /// ARC's extra information.
        reason: String,
    },
}

impl ArcStatus {
    /// Maps an answer's status (arc.yaml `txStatus`) to ours, keeping the reason.
    pub fn of(answer: &TxAnswer) -> ArcStatus {
        let extra = answer.extra_info.clone().unwrap_or_default();
        let with_extra = |name: &str| {
            if extra.is_empty() {
                name.to_string()
            } else {
                format!("{name}: {extra}")
            }
        };
        match answer.tx_status.as_str() {
            "MINED" => ArcStatus::Mined {
                height: answer.block_height.unwrap_or(0),
                block_hash: answer.block_hash.clone(),
                merkle_path: answer.merkle_path.clone(),
            },
            "SEEN_ON_NETWORK" => ArcStatus::Seen,
            "DOUBLE_SPEND_ATTEMPTED" => ArcStatus::DoubleSpend {
                competing: answer.competing_txs.clone().unwrap_or_default(),
                reason: with_extra("DOUBLE_SPEND_ATTEMPTED"),
            },
            s @ ("QUEUED"
            | "RECEIVED"
            | "STORED"
            | "ANNOUNCED_TO_NETWORK"
            | "REQUESTED_BY_NETWORK"
            | "SENT_TO_NETWORK"
            | "ACCEPTED_BY_NETWORK") => ArcStatus::Received { arc: s.to_string() },
            // SEEN_IN_ORPHAN_MEMPOOL (a parent is missing), REJECTED, MINED_IN_STALE_BLOCK,
            // UNKNOWN and anything newer than the document.
            other => ArcStatus::Rejected {
                reason: with_extra(other),
            },
        }
    }

    /// The chain-neutral status.
    pub fn to_tx_status(&self, block_time: u64) -> TxStatus {
        match self {
            ArcStatus::Received { .. } | ArcStatus::Seen => TxStatus::Accepted,
            ArcStatus::Mined { height, .. } => TxStatus::Mined {
                height: *height,
                block_time,
            },
            ArcStatus::Rejected { reason } => TxStatus::Rejected {
                reason: reason.clone(),
            },
            ArcStatus::DoubleSpend { competing, reason } => TxStatus::Rejected {
                reason: format!(
                    "double spend: {reason} (competing: {})",
                    competing.join(", ")
                ),
            },
        }
    }

    /// True when the transaction is refused for good (a broadcast of it failed).
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            ArcStatus::Rejected { .. } | ArcStatus::DoubleSpend { .. }
        )
    }
}

/// Seconds since 1970 of an RFC 3339 time (`2024-01-02T03:04:05Z`, fractions and offsets
/// allowed), or None.
pub fn unix_seconds(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        std::str::from_utf8(b.get(from..from + len)?)
            .ok()?
            .parse()
            .ok()
    };
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (h, mi, s) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let mut secs = days * 86_400 + h * 3600 + mi * 60 + s;
    // An offset such as +02:00 after the seconds and any fraction.
    let rest = &text[19.min(text.len())..];
    let rest = rest.trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    if let Some(sign) = rest.chars().next().filter(|c| *c == '+' || *c == '-') {
        let off_h: i64 = rest.get(1..3)?.parse().ok()?;
        let off_m: i64 = rest.get(4..6)?.parse().ok()?;
        let off = off_h * 3600 + off_m * 60;
        secs += if sign == '+' { -off } else { off };
    }
    u64::try_from(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times_read_as_unix_seconds() {
        assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            unix_seconds("2024-02-29T12:00:00.123Z"),
            Some(1_709_208_000)
        );
        assert_eq!(
            unix_seconds("2024-02-29T14:00:00+02:00"),
            Some(1_709_208_000)
        );
        assert_eq!(unix_seconds("yesterday"), None);
    }

    #[test]
    fn statuses_map_with_their_reasons() {
        let answer = |status: &str| TxAnswer {
            txid: "00".repeat(32),
            tx_status: status.into(),
            block_height: Some(7),
            block_hash: None,
            merkle_path: None,
            extra_info: Some("why".into()),
            competing_txs: Some(vec!["ab".repeat(32)]),
            timestamp: "2024-01-01T00:00:00Z".into(),
        };
        assert_eq!(
            ArcStatus::of(&answer("STORED")).to_tx_status(0),
            TxStatus::Accepted
        );
        assert_eq!(ArcStatus::of(&answer("SEEN_ON_NETWORK")), ArcStatus::Seen);
        assert_eq!(
            ArcStatus::of(&answer("MINED")).to_tx_status(5),
            TxStatus::Mined {
                height: 7,
                block_time: 5
            }
        );
        let TxStatus::Rejected { reason } =
            ArcStatus::of(&answer("DOUBLE_SPEND_ATTEMPTED")).to_tx_status(0)
        else {
            panic!()
        };
        assert!(
            reason.contains("double spend") && reason.contains(&"ab".repeat(32)),
            "{reason}"
        );
        for s in [
            "REJECTED",
            "SEEN_IN_ORPHAN_MEMPOOL",
            "MINED_IN_STALE_BLOCK",
            "SOMETHING_NEW",
        ] {
            let st = ArcStatus::of(&answer(s));
            assert!(st.is_refusal(), "{s}");
            assert!(
                matches!(st.to_tx_status(0), TxStatus::Rejected { reason } if reason == format!("{s}: why"))
            );
        }
    }
}
