//! The checks themselves, each comparing the request with what this machine knows.

use crate::hash::Digest;
use crate::policy::Policy;
use crate::record::{Record, EMPTY_TREE};
use crate::record_tx::RecordTx;
use crate::request::SigningRequest;
use crate::text;
use crate::tx::{OutPoint, Transaction};

use super::report::{Field, Outcome};
use super::{CustodyState, KnownRecord, CLOCK_SKEW_SECS, MAX_LIFETIME_SECS};

pub(super) fn expiry(created_at: u64, expires_at: u64, now: u64) -> Result<String, String> {
    if expires_at <= created_at {
        Err(format!(
            "expires ({}) before it was created ({})",
            text::unix_time(expires_at, None),
            text::unix_time(created_at, None)
        ))
    } else if created_at > now.saturating_add(CLOCK_SKEW_SECS) {
        Err(format!(
            "created in the future ({} > now {}): check the clocks",
            text::unix_time(created_at, Some(now)),
            text::utc_date(now)
        ))
    } else if now >= expires_at {
        Err(format!(
            "expired at {} (now {}): ask the publisher for a fresh request",
            text::unix_time(expires_at, Some(now)),
            text::utc_date(now)
        ))
    } else {
        Ok(format!(
            "valid until {}",
            text::unix_time(expires_at, Some(now))
        ))
    }
}

pub(super) fn lifetime(created_at: u64, expires_at: u64) -> Result<String, String> {
    let life = expires_at.saturating_sub(created_at);
    if life > MAX_LIFETIME_SECS {
        Err(format!(
            "valid for {}, longer than the protocol's 7 days: a long-lived request could be \
             replayed long after it was reviewed; ask the publisher for one valid at most 7 days",
            text::duration(life)
        ))
    } else {
        Ok(format!("valid for {}", text::duration(life)))
    }
}

pub(super) fn record_fields(record: &Record) -> Vec<Field> {
    let mut fields = Vec::new();
    let mut add = |name: &str, value: String| {
        fields.push(Field {
            name: name.to_string(),
            value: text::printable_cut(&value, 1024),
        })
    };
    add("type", record.kind().to_string());
    add("ecosystem", record.ecosystem().as_str().to_string());
    add("package", record.package().to_string());
    match record {
        Record::Genesis(g) => policy_fields(&mut add, "policy", &g.policy),
        Record::Release(r) => {
            add("version", r.version.clone());
            add("source.repository", r.source.repository.clone());
            add("source.tag", r.source.tag.clone());
            add("source.commit", r.source.commit.clone());
            add(
                "source.base_commit",
                if r.source.base_commit == EMPTY_TREE {
                    format!("{} (empty tree: first release)", r.source.base_commit)
                } else {
                    r.source.base_commit.clone()
                },
            );
            add("artifact.name", r.artifact.name.clone());
            add("artifact.size", format!("{} bytes", r.artifact.size));
            add("artifact.sha256", r.artifact.sha256.to_hex());
            add("diff_digest", r.diff_digest.to_hex());
            add("attestation_digest", r.attestation_digest.to_hex());
            add("policy_digest", r.policy_digest.to_hex());
            add("previous", r.previous.to_hex());
        }
        Record::Rotation(r) => {
            policy_fields(&mut add, "policy", &r.policy);
            add("policy_digest", r.policy_digest.to_hex());
            add("previous", r.previous.to_hex());
        }
    }
    fields
}

pub(super) fn policy_fields(add: &mut impl FnMut(&str, String), prefix: &str, policy: &Policy) {
    for (i, key) in policy.maintainers.iter().enumerate() {
        add(&format!("{prefix}.maintainers[{i}]"), key.to_hex());
    }
    add(
        &format!("{prefix}.threshold"),
        format!("{} of {}", policy.threshold, policy.maintainers.len()),
    );
    for (i, key) in policy.builders.iter().enumerate() {
        add(&format!("{prefix}.builders[{i}]"), key.clone());
    }
    add(
        &format!("{prefix}.min_builders"),
        policy.min_builders.to_string(),
    );
    add(
        &format!("{prefix}.challenge_window_secs"),
        format!(
            "{} ({})",
            policy.challenge_window_secs,
            text::duration(policy.challenge_window_secs)
        ),
    );
}

pub(super) fn record_policy(
    record: &Record,
    policy: &Policy,
    digest: Option<&Digest>,
) -> Result<String, String> {
    let digest = digest.ok_or("the policy has no digest")?;
    let wanted = record.signing_policy_digest().map_err(|e| e.to_string())?;
    if &wanted != digest {
        return Err(format!(
            "the {} record names policy {wanted}, the request carries {digest}",
            record.kind()
        ));
    }
    if let Record::Genesis(g) = record {
        if &g.policy != policy {
            return Err("the genesis record's policy differs from the request's".into());
        }
    }
    Ok(format!(
        "{} record of {} under policy {digest}",
        record.kind(),
        text::shown(record.package())
    ))
}

/// `previous` must be the head of the chain this machine knows, `base_commit` the source
/// commit of the latest release in it (the empty tree before the first release).
pub(super) fn record_chain(record: &Record, chain: &[KnownRecord]) -> Result<String, String> {
    let describe = |k: &KnownRecord| match &k.record {
        Record::Release(r) => format!(
            "release {} ({})",
            text::shown(&r.version),
            short(&k.digest.to_hex())
        ),
        other => format!("{} ({})", other.kind(), short(&k.digest.to_hex())),
    };
    let Some(previous) = record.previous() else {
        // A genesis starts a chain: there must be none yet.
        return match chain.first() {
            None => Ok("the package's first record".into()),
            Some(g) => Err(format!(
                "the package already has a {}: a second genesis would fork it",
                describe(g)
            )),
        };
    };
    let Some(head) = chain.last() else {
        return Err(format!(
            "no record of {} is known here: a {} needs the package's genesis; sync, or check \
             that you watch the right package",
            text::shown(record.package()),
            record.kind()
        ));
    };
    if previous != head.digest {
        return Err(match chain.iter().find(|k| k.digest == previous) {
            Some(older) => format!(
                "fork: `previous` is the older {}, not the head, {}; a record must follow \
                 the latest one",
                describe(older),
                describe(head)
            ),
            None => format!(
                "`previous` {previous} is no record of this package known here; the head is {}",
                describe(head)
            ),
        });
    }
    if let Record::Release(r) = record {
        let last_release = chain.iter().rev().find_map(|k| match &k.record {
            Record::Release(rel) => Some((k, rel)),
            _ => None,
        });
        let expected = last_release.map_or(EMPTY_TREE, |(_, rel)| rel.source.commit.as_str());
        if r.source.base_commit != expected {
            let skipped = chain.iter().find(|k| {
                matches!(&k.record, Record::Release(rel) if rel.source.commit == r.source.base_commit)
            });
            return Err(match (skipped, last_release) {
                (Some(from), Some((latest, _))) => format!(
                    "the range starts at {} and skips {}: base_commit must be {expected}",
                    describe(from),
                    describe(latest)
                ),
                _ => format!(
                    "base_commit {} is not the previous release's source commit {expected}{}",
                    r.source.base_commit,
                    if expected == EMPTY_TREE {
                        " (git's empty tree: this is the first release)"
                    } else {
                        ""
                    }
                ),
            });
        }
        return Ok(format!(
            "follows {}, range {}..{}",
            describe(head),
            short(&r.source.base_commit),
            short(&r.source.commit)
        ));
    }
    Ok(format!("follows {}", describe(head)))
}

pub(super) fn custody_unspent(
    outpoint: OutPoint,
    state: Option<&(OutPoint, CustodyState)>,
) -> Outcome {
    match state {
        None => Outcome::NotRun("the chain backend was not consulted: sync first".into()),
        Some((looked_up, _)) if *looked_up != outpoint => Outcome::NotRun(format!(
            "the chain was asked about {looked_up}, not the input's {outpoint}"
        )),
        Some((_, CustodyState::Unspent)) => Outcome::Passed(format!("{outpoint} is unspent")),
        Some((_, CustodyState::Spent { by })) => Outcome::Failed(format!(
            "{outpoint} was already spent by {by}: this request can never complete (a replay, \
             or another record was committed first)"
        )),
        Some((_, CustodyState::Unknown)) => Outcome::Failed(format!(
            "the chain backend does not know {outpoint}: the custody output was never \
             created, or the request names another chain"
        )),
    }
}

pub(super) fn transaction_shape(req: &SigningRequest) -> Result<RecordTx, String> {
    let rtx = req.record_tx().map_err(|e| e.to_string())?;
    if !rtx.tx().inputs.iter().all(|i| i.script_sig.is_empty()) {
        return Err(
            "the transaction is already (partly) signed: a request carries it unsigned".into(),
        );
    }
    Ok(rtx)
}

pub(super) fn custody_input(
    req: &SigningRequest,
    rtx: &RecordTx,
) -> Result<(String, Transaction), String> {
    let funding = Transaction::from_hex(&req.custody.funding_tx)
        .map_err(|e| format!("funding transaction: {e}"))?;
    let outpoint = rtx.custody_outpoint();
    if funding.txid() != outpoint.txid || req.custody.vout != outpoint.vout {
        return Err(format!(
            "the input spends {outpoint} but the request's custody output is {}:{}",
            funding.txid(),
            req.custody.vout
        ));
    }
    let created = funding
        .outputs
        .get(outpoint.vout as usize)
        .ok_or_else(|| format!("the funding transaction has no output {}", outpoint.vout))?;
    if created.script_pubkey != rtx.spent().script_pubkey || created.value != rtx.spent().value {
        return Err("the funding transaction's output differs from the custody script and value the request states".into());
    }
    let expected = req.policy.custody_script().map_err(|e| e.to_string())?;
    if created.script_pubkey != expected {
        return Err(
            "the custody output is not the policy's multisig (other keys or threshold)".into(),
        );
    }
    let detail = format!(
        "{outpoint}: {}-of-{} custody of the policy, {} satoshis",
        rtx.custody().threshold,
        rtx.custody().keys.len(),
        created.value
    );
    Ok((detail, funding))
}

pub(super) fn short(hex: &str) -> &str {
    hex.get(..12).unwrap_or(hex)
}
