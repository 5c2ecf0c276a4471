//! Final releases and their flags through the commands (Tauri's mock runtime) on the demo
//! world in a private gnome-keyring: I sign and finalize release 1.1.0, Alice raises a
//! blocking flag on it from her own workspace (the domain API, as `chainlock flag` does) and
//! a stranger's builder key an advisory one; the inbox and the review show FLAGGED, every
//! flag with whether it counts and why, hostile reasons escaped; the notice for "a release
//! I signed was flagged" comes once per flag, also across starts.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod mock;

use std::sync::Arc;

use serde_json::{json, Value};

use chainlock_app::desktop::Notified;
use chainlock_app::state::Shared;
use chainlock_attest::BuilderKey;
use chainlock_cosign::flags::Severity;
use chainlock_cosign::workspace::now;
use chainlock_cosign::{demo, FlagKey, Paths, Workspace};
use chainlock_signer::keychain::Keychain;
use chainlock_signer::testing::SecretServiceSession;
use chainlock_signer::OpenOptions;
use mock::MockApp;

/// The flag notices for a release signed by one of `mine`, as the background sync asks.
fn notices_for(shared: &Shared, mine: &[String]) -> Vec<chainlock_app::status::FlagNotice> {
    let ws = shared.workspace();
    let requests = ws.requests().unwrap();
    chainlock_app::status::flag_notices(&ws, &requests, mine, now())
}

#[test]
fn a_blocking_flag_on_a_release_i_signed_shows_flagged_and_is_noticed_once() {
    let session = SecretServiceSession::start();
    for (name, value) in session.envs() {
        std::env::set_var(name, value);
    }
    let dir = tempfile::tempdir().unwrap();
    let world = demo::create(&dir.path().join("demo"), now(), |_| {}).unwrap();
    let pending = world.pending.to_hex();
    let your_uri = format!("keychain://{}", world.your_key);
    let opts = OpenOptions::default();

    // I sign 1.1.0 (acknowledging the disagreeing builder) and finalize it: it is mined.
    let you = Workspace::open(world.you.clone()).unwrap();
    you.sign(&pending, &your_uri, &opts, now(), true).unwrap();
    you.finalize(&pending, now()).unwrap();

    let shared = Shared::new(Workspace::open(world.you.clone()).unwrap());
    let app = MockApp::new(Arc::clone(&shared));

    let finals = app.ok("inbox", json!({ "filter": "final" }));
    let mine = finals["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["request"] == json!(pending))
        .expect("1.1.0 is final")
        .clone();
    assert_eq!(
        mine["release_status"]["state"],
        json!("in-window"),
        "{mine:#}"
    );
    assert!(mine["release_status"]["closes_at"].as_u64().unwrap() > now());
    let review = app.ok("review", json!({ "request": pending }));
    assert_eq!(review["release_status"]["state"], json!("in-window"));
    assert_eq!(review["release_flags"], json!([]));
    assert_eq!(
        review["policy_changes"],
        json!([]),
        "a release, not a rotation"
    );
    // Not final: no status.
    let needs_me = app.ok("inbox", json!({ "filter": "all" }));
    let tampered = needs_me["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["request"] == json!(world.tampered.to_hex()))
        .unwrap()
        .clone();
    assert_eq!(tampered["release_status"], Value::Null);
    let mine_ids = vec![world.your_key.clone()];
    assert!(
        notices_for(&shared, &mine_ids).is_empty(),
        "nothing flagged yet"
    );

    // From outside the app: Alice flags 1.1.0 (blocking); a stranger's builder key too.
    let alice_paths = Paths {
        config_dir: world.dir.join("alice/config"),
        data_dir: world.dir.join("alice/data"),
    };
    let alice = Workspace::open(alice_paths.clone()).unwrap();
    alice.sync().unwrap();
    let alice_key = Keychain::new(Some(alice_paths.config_dir.clone()))
        .unwrap()
        .list()
        .unwrap()
        .into_iter()
        .find(|k| k.label.ends_with(": alice"))
        .unwrap();
    let hostile = "the tarball runs curl | sh\u{202e} <img src=x onerror=alert(1)>\u{1b}[31m";
    alice
        .flag(
            "npm:pad@1.1.0",
            Severity::Blocking,
            hostile,
            vec!["https://ci.example/log/7".into()],
            FlagKey::Maintainer(&alice_key.uri()),
            &opts,
            now(),
        )
        .unwrap();
    let stranger = dir.path().join("stranger.pem");
    BuilderKey::generate()
        .unwrap()
        .write_new(&stranger)
        .unwrap();
    alice
        .flag(
            "npm:pad@1.1.0",
            Severity::Blocking,
            "I rebuilt it and got another hash",
            vec![],
            FlagKey::Builder(&stranger),
            &opts,
            now(),
        )
        .unwrap();

    // The app syncs (the background sync's work) and shows FLAGGED.
    shared.workspace().sync().unwrap();
    let finals = app.ok("inbox", json!({ "filter": "final" }));
    let mine = finals["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["request"] == json!(pending))
        .unwrap()
        .clone();
    assert_eq!(
        mine["release_status"]["state"],
        json!("flagged"),
        "{mine:#}"
    );
    assert_eq!(
        mine["release_status"]["flagged_by"],
        json!([alice_key.key_id]),
        "only the maintainer's flag counts"
    );
    let review = app.ok("review", json!({ "request": pending }));
    assert_eq!(review["release_status"]["state"], json!("flagged"));
    let flags = review["release_flags"].as_array().unwrap();
    assert_eq!(flags.len(), 2, "{flags:#?}");
    let by_alice = flags
        .iter()
        .find(|f| f["key_id"] == json!(alice_key.key_id))
        .unwrap();
    assert_eq!(by_alice["counted"], json!(true));
    assert_eq!(by_alice["who"], json!("maintainer"));
    assert_eq!(by_alice["severity"], json!("blocking"));
    assert!(by_alice["why"].as_str().unwrap().starts_with("counted"));
    let reason = by_alice["reason"].as_str().unwrap();
    assert!(
        reason.contains("\\u{202e}") && !reason.contains('\u{202e}') && !reason.contains('\u{1b}'),
        "hidden characters are shown escaped: {reason}"
    );
    assert_eq!(by_alice["evidence"], json!(["https://ci.example/log/7"]));
    let by_stranger = flags
        .iter()
        .find(|f| f["key_id"] != json!(alice_key.key_id))
        .unwrap();
    assert_eq!(by_stranger["counted"], json!(false));
    assert_eq!(by_stranger["who"], json!("unknown key"));
    assert!(
        by_stranger["why"]
            .as_str()
            .unwrap()
            .contains("neither a maintainer nor a trusted builder"),
        "{by_stranger:#}"
    );

    // The notice: one, for the counted flag on a release I signed; once, across starts.
    let notices = notices_for(&shared, &mine_ids);
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0].title, "FLAGGED: npm:pad release 1.1.0");
    assert!(
        notices[0]
            .body
            .starts_with("A release you signed was flagged by maintainer"),
        "{}",
        notices[0].body
    );
    assert!(!notices[0].body.contains('\u{1b}'), "{}", notices[0].body);
    let store = dir.path().join("notified.json");
    let notified = Notified::load(Some(store.clone()));
    assert!(notified.first_time(&notices[0].id));
    assert!(!notified.first_time(&notices[0].id));
    assert!(!Notified::load(Some(store)).first_time(&notices[0].id));
    // Not mine: the same flag on a release I did not sign is not noticed.
    assert!(notices_for(&shared, &["0".repeat(64)]).is_empty());

    drop(app);
    demo::clean(&world.dir).unwrap();
}
