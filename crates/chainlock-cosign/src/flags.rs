//! Flags and the challenge window (PROTOCOL.md section 9): a release is `pending` until its
//! transaction is in a block, `in-window` until the block's time plus the policy's
//! `challenge_window_secs`, then `verified`, unless a standing flag makes it `flagged`.
//!
//! A flag travels as `refs/chainlock/flag/<record-digest>/<key-id>` holding `flag.json` (the
//! flag's canonical JSON) and `signature.json` (`{public_key, signature}`: a maintainer's
//! base64 statement of kind `flag`, or a builder's hex Ed25519 signature over the statement
//! text); its withdrawal as `refs/chainlock/withdraw/<record-digest>/<key-id>` holding
//! `withdraw.json` (`{public_key, signature}`, a statement of kind `withdraw` over the flag's
//! digest, by the same key). A blocking flag stands when it verifies, was made within the
//! window, by one of the policy's maintainers or trusted builders, and is not withdrawn;
//! every other flag is shown and never changes the status.

use chainlock_attest::key::BuilderPublicKey;
use chainlock_protocol::bsm::{statement_text, verify_statement, StatementKind};
use chainlock_protocol::hash::Digest;
use chainlock_protocol::jcs;
use chainlock_protocol::keys::PublicKey;
use chainlock_protocol::policy::Policy;
use chainlock_protocol::record::ProtocolVersion;
use serde::{Deserialize, Serialize};

use crate::coord::Coord;
use crate::Result;

/// Prefix of the flag refs.
pub const FLAG_REFS: &str = "refs/chainlock/flag/";
/// Prefix of the withdrawal refs.
pub const WITHDRAW_REFS: &str = "refs/chainlock/withdraw/";

/// How serious a flag is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Stops the release from becoming verified.
    Blocking,
    /// Shown, never changes the status.
    Advisory,
}

/// The `type` tag of a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlagTag {
    /// `flag`.
    Flag,
}

/// `flag.json`: canonical JSON `{protocol, type, record, severity, reason, evidence, created_at}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flag {
    /// `chainlock/1`.
    pub protocol: ProtocolVersion,
    /// `flag`.
    #[serde(rename = "type")]
    pub kind: FlagTag,
    /// The flagged record's digest.
    pub record: Digest,
    /// Blocking or advisory.
    pub severity: Severity,
    /// Why.
    pub reason: String,
    /// Links, hashes, log lines.
    pub evidence: Vec<String>,
    /// When, Unix seconds.
    pub created_at: u64,
}

impl Flag {
    /// SHA-256 of the canonical JSON: what the signature signs.
    pub fn digest(&self) -> chainlock_protocol::Result<Digest> {
        Ok(Digest::of(&jcs::to_canonical_bytes(self)?))
    }
}

/// `signature.json` and `withdraw.json`: who signed, and the signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signed {
    /// A maintainer's compressed secp256k1 key (66 hex digits) or a builder's Ed25519 key
    /// (64 hex digits).
    pub public_key: String,
    /// A statement's base64 compact signature (maintainer) or 128 hex digits (builder).
    pub signature: String,
}

/// Who signed a flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlagSigner {
    /// A secp256k1 (maintainer-style) key.
    Maintainer(PublicKey),
    /// An Ed25519 (builder-style) key.
    Builder(BuilderPublicKey),
}

impl FlagSigner {
    /// The key's id as refs name it.
    pub fn key_id(&self) -> String {
        match self {
            FlagSigner::Maintainer(k) => k.key_id(),
            FlagSigner::Builder(k) => k.key_id(),
        }
    }

    /// Whether the policy counts this key: a maintainer, or a trusted builder.
    pub fn in_policy(&self, policy: &Policy) -> bool {
        match self {
            FlagSigner::Maintainer(k) => policy.is_maintainer(k),
            FlagSigner::Builder(k) => policy.builders.iter().any(|b| *b == k.to_hex()),
        }
    }
}

/// Checks `signed` over the statement (`kind`, `digest`): the signer, or why not.
pub fn verify_signed(
    signed: &Signed,
    kind: StatementKind,
    digest: &Digest,
) -> Result<FlagSigner, String> {
    match signed.public_key.len() {
        66 => {
            let key = PublicKey::from_hex(&signed.public_key).map_err(|e| e.to_string())?;
            verify_statement(&key, kind, &digest.0, &signed.signature)
                .map_err(|e| e.to_string())?;
            Ok(FlagSigner::Maintainer(key))
        }
        64 => {
            let key = BuilderPublicKey::from_hex("builder key", &signed.public_key)
                .map_err(|e| e.to_string())?;
            let sig = hex::decode(&signed.signature).map_err(|e| format!("signature: {e}"))?;
            key.verify(statement_text(kind, &digest.0).as_bytes(), &sig)
                .map_err(|e| e.to_string())?;
            Ok(FlagSigner::Builder(key))
        }
        n => Err(format!(
            "public_key has {n} hex digits, neither a maintainer's 66 nor a builder's 64"
        )),
    }
}

/// A flag as read from the remote, verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenFlag {
    /// The key id its ref names.
    pub key_id: String,
    /// The flag, when it parsed.
    pub flag: Option<Flag>,
    /// Its signer, or why it does not verify.
    pub signer: std::result::Result<FlagSigner, String>,
    /// True when its signer withdrew it (a verified withdrawal).
    pub withdrawn: bool,
}

/// Where a release stands (section 9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseStatus {
    /// Its transaction is not in a block yet.
    Pending,
    /// In its window, which closes at `closes_at`.
    InWindow {
        /// Unix seconds.
        closes_at: u64,
    },
    /// The window closed with no standing blocking flag.
    Verified,
    /// A standing blocking flag, by these keys.
    Flagged {
        /// The key ids of the standing blocking flags.
        by: Vec<String>,
    },
}

/// Whether `seen` stands against a release mined at `block_time` under `policy`.
pub fn stands(seen: &SeenFlag, policy: &Policy, block_time: u64) -> bool {
    standing(seen, policy, Some(block_time)).is_ok()
}

/// Whether `seen` counts against a release mined at `block_time` (None: not yet in a block)
/// under `policy`: `Ok` with why it stands, or `Err` with why it is not counted, in words
/// for a reviewer. The same rules as [`stands`], which is this function's `is_ok`.
pub fn standing(
    seen: &SeenFlag,
    policy: &Policy,
    block_time: Option<u64>,
) -> std::result::Result<String, String> {
    let Some(flag) = &seen.flag else {
        return Err("not counted: flag.json is missing or malformed".into());
    };
    let signer = match &seen.signer {
        Ok(signer) => signer,
        Err(why) => {
            return Err(format!(
                "not counted: its signature does not verify ({why})"
            ))
        }
    };
    if signer.key_id() != seen.key_id {
        return Err("not counted: signed by another key than its ref names".into());
    }
    if !signer.in_policy(policy) {
        return Err(
            "not counted: the key is neither a maintainer nor a trusted builder of the policy"
                .into(),
        );
    }
    if flag.severity == Severity::Advisory {
        return Err("advisory: shown, never changes the status".into());
    }
    if seen.withdrawn {
        return Err("not counted: withdrawn by its signer".into());
    }
    let Some(block_time) = block_time else {
        return Err(
            "not counted yet: the release is not in a block, its window has not opened".into(),
        );
    };
    let closes = block_time.saturating_add(policy.challenge_window_secs);
    if flag.created_at < block_time {
        return Err("not counted: made before the release was in a block".into());
    }
    if flag.created_at > closes {
        return Err("not counted: made after the challenge window closed".into());
    }
    Ok(match signer {
        FlagSigner::Maintainer(_) => {
            "counted: a blocking flag by a maintainer, inside the challenge window".into()
        }
        FlagSigner::Builder(_) => {
            "counted: a blocking flag by a trusted builder, inside the challenge window".into()
        }
    })
}

/// The status of a release mined at `block_time` (None: not yet mined) under `policy`, at
/// `now`, given the flags seen.
pub fn status(
    block_time: Option<u64>,
    policy: &Policy,
    flags: &[SeenFlag],
    now: u64,
) -> ReleaseStatus {
    let Some(block_time) = block_time else {
        return ReleaseStatus::Pending;
    };
    let by: Vec<String> = flags
        .iter()
        .filter(|f| stands(f, policy, block_time))
        .map(|f| f.key_id.clone())
        .collect();
    if !by.is_empty() {
        return ReleaseStatus::Flagged { by };
    }
    let closes_at = block_time.saturating_add(policy.challenge_window_secs);
    if now < closes_at {
        ReleaseStatus::InWindow { closes_at }
    } else {
        ReleaseStatus::Verified
    }
}

/// Every flag on `record` in a coordination mirror, verified, with its withdrawal.
pub fn read_flags(coord: &Coord, record: &Digest) -> Result<Vec<SeenFlag>> {
    let refs = coord.refs()?;
    let prefix = format!("{FLAG_REFS}{record}/");
    let mut out = Vec::new();
    for (name, oid) in &refs {
        let Some(key_id) = name.strip_prefix(&prefix) else {
            continue;
        };
        let read = |file: &str| coord.read_file(*oid, file);
        let flag: Option<Flag> = read("flag.json")
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let signer = match (
            &flag,
            read("signature.json")
                .ok()
                .and_then(|b| serde_json::from_slice::<Signed>(&b).ok()),
        ) {
            (Some(f), Some(signed)) if f.record == *record => match f.digest() {
                Ok(d) => verify_signed(&signed, StatementKind::Flag, &d),
                Err(e) => Err(e.to_string()),
            },
            (Some(_), Some(_)) => Err("the flag names another record than its ref".into()),
            _ => Err("flag.json or signature.json is missing or malformed".into()),
        };
        let withdrawn = match (&flag, &signer) {
            (Some(f), Ok(s)) => withdrawn(coord, &refs, record, key_id, f, s),
            _ => false,
        };
        out.push(SeenFlag {
            key_id: key_id.to_string(),
            flag,
            signer,
            withdrawn,
        });
    }
    Ok(out)
}

fn withdrawn(
    coord: &Coord,
    refs: &[(String, git2::Oid)],
    record: &Digest,
    key_id: &str,
    flag: &Flag,
    signer: &FlagSigner,
) -> bool {
    let name = format!("{WITHDRAW_REFS}{record}/{key_id}");
    let Some((_, oid)) = refs.iter().find(|(n, _)| *n == name) else {
        return false;
    };
    let Some(signed) = coord
        .read_file(*oid, "withdraw.json")
        .ok()
        .and_then(|b| serde_json::from_slice::<Signed>(&b).ok())
    else {
        return false;
    };
    let Ok(digest) = flag.digest() else {
        return false;
    };
    verify_signed(&signed, StatementKind::Withdraw, &digest).is_ok_and(|s| s == *signer)
}
