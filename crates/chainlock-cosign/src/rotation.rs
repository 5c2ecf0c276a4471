//! Rotation (PROTOCOL.md sections 3 and 6): a record moving custody of a package to a new
//! policy, signed by m of the old policy's keys through the same loop as a release; and the
//! change from the old policy to the new one, in words, for the review.

use chainlock_chain::PackageId;
use chainlock_protocol::policy::Policy;
use chainlock_protocol::record::{ProtocolVersion, Record, Rotation};

use crate::publisher::Publisher;
use crate::{Error, Result};

impl Publisher<'_> {
    /// The rotation record of `package` to `new`, on the head of its record chain, naming
    /// the policy in force (whose keys sign it); and that old policy.
    pub fn rotation(&self, package: &PackageId, new: &Policy) -> Result<(Record, Policy)> {
        new.validate()?;
        let chain = self.chain.record_chain(package)?;
        let head = chain.head().ok_or_else(|| {
            Error::Refused(format!(
                "{package} has no genesis on the chain backend yet: finalize its genesis request first"
            ))
        })?;
        let old = chain
            .records
            .iter()
            .rev()
            .find_map(|r| match &r.record {
                Record::Genesis(g) => Some(g.policy.clone()),
                Record::Rotation(rot) => Some(rot.policy.clone()),
                Record::Release(_) => None,
            })
            .ok_or_else(|| Error::Refused("no policy in the record chain".into()))?;
        if old.digest()? == new.digest()? {
            return Err(Error::Refused(
                "the new policy is the policy in force: nothing to rotate".into(),
            ));
        }
        let record = Record::Rotation(Rotation {
            protocol: ProtocolVersion::V1,
            ecosystem: package.ecosystem,
            package: package.name.clone(),
            policy: new.clone(),
            policy_digest: old.digest()?,
            previous: head.digest,
        });
        Ok((record, old))
    }
}

/// What changes from `old` to `new`, one sentence each: keys added and removed, the
/// threshold, trusted builders, the builder minimum and the challenge window.
pub fn policy_changes(old: &Policy, new: &Policy) -> Vec<String> {
    let mut out = Vec::new();
    for k in new
        .maintainers
        .iter()
        .filter(|k| !old.maintainers.contains(k))
    {
        out.push(format!("maintainer key {} is ADDED", k.key_id()));
    }
    for k in old
        .maintainers
        .iter()
        .filter(|k| !new.maintainers.contains(k))
    {
        out.push(format!(
            "maintainer key {} is REMOVED: it will count for nothing after the rotation",
            k.key_id()
        ));
    }
    if (old.threshold, old.maintainers.len()) != (new.threshold, new.maintainers.len()) {
        out.push(format!(
            "signatures needed: {} of {} becomes {} of {}",
            old.threshold,
            old.maintainers.len(),
            new.threshold,
            new.maintainers.len()
        ));
    }
    for b in new.builders.iter().filter(|b| !old.builders.contains(b)) {
        out.push(format!("trusted builder {b} is ADDED"));
    }
    for b in old.builders.iter().filter(|b| !new.builders.contains(b)) {
        out.push(format!("trusted builder {b} is REMOVED"));
    }
    if old.min_builders != new.min_builders {
        out.push(format!(
            "builders that must agree: {} becomes {}",
            old.min_builders, new.min_builders
        ));
    }
    if old.challenge_window_secs != new.challenge_window_secs {
        out.push(format!(
            "challenge window: {} s becomes {} s",
            old.challenge_window_secs, new.challenge_window_secs
        ));
    }
    if out.is_empty() {
        out.push("no change".into());
    }
    out
}
