//! A private desktop for the real app: Xvfb on a display it picks, the test keyring's session
//! bus, optionally a mock notification daemon watched by `dbus-monitor`, and `tauri-driver`
//! (which starts Debian's `WebKitWebDriver`, which starts the app), all in a private `HOME`.
//! Every process runs in a process group of its own; [`Desktop::stop`] stops them and checks
//! that none is left.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use chainlock_signer::testing::SecretServiceSession;

use super::{free_ports, live_processes_in_group, start_xvfb, Guard, PrivateEnv, Tools, WebDriver};

/// What a window test's desktop runs.
pub struct DesktopOptions<'a> {
    /// The private `HOME`'s name prefix (`chainlock-window-`).
    pub prefix: &'a str,
    /// Start a mock notification daemon and log what reaches it in [`Desktop::notify_log`].
    pub notifications: bool,
    /// More environment for the app (tauri-driver passes its environment on to it).
    pub app_env: Vec<(&'a str, String)>,
}

/// The running desktop.
pub struct Desktop {
    /// The private `HOME` (removed when dropped).
    pub home: tempfile::TempDir,
    /// Commands run with `HOME` and the XDG directories in it.
    pub env: PrivateEnv,
    /// The keyring's session bus address.
    pub bus: String,
    /// The X display (`:N`).
    pub display: String,
    /// Where the notifications seen on the bus are logged (with `notifications`).
    pub notify_log: PathBuf,
    /// The WebDriver endpoint, ready.
    pub webdriver: WebDriver,
    /// tauri-driver first: stopped before what the app talks to.
    guards: Vec<Guard>,
}

impl Desktop {
    /// Starts the desktop on `keyring`'s session bus.
    pub fn start(
        tools: &Tools,
        keyring: &SecretServiceSession,
        options: DesktopOptions<'_>,
    ) -> Desktop {
        let bus = keyring
            .envs()
            .into_iter()
            .find(|(k, _)| *k == "DBUS_SESSION_BUS_ADDRESS")
            .map(|(_, v)| v.into_string().unwrap())
            .unwrap();
        let home = tempfile::Builder::new()
            .prefix(options.prefix)
            .tempdir()
            .expect("create a temporary HOME");
        let env = PrivateEnv::create(home.path());
        let (xvfb, display) = start_xvfb(tools, &env);
        let mut guards = vec![xvfb];
        let notify_log = home.path().join("notify.log");
        if options.notifications {
            guards.push(Guard::spawn(
                "dbusmock",
                env.command(Path::new("/usr/bin/python3"))
                    .args(["-m", "dbusmock", "--session", "-t", "notification_daemon"])
                    .env("DBUS_SESSION_BUS_ADDRESS", &bus)
                    .stdout(Stdio::null()),
            ));
            guards.push(Guard::spawn(
                "dbus-monitor",
                env.command(&tools.dbus_monitor)
                    .args(["--session", "interface='org.freedesktop.Notifications'"])
                    .env("DBUS_SESSION_BUS_ADDRESS", &bus)
                    .stdout(fs::File::create(&notify_log).unwrap()),
            ));
        }
        let (port, native_port) = free_ports();
        let mut driver = env.command(&tools.tauri_driver);
        driver
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
            .envs(options.app_env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null());
        let mut driver = Guard::spawn("tauri-driver", &mut driver);
        let webdriver = WebDriver { port };
        webdriver.wait_until_ready(&mut driver, Duration::from_secs(30));
        guards.insert(0, driver);
        Desktop {
            home,
            env,
            bus,
            display,
            notify_log,
            webdriver,
            guards,
        }
    }

    /// A second launch of `app` on this desktop (single instance: it hands its arguments to
    /// the running app and exits).
    pub fn launch(&self, app: &str) -> Command {
        let mut command = self.env.command(Path::new(app));
        command
            .env("DISPLAY", &self.display)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .env("NO_AT_BRIDGE", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    }

    /// What reached the notification daemon so far.
    pub fn notifications(&self) -> String {
        fs::read_to_string(&self.notify_log).unwrap_or_default()
    }

    /// Stops every process and checks that none of their groups has one left.
    pub fn stop(mut self) {
        let groups: Vec<u32> = self.guards.iter().map(Guard::pgid).collect();
        for guard in &mut self.guards {
            guard.stop();
        }
        for pgid in groups {
            let left = live_processes_in_group(pgid);
            assert!(
                left.is_empty(),
                "processes left running in group {pgid}: {left:?}"
            );
        }
    }
}
