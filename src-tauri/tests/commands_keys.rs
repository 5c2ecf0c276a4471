//! Settings > Keys through Tauri's mock runtime: adding a Ledger (read from a device over
//! the Speculos framing, here the software device of `chainlock_signer::ledger::soft`) and
//! labelling keys, and every way the window's input or the device can fail. The window test
//! (`window_ledger.rs`) adds the real app in Speculos; this one covers the error paths.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod mock;

use std::net::TcpListener;

use serde_json::json;

use chainlock_app::state::Shared;
use chainlock_cosign::{Paths, Workspace};
use chainlock_signer::keychain::Keychain;
use chainlock_signer::ledger::soft::{self, Behaviour};
use chainlock_signer::ledger::DerivationPath;
use chainlock_signer::OpenOptions;
use mock::MockApp;

/// The app over an empty workspace in `dir`, reaching a Ledger at `ledger_tcp`.
fn mock_app(dir: &std::path::Path, ledger_tcp: &str) -> MockApp {
    let workspace = Workspace::open(Paths {
        config_dir: dir.join("config"),
        data_dir: dir.join("data"),
    })
    .unwrap();
    let options = OpenOptions {
        ledger_tcp: Some(ledger_tcp.to_owned()),
        ..OpenOptions::default()
    };
    MockApp::new(Shared::with_open_options(workspace, options))
}

/// A loopback port nothing listens on: a Ledger that is not connected.
fn closed_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    addr
}

#[test]
fn no_device_says_to_connect_unlock_and_open_the_app_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let app = mock_app(dir.path(), &closed_port());
    let index = Keychain::new(Some(dir.path().join("config"))).unwrap();

    let (kind, message) = app.error("read_ledger_key", json!({}));
    assert_eq!(kind, "device-unreachable", "{message}");
    assert!(
        message.contains("connect and unlock it, open the Bitcoin Cash app"),
        "{message}"
    );
    let (kind, message) = app.error(
        "add_ledger_key",
        json!({ "keyId": "ab".repeat(32), "label": "desk" }),
    );
    assert_eq!(kind, "device-unreachable", "{message}");
    assert!(index.list().unwrap().is_empty(), "nothing is stored");

    // Another app open on the device: the same plain advice.
    let other = soft::serve_speculos(
        Behaviour {
            app: Some("Ethereum".into()),
            ..Behaviour::default()
        },
        None,
    );
    let app = mock_app(dir.path(), &other);
    let (kind, message) = app.error("read_ledger_key", json!({}));
    assert_eq!(kind, "device-unreachable", "{message}");
    assert!(message.contains("open the Bitcoin Cash app"), "{message}");
}

#[test]
fn labels_must_be_visible_text_of_1_to_100_characters() {
    let dir = tempfile::tempdir().unwrap();
    let device = soft::serve_speculos(Behaviour::default(), None);
    let app = mock_app(dir.path(), &device);
    let key = app.call("read_ledger_key", json!({})).unwrap();
    let key_id = key["key_id"].as_str().unwrap().to_owned();
    for bad in [
        "",
        "   ",
        "two\nlines",
        "bell\u{7}",
        "\u{1b}[31mred",
        "evil\u{202e}gpj.exe",
        &"x".repeat(101),
    ] {
        let (kind, message) = app.error("add_ledger_key", json!({ "keyId": key_id, "label": bad }));
        assert_eq!(kind, "invalid-input", "{bad:?}: {message}");
        assert!(message.contains("1 to 100 visible characters"), "{message}");
        let (kind, _) = app.error("set_key_label", json!({ "keyId": key_id, "label": bad }));
        assert_eq!(kind, "invalid-input", "{bad:?}");
    }
    let index = Keychain::new(Some(dir.path().join("config"))).unwrap();
    assert!(index.list().unwrap().is_empty(), "nothing is stored");

    // A key id that is not one, and one the index does not hold.
    let (kind, _) = app.error(
        "set_key_label",
        json!({ "keyId": "../keys.json", "label": "x" }),
    );
    assert_eq!(kind, "invalid-input");
    let (kind, message) = app.error(
        "set_key_label",
        json!({ "keyId": "0".repeat(64), "label": "x" }),
    );
    assert_eq!(kind, "signer", "{message}");
    assert!(message.contains("no key"), "{message}");
}

#[test]
fn a_ledger_is_added_only_as_the_key_shown_and_then_labelled() {
    let dir = tempfile::tempdir().unwrap();
    let device = soft::serve_speculos(Behaviour::default(), None);
    let app = mock_app(dir.path(), &device);
    let expected = soft::soft_public_key(&DerivationPath::chainlock_default());

    let key = app.call("read_ledger_key", json!({})).unwrap();
    assert_eq!(key["key_id"], json!(expected.key_id()));
    assert_eq!(key["public_key"], json!(expected.to_hex()));
    assert_eq!(key["path"], json!("m/45'/236'/0'/0/0"));
    assert_eq!(key["known"], json!(false));

    // The window showed another key (the device was swapped meanwhile): refused.
    let (kind, message) = app.error(
        "add_ledger_key",
        json!({ "keyId": "ab".repeat(32), "label": "desk" }),
    );
    assert_eq!(kind, "invalid-input");
    assert!(message.contains("read the device again"), "{message}");

    let added = app
        .call(
            "add_ledger_key",
            json!({ "keyId": expected.key_id(), "label": "  desk ledger " }),
        )
        .unwrap();
    assert_eq!(added["kind"], json!("ledger"));
    assert_eq!(added["label"], json!("desk ledger"));
    assert_eq!(added["path"], json!("m/45'/236'/0'/0/0"));
    let index = Keychain::new(Some(dir.path().join("config"))).unwrap();
    let stored = index.list().unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].public_key, expected);
    assert_eq!(stored[0].uri(), "ledger://m/45'/236'/0'/0/0");

    // Known now: reading says so, adding again is refused.
    let key = app.call("read_ledger_key", json!({})).unwrap();
    assert_eq!(key["known"], json!(true));
    let (kind, message) = app.error(
        "add_ledger_key",
        json!({ "keyId": expected.key_id(), "label": "again" }),
    );
    assert_eq!(kind, "signer");
    assert!(message.contains("already"), "{message}");

    // Relabelled; Settings lists it as a Ledger key with its new label, escaped.
    app.call(
        "set_key_label",
        json!({ "keyId": expected.key_id(), "label": "<b>desk</b> & co" }),
    )
    .unwrap();
    let settings = app.call("settings", json!({})).unwrap();
    assert_eq!(
        settings["keys"],
        json!([{ "key_id": expected.key_id(), "label": "<b>desk</b> & co",
                 "kind": "ledger", "path": "m/45'/236'/0'/0/0" }])
    );
    assert_eq!(index.list().unwrap()[0].label, "<b>desk</b> & co");
}
