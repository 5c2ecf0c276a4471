//! The window test's harness: its tools, a private home, process groups stopped by guards,
//! a minimal WebDriver client and PNG checks.

// Each window test binary compiles the whole harness and uses a part of it.
#![allow(dead_code)]

pub mod desktop;
pub mod shots;

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

use super::DEBIAN_PACKAGES;

/// The external programs the test drives, found on `PATH`.
pub struct Tools {
    pub xvfb: PathBuf,
    pub dbus_monitor: PathBuf,
    pub tauri_driver: PathBuf,
    pub webkit_driver: PathBuf,
    pub import: PathBuf,
}

impl Tools {
    /// Finds every tool, or fails naming each missing one with how to install it.
    pub fn find() -> Tools {
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
pub fn which(name: &str) -> Option<PathBuf> {
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
pub struct PrivateEnv {
    pub home: PathBuf,
    pub runtime_dir: PathBuf,
}

impl PrivateEnv {
    pub fn create(home: &Path) -> PrivateEnv {
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
    pub fn command(&self, program: &Path) -> Command {
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
pub fn start_xvfb(tools: &Tools, env: &PrivateEnv) -> (Guard, String) {
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
pub fn free_ports() -> (u16, u16) {
    let bind = || TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    let (first, second) = (bind(), bind());
    let port = |listener: &TcpListener| listener.local_addr().expect("read the port").port();
    (port(&first), port(&second))
}

/// A started process, leader of its own process group; stopping it stops the whole group.
pub struct Guard {
    pub name: &'static str,
    pub child: Option<Child>,
    pub pgid: u32,
    pub stderr_log: PathBuf,
}

impl Guard {
    pub fn spawn(name: &'static str, command: &mut Command) -> Guard {
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

    pub fn pgid(&self) -> u32 {
        self.pgid
    }

    /// The process's log so far, for failure messages.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }

    /// Fails, with the process's log, when it has already exited.
    pub fn assert_running(&mut self) {
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
    pub fn read_first_line(&mut self, timeout: Duration) -> String {
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
    pub fn stop(&mut self) {
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
pub fn signal_group(pgid: u32, signal: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg("--")
        .arg(format!("-{pgid}"))
        .stderr(Stdio::null())
        .status();
}

/// Processes of group `pgid` that are still running (zombies excluded), from `/proc`.
pub fn live_processes_in_group(pgid: u32) -> Vec<u32> {
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
pub struct WebDriver {
    pub port: u16,
}

/// The W3C key under which an element reference is returned.
pub const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

impl WebDriver {
    pub fn wait_until_ready(&self, driver: &mut Guard, timeout: Duration) {
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

    pub fn new_session(&self, application: &str) -> Session<'_> {
        self.new_session_with_args(application, &[])
    }

    /// A session whose app is started with `args` (`chainlock-app FILE`).
    pub fn new_session_with_args(&self, application: &str, args: &[&str]) -> Session<'_> {
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": { "tauri:options": { "application": application, "args": args } }
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
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let (status, mut reply) = self
            .request(method, path, body)
            .unwrap_or_else(|err| panic!("{method} {path}: {err}"));
        assert_eq!(status, 200, "{method} {path} answered {status}: {reply}");
        reply["value"].take()
    }

    pub fn request(
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
    pub fn exchange(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Vec<u8>, String> {
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
pub fn parse_response(raw: &[u8]) -> Result<(u16, Vec<u8>), String> {
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
pub struct Session<'a> {
    pub driver: &'a WebDriver,
    pub id: String,
    pub deleted: bool,
}

impl Session<'_> {
    pub fn get(&self, path: &str) -> Value {
        self.driver
            .call("GET", &format!("/session/{}{path}", self.id), None)
    }

    pub fn post(&self, path: &str, body: &Value) -> Result<Value, String> {
        let path = format!("/session/{}{path}", self.id);
        match self.driver.request("POST", &path, Some(body))? {
            (200, mut reply) => Ok(reply["value"].take()),
            (status, reply) => Err(format!("POST {path} answered {status}: {reply}")),
        }
    }

    /// The rendered text of the element at `selector`, once it exists and is not empty.
    pub fn wait_for_text(&self, selector: &str, timeout: Duration) -> String {
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
    pub fn wait_for_text_starting(
        &self,
        selector: &str,
        prefix: &str,
        timeout: Duration,
    ) -> String {
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
    pub fn find(&self, selector: &str) -> String {
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
    pub fn click(&self, selector: &str) {
        let element = self.find(selector);
        self.post(&format!("/element/{element}/click"), &json!({}))
            .unwrap_or_else(|err| panic!("click {selector:?}: {err}"));
    }

    /// Types `text` into the element at `selector`.
    pub fn type_into(&self, selector: &str, text: &str) {
        let element = self.find(selector);
        self.post(
            &format!("/element/{element}/value"),
            &json!({ "text": text }),
        )
        .unwrap_or_else(|err| panic!("type into {selector:?}: {err}"));
    }

    /// An attribute of `element` ("" when absent).
    pub fn attribute(&self, element: &str, name: &str) -> String {
        self.get(&format!("/element/{element}/attribute/{name}"))
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Whether the element at `selector` is enabled.
    pub fn enabled(&self, selector: &str) -> bool {
        let element = self.find(selector);
        self.get(&format!("/element/{element}/enabled")) == json!(true)
    }

    /// Waits until the element at `selector` is enabled.
    pub fn wait_until_enabled(&self, selector: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.enabled(selector) {
            assert!(
                Instant::now() < deadline,
                "{selector:?} stayed disabled for {timeout:?}"
            );
            thread::sleep(Duration::from_millis(200));
        }
    }

    /// How many elements match `selector` now (no waiting).
    pub fn count(&self, selector: &str) -> usize {
        self.post(
            "/elements",
            &json!({"using": "css selector", "value": selector}),
        )
        .map(|found| found.as_array().map_or(0, Vec::len))
        .unwrap_or(0)
    }

    /// Scrolls the element at `selector` into view (for a screenshot).
    pub fn scroll_into_view(&self, selector: &str) {
        let mut reference = serde_json::Map::new();
        reference.insert(ELEMENT_KEY.to_owned(), Value::String(self.find(selector)));
        self.post(
            "/execute/sync",
            &json!({
                "script": "arguments[0].scrollIntoView({block: 'center'});",
                "args": [reference],
            }),
        )
        .unwrap_or_else(|err| panic!("scroll {selector:?} into view: {err}"));
    }

    /// Resizes the window (WebDriver's Set Window Rect).
    pub fn set_window_size(&self, width: u32, height: u32) {
        self.post("/window/rect", &json!({ "width": width, "height": height }))
            .unwrap_or_else(|err| panic!("resize the window: {err}"));
    }

    /// The window's size (WebDriver's Get Window Rect).
    pub fn window_size(&self) -> (u64, u64) {
        let rect = self.get("/window/rect");
        (
            rect["width"].as_u64().unwrap_or_default(),
            rect["height"].as_u64().unwrap_or_default(),
        )
    }

    pub fn delete(mut self) {
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
pub struct Image {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<[u8; 3]>,
}

impl Image {
    pub fn decode(png_bytes: &[u8], path: &Path) -> Image {
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
    pub fn assert_not_blank(&self, path: &Path) {
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

    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        self.rgb[(y * self.width + x) as usize]
    }

    pub fn assert_pixel_near(&self, x: u32, y: u32, expected: [u8; 3], path: &Path) {
        let actual = self.pixel(x, y);
        assert!(
            near(actual, expected),
            "{}: pixel ({x},{y}) is {actual:?}, expected about {expected:?}",
            path.display()
        );
    }
}

pub fn near(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(&x, y)| x.abs_diff(y) <= 6)
}
