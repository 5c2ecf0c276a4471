//! Review evidence from git: the protocol's diff digest and the human review diff.
