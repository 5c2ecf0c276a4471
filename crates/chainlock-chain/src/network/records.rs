//! A package's record chain on the network: the record source offers contents, the network
//! decides. A candidate counts when its transaction is known to the network (mined only when
//! proven), output 0 commits to the record's digest, and, walking the chain from the genesis,
//! it spends a custody output of the policy in force (the genesis's own policy for a genesis)
//! with the signatures of m of its maintainers, ALL|FORKID only; a fork is held to the policy
//! in force where it branches off. A candidate that fails is dropped and the chain assembled
//! again without it, so nothing built on it counts either. Then the other way round: every
//! spend of a custody output of the package's policies that commits to a record must be one
//! of these records, or the chain is refused ([`Error::HiddenRecord`]): a record transaction
//! whose record was never published is a release or fork no co-signer could review.

use std::collections::HashSet;

use chainlock_protocol::checker::check_input;
use chainlock_protocol::record::Record;
use chainlock_protocol::record_tx::RecordTx;
use chainlock_protocol::sighash::SIGHASH_ALL_FORKID;
use chainlock_protocol::tx::{SpentOutput, Transaction};

use super::NetworkChain;
use crate::{Chain, ChainRecord, Error, PackageId, RecordChain, Result, TxStatus};

/// A candidate on the network, with the output its transaction spends.
struct OnChain {
    record: ChainRecord,
    tx: Transaction,
    spent: SpentOutput,
}

pub(super) fn record_chain(net: &NetworkChain, package: &PackageId) -> Result<RecordChain> {
    let candidates = net
        .records
        .candidates(package)
        .map_err(|reason| Error::RecordSource {
            source_name: net.records.describe(),
            reason,
        })?;
    let mut seen = HashSet::new();
    let mut on_chain: Vec<OnChain> = Vec::new();
    for c in candidates {
        if PackageId::of(&c.record) != *package || c.record.validate().is_err() {
            continue;
        }
        let digest = c.record.digest()?;
        let committed =
            c.tx.outputs
                .first()
                .and_then(|o| o.script_pubkey.parse_commitment().ok());
        if committed != Some(digest.0) || !seen.insert(digest) {
            continue;
        }
        let txid = c.tx.txid();
        let status = net.tx_status(&txid)?;
        if matches!(status, TxStatus::Unknown | TxStatus::Rejected { .. }) {
            continue;
        }
        let Some(input) = c.tx.inputs.first() else {
            continue;
        };
        let parent = net.lookups.transaction(&input.prevout.txid)?.ok_or_else(|| {
            net.lookups.lie(
                format!("transaction {}", input.prevout.txid),
                format!("the network holds record transaction {txid} spending it, but the lookups do not serve it"),
            )
        })?;
        let Some(out) = parent.outputs.get(input.prevout.vout as usize) else {
            continue;
        };
        on_chain.push(OnChain {
            spent: SpentOutput {
                script_pubkey: out.script_pubkey.clone(),
                value: out.value,
            },
            tx: c.tx,
            record: ChainRecord {
                digest,
                record: c.record,
                txid,
                status,
            },
        });
    }
    // Learnt order: mined first (by height), then the rest, so a fork resolves as the chain did.
    on_chain.sort_by_key(|c| match c.record.status {
        TxStatus::Mined { height, .. } => (0, height),
        _ => (1, 0),
    });
    loop {
        let chain = RecordChain::assemble(on_chain.iter().map(|c| c.record.clone()).collect());
        let failed = chain
            .records
            .iter()
            .enumerate()
            .map(|(i, r)| (r, &chain.records[..i]))
            .chain(chain.forks.iter().map(|r| {
                // A fork is checked against the chain up to the record it names; a record
                // naming none on the chain shows no consent of the package's maintainers.
                let upto = r
                    .record
                    .previous()
                    .and_then(|p| chain.records.iter().position(|c| c.digest == p))
                    .map_or(0, |i| i + 1);
                (r, &chain.records[..upto])
            }))
            .find_map(|(r, before)| {
                let before = RecordChain {
                    records: before.to_vec(),
                    forks: Vec::new(),
                };
                let c = on_chain.iter().position(|c| c.record.digest == r.digest)?;
                consent(&before, &on_chain[c]).err().map(|_| c)
            });
        match failed {
            Some(c) => {
                on_chain.remove(c);
            }
            None => {
                check_nothing_hidden(net, package, &chain)?;
                return Ok(chain);
            }
        }
    }
}

/// Every spend of a custody output of the package's policies (the chain's and its forks')
/// that commits to a record must be a record the chain knows: a record transaction whose
/// record was never published would be a release or fork no co-signer could see.
fn check_nothing_hidden(
    net: &NetworkChain,
    package: &PackageId,
    chain: &RecordChain,
) -> Result<()> {
    let known: HashSet<_> = chain
        .records
        .iter()
        .chain(&chain.forks)
        .map(|r| r.digest)
        .collect();
    let mut scripts = Vec::new();
    for r in chain.records.iter().chain(&chain.forks) {
        let policy = match &r.record {
            Record::Genesis(g) => &g.policy,
            Record::Rotation(rot) => &rot.policy,
            Record::Release(_) => continue,
        };
        let script = policy.custody_script()?;
        if !scripts.contains(&script) {
            scripts.push(script);
        }
    }
    for script in &scripts {
        for funding in net.lookups.funding_history(script)? {
            for (vout, output) in funding.outputs.iter().enumerate() {
                if output.script_pubkey != *script {
                    continue;
                }
                let spent = chainlock_protocol::tx::OutPoint {
                    txid: funding.txid(),
                    vout: vout as u32,
                };
                let Some(by) = net.lookups.spent_by(&spent)? else {
                    continue;
                };
                let Some(spender) = net.lookups.transaction(&by)? else {
                    continue;
                };
                let committed = spender
                    .outputs
                    .first()
                    .and_then(|o| o.script_pubkey.parse_commitment().ok())
                    .map(chainlock_protocol::hash::Digest);
                if let Some(digest) = committed.filter(|d| !known.contains(d)) {
                    return Err(Error::HiddenRecord {
                        package: package.clone(),
                        txid: by,
                        spent: Box::new(spent),
                        digest,
                    });
                }
            }
        }
    }
    Ok(())
}

/// Whether `c` is the maintainers' consent on top of `before`: the record shape, the custody
/// script of the policy it must be signed under, and m valid ALL|FORKID signatures.
fn consent(before: &RecordChain, c: &OnChain) -> std::result::Result<(), String> {
    let record_tx = RecordTx::new(c.tx.clone(), c.spent.clone()).map_err(|e| e.to_string())?;
    if record_tx.record_digest() != c.record.digest {
        return Err("commits to another record".into());
    }
    let verdict = check_input(&c.tx, RecordTx::INPUT_INDEX, &c.spent);
    if let Some(reason) = verdict.reason() {
        return Err(reason.to_string());
    }
    if verdict
        .signatures()
        .iter()
        .any(|s| u32::from(s.sighash_type) != SIGHASH_ALL_FORKID)
    {
        return Err("a signature is not ALL|FORKID".into());
    }
    let policy = match &c.record.record {
        Record::Genesis(g) => &g.policy,
        other => {
            let in_force = before.policy_in_force().ok_or("no genesis before it")?;
            let claimed = other.signing_policy_digest().map_err(|e| e.to_string())?;
            if claimed != in_force.digest().map_err(|e| e.to_string())? {
                return Err("names another policy than the one in force".into());
            }
            in_force
        }
    };
    if policy.custody_script().map_err(|e| e.to_string())? != c.spent.script_pubkey {
        return Err("spends a custody output of another policy".into());
    }
    Ok(())
}
