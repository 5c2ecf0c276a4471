//! Artifact against source, and risk flags over a release's changes.
