//! End-to-end: the real `chainlock-app` window signing with a Ledger, the real Bitcoin Cash
//! app 2.4.6 running in the Speculos emulator, and Settings > Keys adding that Ledger.
//!
//! The app starts (as `window.rs` starts it: its own Xvfb, a private session bus with a real
//! gnome-keyring, tauri-driver, a private `HOME`) with `CHAINLOCK_DEMO_LEDGER=1` and
//! `CHAINLOCK_LEDGER_TCP` pointing at the emulator through a [`Cable`] the test can unplug.
//! Its first start builds the demo world with the emulator's key as *you*. Then, in the
//! window: the pending 1.1.0 request is opened and signed with the Ledger, and
//! - the dialog's step-by-step list equals the screens the device shows (read from
//!   Speculos's screen events as the test presses its buttons through the REST API);
//! - rejected on the device: the dialog says so in plain words and offers to try again, and
//!   no signature reaches the coordination remote;
//! - the cable unplugged: "connect the Ledger, unlock it, open the Bitcoin Cash app", try
//!   again, nothing pushed;
//! - plugged in again, Sign waits for the device while the window keeps answering, the test
//!   approves on the device, and the signature is on the remote, valid as Alice's own
//!   workspace checks it, and the request finalizes (the local chain accepts the spend);
//! - the tampered request is rejected with the Ledger (a statement signed on the device),
//!   and Alice sees the rejection, valid;
//! - Settings > Keys renames the Ledger key (the label shown as text) and adds the Ledger
//!   again after its index line is removed: its key id shown, then a label, then stored.
//!
//! Screenshots go to `<target>/tmp/window/` (with `UPDATE_SCREENSHOTS=1`, also to
//! `docs/screenshots/`). Needs what `window.rs` needs and Speculos (`scripts/setup` installs
//! it); without Speculos the test says SKIPPED loudly and passes, except under `CI=true`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod harness;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use harness::desktop::{Desktop, DesktopOptions};
use harness::shots::Shots;
use harness::{start_xvfb, PrivateEnv, Session, Tools, ELEMENT_KEY};

use chainlock_cosign::{Paths, Workspace};
use chainlock_signer::keychain::Keychain;
use chainlock_signer::ledger::screens::{normalize_shown, squash};
use chainlock_signer::ledger::speculos::{self, Policy, Speculos};
use chainlock_signer::ledger::transport::{TcpTransport, DEFAULT_TCP_TIMEOUT};
use chainlock_signer::ledger::{DerivationPath, LedgerSigner};
use chainlock_signer::testing::SecretServiceSession;
use chainlock_signer::Signer;

const DEBIAN_PACKAGES: &str = "apt-get install -y xvfb webkit2gtk-driver dbus-x11 imagemagick \
                               libwebkit2gtk-4.1-dev libayatana-appindicator3-dev \
                               gnome-keyring python3-dbusmock qemu-user-static";

/// Where the app keeps its data under a private `HOME` (its identifier in tauri.conf.json).
const APP_DATA: &str = ".local/share/org.chainlock.cosigner";

#[test]
fn signing_with_the_ledger_from_the_window_against_speculos() {
    let Some(speculos_bin) = speculos::speculos_or_skip() else {
        return;
    };
    let tools = Tools::find();
    let emu = Speculos::start(&speculos_bin);
    // The key the device holds on the default ChainLock path, read here, outside the app.
    let device_key = {
        let tcp = TcpTransport::connect(&emu.apdu_addr(), DEFAULT_TCP_TIMEOUT).unwrap();
        let ledger = LedgerSigner::open(tcp, DerivationPath::chainlock_default(), false).unwrap();
        ledger.identity().key_id.clone()
    };
    let cable = Cable::plug(emu.apdu_addr());

    let keyring = SecretServiceSession::start();
    // The app (started by WebKitWebDriver, which tauri-driver starts) inherits the app
    // environment: its first start's demo takes *you* from the Ledger, over the cable.
    let desktop = Desktop::start(
        &tools,
        &keyring,
        DesktopOptions {
            prefix: "chainlock-window-ledger-",
            notifications: false,
            app_env: vec![
                (chainlock_app::DEMO_LEDGER_ENV, "1".to_owned()),
                (chainlock_signer::LEDGER_TCP_ENV, cable.addr().to_owned()),
            ],
        },
    );
    let (home, display, webdriver) = (&desktop.home, &desktop.display, &desktop.webdriver);
    let shots = Shots::new(tools.import.clone());
    let app = env!("CARGO_BIN_EXE_chainlock-app");
    let session = webdriver.new_session(app);
    let long = Duration::from_secs(120);

    // First start: the demo, with the emulator's key as yours, in the policy and the index.
    let count = session.wait_for_text("#needs-me-count", long);
    assert_eq!(count, "2 requests wait for your signature.");
    let demo = home.path().join(APP_DATA).join("demo");
    let remote = demo.join("remote/pad.git");
    let index = Keychain::new(Some(demo.join("you/config"))).unwrap();
    let mine = index.list().unwrap();
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0].key_id, device_key, "your key is the device's");
    assert_eq!(mine[0].uri(), "ledger://m/45'/236'/0'/0/0");
    let pending = session.attribute(&session.find(".item:not(.failing)"), "data-request");
    let sig_ref = format!("refs/chainlock/req/{pending}/sig/{device_key}");

    // The sign dialog: the Ledger chosen (your only key), its steps and the screens listed.
    session.click(&format!("[data-request='{pending}']"));
    assert!(session
        .wait_for_text("#verdict", long)
        .contains("ready to sign: every check passed"));
    session.click("#sign-open");
    session.wait_for_text("#sign-warnings", long);
    session.click("#ack-warnings");
    session.wait_until_enabled("#sign-confirm", long);
    let radio = session.find("#signer-ledger");
    assert_eq!(
        session.get(&format!("/element/{radio}/selected")),
        json!(true),
        "the Ledger is preselected: it is your only key"
    );
    let steps = session.wait_for_text("#ledger-steps", long);
    assert!(steps.contains("Open the Bitcoin Cash app"), "{steps}");
    let listed: Vec<String> = texts(&session, "#ledger-screens li .mono")
        .iter()
        .map(|t| squash(t))
        .collect();
    assert!(listed.len() >= 10, "{listed:?}");
    shots.take(display, "sign-ledger");

    // Rejected on the device: said in plain words, Try again offered, nothing pushed.
    let operator = emu.operate(Policy::Reject);
    session.click("#sign-confirm");
    let error = session.wait_for_text_starting(
        "#sign-error",
        "You rejected the signature on the Ledger.",
        long,
    );
    thread::sleep(Duration::from_millis(300));
    let refused = operator.finish();
    assert!(
        error.contains("Nothing was signed and nothing was sent."),
        "{error}"
    );
    assert_eq!(session.wait_for_text("#sign-confirm", long), "Try again");
    let shown = normalize_shown(&refused);
    assert_eq!(
        shown[..4],
        listed[..4],
        "the device's first screens are the dialog's: {refused:?}"
    );
    assert!(
        !refs(&remote).contains(&sig_ref),
        "a rejected signature was pushed"
    );
    shots.take(display, "sign-ledger-rejected");

    // Unplugged: what to do, Try again, nothing pushed.
    cable.unplug();
    session.click("#sign-confirm");
    let error =
        session.wait_for_text_starting("#sign-error", "ChainLock cannot reach the Ledger.", long);
    assert!(
        error.contains("Connect the Ledger, unlock it, open the Bitcoin Cash app"),
        "{error}"
    );
    assert_eq!(session.wait_for_text("#sign-confirm", long), "Try again");
    assert!(!refs(&remote).contains(&sig_ref));
    shots.take(display, "sign-ledger-unreachable");

    // Plugged in again: Sign waits on the device, the window keeps answering meanwhile.
    cable.plug_in();
    session.click("#sign-confirm");
    let waiting = session.wait_for_text("#ledger-waiting", long);
    assert!(waiting.starts_with("Waiting for the Ledger"), "{waiting}");
    wait_for_device_screen(&emu, "Reviewoutput#1", long);
    let asked = Instant::now();
    assert_eq!(
        session.wait_for_text("#sign-confirm", long),
        "Waiting for the device…"
    );
    assert_eq!(
        texts(&session, "#ledger-screens li .mono").len(),
        listed.len()
    );
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "the window took {:?} to answer while the device was signing",
        asked.elapsed()
    );
    shots.take(display, "sign-ledger-waiting");
    assert!(!refs(&remote).contains(&sig_ref), "signed before approval");

    // Approved on the device: every screen it showed is the dialog's, in order.
    let operator = emu.operate(Policy::Approve);
    let notice = session.wait_for_text_starting("#review-notice", "Signed.", long);
    thread::sleep(Duration::from_millis(300));
    let approved = operator.finish();
    assert_eq!(
        normalize_shown(&approved),
        listed,
        "the device showed {approved:#?}"
    );
    assert!(notice.contains("coordination remote"), "{notice}");
    assert!(
        refs(&remote).lines().any(|r| r == sig_ref),
        "{sig_ref} is not on the remote"
    );
    // Outside the app: Alice's workspace fetches the remote and verifies the signature.
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
        seen.signatures.iter().any(|s| s.key_id == device_key),
        "Alice does not see a valid signature by the Ledger"
    );
    assert_eq!(seen.signatures.len(), 2, "Bob's and the Ledger's");
    // Bob's and the Ledger's signatures spend the custody output on the local chain.
    session.click("#finalize");
    let notice = session.wait_for_text_starting("#review-notice", "Final: transaction", long);
    assert!(notice.contains("accepted"), "{notice}");

    // The tampered request, rejected with the Ledger: a statement signed on the device.
    session.click("#nav-inbox");
    let tampered = session.attribute(&session.find(".item.failing"), "data-request");
    session.click(&format!("[data-request='{tampered}']"));
    assert_eq!(session.wait_for_text("#digest-status", long), "MISMATCH");
    session.click("#reject-open");
    session.wait_until_enabled("#reject-reason", long);
    let reason = "the artifact is not the tagged source";
    session.type_into("#reject-reason", reason);
    session.wait_until_enabled("#reject-confirm", long);
    let operator = emu.operate(Policy::Approve);
    session.click("#reject-confirm");
    session.wait_for_text_starting("#review-notice", "Rejected.", long);
    thread::sleep(Duration::from_millis(300));
    let statement = normalize_shown(&operator.finish());
    assert_eq!(statement.first().map(String::as_str), Some("Signmessage"));
    alice.sync().unwrap();
    let seen = alice
        .review(&tampered, chainlock_cosign::workspace::now())
        .unwrap();
    assert!(
        seen.rejections
            .iter()
            .any(|r| r.public_key.key_id() == device_key && r.reason == reason),
        "Alice does not see a valid rejection by the Ledger"
    );

    // Settings > Keys: the Ledger key is listed as such, and renamed; labels are text.
    session.click("#nav-settings");
    let row = format!("#keys li[data-key='{device_key}']");
    assert_eq!(
        session.attribute(&session.find(&row), "data-kind"),
        "ledger"
    );
    assert_eq!(
        session.wait_for_text(&format!("{row} .label"), long),
        "chainlock demo: you (Ledger)"
    );
    session.click(&format!("{row} .rename-open"));
    let label = "<i>desk</i> ledger";
    session.type_into("#rename-input", label);
    session.click("#rename-save");
    wait_for_exact_text(&session, &format!("{row} .label"), label, long);
    assert_eq!(index.list().unwrap()[0].label, label);

    // Added again after its index line is removed: the key id shown, a label, stored.
    index.delete(&device_key).unwrap();
    session.click("#nav-inbox");
    session.click("#nav-settings");
    session.click("#ledger-read");
    wait_for_exact_text(&session, "#ledger-key-id", &device_key, long);
    session.type_into("#ledger-label", "desk ledger");
    session.wait_until_enabled("#ledger-add", long);
    shots.take(display, "settings-ledger");
    session.click("#ledger-add");
    wait_for_exact_text(&session, &format!("{row} .label"), "desk ledger", long);
    let stored = index.list().unwrap();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0].key_id, device_key);
    assert_eq!(stored[0].label, "desk ledger");
    assert_eq!(stored[0].uri(), "ledger://m/45'/236'/0'/0/0");
    shots.take(display, "settings-keys");

    session.delete();
    desktop.stop();
    drop(keyring);
    drop(cable);
    drop(emu);
}

#[test]
fn a_first_start_with_the_ledger_unreachable_says_what_to_do_and_creates_nothing() {
    let tools = Tools::find();
    let home = tempfile::Builder::new()
        .prefix("chainlock-window-ledger-")
        .tempdir()
        .expect("create a temporary HOME");
    let env = PrivateEnv::create(home.path());
    let (mut xvfb, display) = start_xvfb(&tools, &env);
    let nothing = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().to_string()
    };
    let out = env
        .command(Path::new(env!("CARGO_BIN_EXE_chainlock-app")))
        .env("DISPLAY", &display)
        .env("NO_AT_BRIDGE", "1")
        .env(chainlock_app::DEMO_LEDGER_ENV, "1")
        .env(chainlock_signer::LEDGER_TCP_ENV, &nothing)
        .output()
        .expect("run the app");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("could not open the co-signing workspace: no Ledger found: connect and unlock it, open the Bitcoin Cash app"),
        "{stderr}"
    );
    assert!(
        !home.path().join(APP_DATA).join("demo").exists(),
        "nothing of the demo is created"
    );
    xvfb.stop();
}

/// The text of every element at `selector`, in document order.
fn texts(session: &Session<'_>, selector: &str) -> Vec<String> {
    let script = "return [...document.querySelectorAll(arguments[0])].map((e) => e.textContent);";
    let value = session
        .post(
            "/execute/sync",
            &json!({ "script": script, "args": [selector] }),
        )
        .unwrap_or_else(|err| panic!("read {selector:?}: {err}"));
    value
        .as_array()
        .unwrap_or_else(|| panic!("{selector:?}: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Waits until the element at `selector` says exactly `expected`.
fn wait_for_exact_text(session: &Session<'_>, selector: &str, expected: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let found = session
            .post(
                "/element",
                &json!({"using": "css selector", "value": selector}),
            )
            .ok()
            .and_then(|v: Value| v[ELEMENT_KEY].as_str().map(str::to_owned));
        let text = found.map(|e| session.get(&format!("/element/{e}/text")));
        if text.as_ref().and_then(Value::as_str) == Some(expected) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{selector:?} says {text:?}, not {expected:?}, after {timeout:?}"
        );
        thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until the device shows `screen` (its text items joined, whitespace dropped).
fn wait_for_device_screen(emu: &Speculos, screen: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let shown = emu.screen();
        if squash(&shown.concat()) == screen {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the device shows {shown:?}, not {screen:?}, after {timeout:?}"
        );
        thread::sleep(Duration::from_millis(100));
    }
}

/// The refs of the bare repository `repo`, one a line.
fn refs(repo: &Path) -> String {
    let out = Command::new("git")
        .arg("--git-dir")
        .arg(repo)
        .args(["for-each-ref", "--format=%(refname)"])
        .output()
        .expect("run git");
    assert!(out.status.success(), "git for-each-ref failed");
    String::from_utf8(out.stdout).unwrap()
}

/// The USB cable between the app and the emulator: a relay on a fixed loopback port. Pulled
/// out, the port is closed, so the app's connection is refused exactly as when no device
/// answers; plugged in again, the same port relays to the emulator.
struct Cable {
    addr: String,
    plugged: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    relay: Option<thread::JoinHandle<()>>,
}

impl Cable {
    fn plug(target: String) -> Cable {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the cable's port");
        let addr = listener.local_addr().unwrap().to_string();
        let plugged = Arc::new(AtomicBool::new(true));
        let stop = Arc::new(AtomicBool::new(false));
        let relay = {
            let (addr, plugged, stop) = (addr.clone(), plugged.clone(), stop.clone());
            thread::spawn(move || relay(listener, &addr, &target, &plugged, &stop))
        };
        Cable {
            addr,
            plugged,
            stop,
            relay: Some(relay),
        }
    }

    fn addr(&self) -> &str {
        &self.addr
    }

    /// Pulls the cable out; returns once the port refuses connections.
    fn unplug(&self) {
        self.plugged.store(false, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(&self.addr).is_ok() {
            assert!(Instant::now() < deadline, "the cable's port stays open");
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Plugs the cable in again; returns once the port takes connections.
    fn plug_in(&self) {
        self.plugged.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(&self.addr).is_err() {
            assert!(Instant::now() < deadline, "the cable's port stays closed");
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Cable {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(relay) = self.relay.take() {
            let _ = relay.join();
        }
    }
}

/// Accepts on `addr` while plugged (closing the port while not) and relays each connection
/// to `target` in both directions.
fn relay(first: TcpListener, addr: &str, target: &str, plugged: &AtomicBool, stop: &AtomicBool) {
    let mut listener = Some(first);
    while !stop.load(Ordering::SeqCst) {
        match (plugged.load(Ordering::SeqCst), &listener) {
            (false, Some(_)) => listener = None,
            (true, None) => listener = TcpListener::bind(addr).ok(),
            _ => {}
        }
        let Some(open) = &listener else {
            thread::sleep(Duration::from_millis(20));
            continue;
        };
        open.set_nonblocking(true).unwrap();
        match open.accept() {
            Ok((app, _)) => {
                app.set_nonblocking(false).unwrap();
                let device = TcpStream::connect(target).expect("reach the emulator");
                pipe(app.try_clone().unwrap(), device.try_clone().unwrap());
                pipe(device, app);
            }
            Err(_) => thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Copies `from` to `to` on a thread until either side closes.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}
