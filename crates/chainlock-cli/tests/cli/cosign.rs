//! The whole co-signing loop from the command line, over a real `git daemon` on 127.0.0.1
//! with push enabled, a real Secret Service, real rebuilds in the sandbox, one local ledger
//! file shared by everyone, and the final transaction judged by @bsv/sdk.
//!
//! Alice publishes (init, fund, genesis request, release request); Bob and Carol each have
//! their own configuration and data directories, watch the package, review and sign at the
//! same moment; three builders rebuild (two agree, one does not).

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use chainlock_signer::testing::SecretServiceSession;
use serde_json::{json, Value};

use crate::util::{chainlock, workspace_root};

/// A `git daemon` serving `root` on a free loopback port, push enabled; killed on drop.
pub struct GitDaemon {
    child: Child,
    /// `git://127.0.0.1:PORT/`.
    pub url: String,
}

impl GitDaemon {
    pub fn start(root: &Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("git")
            .args([
                "daemon",
                "--reuseaddr",
                "--export-all",
                "--enable=receive-pack",
                "--listen=127.0.0.1",
                &format!("--port={port}"),
                &format!("--base-path={}", root.display()),
                &root.display().to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("git daemon starts");
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "git daemon did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        GitDaemon {
            child,
            url: format!("git://127.0.0.1:{port}/"),
        }
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Alice",
            "-c",
            "user.email=alice@example.org",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "tag.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_COMMITTER_DATE", "2026-11-01T12:00:00Z")
        .env("GIT_AUTHOR_DATE", "2026-11-01T12:00:00Z")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// One person: their own configuration and data directories, sharing the Secret Service.
pub struct Person<'a> {
    pub session: &'a SecretServiceSession,
    pub home: PathBuf,
    pub key_id: String,
    pub public_key: String,
}

impl<'a> Person<'a> {
    pub fn new(session: &'a SecretServiceSession, root: &Path, name: &str) -> Self {
        let home = root.join(name);
        std::fs::create_dir_all(&home).unwrap();
        let mut p = Person {
            session,
            home,
            key_id: String::new(),
            public_key: String::new(),
        };
        let key = p.json(&["key", "new", "--label", name]);
        p.key_id = key["key_id"].as_str().unwrap().to_string();
        p.public_key = key["public_key"].as_str().unwrap().to_string();
        p
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = chainlock();
        c.args(args)
            .envs(self.session.envs())
            .env("CHAINLOCK_CONFIG_DIR", self.home.join("config"))
            .env("CHAINLOCK_DATA_DIR", self.home.join("data"))
            .env_remove("CHAINLOCK_LEDGER_TCP")
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("chainlock runs")
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "chainlock {args:?} failed ({:?}): {}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        let text = self.ok(&args);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}: {text}"))
    }

    pub fn uri(&self) -> String {
        format!("keychain://{}", self.key_id)
    }
}

/// The @bsv/sdk interpreter's verdict on input 0 of `tx_hex` spending `script`/`sats`.
pub fn sdk_verdict(tx_hex: &str, script: &str, sats: u64) -> Value {
    let dir = workspace_root().join("tests/judge");
    assert!(
        dir.join("node_modules/@bsv/sdk/package.json").is_file(),
        "@bsv/sdk is not installed: run `npm ci --prefix tests/judge`"
    );
    let mut child = Command::new("node")
        .arg(dir.join("spend.mjs"))
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs");
    let cases = json!({"cases": [{"name": "final", "tx": tx_hex, "input": 0,
        "spent": {"script": script, "satoshis": sats}, "flags": "node"}]});
    child
        .stdin
        .take()
        .unwrap()
        .write_all(cases.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "spend.mjs failed");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["verdicts"][0].clone()
}

/// A small npm package (packed by `npm pack`, which is reproducible), served by the daemon.
pub fn upstream(root: &Path, served: &Path) -> (PathBuf, String) {
    let work = root.join("alice-work");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q"]);
    std::fs::write(
        work.join("package.json"),
        r#"{"name": "pad", "version": "1.0.0", "main": "index.js", "license": "MIT"}"#,
    )
    .unwrap();
    std::fs::write(
        work.join("index.js"),
        "module.exports = (s, n) => s.padStart(n);\n",
    )
    .unwrap();
    std::fs::write(work.join(".gitignore"), "*.tgz\n").unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "pad 1.0.0"]);
    git(&work, &["tag", "v1.0.0"]);
    let bare = served.join("pad.git");
    git(
        root,
        &[
            "clone",
            "-q",
            "--bare",
            work.to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
    );
    // Let anyone push over git:// (the daemon runs as this user).
    git(&bare, &["config", "daemon.receivepack", "true"]);
    let commit = git(&work, &["rev-parse", "v1.0.0^{commit}"]);
    (work, commit)
}

pub fn builder(person: &Person<'_>, root: &Path, name: &str) -> (PathBuf, String) {
    let key = root.join(format!("{name}.pem"));
    let v = person.json(&["builder", "key", "new", "--out", key.to_str().unwrap()]);
    (key, v["public_key"].as_str().unwrap().to_string())
}

/// `person` rebuilds `commit` of `remote` with `build` as the builder whose key file is
/// `key`, writes the envelope to `envelope` and publishes it on `remote`.
pub fn attest_and_publish(
    person: &Person<'_>,
    remote: &str,
    commit: &str,
    build: &str,
    key: &Path,
    envelope: &Path,
) {
    person.ok(&[
        "attest",
        "--repo",
        remote,
        "--commit",
        commit,
        "--build",
        build,
        "--artifact",
        "*.tgz",
        "--key",
        key.to_str().unwrap(),
        "--out",
        envelope.to_str().unwrap(),
    ]);
    person.ok(&[
        "attest",
        "publish",
        envelope.to_str().unwrap(),
        "--remote",
        remote,
    ]);
}

/// The publisher's own `npm pack` of `tag` of `remote`, from a clean checkout in
/// `root/alice-pack` (returned).
pub fn pack_tag(root: &Path, remote: &str, tag: &str, session: &SecretServiceSession) -> PathBuf {
    let pack = root.join("alice-pack");
    git(
        root,
        &[
            "clone",
            "-q",
            "--branch",
            tag,
            remote,
            pack.to_str().unwrap(),
        ],
    );
    let status = Command::new("npm")
        .args(["pack", "--offline", "--ignore-scripts", "--silent"])
        .current_dir(&pack)
        .envs(session.envs())
        .stdout(Stdio::null())
        .status()
        .expect("npm runs (scripts/setup installs node and npm)");
    assert!(status.success());
    pack
}

#[test]
fn two_cosigners_sign_a_release_over_a_git_daemon_and_the_sdk_accepts_it() {
    let session = SecretServiceSession::start();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let served = root.join("served");
    std::fs::create_dir_all(&served).unwrap();
    let daemon = GitDaemon::start(&served);
    let (work, commit) = upstream(root, &served);
    let remote = format!("{}pad.git", daemon.url);
    let ledger = root.join("ledger.sqlite");

    let alice = Person::new(&session, root, "alice");
    let bob = Person::new(&session, root, "bob");
    let carol = Person::new(&session, root, "carol");
    let funding = alice.json(&["key", "new", "--label", "alice funding"]);
    let funding_id = funding["key_id"].as_str().unwrap().to_string();
    for p in [&alice, &bob, &carol] {
        p.ok(&["chain", "use", "local", ledger.to_str().unwrap()]);
    }
    let builders: Vec<(PathBuf, String)> = (1..=3)
        .map(|i| builder(&alice, root, &format!("builder{i}")))
        .collect();

    // Alice: policy (2 of 3, builders 2 of 3), faucet, custody, genesis request.
    let work_s = work.to_str().unwrap();
    let init = alice.ok(&[
        "init",
        "--package",
        "npm:pad",
        "--maintainer",
        &alice.public_key,
        "--maintainer",
        &bob.public_key,
        "--maintainer",
        &carol.public_key,
        "--threshold",
        "2",
        "--builder",
        &builders[0].1,
        "--builder",
        &builders[1].1,
        "--builder",
        &builders[2].1,
        "--min-builders",
        "2",
        "--faucet",
        "200000",
        "--repo",
        work_s,
        "--remote",
        &remote,
        "--key",
        &alice.uri(),
        "--funding-key",
        &funding_id,
    ]);
    assert!(init.contains("published genesis request"), "{init}");

    // Bob and Carol watch the package (trust on first use) and see the genesis request.
    for p in [&bob, &carol] {
        let clone = p.home.join("clone");
        let watched = p.json(&["watch", "add", &remote, "--clone", clone.to_str().unwrap()]);
        assert_eq!(watched["watched"]["package"], "npm:pad");
    }
    let pending = bob.json(&["pending"]);
    assert_eq!(pending.as_array().unwrap().len(), 1, "{pending}");
    assert_eq!(pending[0]["what"], "genesis");
    assert_eq!(pending[0]["my_keys_to_sign"], json!([bob.key_id]));
    let genesis_id = pending[0]["request"].as_str().unwrap().to_string();
    let review = bob.json(&["review", &genesis_id[..12]]);
    assert_eq!(review["ready_to_sign"], true, "{review:#}");

    // Both sign at the same moment; each pushes its own ref, neither clobbers the other.
    let signing: Vec<Child> = [&bob, &carol]
        .iter()
        .map(|p| {
            p.cmd(&["sign", &genesis_id, "--key", &p.uri()])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in signing {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    alice.ok(&[
        "watch",
        "add",
        &remote,
        "--clone",
        alice.home.join("clone").to_str().unwrap(),
    ]);
    let fin = alice.json(&["finalize", &genesis_id]);
    assert_eq!(fin["status"], "accepted", "{fin}");
    alice.ok(&["pin", "--package", "npm:pad", "--repo", work_s]);
    assert!(work.join(".chainlock/genesis").is_file());

    // Three builders rebuild v1.0.0 from the served repository; the third gets another hash.
    for (i, (key, _)) in builders.iter().enumerate() {
        let build = if i == 2 {
            "echo '// built elsewhere' >> index.js && npm pack --offline --ignore-scripts"
        } else {
            "npm pack --offline --ignore-scripts"
        };
        let envelope = root.join(format!("envelope{i}.json"));
        attest_and_publish(&alice, &remote, &commit, build, key, &envelope);
    }

    // Alice packs the artifact herself, from a clean checkout of the tag, and requests the
    // release.
    let pack = pack_tag(root, &remote, "v1.0.0", &session);
    let created = alice.ok(&[
        "request",
        "create",
        "--tag",
        "v1.0.0",
        "--artifact",
        pack.join("pad-1.0.0.tgz").to_str().unwrap(),
        "--package",
        "npm:pad",
        "--repo",
        work_s,
        "--remote",
        &remote,
        "--key",
        &alice.uri(),
        "--funding-key",
        &funding_id,
    ]);
    assert!(created.contains("2 attestations relied on"), "{created}");

    for p in [&bob, &carol] {
        p.ok(&["sync"]);
    }
    let pending = carol.json(&["pending"]);
    assert_eq!(pending.as_array().unwrap().len(), 1, "{pending}");
    let release_id = pending[0]["request"].as_str().unwrap().to_string();
    let review = carol.json(&["review", &release_id]);
    assert_eq!(review["ready_to_sign"], true, "{review:#}");
    assert_eq!(review["builders"]["agreeing"].as_array().unwrap().len(), 2);
    assert_eq!(
        review["builders"]["disagreeing"].as_array().unwrap().len(),
        1
    );
    let fields: Vec<&str> = review["record"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    for field in [
        "version",
        "source.commit",
        "source.base_commit",
        "artifact.sha256",
        "previous",
    ] {
        assert!(fields.contains(&field), "{field} not shown: {fields:?}");
    }
    let human = carol.ok(&["review", &release_id]);
    assert!(
        human.contains("ready to sign: every check passed"),
        "{human}"
    );

    // One trusted builder got another artifact: a warning, acknowledged explicitly.
    let out = bob.run(&["sign", &release_id, "--key", &bob.uri()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--accept-warnings") && err.contains("rebuilt another artifact"),
        "{err}"
    );
    let signing: Vec<Child> = [&bob, &carol]
        .iter()
        .map(|p| {
            p.cmd(&["sign", &release_id, "--key", &p.uri(), "--accept-warnings"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in signing {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    alice.ok(&["sync"]);
    let fin = alice.json(&["finalize", &release_id]);
    assert_eq!(fin["status"], "accepted", "{fin}");

    // The independent judge accepts the final spend of the custody output.
    let req_file = served.join("pad.git");
    let req_json = git(
        &req_file,
        &[
            "show",
            &format!("refs/chainlock/req/{release_id}/request:request.json"),
        ],
    );
    let req: Value = serde_json::from_str(&req_json).unwrap();
    let verdict = sdk_verdict(
        fin["tx"].as_str().unwrap(),
        req["custody"]["locking_script"].as_str().unwrap(),
        req["custody"]["satoshis"].as_u64().unwrap(),
    );
    assert_eq!(verdict["valid"], json!(true), "{verdict}");

    // Replays are refused: the request is final and its custody output is spent.
    bob.ok(&["sync"]);
    let out = bob.run(&["sign", &release_id, "--key", &bob.uri()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("already final") && err.contains("already spent"),
        "{err}"
    );

    // Each co-signer's audit log holds both signatures, its chain intact.
    let history = bob.json(&["history"]);
    assert_eq!(history["entries"].as_array().unwrap().len(), 2);
    assert_eq!(history["broken"], Value::Null);
}

#[test]
fn the_demo_shows_a_ready_and_a_tampered_request_and_cleans_up_its_keys() {
    let session = SecretServiceSession::start();
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let run = |envs: &[(&str, &Path)], args: &[&str]| -> Output {
        let mut c = chainlock();
        c.args(args).envs(session.envs()).stdin(Stdio::null());
        for (k, v) in envs {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let out = run(&[], &["demo", demo.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("nothing here is real"), "{printed}");
    let you = [
        ("CHAINLOCK_CONFIG_DIR", demo.join("you/config")),
        ("CHAINLOCK_DATA_DIR", demo.join("you/data")),
    ];
    let envs: Vec<(&str, &Path)> = you.iter().map(|(k, v)| (*k, v.as_path())).collect();
    let out = run(&envs, &["pending"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("DEMO workspace"), "{text}");
    assert!(text.contains("[ready to sign]"), "{text}");
    assert!(text.contains("[FAILING CHECKS: do not sign]"), "{text}");
    assert!(
        text.contains("diff digest recomputed from your clone"),
        "{text}"
    );

    // A second demo into the same directory is refused; --clean removes keys and files.
    let out = run(&[], &["demo", demo.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
    let index = dir.path().join("keys-copy");
    std::fs::create_dir_all(&index).unwrap();
    std::fs::copy(demo.join("you/config/keys.json"), index.join("keys.json")).unwrap();
    let out = run(&[], &["demo", "--clean", demo.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("removed 4 demo keys"));
    assert!(!demo.exists());
    // The keychain no longer holds your demo key's secret.
    let keys: Value =
        serde_json::from_slice(&std::fs::read(index.join("keys.json")).unwrap()).unwrap();
    let id = keys["keys"][0]["key_id"].as_str().unwrap().to_string();
    let out = run(&[("CHAINLOCK_CONFIG_DIR", &index)], &["key", "show", &id]);
    assert_ne!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
