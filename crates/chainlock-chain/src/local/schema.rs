//! The ledger file: recognising it, creating it, and its schema, versioned with
//! `PRAGMA user_version` and marked as ours with `PRAGMA application_id`.
//!
//! Migrations only ever add: version N+1 runs `MIGRATIONS[N]` on a version N file. Mining
//! came as such a step (version 2: `blocks` and `block_transactions`): a transaction's status
//! is derived, `Accepted` while no block holds it, so no column needed rewriting.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};

use crate::{Error, Result};

/// `PRAGMA application_id` of a ChainLock ledger: "CLlg", so `file(1)` and SQLite tools can
/// tell it from another program's database.
pub const APPLICATION_ID: i64 = 0x434c_6c67;

/// How long a writer waits for another process's write to finish before giving up.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The schema, one step per version.
const MIGRATIONS: &[&str] = &[
    // Version 1: transactions, their outputs and spends, and the records they commit to.
    "
    CREATE TABLE transactions (
        seq         INTEGER PRIMARY KEY,                 -- acceptance order
        txid        BLOB NOT NULL UNIQUE CHECK (length(txid) = 32), -- internal byte order
        raw         BLOB NOT NULL,                       -- the consensus encoding
        origin      TEXT NOT NULL CHECK (origin IN ('faucet', 'broadcast')),
        accepted_at INTEGER NOT NULL                     -- Unix seconds
    );
    -- Spendable outputs only: OP_RETURN outputs never enter the output set, as on the node.
    CREATE TABLE outputs (
        txid     BLOB NOT NULL REFERENCES transactions(txid),
        vout     INTEGER NOT NULL CHECK (vout >= 0),
        value    INTEGER NOT NULL CHECK (value >= 0),
        script   BLOB NOT NULL,
        spent_by BLOB REFERENCES transactions(txid),
        PRIMARY KEY (txid, vout)
    ) WITHOUT ROWID;
    CREATE INDEX outputs_unspent_by_script ON outputs(script) WHERE spent_by IS NULL;
    CREATE TABLE records (
        digest    BLOB PRIMARY KEY CHECK (length(digest) = 32),
        ecosystem TEXT NOT NULL,
        package   TEXT NOT NULL,
        kind      TEXT NOT NULL CHECK (kind IN ('genesis', 'release', 'rotation')),
        previous  BLOB UNIQUE,                           -- NULL for a genesis; one successor each
        txid      BLOB NOT NULL UNIQUE REFERENCES transactions(txid),
        json      BLOB NOT NULL                          -- canonical JSON; SHA-256 is digest
    );
    CREATE INDEX records_by_package ON records(ecosystem, package);
    -- The ledger refuses forks before it writes; these make a fork unwritable all the same.
    CREATE UNIQUE INDEX records_one_genesis ON records(ecosystem, package) WHERE previous IS NULL;
    ",
    // Version 2: the local chain's blocks (ADR 0008). A transaction is mined when a block
    // lists it; its status is derived, so no version 1 row changes.
    "
    CREATE TABLE blocks (
        height   INTEGER PRIMARY KEY CHECK (height >= 0),
        hash     BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),  -- internal byte order
        header   BLOB NOT NULL CHECK (length(header) = 80),
        time     INTEGER NOT NULL CHECK (time >= 0),              -- Unix seconds, as in the header
        coinbase BLOB NOT NULL                                    -- the block's first transaction
    );
    -- Every transaction of each block in block order, the coinbase at position 0 (it is in no
    -- other table, so no foreign key).
    CREATE TABLE block_transactions (
        txid     BLOB PRIMARY KEY CHECK (length(txid) = 32),
        height   INTEGER NOT NULL REFERENCES blocks(height),
        position INTEGER NOT NULL CHECK (position >= 0),
        UNIQUE (height, position)
    ) WITHOUT ROWID;
    ",
];

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Opens (creating if need be) the ledger file at `path`: recognises it, turns on WAL, brings
/// the schema up to date, and checks the file's integrity.
pub(crate) fn open(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags).map_err(|source| Error::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let db = |action| move |e| Error::database(path, action, e);
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(db("setting the busy timeout"))?;

    // Recognise the file before changing anything in it: another program's database must not
    // be switched to WAL or given our tables. One read transaction, so the header and the
    // table list come from the same moment even while another process is creating the file.
    let snapshot = conn
        .transaction()
        .map_err(db("starting to read the file"))?;
    if identify(&snapshot, path)? == Found::Ours {
        check_integrity(&snapshot, path)?;
    }
    drop(snapshot);
    enable_wal(&conn, path)?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(db("enabling foreign keys"))?;

    // Another process may be creating the same file: decide and migrate under the write lock.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db("locking the ledger to set up its schema"))?;
    match identify(&tx, path)? {
        Found::Empty => {
            tx.pragma_update(None, "application_id", APPLICATION_ID)
                .map_err(db("marking the file as a chainlock ledger"))?;
            migrate(&tx, path, 0)?;
        }
        Found::Ours => {
            let version = user_version(&tx, path)?;
            if version > SCHEMA_VERSION {
                return Err(Error::SchemaTooNew {
                    path: path.to_path_buf(),
                    found: version,
                    supported: SCHEMA_VERSION,
                });
            }
            migrate(&tx, path, version)?;
        }
    }
    tx.commit().map_err(db("saving the schema"))?;
    Ok(conn)
}

/// Switches the file to WAL (a persistent setting: a no-op on an existing ledger). The switch
/// needs an exclusive lock, and SQLite reports "busy" at once, without its busy handler, when
/// another connection is creating the same file: so wait and retry, up to the busy timeout.
fn enable_wal(conn: &Connection, path: &Path) -> Result<()> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => return Ok(()),
            Ok(mode) => {
                return Err(Error::NotALedger {
                    path: path.to_path_buf(),
                    reason: format!(
                        "SQLite refused WAL mode (the journal mode stays {mode}); is it on a network file system?"
                    ),
                })
            }
            Err(e)
                if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy)
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(Error::database(path, "switching to WAL", e)),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Found {
    /// A new or empty file: ours to set up.
    Empty,
    /// A ChainLock ledger (of some schema version).
    Ours,
}

/// Tells a ChainLock ledger from an empty file and from anything else.
fn identify(conn: &Connection, path: &Path) -> Result<Found> {
    let db = |action| move |e| Error::database(path, action, e);
    let app: i64 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(db("reading the file header"))?;
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .map_err(db("listing the tables"))?;
    let version = user_version(conn, path)?;
    match (app, tables, version) {
        (APPLICATION_ID, _, _) => Ok(Found::Ours),
        (0, 0, 0) => Ok(Found::Empty),
        _ => {
            let names: Vec<String> = conn
                .prepare(
                    "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name LIMIT 5",
                )
                .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
                .map_err(db("listing the tables"))?;
            Err(Error::NotALedger {
                path: path.to_path_buf(),
                reason: format!(
                    "it is another program's SQLite database (application id {app:#x}, {tables} schema entries{})",
                    if names.is_empty() {
                        String::new()
                    } else {
                        // Names come from the file: quoted with escapes, and cut short.
                        let quoted: Vec<String> = names
                            .iter()
                            .map(|n| format!("{:?}", n.chars().take(64).collect::<String>()))
                            .collect();
                        format!(", tables {}", quoted.join(", "))
                    }
                ),
            })
        }
    }
}

fn user_version(conn: &Connection, path: &Path) -> Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| Error::database(path, "reading the schema version", e))
}

/// `PRAGMA quick_check`: every page and index entry well formed. Linear in the file's size, and
/// a ledger holds only a package's records and their custody outputs, so it runs on every open.
fn check_integrity(conn: &Connection, path: &Path) -> Result<()> {
    let problems: Vec<String> = conn
        .prepare("PRAGMA quick_check(5)")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(|e| Error::database(path, "checking the file's integrity", e))?;
    if problems.len() == 1 && problems[0] == "ok" {
        return Ok(());
    }
    Err(Error::Corrupt {
        path: path.to_path_buf(),
        detail: problems.join("; "),
    })
}

fn migrate(tx: &rusqlite::Transaction<'_>, path: &Path, from: i64) -> Result<()> {
    let db = |action| move |e| Error::database(path, action, e);
    for (i, step) in MIGRATIONS.iter().enumerate().skip(from.max(0) as usize) {
        tx.execute_batch(step).map_err(db("creating the schema"))?;
        tx.pragma_update(None, "user_version", i as i64 + 1)
            .map_err(db("recording the schema version"))?;
    }
    Ok(())
}
