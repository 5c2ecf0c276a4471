//! Opening a signing request file (an air-gapped review) through the commands, in Tauri's
//! mock runtime, on the demo world in a private gnome-keyring: the demo's request written
//! to a file reviews like the remote's, with every check; a file can never be signed; bad,
//! oversize and hostile files (a FIFO, a device, a directory, terminal escapes, another
//! package, a path that is not absolute) are refused with what to do.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod mock;

use std::process::Command;

use serde_json::{json, Value};

use chainlock_app::state::Shared;
use chainlock_cosign::workspace::now;
use chainlock_cosign::{demo, Workspace};
use chainlock_signer::testing::SecretServiceSession;
use mock::MockApp;

#[test]
fn a_request_file_is_reviewed_with_every_check_and_never_signed() {
    let session = SecretServiceSession::start();
    for (name, value) in session.envs() {
        std::env::set_var(name, value);
    }
    let dir = tempfile::tempdir().unwrap();
    let world = demo::create(&dir.path().join("demo"), now(), |_| {}).unwrap();
    let ws = Workspace::open(world.you.clone()).unwrap();
    let pending = world.pending.to_hex();
    let request = serde_json::to_value(ws.request(&pending).unwrap()).unwrap();
    let remote = world.remote.trim_start_matches("file://").to_owned();

    let app = MockApp::new(Shared::new(ws));
    let open = |path: &std::path::Path| {
        app.try_call(
            "open_request_file",
            json!({ "path": path.display().to_string() }),
        )
    };

    // The demo's honest request, as a file: every check runs and passes, like the remote's.
    let file = dir.path().join("request.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&request).unwrap()).unwrap();
    let review = open(&file).unwrap();
    let from_remote = app
        .try_call("review", json!({ "request": pending }))
        .unwrap();
    assert_eq!(review["verdict"], json!("ready"), "{review:#}");
    assert_eq!(review["checks"], from_remote["checks"], "the same gate");
    assert_eq!(review["request"], json!(pending));
    assert_eq!(review["from_file"], json!(file.display().to_string()));
    assert_eq!(
        review["can_sign"],
        json!(false),
        "never signable from a file"
    );
    assert_eq!(review["can_finalize"], json!(false));
    assert_eq!(review["my_keys_to_sign"], json!([]));
    assert_eq!(
        review["signatures"].as_array().unwrap().len(),
        1,
        "Bob's, from the remote"
    );

    // A request that is only in the file (its expiry edited): every check still runs (the
    // publisher's signature fails), its diff is served, and signing its id is refused.
    let mut edited = request.clone();
    edited["expires_at"] = json!(request["expires_at"].as_u64().unwrap() + 60);
    let only_here = dir.path().join("edited.json");
    std::fs::write(&only_here, serde_json::to_vec(&edited).unwrap()).unwrap();
    let review = open(&only_here).unwrap();
    assert_eq!(review["verdict"], json!("failing"), "{review:#}");
    assert_eq!(
        review["checks"][0]["status"],
        json!("failed"),
        "failures first"
    );
    assert_eq!(review["signatures"], json!([]));
    let id = review["request"].as_str().unwrap().to_owned();
    assert_ne!(id, pending);
    let summary = app
        .try_call("diff_summary", json!({ "request": id }))
        .unwrap();
    assert!(summary["total_rows"].as_u64().unwrap() > 2, "{summary:#}");
    let signer = json!({ "kind": "keychain", "key_id": world.your_key });
    let (kind, message) = app
        .try_call(
            "sign",
            json!({ "request": id, "signer": signer, "acceptWarnings": true }),
        )
        .unwrap_err();
    assert_eq!(kind, "unknown-request", "{message}");
    let refs = Command::new("git")
        .args(["--git-dir", &remote, "for-each-ref", "--format=%(refname)"])
        .output()
        .unwrap();
    let refs = String::from_utf8(refs.stdout).unwrap();
    assert!(
        !refs.contains(&format!("req/{id}")),
        "nothing reached the remote:\n{refs}"
    );

    // Bad files, each refused with what to do.
    let refused = |path: &std::path::Path, kind: &str, says: &str| {
        let (k, message) = open(path).unwrap_err();
        assert_eq!(k, kind, "{}: {message}", path.display());
        assert!(message.contains(says), "{}: {message}", path.display());
        assert!(!message.contains('\u{1b}'), "escaped: {message}");
        message
    };
    refused(&dir.path().join("missing.json"), "failed", "cannot read");
    refused(dir.path(), "refused", "is not a regular file");
    refused(
        std::path::Path::new("/dev/zero"),
        "refused",
        "is not a regular file",
    );
    let fifo = dir.path().join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    refused(&fifo, "refused", "is not a regular file");
    let big = dir.path().join("big.json");
    std::fs::write(&big, vec![b' '; 5 << 20]).unwrap();
    refused(
        &big,
        "refused",
        "more than a signing request may be (4 MiB)",
    );
    let hostile = dir.path().join("hostile.json");
    std::fs::write(
        &hostile,
        b"\x1b[2J\x1b]0;owned\x07{\"protocol\": \"chainlock/1\"\x1b[31m",
    )
    .unwrap();
    refused(&hostile, "refused", "ask the publisher to re-create it");
    let not_a_request = dir.path().join("other.json");
    std::fs::write(&not_a_request, br#"{"hello": "world"}"#).unwrap();
    refused(
        &not_a_request,
        "refused",
        "is not a valid chainlock/1 signing request",
    );
    let mut other = request.clone();
    other["record"]["package"] = json!("not-watched");
    let unwatched = dir.path().join("unwatched.json");
    std::fs::write(&unwatched, serde_json::to_vec(&other).unwrap()).unwrap();
    refused(&unwatched, "refused", "which this workspace does not watch");
    for path in ["request.json", "", "/tmp/a\0b"] {
        let (kind, message) = app
            .try_call("open_request_file", json!({ "path": path }))
            .unwrap_err();
        assert_eq!(kind, "invalid-input", "{path:?}: {message}");
        assert!(
            message.contains("give the request file's full path"),
            "{message}"
        );
    }
    // Nothing to open at launch unless a FILE was given.
    assert_eq!(
        app.try_call("opening_request_file", json!({})).unwrap(),
        Value::Null
    );

    drop(app);
    demo::clean(&world.dir).unwrap();
}
