//! The window's commands without a window: Tauri's mock runtime calls them over the real IPC
//! path (deserializing arguments, the command wrappers, serialization of errors) against a
//! real workspace: an empty one for input errors, the demo world (in a private gnome-keyring)
//! for what the domain must refuse.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod mock;

use std::process::Command;

use serde_json::json;

use chainlock_app::state::Shared;
use chainlock_cosign::{demo, Paths, Workspace};
use chainlock_signer::testing::SecretServiceSession;
use mock::MockApp;

fn empty_workspace(dir: &std::path::Path) -> Workspace {
    Workspace::open(Paths {
        config_dir: dir.join("config"),
        data_dir: dir.join("data"),
    })
    .unwrap()
}

const SOME_ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[test]
fn malformed_input_from_the_window_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let app = MockApp::new(Shared::new(empty_workspace(dir.path())));

    let (kind, message) = app.error("review", json!({ "request": "../../etc/passwd" }));
    assert_eq!(kind, "invalid-input");
    assert!(
        message.contains("expected 8 to 64 lowercase hex digits"),
        "{message}"
    );

    let (kind, _) = app.error("review", json!({ "request": "ABCDEF0123" }));
    assert_eq!(
        kind, "invalid-input",
        "uppercase ids are refused, not guessed"
    );

    let (kind, message) = app.error("review", json!({ "request": SOME_ID }));
    assert_eq!(kind, "unknown-request", "{message}");

    let (kind, message) = app.error(
        "diff_rows",
        json!({ "request": SOME_ID, "start": 0, "count": 10 }),
    );
    assert_eq!(kind, "invalid-input");
    assert!(message.contains("open the diff first"), "{message}");

    // A key id the index does not hold never reaches a signer.
    let signer = json!({ "kind": "keychain", "key_id": "f".repeat(64) });
    let (kind, message) = app.error(
        "sign",
        json!({ "request": SOME_ID, "signer": signer, "acceptWarnings": false }),
    );
    assert_eq!(kind, "invalid-input");
    assert!(message.contains("is not one of your keys"), "{message}");
    let (kind, _) = app.error(
        "reject",
        json!({ "request": SOME_ID, "reason": "no", "signer": signer }),
    );
    assert_eq!(kind, "invalid-input");

    // The window cannot hand over a key URI, a secret or a transaction: unknown shapes fail.
    let err = app
        .call(
            "sign",
            json!({ "request": SOME_ID, "signer": { "kind": "uri", "uri": "keychain://x" }, "acceptWarnings": false }),
        )
        .unwrap_err();
    assert!(err.to_string().contains("unknown variant"), "{err}");

    let (kind, _) = app.error("set_sync_interval", json!({ "secs": 5 }));
    assert_eq!(kind, "invalid-input");
    let (kind, _) = app.error("create_key", json!({ "label": "  " }));
    assert_eq!(kind, "invalid-input");
    let (kind, _) = app.error("create_key", json!({ "label": "evil\u{202e}txt" }));
    assert_eq!(
        kind, "invalid-input",
        "labels with hidden characters are refused"
    );

    let (kind, message) = app.error("finalize", json!({ "request": SOME_ID }));
    assert_eq!(kind, "unknown-request", "{message}");

    // And an empty workspace has an empty inbox, not an error.
    let inbox = app.call("inbox", json!({ "filter": "all" })).unwrap();
    assert_eq!(inbox["items"], json!([]));
    assert_eq!(inbox["needs_me"], json!(0));
}

#[test]
fn the_tampered_demo_request_cannot_be_signed_and_nothing_is_pushed() {
    let session = SecretServiceSession::start();
    for (name, value) in session.envs() {
        std::env::set_var(name, value);
    }
    let dir = tempfile::tempdir().unwrap();
    let world = demo::create(
        &dir.path().join("demo"),
        chainlock_cosign::workspace::now(),
        |_| {},
    )
    .unwrap();
    let app = MockApp::new(Shared::new(Workspace::open(world.you.clone()).unwrap()));
    let tampered = world.tampered.to_hex();
    let remote = world.remote.trim_start_matches("file://").to_owned();

    let review = app.call("review", json!({ "request": tampered })).unwrap();
    assert_eq!(review["verdict"], json!("failing"));
    assert_eq!(review["can_sign"], json!(false));
    assert_eq!(
        review["checks"][0]["status"],
        json!("failed"),
        "failures first"
    );
    assert_ne!(
        review["diff_digest_claimed"],
        review["diff_digest_computed"]
    );

    let signer = json!({ "kind": "keychain", "key_id": world.your_key });
    let (kind, message) = app.error(
        "sign",
        json!({ "request": tampered, "signer": signer, "acceptWarnings": true }),
    );
    assert_eq!(kind, "not-ready", "{message}");
    assert!(message.contains("diff"), "{message}");
    let refs = Command::new("git")
        .args(["--git-dir", &remote, "for-each-ref", "--format=%(refname)"])
        .output()
        .unwrap();
    let refs = String::from_utf8(refs.stdout).unwrap();
    assert!(
        !refs.contains(&format!("req/{tampered}/sig/")),
        "no signature may reach the remote:\n{refs}"
    );

    // The honest request is ready and its diff is served in windows.
    let pending = world.pending.to_hex();
    let review = app.call("review", json!({ "request": pending })).unwrap();
    assert_eq!(review["verdict"], json!("ready"), "{review:#}");
    assert_eq!(review["can_sign"], json!(true));
    let summary = app
        .call("diff_summary", json!({ "request": pending }))
        .unwrap();
    let total = summary["total_rows"].as_u64().unwrap();
    assert!(total > 2, "{summary:#}");
    let rows = app
        .call(
            "diff_rows",
            json!({ "request": pending, "start": 0, "count": 3 }),
        )
        .unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 3);
    assert_eq!(rows[0]["kind"], json!("file"));
    let tail = app
        .call(
            "diff_rows",
            json!({ "request": pending, "start": total - 1, "count": 50 }),
        )
        .unwrap();
    assert_eq!(tail.as_array().unwrap().len(), 1);

    let inbox = app.call("inbox", json!({ "filter": "needs-me" })).unwrap();
    assert_eq!(inbox["needs_me"], json!(2));
    assert_eq!(inbox["demo"], json!(true));

    demo::clean(&world.dir).unwrap();
}
