//! End-to-end: the real `chainlock-app` binary in a real X server, driven over WebDriver,
//! through the whole co-signing loop of the demo world.
//!
//! The test starts its own Xvfb (on a display Xvfb picks itself), a private session bus with
//! a real, unlocked gnome-keyring (`SecretServiceSession`), a mock notification daemon
//! (python3-dbusmock) watched by `dbus-monitor`, and `tauri-driver` (which starts Debian's
//! `WebKitWebDriver`, which starts the app), all in a private `HOME`. The app, on its first
//! start, creates the demo world in its data directory; the test then walks the inbox, the
//! review (digest match, the disagreeing builder), signs with the keychain key, checks the
//! signature on the coordination remote from outside the app, checks that the tampered
//! request cannot be signed, rejects it, opens the history, follows a
//! `chainlock://review/<id>` link given to a second launch, and checks the notification on
//! the bus. Screenshots of each screen go to `<target>/tmp/window/` (and, with
//! `UPDATE_SCREENSHOTS=1`, to `docs/screenshots/` for the README).
//!
//! Every process it starts runs in a process group of its own and is stopped by a guard,
//! also when an assertion fails. Missing tools make the test fail with the command that
//! installs them.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod harness;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use harness::desktop::{Desktop, DesktopOptions};
use harness::shots::Shots;
use harness::Tools;

use chainlock_cosign::{Paths, Workspace};
use chainlock_signer::keychain::Keychain;
use chainlock_signer::testing::SecretServiceSession;

/// The navy of the top bar (#1f2a44), the page's most distinctive colour.
const NAVY: [u8; 3] = [0x1f, 0x2a, 0x44];

const DEBIAN_PACKAGES: &str = "apt-get install -y xvfb webkit2gtk-driver dbus-x11 imagemagick \
                               libwebkit2gtk-4.1-dev libayatana-appindicator3-dev \
                               gnome-keyring python3-dbusmock";

/// Where the app keeps its data under a private `HOME` (its identifier in tauri.conf.json).
const APP_DATA: &str = ".local/share/org.chainlock.cosigner";

#[test]
fn the_co_signing_loop_end_to_end_in_the_real_window() {
    let tools = Tools::find();
    let keyring = SecretServiceSession::start();
    let desktop = Desktop::start(
        &tools,
        &keyring,
        DesktopOptions {
            prefix: "chainlock-window-",
            notifications: true,
            app_env: vec![],
        },
    );
    let (home, display, webdriver) = (&desktop.home, &desktop.display, &desktop.webdriver);
    let shots = Shots::new(tools.import.clone());
    let app = env!("CARGO_BIN_EXE_chainlock-app");
    let session = webdriver.new_session(app);
    let long = Duration::from_secs(90);

    // First start: the demo world is created, the inbox lists both 1.1.0 requests.
    let count = session.wait_for_text("#needs-me-count", long);
    assert_eq!(count, "2 requests wait for your signature.");
    let banner = session.wait_for_text("#demo-banner", Duration::from_secs(5));
    assert!(banner.starts_with("Demo workspace."), "{banner}");
    let tampered = session.attribute(&session.find(".item.failing"), "data-request");
    let pending = session.attribute(&session.find(".item:not(.failing)"), "data-request");
    assert_ne!(tampered, pending);
    let demo = home.path().join(APP_DATA).join("demo");
    let remote = demo.join("remote/pad.git");
    let your_key = Keychain::new(Some(demo.join("you/config")))
        .unwrap()
        .list()
        .unwrap()
        .remove(0)
        .key_id;
    let page = shots.take(display, "inbox");
    page.assert_pixel_near(page.width / 2, 4, NAVY, &shots.path("inbox"));

    // The honest request: the diff digest matches, the third builder disagrees.
    session.click(&format!("[data-request='{pending}']"));
    assert_eq!(session.wait_for_text("#digest-status", long), "MATCH");
    assert!(session
        .wait_for_text("#verdict", long)
        .contains("ready to sign: every check passed"));
    shots.take(display, "review");
    session.click("#tab-builders");
    session.find("#builders tr[data-verdict='disagrees']");
    assert!(session
        .wait_for_text("#builders", long)
        .contains("1 disagrees"));
    shots.take(display, "review-builders");
    session.click("#tab-transaction");
    assert_eq!(session.wait_for_text("#sighash", long).len(), 64);
    shots.take(display, "review-transaction");
    session.click("#tab-diff");
    session.wait_for_text("#diff-rows .added", long);
    shots.take(display, "review-diff");

    // Sign with the keychain key: only its id crosses the IPC.
    assert!(session.enabled("#sign-open"));
    session.click("#sign-open");
    // The third builder disagrees: a warning that must be acknowledged before signing.
    let warnings = session.wait_for_text("#sign-warnings", long);
    assert!(warnings.contains("builder"), "{warnings}");
    thread::sleep(Duration::from_millis(500));
    assert!(
        !session.enabled("#sign-confirm"),
        "signing before the warnings are acknowledged"
    );
    session.click("#ack-warnings");
    session.wait_until_enabled("#sign-confirm", long);
    shots.take(display, "sign-dialog");
    session.click("#sign-confirm");
    assert!(session
        .wait_for_text("#review-notice", long)
        .starts_with("Signed."));
    let sig_ref = format!("refs/chainlock/req/{pending}/sig/{your_key}");
    let refs = git(&remote, &["for-each-ref", "--format=%(refname)"]);
    assert!(
        refs.lines().any(|r| r == sig_ref),
        "{sig_ref} not in:\n{refs}"
    );
    // Outside the app: Alice's own workspace fetches the remote and verifies the signature.
    let alice = Workspace::open(Paths {
        config_dir: demo.join("alice/config"),
        data_dir: demo.join("alice/data"),
    })
    .unwrap();
    alice.sync().unwrap();
    let seen = alice
        .review(&pending, chainlock_cosign::workspace::now())
        .unwrap();
    assert!(
        seen.signatures.iter().any(|s| s.key_id == your_key),
        "Alice does not see a valid signature by {your_key}"
    );
    assert_eq!(seen.signatures.len(), 2, "Bob's and yours");
    // The change address on the Transaction tab is the one a Ledger shows for output #2.
    let rtx =
        chainlock_cosign::objects::request_record_tx(&alice.request(&pending).unwrap()).unwrap();
    let screens = chainlock_signer::ledger::screens::record_tx(
        &rtx,
        &chainlock_signer::ledger::DerivationPath::chainlock_default(),
    );
    let device = screens
        .iter()
        .filter_map(|s| s.text.strip_prefix("Address "))
        .nth(1)
        .expect("the device shows the change output's address")
        .to_owned();
    session.click("#tab-transaction");
    assert_eq!(session.wait_for_text("#change-address", long), device);
    // With m signatures the app offers to finalize; the record transaction goes out.
    session.click("#finalize");
    let notice = session.wait_for_text_starting("#review-notice", "Final: transaction", long);
    assert!(notice.contains("accepted"), "{notice}");
    let refs = git(&remote, &["for-each-ref", "--format=%(refname)"]);
    assert!(
        refs.contains(&format!("refs/chainlock/req/{pending}/final")),
        "no final on the remote:\n{refs}"
    );

    // The tampered request: failing checks first, in red, and no way to sign it.
    session.click("#nav-inbox");
    session.click(&format!("[data-request='{tampered}']"));
    assert_eq!(session.wait_for_text("#digest-status", long), "MISMATCH");
    let first = session.find("#checks li");
    assert!(session.attribute(&first, "class").contains("failed"));
    assert!(
        !session.enabled("#sign-open"),
        "the tampered request's sign button is enabled"
    );
    shots.take(display, "review-tampered");
    session.click("#reject-open");
    session.wait_until_enabled("#reject-reason", long);
    let reason = "the artifact is not the tagged source";
    session.type_into("#reject-reason", reason);
    session.wait_until_enabled("#reject-confirm", long);
    session.click("#reject-confirm");
    assert!(session
        .wait_for_text("#review-notice", long)
        .starts_with("Rejected."));
    alice.sync().unwrap();
    let seen = alice
        .review(&tampered, chainlock_cosign::workspace::now())
        .unwrap();
    assert!(
        seen.rejections
            .iter()
            .any(|r| r.public_key.key_id() == your_key && r.reason == reason),
        "Alice does not see a valid rejection by {your_key}"
    );

    // History: both decisions, the hash chain intact.
    session.click("#nav-history");
    let status = session.wait_for_text("#chain-status", long);
    assert!(
        status.starts_with("Audit log intact: 2 entries"),
        "{status}"
    );
    shots.take(display, "history");

    // Settings: starting at login is off until the user turns it on.
    let autostart = home.path().join(".config/autostart");
    let entries = || {
        fs::read_dir(&autostart)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    session.click("#nav-settings");
    session.find("#autostart");
    assert!(
        entries().is_empty(),
        "autostart on before the user asked: {:?}",
        entries()
    );
    shots.take(display, "settings");
    session.click("#autostart");
    let deadline = Instant::now() + Duration::from_secs(20);
    while entries().is_empty() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(200));
    }
    let autostart_entries = entries();
    assert_eq!(autostart_entries.len(), 1, "{autostart_entries:?}");
    let entry = fs::read_to_string(&autostart_entries[0]).unwrap();
    assert!(entry.contains(app), "{entry}");
    session.click("#autostart");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !entries().is_empty() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(200));
    }
    assert!(entries().is_empty(), "autostart still on: {:?}", entries());

    // A second launch with a review link focuses the running app on that review.
    let link = format!("chainlock://review/{pending}");
    let second = desktop
        .launch(app)
        .arg(&link)
        .status()
        .expect("launch a second instance");
    assert!(second.success(), "the second launch failed: {second}");
    assert_eq!(session.wait_for_text("#digest-status", long), "MATCH");
    let header = session.wait_for_text(".header", long);
    assert!(header.contains(&pending[..16]), "{header}");

    // The notification for the new request reached the session bus.
    let log = desktop.notifications();
    assert!(
        log.contains("Signature needed: npm:pad release 1.1.0"),
        "no notification on the bus:\n{log}"
    );

    session.delete();
    desktop.stop();
    drop(keyring);
}

/// `git --git-dir <repo> <args>`'s output.
fn git(repo: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("--git-dir")
        .arg(repo)
        .args(args)
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?} failed");
    String::from_utf8(out.stdout).unwrap()
}
