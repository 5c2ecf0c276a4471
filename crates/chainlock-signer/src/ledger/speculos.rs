//! The real Ledger "Bitcoin Cash" app in the Speculos emulator, for tests (feature
//! `test-support`).
//!
//! [`Speculos::start`] runs `speculos` (PyPI `speculos==0.27.1`, installed by
//! `scripts/setup` in a virtual environment) on the app ELF built from Ledger's sources
//! (`shared/vectors/ledger/bitcoin_cash_nanosp.elf`), headless, on free loopback ports, in its
//! own process group so that stopping it (or "unplugging" it mid-exchange) ends the emulator
//! and its qemu child together. The screens are read and the buttons pressed through
//! Speculos's REST API (`GET /events?currentscreenonly=true`, `POST /button/{right,both}`);
//! an [`Operator`] thread plays the user while the host waits for the device. [`Recorder`]
//! wraps a transport and keeps every exchange, for transcripts replayed without the emulator.
//!
//! Never used by the library itself; panics here are test failures by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::transport::{Exchange, Reply, Transport};
use crate::Result;

/// The Speculos release the tests and `scripts/setup` pin.
pub const SPECULOS_VERSION: &str = "0.27.1";
/// Overrides the `speculos` executable.
pub const SPECULOS_ENV: &str = "CHAINLOCK_SPECULOS";
/// Overrides the app ELF.
pub const APP_ELF_ENV: &str = "CHAINLOCK_LEDGER_APP_ELF";
/// The mnemonic Speculos derives keys from when `--seed` is not given (its `DEFAULT_SEED`).
pub const DEFAULT_MNEMONIC: &str = "glory promote mansion idle axis finger extra february uncover one trip resource lawn turtle enact monster seven myth punch hobby comfort wild raise skin";
/// What `scripts/setup` prints and the tests say when Speculos is missing.
pub const INSTALL_HINT: &str = "run scripts/setup (it installs speculos==0.27.1 in ~/.cache/chainlock/speculos-0.27.1 and Debian's qemu-user-static)";

/// The idle screen of the app.
const IDLE: &str = "Applicationisready";

/// The `speculos` executable: `$CHAINLOCK_SPECULOS`, else the virtual environment
/// `scripts/setup` makes, `${XDG_CACHE_HOME:-~/.cache}/chainlock/speculos-0.27.1`; `None` when
/// neither exists.
pub fn speculos_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(SPECULOS_ENV).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    let bin = cache
        .join("chainlock")
        .join(format!("speculos-{SPECULOS_VERSION}"))
        .join("bin/speculos");
    bin.is_file().then_some(bin)
}

/// The `speculos` executable for a test, or `None` after a loud message saying the test is
/// skipped because Speculos is not installed. Under CI (`CI=true`, where `scripts/setup` has
/// installed it) a missing Speculos fails the test instead.
pub fn speculos_or_skip() -> Option<PathBuf> {
    let found = speculos_binary();
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "Speculos is not installed on this CI machine: {INSTALL_HINT}"
        );
        eprintln!(
            "\n\n!!!!! SKIPPED: the tests against the real Ledger app need Speculos, which is not installed: {INSTALL_HINT} !!!!!\n\n"
        );
    }
    found
}

/// The Bitcoin Cash app ELF: `$CHAINLOCK_LEDGER_APP_ELF`, else
/// `shared/vectors/ledger/bitcoin_cash_nanosp.elf` beside the checkout.
pub fn app_elf() -> PathBuf {
    match std::env::var_os(APP_ELF_ENV).filter(|v| !v.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/vectors/ledger/bitcoin_cash_nanosp.elf"),
    }
}

/// A running emulator; dropping it stops it.
pub struct Speculos {
    child: Option<Child>,
    apdu_port: u16,
    api_port: u16,
    dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Speculos {
    /// Starts the app in the emulator and waits (up to 60 s) until it shows its idle screen
    /// and takes APDUs. Panics with the emulator's log if it does not.
    pub fn start(binary: &std::path::Path) -> Self {
        use std::os::unix::process::CommandExt;
        let elf = app_elf();
        assert!(
            elf.is_file(),
            "the Bitcoin Cash app ELF {} is missing: set {APP_ELF_ENV}",
            elf.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let (apdu_port, api_port) = (free_port(), free_port());
        let log = std::fs::File::create(dir.path().join("speculos.log")).unwrap();
        let child = Command::new(binary)
            .args(["--display", "headless", "--model", "nanosp"])
            .args(["--apdu-port", &apdu_port.to_string()])
            .args(["--api-port", &api_port.to_string()])
            .arg(&elf)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}; {INSTALL_HINT}", binary.display()));
        let mut speculos = Speculos {
            child: Some(child),
            apdu_port,
            api_port,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = speculos.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "speculos exited ({status}) before it was ready:\n{}",
                    speculos.log()
                );
            }
            let ready = speculos
                .try_screen()
                .is_some_and(|s| crate::ledger::screens::squash(&s.concat()) == IDLE);
            if ready && TcpStream::connect(("127.0.0.1", apdu_port)).is_ok() {
                return speculos;
            }
            assert!(
                Instant::now() < deadline,
                "speculos did not show the app within 60 s:\n{}",
                speculos.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `127.0.0.1:<apdu port>`, for `TcpTransport` or `CHAINLOCK_LEDGER_TCP`.
    pub fn apdu_addr(&self) -> String {
        format!("127.0.0.1:{}", self.apdu_port)
    }

    /// What the emulator printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("speculos.log")).unwrap_or_default()
    }

    /// The text items of the current screen.
    pub fn screen(&self) -> Vec<String> {
        self.try_screen()
            .expect("speculos's REST API does not answer")
    }

    fn try_screen(&self) -> Option<Vec<String>> {
        Api(self.api_port).screen()
    }

    /// Presses and releases `button` ("left", "right" or "both").
    pub fn press(&self, button: &str) {
        Api(self.api_port)
            .press(button)
            .expect("speculos's REST API does not answer");
    }

    /// Plays the user on the device until [`Operator::finish`].
    pub fn operate(&self, policy: Policy) -> Operator {
        let stop = Arc::new(AtomicBool::new(false));
        let api = Api(self.api_port);
        let flag = stop.clone();
        let handle = std::thread::spawn(move || operator_loop(api, policy, &flag));
        Operator { stop, handle }
    }

    /// Stops the emulator (the whole process group: speculos and its qemu child), as pulling
    /// the device's cable would.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Speculos {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How the [`Operator`] answers the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Approve every request (both buttons on "Accept", "Accept and send", "Approve",
    /// "Approve derivation path", "Continue", and the closing "Sign message").
    Approve,
    /// Refuse the first request: both buttons on "Reject if you're not sure", or go right
    /// from the approving screen to "Reject" (or "Cancel signature") and press both there.
    Reject,
    /// Only read the screens (press right), never decide.
    Watch,
}

/// A thread playing the user on the emulator's buttons, recording every screen it saw.
pub struct Operator {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Vec<Vec<String>>>,
}

impl Operator {
    /// Stops playing and returns the screens seen, in order, idle screens left out.
    pub fn finish(self) -> Vec<Vec<String>> {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.join().unwrap()
    }
}

fn operator_loop(api: Api, policy: Policy, stop: &AtomicBool) -> Vec<Vec<String>> {
    let read = || api.screen();
    let press = |button: &str| {
        api.press(button);
    };
    let mut seen: Vec<Vec<String>> = Vec::new();
    let mut last: Option<Vec<String>> = None;
    let mut message_hash_seen = false;
    let mut rejecting = false;
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(40));
        let Some(screen) = read() else { continue };
        if screen.is_empty() || Some(&screen) == last.as_ref() {
            continue;
        }
        // A screen being drawn: take it only once it holds still.
        std::thread::sleep(Duration::from_millis(60));
        if read().as_ref() != Some(&screen) {
            continue;
        }
        last = Some(screen.clone());
        let text = crate::ledger::screens::squash(&screen.concat());
        if text == IDLE {
            message_hash_seen = false;
            continue;
        }
        seen.push(screen);
        if text.starts_with("Messagehash") {
            message_hash_seen = true;
        }
        let approving = matches!(
            text.as_str(),
            "Accept" | "Acceptandsend" | "Approve" | "Approvederivationpath" | "Continue"
        ) || (text == "Signmessage" && message_hash_seen);
        let refusing = matches!(text.as_str(), "Reject" | "Cancelsignature" | "Cancel");
        match policy {
            Policy::Approve if approving => press("both"),
            // The path warnings' own reject screen.
            Policy::Reject if text == "Rejectifyou'renotsure" => press("both"),
            Policy::Reject if refusing && rejecting => {
                press("both");
                rejecting = false;
            }
            Policy::Reject if approving => {
                rejecting = true;
                press("right");
            }
            _ => press("right"),
        }
    }
    seen
}

/// Speculos's REST API on `127.0.0.1:<port>`.
#[derive(Debug, Clone, Copy)]
struct Api(u16);

impl Api {
    /// The text items of the current screen (`GET /events?currentscreenonly=true`).
    fn screen(self) -> Option<Vec<String>> {
        let body = http(self.0, "GET", "/events?currentscreenonly=true", "")?;
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        Some(
            v["events"]
                .as_array()?
                .iter()
                .filter_map(|e| e["text"].as_str().map(str::to_string))
                .collect(),
        )
    }

    /// Presses and releases a button (`POST /button/{left,right,both}`).
    fn press(self, button: &str) -> Option<()> {
        http(
            self.0,
            "POST",
            &format!("/button/{button}"),
            r#"{"action": "press-and-release"}"#,
        )
        .map(drop)
    }
}

/// One HTTP/1.1 request to Speculos's REST API on `127.0.0.1:port`; the body of a 200 reply.
fn http(port: u16, method: &str, path: &str, body: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).ok()?;
    let (head, body) = reply.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200")
        .then(|| body.to_string())
        .or_else(|| head.starts_with("HTTP/1.0 200").then(|| body.to_string()))
}

/// A transport that keeps every exchange it carries (the APDU and the raw reply).
pub struct Recorder<T: Transport> {
    inner: T,
    log: Arc<Mutex<Vec<Exchange>>>,
}

impl<T: Transport> Recorder<T> {
    /// Wraps `inner`; the returned log fills as exchanges happen.
    pub fn new(inner: T) -> (Self, Arc<Mutex<Vec<Exchange>>>) {
        let log = Arc::new(Mutex::new(Vec::new()));
        (
            Recorder {
                inner,
                log: log.clone(),
            },
            log,
        )
    }
}

impl<T: Transport> Transport for Recorder<T> {
    fn exchange(&mut self, apdu: &[u8]) -> Result<Reply> {
        let reply = self.inner.exchange(apdu)?;
        let mut recv = reply.data.clone();
        recv.extend_from_slice(&reply.sw.to_be_bytes());
        self.log.lock().unwrap().push(Exchange {
            send: apdu.to_vec(),
            recv,
        });
        Ok(reply)
    }
}
