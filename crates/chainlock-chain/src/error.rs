//! The one error type of the chain crate: why a backend could not answer, or why it refused a
//! transaction. Every refusal names the transaction, output or record it is about, and says
//! what to do.

use std::path::PathBuf;

use chainlock_protocol::checker::Reason;
use chainlock_protocol::hash::Digest;
use chainlock_protocol::tx::{OutPoint, Txid};

use crate::PackageId;

/// Every way a chain backend can fail or refuse.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The ledger file cannot be opened or created.
    #[error("cannot open the local ledger {}: {source}; check that its directory exists and is writable", path.display())]
    Open {
        /// The ledger file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The file is not a ChainLock local ledger: not SQLite at all, or another program's database.
    #[error("{} is not a chainlock local ledger: {reason}; give the path of a ledger file, or a new path to create one", path.display())]
    NotALedger {
        /// The file.
        path: PathBuf,
        /// What it is instead.
        reason: String,
    },
    /// The ledger was written by a newer ChainLock.
    #[error("the local ledger {} has schema version {found}, newer than the {supported} this chainlock understands: upgrade chainlock", path.display())]
    SchemaTooNew {
        /// The ledger file.
        path: PathBuf,
        /// Its schema version (`PRAGMA user_version`).
        found: i64,
        /// The newest version this build reads.
        supported: i64,
    },
    /// The ledger file is damaged.
    #[error("the local ledger {} is damaged ({detail}): restore it from a copy, or move it aside and start a new ledger (the package records also travel on the coordination remote)", path.display())]
    Corrupt {
        /// The ledger file.
        path: PathBuf,
        /// What SQLite or the ledger found.
        detail: String,
    },
    /// Any other database failure (disk full, permissions, a lock held too long).
    #[error("local ledger {}: {action} failed: {source}", path.display())]
    Database {
        /// The ledger file.
        path: PathBuf,
        /// What the ledger was doing.
        action: &'static str,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// A transaction with no inputs: only the local faucet creates coins.
    #[error("transaction {txid} has no inputs: coins come only from spending outputs (or, on the local ledger, from its faucet)")]
    NoInputs {
        /// The transaction.
        txid: Txid,
    },
    /// An input spends an output no known transaction created.
    #[error("input {input} spends {outpoint}, which no known transaction created: broadcast the transaction that creates it first")]
    MissingInput {
        /// The input's index.
        input: usize,
        /// The output it spends.
        outpoint: OutPoint,
    },
    /// An input spends an output that is already spent.
    #[error("double spend refused: {outpoint} is already spent by transaction {spent_by}; spend an unspent output instead")]
    DoubleSpend {
        /// The output.
        outpoint: OutPoint,
        /// The transaction that spent it first.
        spent_by: Txid,
    },
    /// Two inputs of one transaction spend the same output.
    #[error("inputs {first} and {second} both spend {outpoint}: an output is spent once")]
    DuplicateInput {
        /// The first input spending it.
        first: usize,
        /// The second.
        second: usize,
        /// The output.
        outpoint: OutPoint,
    },
    /// An input's unlocking script does not spend its output (bad signature, wrong key ...).
    #[error("input {input} does not spend {outpoint}: {reason}")]
    InputRejected {
        /// The input's index.
        input: usize,
        /// The output it spends.
        outpoint: OutPoint,
        /// The input checker's reason.
        reason: Reason,
    },
    /// The outputs pay more than the inputs hold.
    #[error("transaction {txid} pays {outputs} satoshis but its inputs hold only {inputs}")]
    OutputsExceedInputs {
        /// The transaction.
        txid: Txid,
        /// Sum of the spent outputs.
        inputs: u64,
        /// Sum of its outputs.
        outputs: u64,
    },
    /// Values that overflow 64 bits, or a faucet amount out of range.
    #[error("{0}")]
    Amount(String),
    /// Output 0 is a ChainLock commitment but the transaction is not in the record shape.
    #[error("transaction {txid} carries a chainlock commitment but is not a record transaction (PROTOCOL.md section 2): {reason}")]
    NotRecordShape {
        /// The transaction.
        txid: Txid,
        /// What is wrong with its shape.
        reason: String,
    },
    /// A record transaction came without its record.
    #[error("record transaction {txid} commits to record {digest}, but no record came with it: broadcast it with the record")]
    RecordMissing {
        /// The transaction.
        txid: Txid,
        /// The digest its output 0 commits to.
        digest: Digest,
    },
    /// The record given is not the one the transaction commits to.
    #[error("the record given has digest {given}, but transaction {txid} commits to {committed}: pass the record the transaction was built for")]
    RecordMismatch {
        /// The transaction.
        txid: Txid,
        /// What its output 0 commits to.
        committed: Digest,
        /// The digest of the record given.
        given: Digest,
    },
    /// A record came with a transaction that commits to none.
    #[error("a record came with transaction {txid}, whose output 0 is not a chainlock commitment: broadcast a top-up without a record")]
    UnexpectedRecord {
        /// The transaction.
        txid: Txid,
    },
    /// The record is malformed.
    #[error("the record is invalid: {0}")]
    InvalidRecord(#[source] chainlock_protocol::Error),
    /// A record transaction signed with a sighash type other than ALL|FORKID.
    #[error("record transaction {txid}: signature {signature} carries sighash type 0x{sighash_type:02x}; records are signed with ALL|FORKID (0x41) only")]
    SighashType {
        /// The transaction.
        txid: Txid,
        /// Which signature (0-based, script order).
        signature: usize,
        /// Its sighash type.
        sighash_type: u8,
    },
    /// A genesis for a package that already has one.
    #[error("{package} already has a genesis record {existing} (transaction {txid}): a second genesis would fork its record chain; refused")]
    GenesisExists {
        /// The package.
        package: PackageId,
        /// The genesis it has.
        existing: Digest,
        /// That genesis's transaction.
        txid: Txid,
    },
    /// A release or rotation for a package with no genesis.
    #[error("{package} has no genesis record, so its {kind} has nothing to follow: broadcast the package's genesis first")]
    NoGenesis {
        /// The package.
        package: PackageId,
        /// `release` or `rotation`.
        kind: &'static str,
    },
    /// A record whose `previous` is not the head of its package's chain.
    #[error("fork refused: the {kind} names previous record {previous}, but the head of {package}'s record chain is {head}; build the {kind} on the head")]
    Fork {
        /// The package.
        package: PackageId,
        /// `release` or `rotation`.
        kind: &'static str,
        /// The `previous` the record names (a record of the package, but not the latest).
        previous: Digest,
        /// The package's latest record.
        head: Digest,
    },
    /// A record whose `previous` is no record of its package at all.
    #[error("the {kind} names previous record {previous}, which is no record of {package} (its head is {head}); build the {kind} on the head")]
    UnknownPrevious {
        /// The package.
        package: PackageId,
        /// `release` or `rotation`.
        kind: &'static str,
        /// The `previous` the record names.
        previous: Digest,
        /// The package's latest record.
        head: Digest,
    },
    /// A record naming a policy other than the one in force.
    #[error("the {kind} names policy {claimed} as the one in force, but {package}'s policy in force is {in_force}")]
    PolicyMismatch {
        /// The package.
        package: PackageId,
        /// The record's type.
        kind: &'static str,
        /// The policy digest the record names.
        claimed: Digest,
        /// The digest of the policy in force.
        in_force: Digest,
    },
    /// A record transaction spending a custody output of another policy.
    #[error("wrong policy: the {kind} of {package} spends a custody output with locking script {spent_script}, but it must be signed under policy {policy}, whose custody script is {expected_script}")]
    WrongPolicy {
        /// The package.
        package: PackageId,
        /// The record's type.
        kind: &'static str,
        /// The policy it must be signed under (its digest).
        policy: Digest,
        /// That policy's custody script (hex; boxed to keep the error small).
        expected_script: Box<str>,
        /// The custody script it spends (hex).
        spent_script: Box<str>,
    },
    /// A package id that is not `ECOSYSTEM:NAME`.
    #[error("package {text:?} is not ECOSYSTEM:NAME with ECOSYSTEM one of npm, pypi, crates, generic (for example npm:left-pad)")]
    PackageId {
        /// The text given (cut to 200 characters).
        text: String,
    },
    /// A network request failed, after retries where retrying made sense.
    #[error("{url}: {action} failed after {attempts} attempt(s): {reason}")]
    Network {
        /// The server.
        url: String,
        /// The request (`POST /v1/tx`).
        action: &'static str,
        /// How many times it was tried.
        attempts: u32,
        /// The last failure.
        reason: String,
    },
    /// ARC refused a transaction.
    #[error("ARC refused transaction {txid}: {reason}")]
    ArcRefused {
        /// The transaction.
        txid: Txid,
        /// ARC's status or problem, with its details.
        reason: String,
    },
    /// An ARC URL that is not http(s).
    #[error("{url:?} is not an ARC URL: give its base, such as https://arc.taal.com")]
    ArcUrl {
        /// The URL given (cut to 200 characters).
        url: String,
    },
    /// A lookup server URL that is not http(s).
    #[error("{url:?} is not a lookup server URL: give its base for one chain and network, such as https://api.whatsonchain.com/v1/bsv/main")]
    LookupUrl {
        /// The URL given (cut to 200 characters).
        url: String,
    },
    /// A lookup server's answer failed a check: a transaction that does not hash to its txid,
    /// a proof that does not lead to a header, headers that do not link. Never used.
    #[error("the lookup server {url} gave a wrong answer about {what}: {reason}; it is not used: check the server, or configure another (`chainlock chain use arc URL --lookups URL`)")]
    Untrusted {
        /// The server.
        url: String,
        /// What was asked about.
        what: String,
        /// What was wrong with the answer.
        reason: String,
    },
    /// The chain holds a record transaction of the package (a spend of one of its custody
    /// outputs committing to a record) whose record no record ref holds.
    #[error("the chain holds record transaction {txid} of {package}, spending its custody output {spent} and committing to record {digest}, but no record ref on the coordination remote holds that record: a release, rotation or fork its maintainers did not publish; do not sign until they publish refs/chainlock/record/{digest} and it verifies")]
    HiddenRecord {
        /// The package.
        package: PackageId,
        /// The transaction.
        txid: Txid,
        /// The custody output it spends (boxed to keep the error small).
        spent: Box<OutPoint>,
        /// The record digest it commits to.
        digest: Digest,
    },
    /// The record source (the coordination remote's record refs) cannot be read.
    #[error("cannot read record contents from {source_name}: {reason}; run `chainlock sync` and try again")]
    RecordSource {
        /// The source.
        source_name: String,
        /// Why.
        reason: String,
    },
    /// The local chain cannot mine the block asked for.
    #[error("cannot mine: {0}")]
    Mining(String),
    /// A network backend does not serve what was asked.
    #[error("{backend} does not serve {what}")]
    Unsupported {
        /// The backend.
        backend: String,
        /// What was asked.
        what: &'static str,
    },
    /// The protocol core refused a value (a record or policy that cannot be encoded).
    #[error(transparent)]
    Protocol(#[from] chainlock_protocol::Error),
}

/// Result alias for the chain crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A database error while `action`, told apart: a damaged file from any other failure.
    pub(crate) fn database(
        path: &std::path::Path,
        action: &'static str,
        e: rusqlite::Error,
    ) -> Self {
        use rusqlite::ErrorCode;
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseCorrupt) => Error::Corrupt {
                path: path.to_path_buf(),
                detail: format!("{action}: {e}"),
            },
            Some(ErrorCode::NotADatabase) => Error::NotALedger {
                path: path.to_path_buf(),
                reason: "it is not an SQLite database, or its header is damaged".into(),
            },
            _ => Error::Database {
                path: path.to_path_buf(),
                action,
                source: e,
            },
        }
    }
}
