//! Benchmark (ignored by default): a 10,000-file review in the real window, release build.
//! Run with
//! `cargo test --release -p chainlock-app --test bench_window -- --ignored --nocapture`;
//! the numbers are in docs/benchmarks.md.
//!
//! The demo world is created in a private `HOME`; in my clone, two commits on top of
//! v1.1.0 add 10,000 files and then edit every one; the demo's request with its range moved
//! to those commits is written to a file and given to the app (`chainlock-app FILE`). In the
//! page, a script clicks the Diff tab and times until the first changed row is painted
//! (the window asks Rust for the diff: risk scan, the diff of 10,000 files laid out as rows,
//! the first window of rows), then scrolls to the middle and times until the rows there are
//! painted.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod harness;

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use harness::{free_ports, start_xvfb, Guard, PrivateEnv, Tools, WebDriver};

use chainlock_cosign::workspace::now;
use chainlock_cosign::{demo, Workspace};
use chainlock_signer::testing::SecretServiceSession;

const DEBIAN_PACKAGES: &str = "apt-get install -y xvfb webkit2gtk-driver dbus-x11 imagemagick \
                               libwebkit2gtk-4.1-dev libayatana-appindicator3-dev \
                               gnome-keyring python3-dbusmock";
const FILES: usize = 10_000;

/// Two commits on top of `from` in `clone`: the first adds `FILES` files of 40 lines, the
/// second edits line 20 of each. Returns their ids.
fn ten_thousand_files(clone: &Path, from: &str) -> (String, String) {
    let mut stream = String::new();
    for n in 0..2 {
        let _ = write!(
            stream,
            "commit refs/heads/bench\nmark :{}\ncommitter b <b@example.org> {} +0000\ndata 5\nbench\n",
            n + 1,
            1_700_000_000 + n
        );
        if n == 0 {
            let _ = writeln!(stream, "from {from}");
        } else {
            stream.push_str("from :1\n");
        }
        for i in 0..FILES {
            let body: String = (0..40)
                .map(|l| {
                    if l == 20 {
                        format!("export const value{i} = {}; // changed line\n", n + 1)
                    } else {
                        format!("// line {l} of file {i}, unchanged context\n")
                    }
                })
                .collect();
            let _ = write!(
                stream,
                "M 100644 inline bench/m{:03}/f{i}.js\ndata {}\n{body}\n",
                i / 100,
                body.len()
            );
        }
    }
    let mut child = Command::new("git")
        .arg("-C")
        .arg(clone)
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stream.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "git fast-import failed");
    let rev = |spec: &str| {
        let out = Command::new("git")
            .arg("-C")
            .arg(clone)
            .args(["rev-parse", spec])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    (rev("bench~1"), rev("bench"))
}

/// Runs `body` in the page as an async WebDriver script; it calls `done(value)`.
fn timed(session: &harness::Session<'_>, body: &str) -> serde_json::Value {
    session
        .post(
            "/execute/async",
            &json!({ "script": format!("const done = arguments[arguments.length - 1];\n{body}"), "args": [] }),
        )
        .unwrap_or_else(|err| panic!("script failed: {err}"))
}

#[test]
#[ignore = "benchmark: run with --release -- --ignored --nocapture"]
fn a_ten_thousand_file_review_painted_in_the_real_window() {
    let tools = Tools::find();
    let keyring = SecretServiceSession::start();
    for (name, value) in keyring.envs() {
        std::env::set_var(name, value);
    }
    let bus = keyring
        .envs()
        .into_iter()
        .find(|(k, _)| *k == "DBUS_SESSION_BUS_ADDRESS")
        .map(|(_, v)| v.into_string().unwrap())
        .unwrap();
    let home = tempfile::Builder::new()
        .prefix("chainlock-bench-window-")
        .tempdir()
        .unwrap();
    let env = PrivateEnv::create(home.path());

    // The demo world, where the app looks for it, and the 10,000-file range in my clone.
    let dir = home.path().join(".local/share/org.chainlock.cosigner/demo");
    let world = demo::create(&dir, now(), |_| {}).unwrap();
    let you = Workspace::open(world.you.clone()).unwrap();
    let pending = world.pending.to_hex();
    let mut request = serde_json::to_value(you.request(&pending).unwrap()).unwrap();
    let clone = world.dir.join("you/clone");
    let from = request["record"]["source"]["commit"]
        .as_str()
        .unwrap()
        .to_owned();
    let (base, head) = ten_thousand_files(&clone, &from);
    request["record"]["source"]["base_commit"] = json!(base);
    request["record"]["source"]["commit"] = json!(head);
    let file = home.path().join("request-10k.json");
    std::fs::write(&file, serde_json::to_vec(&request).unwrap()).unwrap();

    let (_xvfb, display) = start_xvfb(&tools, &env);
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
            .env("NO_AT_BRIDGE", "1")
            .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
            .stdout(Stdio::null()),
    );
    let webdriver = WebDriver { port };
    webdriver.wait_until_ready(&mut driver, Duration::from_secs(30));
    let app = env!("CARGO_BIN_EXE_chainlock-app");
    let session = webdriver.new_session(app);
    let long = Duration::from_secs(300);
    session.wait_for_text("#needs-me-count", long);

    // The review of the 10,000-file request (every check: the diff digest of the range
    // recomputed from the clone, the risk scan).
    let opened = Instant::now();
    let second = env
        .command(Path::new(app))
        .arg(&file)
        .env("DISPLAY", &display)
        .env("DBUS_SESSION_BUS_ADDRESS", &bus)
        .env("NO_AT_BRIDGE", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(second.success());
    session.wait_for_text("#verdict", long);
    let review_secs = opened.elapsed().as_secs_f64();

    // Diff tab to the first painted changed row, timed in the page.
    let first = timed(
        &session,
        r#"const t0 = performance.now();
        document.getElementById('tab-diff').click();
        const poll = () => {
          const row = document.querySelector('#diff-rows .line.added');
          if (row && row.offsetHeight > 0) requestAnimationFrame(() => done(performance.now() - t0));
          else setTimeout(poll, 5);
        };
        poll();"#,
    );
    let files = session.wait_for_text(".diffhead", long);
    assert!(files.contains("10000 files changed"), "{files}");

    // A jump to the middle of the rows: scroll there, time until its rows are painted.
    let jump = timed(
        &session,
        r#"const el = document.getElementById('diff-rows');
        const t0 = performance.now();
        el.scrollTop = el.scrollHeight / 2;
        el.dispatchEvent(new Event('scroll'));
        const poll = () => {
          const lines = [...el.querySelectorAll('.line')];
          const painted = lines.length > 10 && !lines.some((l) => l.classList.contains('loading'));
          const text = lines.map((l) => l.textContent).join('\n');
          if (painted && /file \d+/.test(text)) requestAnimationFrame(() => done([performance.now() - t0, text.match(/file (\d+)/)[1]]));
          else setTimeout(poll, 5);
        };
        poll();"#,
    );
    let middle_file: usize = jump[1].as_str().unwrap().parse().unwrap();
    assert!(
        (4_000..6_000).contains(&middle_file),
        "the middle of the rows shows file {middle_file}"
    );
    eprintln!(
        "{FILES}-file review: opened in {review_secs:.2} s (every check, from the file); \
         Diff tab to the first painted row {:.0} ms; jump to the middle (file {middle_file}) \
         painted in {:.0} ms",
        first.as_f64().unwrap(),
        jump[0].as_f64().unwrap()
    );
    session.delete();
    driver.stop();
    drop(keyring);
}
