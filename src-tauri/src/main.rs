//! The ChainLock desktop co-signing app.
fn main() {}
