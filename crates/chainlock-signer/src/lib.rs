//! Maintainer signers behind one trait: the OS keychain and the Ledger.
