//! Test support (feature `test-support`): signing transaction shapes without a verified
//! request, for tests that build spends for the node-rules checker and the @bsv/sdk judge.
//!
//! Never enable this feature in a binary: it is the one way around the signing gate, and it
//! is named so that any use of it reads as what it is.

use crate::keys::SecretKey;
use crate::record_tx::RecordTx;
use crate::tx::{SpentOutput, Transaction};
use crate::verify::ReadyToSign;
use crate::Result;

/// Signs input `input_index` of `tx` (spending `spent`) with `ALL|FORKID`, with no
/// verification of any request. Tests only.
pub fn sign_unverified_input(
    key: &SecretKey,
    tx: &Transaction,
    input_index: usize,
    spent: &SpentOutput,
) -> Result<Vec<u8>> {
    key.sign_input_unchecked(tx, input_index, spent)
}

/// A [`ReadyToSign`] for `record_tx` that no verification produced: for tests of the signers
/// themselves (recorded device exchanges over fixed transactions). `funding_tx` is taken as
/// given, even when it did not create the custody output. Tests only.
pub fn ready_to_sign_unverified(record_tx: RecordTx, funding_tx: Transaction) -> ReadyToSign {
    ReadyToSign::unverified(record_tx, funding_tx)
}

/// A package's record chain as a co-signer would know it, for tests of verification: the
/// genesis of `left-pad` under `policy`, then its release 1.3.0 at commit
/// `0a1b2c3d4e5f60718293a4b5c6d7e8f901234567` (the empty tree as its base). Tests only.
pub fn sample_record_chain(
    policy: &crate::policy::Policy,
) -> crate::Result<Vec<crate::verify::KnownRecord>> {
    use crate::hash::Digest;
    use crate::record::{
        Artifact, Ecosystem, Genesis, ProtocolVersion, Record, Release, Source, EMPTY_TREE,
    };
    let genesis = Record::Genesis(Genesis {
        protocol: ProtocolVersion::V1,
        ecosystem: Ecosystem::Npm,
        package: "left-pad".into(),
        policy: policy.clone(),
    });
    let v130 = Record::Release(Release {
        protocol: ProtocolVersion::V1,
        ecosystem: Ecosystem::Npm,
        package: "left-pad".into(),
        version: "1.3.0".into(),
        source: Source {
            repository: "https://example.org/left-pad.git".into(),
            tag: "v1.3.0".into(),
            commit: "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567".into(),
            base_commit: EMPTY_TREE.into(),
        },
        artifact: Artifact {
            name: "left-pad-1.3.0.tgz".into(),
            size: 2790,
            sha256: Digest([0xa6; 32]),
        },
        diff_digest: Digest([0xd0; 32]),
        attestation_digest: Digest([0xa0; 32]),
        policy_digest: policy.digest()?,
        previous: genesis.digest()?,
    });
    [genesis, v130]
        .into_iter()
        .map(|record| {
            Ok(crate::verify::KnownRecord {
                digest: record.digest()?,
                record,
            })
        })
        .collect()
}
