//! Rebuild attestations (DSSE, Ed25519) and the policy's builder agreement.
