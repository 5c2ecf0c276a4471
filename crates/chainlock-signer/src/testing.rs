//! Test support (feature `test-support`): a private, real Secret Service for keychain tests.
//!
//! [`SecretServiceSession::start`] starts, in a fresh temporary directory, its own D-Bus
//! session bus (with no service activation, so nothing outside the test can be started or
//! reached) and a `gnome-keyring-daemon` with only its secrets component, unlocked with a
//! throwaway password, with `HOME`, `XDG_RUNTIME_DIR`, `XDG_DATA_HOME` and `XDG_CONFIG_HOME`
//! (mode 700) inside the directory. Tests point processes at it with [`SecretServiceSession::envs`].
//! Dropping the session stops both daemons and removes the directory.
//!
//! Missing tools make the test fail with the command that installs them; nothing is skipped.
//! Never used by the library itself; panics here are test failures by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Debian packages that provide the tools this harness runs.
pub const INSTALL_HINT: &str =
    "install them with: apt-get install -y gnome-keyring dbus dbus-x11 libglib2.0-bin";

/// The object path of the collection `gnome-keyring-daemon --unlock` creates.
pub const LOGIN_COLLECTION: &str = "/org/freedesktop/secrets/collection/login";

/// A running private session bus with an unlocked gnome-keyring Secret Service.
#[derive(Debug)]
pub struct SecretServiceSession {
    root: tempfile::TempDir,
    bus: Child,
    keyring: Option<Child>,
    address: String,
    password: String,
}

impl SecretServiceSession {
    /// Starts the bus and the keyring daemon and waits until `org.freedesktop.secrets` answers.
    pub fn start() -> Self {
        for tool in ["dbus-daemon", "gnome-keyring-daemon", "gdbus"] {
            require_tool(tool);
        }
        let root = tempfile::Builder::new()
            .prefix("chainlock-keyring-")
            .tempdir()
            .expect("temp dir");
        for dir in ["home", "runtime", "data", "config", "bus"] {
            private_dir(&root.path().join(dir));
        }
        let socket = root.path().join("bus/socket");
        let config = root.path().join("bus/session.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                socket.display()
            ),
        )
        .expect("write bus config");
        let mut bus = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            // It warns that it cannot raise its fd limit when not root-capable; noise only.
            .stderr(Stdio::null())
            .spawn()
            .expect("start dbus-daemon");
        let mut line = String::new();
        BufReader::new(bus.stdout.take().expect("bus stdout"))
            .read_line(&mut line)
            .expect("bus address");
        let address = line.trim().to_string();
        assert!(
            address.starts_with("unix:"),
            "dbus-daemon printed no address: {line:?}"
        );

        let password = format!("test-{}", std::process::id());
        let mut session = SecretServiceSession {
            root,
            bus,
            keyring: None,
            address,
            password,
        };
        session.start_keyring();
        session
    }

    fn start_keyring(&mut self) {
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .envs(self.envs())
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start gnome-keyring-daemon");
        {
            let mut stdin = keyring.stdin.take().expect("keyring stdin");
            stdin
                .write_all(self.password.as_bytes())
                .expect("send keyring password");
        }
        self.keyring = Some(keyring);
        let start = Instant::now();
        while !self.name_has_owner("org.freedesktop.secrets") {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "gnome-keyring-daemon did not appear on the bus"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // The login collection is created asynchronously after the name is taken.
        while !self.gdbus_ok(&[
            "--dest",
            "org.freedesktop.secrets",
            "--object-path",
            LOGIN_COLLECTION,
            "--method",
            "org.freedesktop.DBus.Properties.Get",
            "org.freedesktop.Secret.Collection",
            "Locked",
        ]) {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the login collection did not appear"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The environment a process needs to use this Secret Service and this temporary home.
    pub fn envs(&self) -> Vec<(&'static str, OsString)> {
        let p = |sub: &str| self.root.path().join(sub).into_os_string();
        vec![
            ("DBUS_SESSION_BUS_ADDRESS", OsString::from(&self.address)),
            ("HOME", p("home")),
            ("XDG_RUNTIME_DIR", p("runtime")),
            ("XDG_DATA_HOME", p("data")),
            ("XDG_CONFIG_HOME", p("config")),
        ]
    }

    /// The temporary directory holding the home, runtime, data and config directories.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// Where `chainlock` keeps its key index under this session's `XDG_CONFIG_HOME`.
    pub fn config_dir(&self) -> PathBuf {
        self.root.path().join("config/chainlock")
    }

    /// Locks the login collection through the Secret Service `Lock` call.
    pub fn lock(&self) {
        let out = self.gdbus(&[
            "--dest",
            "org.freedesktop.secrets",
            "--object-path",
            "/org/freedesktop/secrets",
            "--method",
            "org.freedesktop.Secret.Service.Lock",
            &format!("['{LOGIN_COLLECTION}']"),
        ]);
        assert!(
            out.status.success(),
            "Lock failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            self.is_locked(),
            "the collection is still unlocked after Lock"
        );
    }

    /// True when the login collection is locked.
    pub fn is_locked(&self) -> bool {
        let out = self.gdbus(&[
            "--dest",
            "org.freedesktop.secrets",
            "--object-path",
            LOGIN_COLLECTION,
            "--method",
            "org.freedesktop.DBus.Properties.Get",
            "org.freedesktop.Secret.Collection",
            "Locked",
        ]);
        assert!(
            out.status.success(),
            "reading Locked failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).contains("true")
    }

    /// Deletes the keychain item of a ChainLock key behind chainlock's back (as another
    /// program or the user with a keyring manager could), through the Secret Service API.
    pub fn delete_item(&self, key_id: &str) {
        let out = self.gdbus(&[
            "--dest",
            "org.freedesktop.secrets",
            "--object-path",
            "/org/freedesktop/secrets",
            "--method",
            "org.freedesktop.Secret.Service.SearchItems",
            &format!(
                "{{'service': '{}', 'username': '{key_id}'}}",
                crate::keychain::SERVICE
            ),
        ]);
        assert!(
            out.status.success(),
            "SearchItems failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let paths: Vec<&str> = text
            .split('\'')
            .filter(|p| p.starts_with("/org/freedesktop/secrets/collection/"))
            .collect();
        assert_eq!(paths.len(), 1, "expected one item for key {key_id}: {text}");
        let out = self.gdbus(&[
            "--dest",
            "org.freedesktop.secrets",
            "--object-path",
            paths[0],
            "--method",
            "org.freedesktop.Secret.Item.Delete",
        ]);
        assert!(
            out.status.success(),
            "Delete failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Files under the session's directory whose bytes contain any of `needles`.
    pub fn files_containing(&self, needles: &[Vec<u8>]) -> Vec<PathBuf> {
        files_containing(self.root.path(), needles)
    }

    fn name_has_owner(&self, name: &str) -> bool {
        let out = self.gdbus(&[
            "--dest",
            "org.freedesktop.DBus",
            "--object-path",
            "/org/freedesktop/DBus",
            "--method",
            "org.freedesktop.DBus.NameHasOwner",
            name,
        ]);
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("true")
    }

    fn gdbus_ok(&self, args: &[&str]) -> bool {
        self.gdbus(args).status.success()
    }

    fn gdbus(&self, args: &[&str]) -> std::process::Output {
        Command::new("gdbus")
            .args(["call", "--address", &self.address])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run gdbus")
    }
}

impl Drop for SecretServiceSession {
    fn drop(&mut self) {
        if let Some(mut keyring) = self.keyring.take() {
            let _ = keyring.kill();
            let _ = keyring.wait();
        }
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}

/// The ways a 32-byte secret could be written down: raw, hex (both cases), base64 (both
/// alphabets, padded and not). Scanning for all of them is how tests show a secret never
/// reached a file.
pub fn secret_encodings(secret: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![
        secret.to_vec(),
        hex::encode(secret).into_bytes(),
        hex::encode_upper(secret).into_bytes(),
    ];
    let std = base64(
        secret,
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
    );
    let url = base64(
        secret,
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
    );
    for enc in [std, url] {
        out.push(enc.trim_end_matches('=').as_bytes().to_vec());
    }
    out
}

/// Files under `dir` (recursively, not following links) whose bytes contain any of `needles`.
pub fn files_containing(dir: &Path, needles: &[Vec<u8>]) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                let Ok(bytes) = std::fs::read(&path) else {
                    continue;
                };
                if needles
                    .iter()
                    .any(|n| !n.is_empty() && bytes.windows(n.len()).any(|w| w == n.as_slice()))
                {
                    hits.push(path);
                }
            }
        }
    }
    hits
}

/// Fails the test, saying how to install `tool`, when it is not on PATH.
pub fn require_tool(tool: &str) {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|p| p.join(tool).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "`{tool}` is required by the keychain tests but is not on PATH; {INSTALL_HINT}"
    );
}

fn private_dir(path: &Path) {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(path)
        .expect("create private dir");
}

fn base64(data: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(alphabet[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
