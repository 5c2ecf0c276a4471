//! Hostile and mistaken input: escaped and cut in errors, reads capped, messages that say what
//! is actually wrong, and a closed pipe that ends a command quietly.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use chainlock_protocol::keys::SecretKey;
use chainlock_protocol::script::Script;
use chainlock_protocol::tx::{OutPoint, Transaction, TxIn, TxOut, Txid};

use crate::util::{chainlock, run, workspace_root};

fn valid_request() -> serde_json::Value {
    let path =
        workspace_root().join("crates/chainlock-protocol/tests/data/requests/valid/request.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn terminal_escapes_in_json_are_escaped_and_huge_values_cut() {
    let dir = tempfile::tempdir().unwrap();
    let mut req = valid_request();
    // An unknown variant that retitles the window and clears the screen, 20 MB long.
    req["record"]["type"] = format!(
        "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{202e}{}",
        "A".repeat(20_000_000)
    )
    .into();
    let file = dir.path().join("request.json");
    std::fs::write(&file, serde_json::to_vec(&req).unwrap()).unwrap();
    let out = run(&["request", "id", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(!err.contains('\u{1b}') && !err.contains('\u{7}') && !err.contains('\u{202e}'));
    assert!(
        err.contains("\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\u{202e}AAA"),
        "{err}"
    );
    assert!(err.len() < 3000, "an error line of {} bytes", err.len());
    assert!(
        err.contains("characters"),
        "the cut states the length: {err}"
    );
}

#[test]
fn an_unknown_field_name_is_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let mut req = valid_request();
    req["\u{1b}[31mred\u{1b}[0m"] = 1.into();
    let file = dir.path().join("request.json");
    std::fs::write(&file, serde_json::to_vec(&req).unwrap()).unwrap();
    let out = run(&["request", "id", file.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(err.contains("unknown field"), "{err}");
    assert!(!err.contains('\u{1b}'), "{err}");
    assert!(err.contains("\\u{1b}[31mred"), "{err}");
}

#[test]
fn every_read_is_capped_and_says_the_cap() {
    for args in [
        &["record", "digest", "/dev/zero"][..],
        &["request", "id", "/dev/zero"],
        &["tx", "decode", "/dev/zero"],
        &[
            "attest",
            "verify",
            "--envelope",
            "/dev/zero",
            "--policy",
            "/dev/zero",
        ],
    ] {
        let out = run(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("more than 32 MiB"), "{args:?}: {err}");
        assert!(!err.contains("permissions"), "{args:?}: {err}");
    }
}

#[test]
fn messages_name_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    // Bad hex is bad hex, not a missing file.
    let err = stderr(&run(&["tx", "decode", "0100000001ag00"]));
    assert!(err.contains("not valid transaction hex"), "{err}");
    assert!(err.contains("'g' at position 11"), "{err}");
    // A missing file is a missing file, without advice about permissions.
    let err = stderr(&run(&["record", "digest", "no-such-record.json"]));
    assert!(
        err.contains("no file named \"no-such-record.json\""),
        "{err}"
    );
    assert!(!err.contains("permissions"), "{err}");
    // No "field named above" when nothing is above.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, b"{\"zzz\": 1}").unwrap();
    let err = stderr(&run(&["record", "digest", bad.to_str().unwrap()]));
    assert!(!err.contains("named above"), "{err}");
    assert!(err.contains("missing field `type`"), "{err}");
    // A byte-order mark is named, not "expected value at line 1 column 1".
    let bom = dir.path().join("bom.json");
    std::fs::write(&bom, b"\xef\xbb\xbf{}").unwrap();
    let err = stderr(&run(&["record", "digest", bom.to_str().unwrap()]));
    assert!(err.contains("byte-order mark"), "{err}");
    assert!(!err.contains("expected value"), "{err}");
    // A --policy-digest naming a missing file is a missing file, not invalid hex.
    let req =
        workspace_root().join("crates/chainlock-protocol/tests/data/requests/valid/request.json");
    let err = stderr(&run(&[
        "request",
        "check",
        req.to_str().unwrap(),
        "--policy-digest",
        "/nonexistent/.chainlock/genesis",
    ]));
    assert!(
        err.contains("no file named \"/nonexistent/.chainlock/genesis\""),
        "{err}"
    );
    assert!(!err.contains("invalid hex"), "{err}");
}

/// Runs `chainlock args`, reads one line of its output, closes the pipe, and checks that the
/// command ended quietly (no panic, no backtrace, exit 0).
fn read_one_line_and_close(args: &[&str], config_dir: Option<&std::path::Path>) {
    let mut cmd = chainlock();
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    if let Some(dir) = config_dir {
        cmd.env("CHAINLOCK_CONFIG_DIR", dir);
    }
    let mut child = cmd.spawn().unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(!first.is_empty());
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
    assert!(err.is_empty(), "{args:?}: {err}");
}

#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    // `tx decode` of a transaction whose listing is far larger than a pipe's buffer.
    let dir = tempfile::tempdir().unwrap();
    let tx = Transaction {
        version: 1,
        inputs: (0..5000u32)
            .map(|i| TxIn {
                prevout: OutPoint {
                    txid: Txid([7; 32]),
                    vout: i,
                },
                script_sig: Script::default(),
                sequence: 0xffff_ffff,
            })
            .collect(),
        outputs: vec![TxOut {
            value: 1,
            script_pubkey: Script::default(),
        }],
        lock_time: 0,
    };
    let file = dir.path().join("tx.hex");
    std::fs::write(&file, tx.to_hex()).unwrap();
    read_one_line_and_close(&["tx", "decode", file.to_str().unwrap()], None);
    read_one_line_and_close(&["tx", "decode", "--json", file.to_str().unwrap()], None);

    // `key list` over an index of 2,000 keys (the index alone: listing needs no keychain).
    let keys: Vec<serde_json::Value> = (1..=2000u32)
        .map(|i| {
            let mut b = [0x11; 32];
            b[..4].copy_from_slice(&i.to_be_bytes());
            let pk = SecretKey::from_bytes(&b).unwrap().public_key();
            serde_json::json!({ "key_id": pk.key_id(), "public_key": pk.to_hex(), "label": format!("key {i}") })
        })
        .collect();
    let config = dir.path().join("config");
    std::fs::create_dir(&config).unwrap();
    std::fs::write(
        config.join("keys.json"),
        serde_json::to_vec(&serde_json::json!({ "version": 1, "keys": keys })).unwrap(),
    )
    .unwrap();
    read_one_line_and_close(&["key", "list"], Some(&config));
    read_one_line_and_close(&["key", "list", "--json"], Some(&config));
}

#[test]
fn decoding_a_ten_megabyte_transaction_as_json_stays_small() {
    // 234,000 inputs, 9.6 MB: its JSON (62 MB) was once built whole, 1.07 GB resident.
    let dir = tempfile::tempdir().unwrap();
    let tx = Transaction {
        version: 1,
        inputs: (0..234_000u32)
            .map(|i| TxIn {
                prevout: OutPoint {
                    txid: Txid([7; 32]),
                    vout: i,
                },
                script_sig: Script::default(),
                sequence: 0xffff_ffff,
            })
            .collect(),
        outputs: vec![TxOut {
            value: 1,
            script_pubkey: Script::default(),
        }],
        lock_time: 0,
    };
    let file = dir.path().join("big.tx");
    std::fs::write(&file, tx.encode()).unwrap();
    // Under a 300 MB address-space limit; streamed, it peaks near 35 MB resident.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -v 300000 && exec "$0" tx decode --json "$1" | tail -c 200"#)
        .arg(env!("CARGO_BIN_EXE_chainlock"))
        .arg(&file)
        .output()
        .unwrap();
    let tail = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    assert!(
        tail.contains(&format!("\"txid\": \"{}\"", tx.txid())),
        "{tail}"
    );
}

#[test]
fn labels_from_a_hand_edited_key_index_are_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let pk = SecretKey::from_bytes(&[0x21; 32]).unwrap().public_key();
    let index = serde_json::json!({ "version": 1, "keys": [
        { "key_id": pk.key_id(), "public_key": pk.to_hex(), "label": "\u{1b}]0;pwned\u{7}laptop" }
    ]});
    std::fs::write(dir.path().join("keys.json"), index.to_string()).unwrap();
    let out = chainlock()
        .args(["key", "list"])
        .env("CHAINLOCK_CONFIG_DIR", dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!text.contains('\u{1b}'), "{text}");
    assert!(text.contains("\\u{1b}]0;pwned\\u{7}laptop"), "{text}");
}
