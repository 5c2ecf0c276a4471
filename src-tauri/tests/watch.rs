//! Settings > Watched packages through the commands (Tauri's mock runtime): a workspace with
//! no package watches the demo's coordination remote, cloning the source into a directory
//! that does not exist yet, and pins the same genesis as the demo's co-signers; bad remotes
//! and paths are refused with what to do, and a remote with no genesis adds nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod mock;

use std::process::Command;

use serde_json::json;

use chainlock_app::state::Shared;
use chainlock_cosign::workspace::now;
use chainlock_cosign::{demo, Paths, Workspace};
use chainlock_signer::testing::SecretServiceSession;
use mock::MockApp;

#[test]
fn a_package_is_watched_from_settings_and_its_genesis_pinned() {
    let session = SecretServiceSession::start();
    for (name, value) in session.envs() {
        std::env::set_var(name, value);
    }
    let dir = tempfile::tempdir().unwrap();
    let world = demo::create(&dir.path().join("demo"), now(), |_| {}).unwrap();
    let demo_genesis = Workspace::open(world.you.clone())
        .unwrap()
        .config()
        .packages[0]
        .genesis
        .to_hex();
    let me = Workspace::open(Paths {
        config_dir: dir.path().join("me/config"),
        data_dir: dir.path().join("me/data"),
    })
    .unwrap();
    let app = MockApp::new(Shared::new(me));
    let clone = dir.path().join("me/src/pad");

    // Input the window could send by mistake: refused before anything is fetched.
    for (remote, clone_arg, says) in [
        ("", clone.display().to_string(), "is not a git remote"),
        (
            "file:///x\n--upload-pack=evil",
            clone.display().to_string(),
            "is not a git remote",
        ),
        (
            world.remote.as_str(),
            "src/pad".to_owned(),
            "give your clone's full path",
        ),
    ] {
        let (kind, message) = app.error(
            "watch_package",
            json!({ "remote": remote, "clone": clone_arg }),
        );
        assert_eq!(kind, "invalid-input", "{message}");
        assert!(message.contains(says), "{message}");
    }

    // A remote with no genesis request: refused, nothing watched.
    let empty = dir.path().join("empty.git");
    assert!(Command::new("git")
        .args(["init", "-q", "--bare"])
        .arg(&empty)
        .status()
        .unwrap()
        .success());
    let (_, message) = app.error(
        "watch_package",
        json!({
            "remote": format!("file://{}", empty.display()),
            "clone": dir.path().join("me/src/empty").display().to_string(),
        }),
    );
    assert!(message.contains("no genesis request"), "{message}");
    assert_eq!(app.ok("settings", json!({}))["packages"], json!([]));

    // The demo's remote: cloned into a new directory, the demo's genesis pinned.
    let added = app.ok(
        "watch_package",
        json!({ "remote": world.remote, "clone": clone.display().to_string() }),
    );
    assert_eq!(added["watched"]["package"], json!("npm:pad"), "{added:#}");
    assert_eq!(added["watched"]["genesis"], json!(demo_genesis));
    assert!(
        !added["pinned_from"].as_str().unwrap().is_empty(),
        "{added:#}"
    );
    assert!(clone.join(".git").is_dir(), "the source was cloned");
    let settings = app.ok("settings", json!({}));
    assert_eq!(settings["packages"].as_array().unwrap().len(), 1);
    assert_eq!(settings["packages"][0]["genesis"], json!(demo_genesis));
}
