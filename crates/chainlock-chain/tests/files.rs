//! The ledger file: its marks, reopening, refused broadcasts leaving it unchanged, and files
//! that are not ledgers (another program's database, garbage, damage, a newer schema).

use std::fs;

use chainlock_chain::local::{APPLICATION_ID, SCHEMA_VERSION};
use chainlock_chain::{Chain, Error, LocalLedger};
use chainlock_protocol::tx::TxOut;

use crate::util::{dump, p2pkh, record_tx, World, ALL_FORKID};

#[test]
fn a_new_ledger_is_marked_versioned_and_in_wal_mode_and_survives_reopening() {
    let w = World::new();
    let (genesis, txid) = w.publish_genesis();
    let conn = rusqlite::Connection::open(w.path()).unwrap();
    let pragma = |name: &str| -> String {
        conn.query_row(&format!("PRAGMA {name}"), [], |r| {
            r.get::<_, rusqlite::types::Value>(0)
        })
        .map(|v| format!("{v:?}"))
        .unwrap()
    };
    assert_eq!(
        pragma("application_id"),
        format!("Integer({APPLICATION_ID})")
    );
    assert_eq!(pragma("user_version"), format!("Integer({SCHEMA_VERSION})"));
    assert_eq!(pragma("journal_mode"), "Text(\"wal\")");
    drop(conn);
    w.judge_everything();
    drop(w.ledger);
    let again = LocalLedger::open(&w.dir.path().join("ledger.sqlite")).unwrap();
    let chain = again.record_chain(&w.package).unwrap();
    assert_eq!(chain.head().unwrap().record, genesis);
    assert_eq!(chain.head().unwrap().txid, txid);
}

#[test]
fn a_refused_broadcast_leaves_the_database_unchanged() {
    let w = World::new();
    let (genesis, _) = w.publish_genesis();
    let g = genesis.digest().unwrap();
    let custody = w.fund(&w.policy, 2);
    let r1 = w.release_on(g, &w.policy, "1.0.0");
    w.accept(
        &record_tx(&custody[0], &r1, &w.maintainers[..2], ALL_FORKID),
        Some(&r1),
    );
    let before = dump(&w.path());
    // Refused at the last rule, after every input passed: a fork.
    let rival = w.release_on(g, &w.policy, "1.0.0-rival");
    let tx = record_tx(&custody[1], &rival, &w.maintainers[..2], ALL_FORKID);
    assert!(matches!(
        w.ledger.broadcast(&tx, Some(&rival)),
        Err(Error::Fork { .. })
    ));
    assert_eq!(dump(&w.path()), before, "the fork left traces");
    // Refused on its second input, after the first passed.
    let a = w.faucet(1_000);
    let rows_with_faucet = dump(&w.path());
    let tx = crate::util::spend_p2pkh(
        &w.funder,
        &[
            a,
            (
                custody[1].outpoint,
                TxOut {
                    value: 0,
                    script_pubkey: p2pkh(&w.funder),
                },
            ),
        ],
        vec![TxOut {
            value: 500,
            script_pubkey: p2pkh(&w.funder),
        }],
    );
    assert!(matches!(
        w.ledger.broadcast(&tx, None),
        Err(Error::InputRejected { input: 1, .. })
    ));
    assert_eq!(dump(&w.path()), rows_with_faucet);
    w.judge_everything();
}

#[test]
fn a_write_failing_half_way_leaves_the_database_unchanged() {
    // The record is the last row a broadcast writes; make SQLite refuse it, as a full disk
    // or an I/O error would, after the transaction, its outputs and its spend are written.
    let w = World::new();
    let custody = w.fund(&w.policy, 1).remove(0);
    let genesis = w.genesis_of(&w.policy);
    let tx = record_tx(&custody, &genesis, &w.maintainers[..2], ALL_FORKID);
    let conn = rusqlite::Connection::open(w.path()).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER fail_records BEFORE INSERT ON records
         BEGIN SELECT RAISE(ABORT, 'simulated write failure'); END;",
    )
    .unwrap();
    let before = dump(&w.path());
    let err = w.ledger.broadcast(&tx, Some(&genesis)).unwrap_err();
    assert!(err.to_string().contains("simulated write failure"), "{err}");
    assert_eq!(dump(&w.path()), before, "a half-written broadcast was kept");
    assert!(matches!(
        w.ledger.output_state(&custody.outpoint).unwrap(),
        chainlock_chain::OutputState::Unspent { .. }
    ));
    conn.execute_batch("DROP TRIGGER fail_records").unwrap();
    w.accept(&tx, Some(&genesis));
    w.judge_everything();
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    let text = "these are my notes, not a database\n".repeat(200);
    fs::write(&path, &text).unwrap();
    let err = LocalLedger::open(&path).unwrap_err();
    assert!(matches!(err, Error::NotALedger { .. }), "{err:?}");
    assert!(err.to_string().contains("not an SQLite database"), "{err}");
    assert_eq!(fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn another_programs_database_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE contacts (name TEXT); INSERT INTO contacts VALUES ('ada');")
        .unwrap();
    // A table name carrying a terminal escape: shown escaped, never raw.
    conn.execute_batch("CREATE TABLE \"x\x1b]0;owned\x07\" (a);")
        .unwrap();
    drop(conn);
    let bytes = fs::read(&path).unwrap();
    let err = LocalLedger::open(&path).unwrap_err();
    match &err {
        Error::NotALedger { reason, .. } => {
            assert!(reason.contains("\"contacts\""), "{reason}");
            assert!(!reason.contains('\x1b'), "{reason:?}");
            assert!(reason.contains("\\u{1b}"), "{reason:?}");
        }
        other => panic!("{other:?}"),
    }
    // Not switched to WAL, no tables added.
    assert_eq!(fs::read(&path).unwrap(), bytes);
    assert!(!dir.path().join("app.db-wal").exists());
}

#[test]
fn a_damaged_ledger_is_refused_with_a_clear_error() {
    let w = World::new();
    w.publish_genesis();
    w.judge_everything();
    let path = w.path();
    drop(w.ledger);
    assert!(
        !path.with_extension("sqlite-wal").exists(),
        "closing checkpoints the WAL"
    );
    let good = fs::read(&path).unwrap();
    assert!(good.len() > 8 * 4096, "{} bytes", good.len());

    // Pages past the first overwritten: the schema still reads, the tables do not.
    let mut damaged = good.clone();
    for b in &mut damaged[4096 + 16..good.len() - 100] {
        *b = 0x5a;
    }
    fs::write(&path, &damaged).unwrap();
    let err = LocalLedger::open(&path).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("damaged"), "{err}");

    // The header overwritten: SQLite no longer recognises the file.
    let mut header = good.clone();
    header[..16].copy_from_slice(b"not sqlite 3 at ");
    fs::write(&path, &header).unwrap();
    let err = LocalLedger::open(&path).unwrap_err();
    assert!(matches!(err, Error::NotALedger { .. }), "{err:?}");

    // Restored, it opens again.
    fs::write(&path, &good).unwrap();
    LocalLedger::open(&path).unwrap();
}

#[test]
fn a_ledger_from_a_newer_chainlock_is_refused() {
    let w = World::new();
    let path = w.path();
    drop(w.ledger);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(conn);
    match LocalLedger::open(&path) {
        Err(Error::SchemaTooNew {
            found, supported, ..
        }) => {
            assert_eq!(found, SCHEMA_VERSION + 1);
            assert_eq!(supported, SCHEMA_VERSION);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_ledger_in_a_missing_directory_says_which_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/dir/ledger.sqlite");
    let err = LocalLedger::open(&path).unwrap_err();
    assert!(matches!(err, Error::Open { .. }), "{err:?}");
    assert!(err.to_string().contains("no/such/dir"), "{err}");
}
