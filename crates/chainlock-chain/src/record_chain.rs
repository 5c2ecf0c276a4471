//! Ordering a package's records into its chain and its forks, the same way for every backend.

use std::collections::HashMap;

use chainlock_protocol::hash::Digest;

use crate::{ChainRecord, RecordChain};

/// See [`RecordChain::assemble`]. Linear in the number of records: a backend may hand in a
/// package's whole history.
pub(crate) fn assemble(records: Vec<ChainRecord>) -> RecordChain {
    // For each digest, the records naming it as `previous`, in the order they were learnt.
    let mut children: HashMap<Digest, Vec<usize>> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        if let Some(previous) = r.record.previous() {
            children.entry(previous).or_default().push(i);
        }
    }
    let mut on_chain = vec![false; records.len()];
    let mut order = Vec::new();
    let mut next = records.iter().position(|r| r.record.previous().is_none());
    while let Some(i) = next {
        // A record naming itself (impossible for a digest, but not for a forged index) or a
        // cycle must not loop forever.
        if on_chain[i] {
            break;
        }
        on_chain[i] = true;
        order.push(i);
        next = children
            .get(&records[i].digest)
            .and_then(|c| c.first().copied());
    }
    let mut slots: Vec<Option<ChainRecord>> = records.into_iter().map(Some).collect();
    let chain = order.iter().filter_map(|&i| slots[i].take()).collect();
    let forks = slots.into_iter().flatten().collect();
    RecordChain {
        records: chain,
        forks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TxStatus;
    use chainlock_protocol::keys::SecretKey;
    use chainlock_protocol::policy::Policy;
    use chainlock_protocol::record::{
        Artifact, Ecosystem, Genesis, ProtocolVersion, Record, Release, Source,
    };
    use chainlock_protocol::tx::Txid;

    fn genesis(package: &str) -> ChainRecord {
        let sk = SecretKey::from_bytes(&[7; 32]).unwrap();
        let policy = Policy::new(vec![sk.public_key()], 1, vec!["a".repeat(64)], 1, 60).unwrap();
        wrap(Record::Genesis(Genesis {
            protocol: ProtocolVersion::V1,
            ecosystem: Ecosystem::Npm,
            package: package.into(),
            policy,
        }))
    }

    fn release(version: &str, previous: &ChainRecord) -> ChainRecord {
        wrap(Record::Release(Release {
            protocol: ProtocolVersion::V1,
            ecosystem: Ecosystem::Npm,
            package: "pkg".into(),
            version: version.into(),
            source: Source {
                repository: "https://example.org/pkg.git".into(),
                tag: format!("v{version}"),
                commit: "1".repeat(40),
                base_commit: "2".repeat(40),
            },
            artifact: Artifact {
                name: "pkg.tgz".into(),
                size: 1,
                sha256: Digest([3; 32]),
            },
            diff_digest: Digest([4; 32]),
            attestation_digest: Digest([5; 32]),
            policy_digest: Digest([6; 32]),
            previous: previous.digest,
        }))
    }

    fn wrap(record: Record) -> ChainRecord {
        let digest = record.digest().unwrap();
        ChainRecord {
            digest,
            record,
            txid: Txid(digest.0),
            status: TxStatus::Accepted,
        }
    }

    fn versions(rs: &[ChainRecord]) -> Vec<String> {
        rs.iter()
            .map(|r| match &r.record {
                Record::Release(x) => x.version.clone(),
                other => other.kind().to_string(),
            })
            .collect()
    }

    #[test]
    fn a_straight_chain_comes_back_genesis_first_whatever_the_input_order() {
        let g = genesis("pkg");
        let a = release("1.0.0", &g);
        let b = release("1.1.0", &a);
        let chain = RecordChain::assemble(vec![b.clone(), a.clone(), g.clone()]);
        assert_eq!(versions(&chain.records), ["genesis", "1.0.0", "1.1.0"]);
        assert!(chain.forks.is_empty());
        assert_eq!(chain.head(), Some(&b));
        assert_eq!(chain.genesis(), Some(&g));
    }

    #[test]
    fn a_second_child_and_what_is_built_on_it_are_forks_not_hidden() {
        let g = genesis("pkg");
        let a = release("1.0.0", &g);
        let rival = release("1.0.0-rival", &g);
        let on_rival = release("1.1.0-on-rival", &rival);
        let b = release("1.1.0", &a);
        let chain = RecordChain::assemble(vec![
            g.clone(),
            a.clone(),
            rival.clone(),
            on_rival.clone(),
            b.clone(),
        ]);
        assert_eq!(versions(&chain.records), ["genesis", "1.0.0", "1.1.0"]);
        assert_eq!(versions(&chain.forks), ["1.0.0-rival", "1.1.0-on-rival"]);
    }

    #[test]
    fn a_second_genesis_and_orphans_are_forks() {
        let g = genesis("pkg");
        let g2 = genesis("pkg-other-policy");
        let orphan = release("9.9.9", &genesis("elsewhere"));
        let chain = RecordChain::assemble(vec![g.clone(), g2.clone(), orphan.clone()]);
        assert_eq!(chain.records, vec![g]);
        assert_eq!(chain.forks, vec![g2, orphan]);
    }

    #[test]
    fn no_genesis_means_no_chain() {
        let orphan = release("1.0.0", &genesis("pkg"));
        let chain = RecordChain::assemble(vec![orphan.clone()]);
        assert!(chain.records.is_empty());
        assert_eq!(chain.head(), None);
        assert_eq!(chain.forks, vec![orphan]);
    }
}
