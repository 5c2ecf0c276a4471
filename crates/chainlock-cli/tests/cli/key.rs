//! `chainlock key` against a real Secret Service: each test starts its own private
//! gnome-keyring (`chainlock_signer::testing`) and runs the binary in that environment.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic

use std::io::Write;
use std::process::{Output, Stdio};

use chainlock_signer::testing::{secret_encodings, SecretServiceSession};
use serde_json::Value;

use crate::util::chainlock;

/// Runs `chainlock args...` in the session's environment, with `stdin` as standard input.
pub fn run_in(session: &SecretServiceSession, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = chainlock()
        .args(args)
        .envs(session.envs())
        .env_remove("CHAINLOCK_CONFIG_DIR")
        .env_remove("CHAINLOCK_LEDGER_TCP")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chainlock runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    child.wait_with_output().expect("chainlock finishes")
}

/// Runs and requires success; returns stdout.
pub fn ok(session: &SecretServiceSession, args: &[&str]) -> String {
    let out = run_in(session, args, b"");
    assert!(
        out.status.success(),
        "chainlock {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Runs with `--json` appended and parses stdout.
pub fn ok_json(session: &SecretServiceSession, args: &[&str]) -> Value {
    let mut args = args.to_vec();
    args.push("--json");
    serde_json::from_str(&ok(session, &args)).expect("JSON output")
}

/// Runs, requires exit status 2 (an error), and returns stderr.
pub fn fails(session: &SecretServiceSession, args: &[&str], stdin: &[u8]) -> String {
    let out = run_in(session, args, stdin);
    assert_eq!(
        out.status.code(),
        Some(2),
        "chainlock {args:?} should fail: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr).expect("utf-8 stderr")
}

#[test]
fn key_new_list_show_delete_human_and_json() {
    let session = SecretServiceSession::start();
    assert!(
        ok(&session, &["key", "list"]).contains("no keys"),
        "an empty keychain says how to create a key"
    );
    assert_eq!(
        ok_json(&session, &["key", "list"])["keys"],
        serde_json::json!([])
    );

    let created = ok(&session, &["key", "new", "--label", "alice laptop"]);
    assert!(created.starts_with("created key "), "{created}");
    let alice_id = created
        .split_whitespace()
        .nth(2)
        .expect("key id")
        .to_string();
    assert_eq!(alice_id.len(), 64);
    assert!(
        created.contains(&format!("uri:        keychain://{alice_id}")),
        "{created}"
    );
    let bob = ok_json(&session, &["key", "new", "--label", "bob"]);
    let bob_id = bob["key_id"].as_str().expect("key_id").to_string();
    assert_eq!(bob["kind"], "keychain");
    assert_eq!(bob["uri"], format!("keychain://{bob_id}"));
    assert_eq!(bob["public_key"].as_str().expect("public key").len(), 66);

    let list = ok(&session, &["key", "list"]);
    assert_eq!(list, format!("{alice_id}  alice laptop\n{bob_id}  bob\n"));
    let listed = ok_json(&session, &["key", "list"]);
    assert_eq!(listed["keys"][1], bob);

    // The index in $XDG_CONFIG_HOME/chainlock holds ids, labels and public keys only.
    let index: Value = serde_json::from_slice(
        &std::fs::read(session.config_dir().join("keys.json")).expect("index"),
    )
    .expect("json");
    assert_eq!(index["keys"].as_array().expect("keys").len(), 2);

    // CHAINLOCK_CONFIG_DIR moves the index: another directory knows no keys.
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let out = chainlock()
        .args(["key", "list", "--json"])
        .envs(session.envs())
        .env("CHAINLOCK_CONFIG_DIR", elsewhere.path())
        .output()
        .expect("chainlock runs");
    assert!(out.status.success());
    let none: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(none["keys"], serde_json::json!([]));

    // Show by prefix or URI; both renderings report the keychain entry.
    let shown = ok(&session, &["key", "show", &alice_id[..10]]);
    assert!(
        shown.contains("label:      alice laptop")
            && shown.contains("status:     in the OS keychain"),
        "{shown}"
    );
    let shown = ok_json(&session, &["key", "show", &format!("keychain://{bob_id}")]);
    assert_eq!(shown["status"], "ok");
    assert_eq!(shown["key_id"], bob_id);

    // Delete needs --yes; then the key is gone everywhere.
    let err = fails(&session, &["key", "delete", &bob_id], b"");
    assert!(err.contains("--yes"), "{err}");
    assert_eq!(
        ok_json(&session, &["key", "list"])["keys"]
            .as_array()
            .expect("keys")
            .len(),
        2
    );
    let deleted = ok_json(&session, &["key", "delete", &bob_id, "--yes"]);
    assert_eq!(deleted["key_id"], bob_id);
    assert_eq!(
        ok(&session, &["key", "list"]),
        format!("{alice_id}  alice laptop\n")
    );
    let err = fails(&session, &["key", "show", &bob_id], b"");
    assert!(
        err.contains("no key") && err.contains("chainlock key list"),
        "{err}"
    );
    let err = fails(&session, &["key", "delete", &bob_id, "--yes"], b"");
    assert!(err.contains("no key"), "{err}");
}

#[test]
fn key_import_from_stdin_and_file_never_leaves_the_secret_on_disk() {
    let session = SecretServiceSession::start();
    let secret_hex = "0c28fca386c7a227600b2fe50b7cae11ec86d3bf1fbe471be89827e19d72aa1d";
    // The same key as a compressed WIF (Bitcoin wiki's example), imported after a delete.
    let wif = "KwdMAjGmerYanjeui5SHS7JkmpZvVipYvB2LJGU1ZxJwYvP98617";

    let out = run_in(
        &session,
        &["key", "import", "--label", "imported", "--json"],
        format!("{secret_hex}\n").as_bytes(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let imported: Value = serde_json::from_slice(&out.stdout).expect("json");
    let key_id = imported["key_id"].as_str().expect("key id").to_string();
    assert_eq!(imported["label"], "imported");
    // The printed output carries no secret.
    assert!(!String::from_utf8_lossy(&out.stdout).contains(secret_hex));

    let err = fails(&session, &["key", "import"], secret_hex.as_bytes());
    assert!(err.contains("already in the OS keychain"), "{err}");
    let garbage = "not-a-key-but-a-secret-looking-string";
    let err = fails(&session, &["key", "import"], garbage.as_bytes());
    assert!(
        err.contains("cannot import the key") && !err.contains(garbage),
        "{err}"
    );

    ok(&session, &["key", "delete", &key_id, "--yes"]);
    let outside = tempfile::tempdir().expect("temp dir");
    let wif_file = outside.path().join("key.wif");
    std::fs::write(&wif_file, wif).expect("write wif");
    let human = ok(
        &session,
        &[
            "key",
            "import",
            "--file",
            wif_file.to_str().expect("path"),
            "--label",
            "from wif",
        ],
    );
    assert!(
        human.starts_with(&format!("imported key {key_id}")),
        "WIF and hex name the same key: {human}"
    );
    drop(outside);

    let shown = ok_json(&session, &["key", "show", &key_id]);
    assert_eq!(shown["status"], "ok");
    let secret = hex::decode(secret_hex).expect("hex");
    let mut needles = secret_encodings(&secret);
    needles.push(wif.as_bytes().to_vec());
    let hits = session.files_containing(&needles);
    assert!(hits.is_empty(), "secret key material found in {hits:?}");
}

#[test]
fn key_show_reports_a_missing_entry_and_a_locked_keychain() {
    let session = SecretServiceSession::start();
    let a = ok_json(&session, &["key", "new", "--label", "a"]);
    let b = ok_json(&session, &["key", "new", "--label", "b"]);
    let (a_id, b_id) = (
        a["key_id"].as_str().expect("id"),
        b["key_id"].as_str().expect("id"),
    );

    // Removed from the keychain behind chainlock's back: still indexed, reported missing.
    session.delete_item(b_id);
    let out = run_in(&session, &["key", "show", b_id, "--json"], b"");
    assert_eq!(out.status.code(), Some(1));
    let shown: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(shown["status"], "key_not_found");
    let out = run_in(&session, &["key", "show", b_id], b"");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("no key"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    session.lock();
    let out = run_in(&session, &["key", "show", a_id, "--json"], b"");
    assert_eq!(out.status.code(), Some(1));
    let shown: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(shown["status"], "keychain_locked", "{shown}");
    let err = fails(&session, &["key", "new"], b"");
    assert!(err.contains("locked") && err.contains("unlock"), "{err}");
    // The index needs no unlocked keychain.
    assert_eq!(
        ok_json(&session, &["key", "list"])["keys"]
            .as_array()
            .expect("keys")
            .len(),
        2
    );
}
