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

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

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
    let bus = keyring
        .envs()
        .into_iter()
        .find(|(k, _)| *k == "DBUS_SESSION_BUS_ADDRESS")
        .map(|(_, v)| v.into_string().unwrap())
        .unwrap();
    let home = tempfile::Builder::new()
        .prefix("chainlock-window-")
        .tempdir()
        .expect("create a temporary HOME");
    let env = PrivateEnv::create(home.path());
    let shots = Shots::new(tools.import.clone());

    let (mut xvfb, display) = start_xvfb(&tools, &env);
    let mut notifyd = Guard::spawn(
        "dbusmock",
        env.command(Path::new("/usr/bin/python3"))
            .args(["-m", "dbusmock", "--session", "-t", "notification_daemon"])
            .env("DBUS_SESSION_BUS_ADDRESS", &bus)
            .stdout(Stdio::null()),
    );
    let notify_log = home.path().join("notify.log");
    let mut monitor = Guard::spawn(
        "dbus-monitor",
        env.command(&tools.dbus_monitor)
            .args(["--session", "interface='org.freedesktop.Notifications'"])
            .env("DBUS_SESSION_BUS_ADDRESS", &bus)
            .stdout(fs::File::create(&notify_log).unwrap()),
    );
    let (port, native_port) = free_ports();
    let mut driver = Guard::spawn(
        "tauri-driver",
        env.command(&tools.tauri_driver)
            .args(["--port", &port.to_string()])
            .args(["--native-port", &native_port.to_string()])
            .arg("--native-driver")
            .arg(&tools.webkit_driver)
            .env("DISPLAY", &display)
            .env("DBUS_SESSION_BUS_ADDRESS", &bus)
            // No accessibility bus: without one, GTK stalls looking for it.
            .env("NO_AT_BRIDGE", "1")
            // WebKitGTK's compositing mode renders nothing under Xvfb (no GPU).
            .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
            .stdout(Stdio::null()),
    );

    let webdriver = WebDriver { port };
    webdriver.wait_until_ready(&mut driver, Duration::from_secs(30));
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
    let page = shots.take(&display, "inbox");
    page.assert_pixel_near(page.width / 2, 4, NAVY, &shots.path("inbox"));

    // The honest request: the diff digest matches, the third builder disagrees.
    session.click(&format!("[data-request='{pending}']"));
    assert_eq!(session.wait_for_text("#digest-status", long), "MATCH");
    assert!(session
        .wait_for_text("#verdict", long)
        .contains("ready to sign: every check passed"));
    shots.take(&display, "review");
    session.click("#tab-builders");
    session.find("#builders tr[data-verdict='disagrees']");
    assert!(session
        .wait_for_text("#builders", long)
        .contains("1 disagrees"));
    shots.take(&display, "review-builders");
    session.click("#tab-transaction");
    assert_eq!(session.wait_for_text("#sighash", long).len(), 64);
    shots.take(&display, "review-transaction");
    session.click("#tab-diff");
    session.wait_for_text("#diff-rows .added", long);
    shots.take(&display, "review-diff");

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
    shots.take(&display, "sign-dialog");
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
    shots.take(&display, "review-tampered");
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
    shots.take(&display, "history");

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
    shots.take(&display, "settings");
    session.click("#autostart");
    let deadline = Instant::now() + Duration::from_secs(20);
    while entries().is_empty() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(200));
    }
    let desktop = entries();
    assert_eq!(desktop.len(), 1, "{desktop:?}");
    let entry = fs::read_to_string(&desktop[0]).unwrap();
    assert!(entry.contains(app), "{entry}");
    session.click("#autostart");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !entries().is_empty() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(200));
    }
    assert!(entries().is_empty(), "autostart still on: {:?}", entries());

    // A second launch with a review link focuses the running app on that review.
    let link = format!("chainlock://review/{pending}");
    let second = env
        .command(Path::new(app))
        .arg(&link)
        .env("DISPLAY", &display)
        .env("DBUS_SESSION_BUS_ADDRESS", &bus)
        .env("NO_AT_BRIDGE", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("launch a second instance");
    assert!(second.success(), "the second launch failed: {second}");
    assert_eq!(session.wait_for_text("#digest-status", long), "MATCH");
    let header = session.wait_for_text(".header", long);
    assert!(header.contains(&pending[..16]), "{header}");

    // The notification for the new request reached the session bus.
    let log = fs::read_to_string(&notify_log).unwrap_or_default();
    assert!(
        log.contains("Signature needed: npm:pad release 1.1.0"),
        "no notification on the bus:\n{log}"
    );

    session.delete();
    let groups = [driver.pgid(), monitor.pgid(), notifyd.pgid(), xvfb.pgid()];
    driver.stop();
    monitor.stop();
    notifyd.stop();
    xvfb.stop();
    for pgid in groups {
        let left = live_processes_in_group(pgid);
        assert!(
            left.is_empty(),
            "processes left running in group {pgid}: {left:?}"
        );
    }
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

/// Screenshots of the window, checked not to be blank.
struct Shots {
    import: PathBuf,
    dir: PathBuf,
    docs: Option<PathBuf>,
}

impl Shots {
    fn new(import: PathBuf) -> Shots {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("window");
        fs::create_dir_all(&dir).expect("create the screenshot directory");
        let docs = std::env::var_os("UPDATE_SCREENSHOTS")
            .map(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots"));
        if let Some(docs) = &docs {
            fs::create_dir_all(docs).expect("create docs/screenshots");
        }
        Shots { import, dir, docs }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.png"))
    }

    /// Takes an X screenshot of the window (the 1120x760 window sits at the screen's top left
    /// corner), saves it as `<name>.png` and checks it is not blank.
    ///
    /// Not WebDriver's screenshot: under Xvfb without compositing, WebKitWebDriver's
    /// screenshot waits for a presentation update that stops coming a few seconds after the
    /// page is idle, and hangs; the X server's framebuffer always has the painted window.
    fn take(&self, display: &str, name: &str) -> Image {
        // Let the page paint what the last command changed.
        thread::sleep(Duration::from_millis(600));
        let path = self.path(name);
        let status = Command::new(&self.import)
            .args([
                "-display",
                display,
                "-window",
                "root",
                "-crop",
                "1120x760+0+0",
                "+repage",
            ])
            .arg(&path)
            .status()
            .expect("run ImageMagick's import");
        assert!(status.success(), "import -window root failed: {status}");
        let png = fs::read(&path).expect("read the screenshot");
        if let Some(docs) = &self.docs {
            fs::write(docs.join(format!("{name}.png")), &png).expect("save the screenshot");
        }
        let image = Image::decode(&png, &path);
        image.assert_not_blank(&path);
        eprintln!("screenshot: {}", path.display());
        image
    }
}

/// The external programs the test drives, found on `PATH`.
struct Tools {
    xvfb: PathBuf,
    dbus_monitor: PathBuf,
    tauri_driver: PathBuf,
    webkit_driver: PathBuf,
    import: PathBuf,
}

impl Tools {
    /// Finds every tool, or fails naming each missing one with how to install it.
    fn find() -> Tools {
        let mut missing = Vec::new();
        let mut find = |name: &str, install: &str| match which(name) {
            Some(path) => path,
            None => {
                missing.push(format!("  {name}: {install}"));
                PathBuf::new()
            }
        };
        let tools = Tools {
            xvfb: find("Xvfb", "apt-get install -y xvfb"),
            dbus_monitor: find("dbus-monitor", "apt-get install -y dbus-x11"),
            tauri_driver: find("tauri-driver", "cargo install --locked tauri-driver@2.1.0"),
            webkit_driver: find("WebKitWebDriver", "apt-get install -y webkit2gtk-driver"),
            import: find("import", "apt-get install -y imagemagick"),
        };
        assert!(
            missing.is_empty(),
            "the window test needs tools that are not installed:\n{}\n\
             Run scripts/setup to install all of them (Debian: {DEBIAN_PACKAGES}).",
            missing.join("\n")
        );
        tools
    }
}

/// `name` on `PATH`, or in cargo's bin directory (where `cargo install` puts it).
fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
        .map(|dir| dir.join("bin"));
    std::env::split_paths(&path)
        .chain(cargo_bin)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            candidate
                .metadata()
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
}

/// A private home: the app, WebKit and D-Bus write only inside the temporary directory.
struct PrivateEnv {
    home: PathBuf,
    runtime_dir: PathBuf,
}

impl PrivateEnv {
    fn create(home: &Path) -> PrivateEnv {
        let runtime_dir = home.join("runtime");
        fs::create_dir(&runtime_dir).expect("create XDG_RUNTIME_DIR");
        // The XDG spec requires the runtime directory to be private to its owner.
        fs::set_permissions(&runtime_dir, fs::Permissions::from_mode(0o700))
            .expect("make XDG_RUNTIME_DIR private");
        PrivateEnv {
            home: home.to_path_buf(),
            runtime_dir,
        }
    }

    /// A command for `program` that sees only the private home, in its own process group.
    fn command(&self, program: &Path) -> Command {
        let mut command = Command::new(program);
        command
            .env("HOME", &self.home)
            .env("XDG_RUNTIME_DIR", &self.runtime_dir)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("XDG_DATA_HOME", self.home.join(".local/share"))
            .env("XDG_CACHE_HOME", self.home.join(".cache"))
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .stdin(Stdio::null())
            // Its own group, so that the guard also stops whatever the program starts
            // (WebKitWebDriver, the app, bus-activated services).
            .process_group(0);
        command
    }
}

/// Starts Xvfb on a display it picks itself (`-displayfd`), and returns that display.
fn start_xvfb(tools: &Tools, env: &PrivateEnv) -> (Guard, String) {
    let mut xvfb = Guard::spawn(
        "Xvfb",
        env.command(&tools.xvfb)
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped()),
    );
    let number = xvfb.read_first_line(Duration::from_secs(20));
    let number: u32 = number
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("Xvfb announced {number:?} instead of a display number"));
    (xvfb, format!(":{number}"))
}

/// Two distinct ports that were free a moment ago: both are held until both are chosen,
/// so the OS cannot hand out the same one twice; the drivers bind them right after.
fn free_ports() -> (u16, u16) {
    let bind = || TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    let (first, second) = (bind(), bind());
    let port = |listener: &TcpListener| listener.local_addr().expect("read the port").port();
    (port(&first), port(&second))
}

/// A started process, leader of its own process group; stopping it stops the whole group.
struct Guard {
    name: &'static str,
    child: Option<Child>,
    pgid: u32,
    stderr_log: PathBuf,
}

impl Guard {
    fn spawn(name: &'static str, command: &mut Command) -> Guard {
        let stderr_log = std::env::temp_dir().join(format!(
            "chainlock-window-{}-{}.log",
            name,
            std::process::id()
        ));
        let log = fs::File::create(&stderr_log).expect("create a log file");
        let child = command
            .stderr(log)
            .spawn()
            .unwrap_or_else(|err| panic!("could not start {name}: {err}"));
        let pgid = child.id();
        Guard {
            name,
            child: Some(child),
            pgid,
            stderr_log,
        }
    }

    fn pgid(&self) -> u32 {
        self.pgid
    }

    /// The process's log so far, for failure messages.
    fn log(&self) -> String {
        fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }

    /// Fails, with the process's log, when it has already exited.
    fn assert_running(&mut self) {
        let child = self.child.as_mut().expect("process already stopped");
        if let Some(status) = child.try_wait().expect("poll the process") {
            panic!(
                "{} exited early ({status}); its log:\n{}",
                self.name,
                self.log()
            );
        }
    }

    /// The first line the process writes on its standard output, within `timeout`.
    fn read_first_line(&mut self, timeout: Duration) -> String {
        let stdout = self
            .child
            .as_mut()
            .and_then(|child| child.stdout.take())
            .expect("stdout is piped");
        let (sender, receiver) = mpsc::channel();
        // A thread, because a blocking read cannot time out; it ends when the process
        // writes its line or closes its output (also when the guard kills it).
        thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = sender.send(line);
        });
        match receiver.recv_timeout(timeout) {
            Ok(line) if !line.is_empty() => line,
            _ => panic!(
                "{} did not announce itself within {timeout:?}; its log:\n{}",
                self.name,
                self.log()
            ),
        }
    }

    /// Asks the group to terminate, then kills what is left, and reaps the leader.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        signal_group(self.pgid, "TERM");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && !live_processes_in_group(self.pgid).is_empty() {
            thread::sleep(Duration::from_millis(50));
        }
        if !live_processes_in_group(self.pgid).is_empty() {
            signal_group(self.pgid, "KILL");
        }
        let _ = child.kill();
        let _ = child.wait();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && !live_processes_in_group(self.pgid).is_empty() {
            thread::sleep(Duration::from_millis(50));
        }
        let _ = fs::remove_file(&self.stderr_log);
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if thread::panicking() {
            // The log of each process explains most failures (the app's own output
            // reaches tauri-driver's log through WebKitWebDriver).
            eprintln!("--- log of {} ---\n{}", self.name, self.log());
        }
        self.stop();
    }
}

/// Sends `signal` to every process of group `pgid` (std has no safe `killpg`).
fn signal_group(pgid: u32, signal: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg("--")
        .arg(format!("-{pgid}"))
        .stderr(Stdio::null())
        .status();
}

/// Processes of group `pgid` that are still running (zombies excluded), from `/proc`.
fn live_processes_in_group(pgid: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            // /proc/PID/stat: "pid (comm) state ppid pgrp ..."; comm may contain spaces
            // and parentheses, so the fields are read after the last ')'.
            let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            let Some((_, rest)) = stat.rsplit_once(')') else {
                return false;
            };
            let mut fields = rest.split_whitespace();
            let state = fields.next();
            let group = fields.nth(1).and_then(|field| field.parse::<u32>().ok());
            state != Some("Z") && state != Some("X") && group == Some(pgid)
        })
        .collect()
}

/// A minimal WebDriver client: JSON over HTTP/1.1 on a fresh connection per request.
struct WebDriver {
    port: u16,
}

/// The W3C key under which an element reference is returned.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

impl WebDriver {
    fn wait_until_ready(&self, driver: &mut Guard, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            driver.assert_running();
            if let Ok((200, _)) = self.request("GET", "/status", None) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "tauri-driver did not answer on port {} within {timeout:?}; its log:\n{}",
                self.port,
                driver.log()
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    fn new_session(&self, application: &str) -> Session<'_> {
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": { "tauri:options": { "application": application } }
            }
        });
        let value = self.call("POST", "/session", Some(&capabilities));
        let id = value["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("POST /session answered without a sessionId: {value}"))
            .to_owned();
        Session {
            driver: self,
            id,
            deleted: false,
        }
    }

    /// A WebDriver command that must succeed; returns its `value`.
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let (status, mut reply) = self
            .request(method, path, body)
            .unwrap_or_else(|err| panic!("{method} {path}: {err}"));
        assert_eq!(status, 200, "{method} {path} answered {status}: {reply}");
        reply["value"].take()
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), String> {
        // tauri-driver proxies over pooled keep-alive connections to WebKitWebDriver; when
        // it picks one the native driver has closed, it drops our connection without a
        // byte of reply (the request never reached the native driver). That, and only
        // that, is retried.
        let mut attempts = 0;
        let raw = loop {
            attempts += 1;
            let raw = self.exchange(method, path, body)?;
            if !raw.is_empty() || attempts == 3 {
                break raw;
            }
            thread::sleep(Duration::from_millis(200));
        };
        let (status, body) = parse_response(&raw)?;
        let value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).map_err(|err| format!("reply is not JSON: {err}"))?
        };
        Ok((status, value))
    }

    /// Sends one request on a fresh connection and returns the raw reply.
    fn exchange(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Vec<u8>, String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))
            .map_err(|err| format!("connect: {err}"))?;
        // Creating a session starts the app, which may take a while on a busy machine.
        stream
            .set_read_timeout(Some(Duration::from_secs(120)))
            .map_err(|err| err.to_string())?;
        let body = body.map(Value::to_string).unwrap_or_default();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\
             Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
            self.port,
            body.len()
        );
        stream
            .write_all(head.as_bytes())
            .map_err(|err| format!("send: {err}"))?;
        stream
            .write_all(body.as_bytes())
            .map_err(|err| format!("send: {err}"))?;
        let mut raw = Vec::new();
        stream
            .read_to_end(&mut raw)
            .map_err(|err| format!("receive: {err}"))?;
        Ok(raw)
    }
}

/// Splits an HTTP/1.1 response into status and body, undoing chunked encoding.
fn parse_response(raw: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let end = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or("reply has no end of headers")?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| "reply headers are not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("bad status line in {head:?}"))?;
    let chunked = lines.any(|line| {
        let lower = line.to_ascii_lowercase();
        lower.starts_with("transfer-encoding:") && lower.contains("chunked")
    });
    let body = &raw[end + 4..];
    if !chunked {
        return Ok((status, body.to_vec()));
    }
    let mut out = Vec::new();
    let mut rest = body;
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("chunk size line without CRLF")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).map_err(|_| "bad chunk size")?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| "bad chunk size")?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok((status, out));
        }
        let chunk = rest.get(..size).ok_or("chunk longer than the reply")?;
        out.extend_from_slice(chunk);
        rest = rest.get(size + 2..).ok_or("chunk without trailing CRLF")?;
    }
}

/// An open WebDriver session; dropping it closes the app.
struct Session<'a> {
    driver: &'a WebDriver,
    id: String,
    deleted: bool,
}

impl Session<'_> {
    fn get(&self, path: &str) -> Value {
        self.driver
            .call("GET", &format!("/session/{}{path}", self.id), None)
    }

    fn post(&self, path: &str, body: &Value) -> Result<Value, String> {
        let path = format!("/session/{}{path}", self.id);
        match self.driver.request("POST", &path, Some(body))? {
            (200, mut reply) => Ok(reply["value"].take()),
            (status, reply) => Err(format!("POST {path} answered {status}: {reply}")),
        }
    }

    /// The rendered text of the element at `selector`, once it exists and is not empty.
    fn wait_for_text(&self, selector: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        let mut last = String::from("never queried");
        while Instant::now() < deadline {
            match self.post(
                "/element",
                &json!({"using": "css selector", "value": selector}),
            ) {
                Ok(found) => match found[ELEMENT_KEY].as_str() {
                    Some(element) => {
                        let text = self.get(&format!("/element/{element}/text"));
                        match text.as_str() {
                            Some(text) if !text.is_empty() => return text.to_owned(),
                            _ => last = format!("text was {text}"),
                        }
                    }
                    None => last = format!("find element answered {found}"),
                },
                Err(err) => last = err,
            }
            thread::sleep(Duration::from_millis(200));
        }
        panic!("no text at {selector:?} within {timeout:?}; last answer: {last}");
    }

    /// The text of the element at `selector` once it starts with `prefix`.
    fn wait_for_text_starting(&self, selector: &str, prefix: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.wait_for_text(selector, timeout);
            if text.starts_with(prefix) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{selector:?} says {text:?}, not {prefix:?}..., after {timeout:?}"
            );
            thread::sleep(Duration::from_millis(200));
        }
    }

    /// The element at `selector`, once it exists (within 30 s).
    fn find(&self, selector: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let found = self.post(
                "/element",
                &json!({"using": "css selector", "value": selector}),
            );
            if let Ok(found) = &found {
                if let Some(element) = found[ELEMENT_KEY].as_str() {
                    return element.to_owned();
                }
            }
            assert!(
                Instant::now() < deadline,
                "no element at {selector:?}; last answer: {found:?}"
            );
            thread::sleep(Duration::from_millis(200));
        }
    }

    /// Clicks the element at `selector`.
    fn click(&self, selector: &str) {
        let element = self.find(selector);
        self.post(&format!("/element/{element}/click"), &json!({}))
            .unwrap_or_else(|err| panic!("click {selector:?}: {err}"));
    }

    /// Types `text` into the element at `selector`.
    fn type_into(&self, selector: &str, text: &str) {
        let element = self.find(selector);
        self.post(
            &format!("/element/{element}/value"),
            &json!({ "text": text }),
        )
        .unwrap_or_else(|err| panic!("type into {selector:?}: {err}"));
    }

    /// An attribute of `element` ("" when absent).
    fn attribute(&self, element: &str, name: &str) -> String {
        self.get(&format!("/element/{element}/attribute/{name}"))
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Whether the element at `selector` is enabled.
    fn enabled(&self, selector: &str) -> bool {
        let element = self.find(selector);
        self.get(&format!("/element/{element}/enabled")) == json!(true)
    }

    /// Waits until the element at `selector` is enabled.
    fn wait_until_enabled(&self, selector: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.enabled(selector) {
            assert!(
                Instant::now() < deadline,
                "{selector:?} stayed disabled for {timeout:?}"
            );
            thread::sleep(Duration::from_millis(200));
        }
    }

    fn delete(mut self) {
        self.deleted = true;
        self.driver
            .call("DELETE", &format!("/session/{}", self.id), None);
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        if !self.deleted {
            let _ = self
                .driver
                .request("DELETE", &format!("/session/{}", self.id), None);
        }
    }
}

/// A decoded screenshot as 8-bit RGB.
struct Image {
    width: u32,
    height: u32,
    rgb: Vec<[u8; 3]>,
}

impl Image {
    fn decode(png_bytes: &[u8], path: &Path) -> Image {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        decoder.set_transformations(png::Transformations::normalize_to_color8());
        let mut reader = decoder
            .read_info()
            .unwrap_or_else(|err| panic!("{}: not a PNG: {err}", path.display()));
        let mut buffer = vec![
            0;
            reader
                .output_buffer_size()
                .expect("image size fits in memory")
        ];
        let frame = reader
            .next_frame(&mut buffer)
            .unwrap_or_else(|err| panic!("{}: bad PNG data: {err}", path.display()));
        let pixels = &buffer[..frame.buffer_size()];
        let rgb = match frame.color_type {
            png::ColorType::Rgb => pixels.chunks_exact(3).map(|p| [p[0], p[1], p[2]]).collect(),
            png::ColorType::Rgba => pixels.chunks_exact(4).map(|p| [p[0], p[1], p[2]]).collect(),
            png::ColorType::Grayscale => pixels.iter().map(|&g| [g, g, g]).collect(),
            png::ColorType::GrayscaleAlpha => {
                pixels.chunks_exact(2).map(|p| [p[0], p[0], p[0]]).collect()
            }
            other => panic!("{}: unexpected PNG colour type {other:?}", path.display()),
        };
        Image {
            width: frame.width,
            height: frame.height,
            rgb,
        }
    }

    /// A blank or single-colour window has (almost) no variance and few colours.
    fn assert_not_blank(&self, path: &Path) {
        assert!(
            self.width >= 320 && self.height >= 240,
            "{}: tiny image",
            path.display()
        );
        let count = self.rgb.len() as f64;
        let luma: Vec<f64> = self
            .rgb
            .iter()
            .map(|p| 0.2126 * f64::from(p[0]) + 0.7152 * f64::from(p[1]) + 0.0722 * f64::from(p[2]))
            .collect();
        let mean = luma.iter().sum::<f64>() / count;
        let deviation = (luma.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / count).sqrt();
        let mut colours: Vec<[u8; 3]> = self.rgb.clone();
        colours.sort_unstable();
        colours.dedup();
        assert!(
            deviation > 20.0 && colours.len() > 16,
            "{} looks blank: luminance deviation {deviation:.1}, {} colours",
            path.display(),
            colours.len()
        );
    }

    fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        self.rgb[(y * self.width + x) as usize]
    }

    fn assert_pixel_near(&self, x: u32, y: u32, expected: [u8; 3], path: &Path) {
        let actual = self.pixel(x, y);
        assert!(
            near(actual, expected),
            "{}: pixel ({x},{y}) is {actual:?}, expected about {expected:?}",
            path.display()
        );
    }
}

fn near(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(&x, y)| x.abs_diff(y) <= 6)
}
