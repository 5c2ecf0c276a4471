//! `chainlock verify-record`: the demo's release verified offline from its coordination
//! mirror and from bundle directories with a headers file; tampered bundles refused with
//! their reason.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use chainlock_signer::testing::SecretServiceSession;

use crate::util::chainlock;

fn git_show(remote: &Path, spec: &str) -> Vec<u8> {
    let out = Command::new("git")
        .arg("--git-dir")
        .arg(remote)
        .args(["show", spec])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git show {spec}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn verify_record_checks_the_demo_release_offline_and_refuses_tampered_bundles() {
    let session = SecretServiceSession::start();
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let run = |you: bool, args: &[&str]| -> Output {
        let mut c = chainlock();
        c.args(args).envs(session.envs()).stdin(Stdio::null());
        if you {
            c.env("CHAINLOCK_CONFIG_DIR", demo.join("you/config"))
                .env("CHAINLOCK_DATA_DIR", demo.join("you/data"));
        }
        c.output().unwrap()
    };
    let out = run(false, &["demo", demo.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(run(true, &["sync"]).status.success());

    // From the watched package's mirror, headers from the configured local chain.
    let out = run(true, &["verify-record", "npm:pad@1.0.0"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("VERIFIED release pad@1.0.0"), "{text}");
    assert!(text.contains("2 record(s) back to genesis"), "{text}");
    assert!(
        text.contains("npm:pad@1.0.0: in-window: the challenge window closes"),
        "{text}"
    );

    // A blocking flag by a maintainer (you) inside the window: flagged, for `status` and
    // `verify-record` alike; withdrawn, it stops standing.
    let keys: serde_json::Value =
        serde_json::from_slice(&std::fs::read(demo.join("you/config/keys.json")).unwrap()).unwrap();
    let uri = format!("keychain://{}", keys["keys"][0]["key_id"].as_str().unwrap());
    let out = run(
        true,
        &[
            "flag",
            "npm:pad@1.0.0",
            "--severity",
            "blocking",
            "--reason",
            "postinstall hides a download",
            "--evidence",
            "https://example.org/log",
            "--key",
            &uri,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(true, &["status", "npm:pad@1.0.0"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("FLAGGED by")
            && text.contains("postinstall hides a download")
            && text.contains("[maintainer"),
        "{text}"
    );
    let out = run(true, &["verify-record", "npm:pad@1.0.0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("FLAGGED"));
    let out = run(true, &["flag", "withdraw", "npm:pad@1.0.0", "--key", &uri]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(true, &["status", "npm:pad@1.0.0"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("in-window") && text.contains("WITHDRAWN"),
        "{text}"
    );
    let out = run(
        true,
        &[
            "flag",
            "npm:pad@1.0.0",
            "--severity",
            "severe",
            "--reason",
            "x",
            "--key",
            &uri,
        ],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("blocking or advisory"));

    // A rebuilder whose build differs flags the release with its builder key; the key is
    // not the policy's, so the flag is shown and not counted.
    let builder = dir.path().join("rebuilder.pem");
    chainlock_attest::BuilderKey::generate()
        .unwrap()
        .write_new(&builder)
        .unwrap();
    let remote_url = format!("file://{}", demo.join("remote/pad.git").display());
    let envelope = dir.path().join("envelope.json");
    let out = run(
        true,
        &[
            "attest",
            "--repo",
            &remote_url,
            "--commit",
            "v1.0.0",
            "--build",
            "printf rebuilt > out.bin",
            "--artifact",
            "out.bin",
            "--key",
            builder.to_str().unwrap(),
            "--no-sandbox",
            "--out",
            envelope.to_str().unwrap(),
            "--flag-on-mismatch",
            "npm:pad@1.0.0",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("MISMATCH") && err.contains("blocking flag published by builder"),
        "{err}"
    );
    let out = run(true, &["status", "npm:pad@1.0.0"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("UNKNOWN key (not counted)") && text.contains("rebuilt commit"),
        "{text}"
    );

    // Every bundle of the demo is complete: `prove` has nothing to add.
    let out = run(true, &["prove"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(text.matches(": complete").count(), 2, "{text}");

    // Offline: the headers file and bundle directories only.
    let headers = dir.path().join("headers.bin");
    let out = run(
        true,
        &["chain", "headers", "--out", headers.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let remote = demo.join("remote/pad.git");
    let refs = String::from_utf8(
        Command::new("git")
            .arg("--git-dir")
            .arg(&remote)
            .args([
                "for-each-ref",
                "--format=%(refname)",
                "refs/chainlock/record/",
            ])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let bundles = dir.path().join("bundles");
    let mut release_dir = None;
    let mut genesis = None;
    for name in refs.lines() {
        let digest = name.rsplit('/').next().unwrap();
        let d = bundles.join(digest);
        std::fs::create_dir_all(&d).unwrap();
        for file in ["record.json", "tx.hex", "proof.beef"] {
            std::fs::write(d.join(file), git_show(&remote, &format!("{name}:{file}"))).unwrap();
        }
        let record = std::fs::read_to_string(d.join("record.json")).unwrap();
        if record.contains("\"version\":\"1.0.0\"") {
            release_dir = Some(d);
        } else if record.contains("\"type\":\"genesis\"") {
            genesis = Some(digest.to_string());
        }
    }
    let release_dir = release_dir.unwrap();
    let genesis = genesis.unwrap();
    let verify = |extra: &[&str]| -> (Option<i32>, String) {
        let mut args = vec!["verify-record", release_dir.to_str().unwrap()];
        args.extend_from_slice(extra);
        let out = run(false, &args);
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let pinned = [
        "--headers",
        headers.to_str().unwrap(),
        "--genesis",
        genesis.as_str(),
    ];
    let (code, text) = verify(&pinned);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("VERIFIED release pad@1.0.0"), "{text}");

    // Headers that end before the release's block: not in the best chain.
    let all = std::fs::read(&headers).unwrap();
    let short = dir.path().join("short.bin");
    std::fs::write(&short, &all[..all.len() - 80]).unwrap();
    let (code, text) = verify(&["--headers", short.to_str().unwrap(), "--genesis", &genesis]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("header not in the best chain"), "{text}");

    // A truncated headers file is not a headers file.
    let cut = dir.path().join("cut.bin");
    std::fs::write(&cut, &all[..all.len() - 1]).unwrap();
    let (code, text) = verify(&["--headers", cut.to_str().unwrap(), "--genesis", &genesis]);
    assert_ne!(code, Some(0), "{text}");
    assert!(text.contains("not a multiple of 80"), "{text}");

    // A record field changed.
    let record_path = release_dir.join("record.json");
    let record = std::fs::read_to_string(&record_path).unwrap();
    std::fs::write(&record_path, record.replace("\"size\":", "\"size\":1")).unwrap();
    let (code, text) = verify(&pinned);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("record field or commitment tampered"),
        "{text}"
    );
    std::fs::write(&record_path, &record).unwrap();

    // A merkle path changed: a sibling hash of the record transaction's BUMP.
    let beef_path = release_dir.join("proof.beef");
    let beef = std::fs::read(&beef_path).unwrap();
    let mut decoded = chainlock_spv::Beef::decode(&beef).unwrap();
    let leaf = decoded.bumps[1].levels[0]
        .iter_mut()
        .find(|l| matches!(l.node, chainlock_spv::PathNode::Hash(_)))
        .unwrap();
    leaf.node = chainlock_spv::PathNode::Hash([0x5a; 32]);
    let bent = decoded.encode().unwrap();
    std::fs::write(&beef_path, &bent).unwrap();
    let (code, text) = verify(&pinned);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("header not in the best chain") || text.contains("merkle path"),
        "{text}"
    );
    std::fs::write(&beef_path, &beef).unwrap();
    let (code, text) = verify(&pinned);
    assert_eq!(code, Some(0), "restored: {text}");
}

#[test]
fn chain_use_arc_keeps_the_api_key_in_the_keychain_and_sends_it() {
    use std::io::{BufRead, BufReader, Write};
    let session = SecretServiceSession::start();
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], stdin: &str| -> Output {
        let mut c = chainlock();
        c.args(args)
            .envs(session.envs())
            .env("CHAINLOCK_CONFIG_DIR", dir.path().join("config"))
            .env("CHAINLOCK_DATA_DIR", dir.path().join("data"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    // One ARC answer: 404 for the status asked, after recording the request's headers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut head = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line.trim().is_empty() {
                break;
            }
            head.push(line.trim().to_string());
        }
        let body = r#"{"type":"x","title":"Not found","status":404,"detail":"unknown"}"#;
        let mut stream = stream;
        write!(stream, "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        head
    });

    let out = run(&["chain", "use", "arc", "ftp://nowhere"], "");
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an ARC URL"));
    let out = run(
        &["chain", "use", "arc", &url, "--api-key-stdin"],
        "s3cret\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("stored in the OS keychain") && text.contains(&format!("ARC at {url}")),
        "{text}"
    );
    // The key is in no file.
    for entry in walk(dir.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !bytes.windows(6).any(|w| w == b"s3cret"),
            "{}",
            entry.display()
        );
    }
    let txid = "ab".repeat(32);
    let out = run(&["chain", "status", &txid], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(": unknown"));
    let head = server.join().unwrap();
    assert!(
        head[0].starts_with(&format!("GET /v1/tx/{txid} ")),
        "{head:?}"
    );
    assert!(
        head.iter()
            .any(|h| h.eq_ignore_ascii_case("authorization: Bearer s3cret")),
        "{head:?}"
    );
    let out = run(&["chain", "use", "local"], "");
    assert!(String::from_utf8_lossy(&out.stdout).contains("local ledger"));
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn rotate_publishes_a_rotation_request_whose_review_says_the_changes_in_words() {
    let session = SecretServiceSession::start();
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let run = |who: &str, args: &[&str]| -> Output {
        let mut c = chainlock();
        c.args(args).envs(session.envs()).stdin(Stdio::null());
        if !who.is_empty() {
            c.env("CHAINLOCK_CONFIG_DIR", demo.join(who).join("config"))
                .env("CHAINLOCK_DATA_DIR", demo.join(who).join("data"));
        }
        c.output().unwrap()
    };
    assert!(run("", &["demo", demo.to_str().unwrap()]).status.success());
    let keys: serde_json::Value =
        serde_json::from_slice(&std::fs::read(demo.join("alice/config/keys.json")).unwrap())
            .unwrap();
    let id_of = |suffix: &str| -> String {
        keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["label"].as_str().unwrap().ends_with(suffix))
            .unwrap()["key_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (alice, funding) = (id_of(": alice"), id_of("alice funding"));
    // The policy in force, from the genesis record on the remote, minus your key.
    let remote = demo.join("remote/pad.git");
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(demo.join("you/config/cosign.json")).unwrap())
            .unwrap();
    let genesis = cfg["packages"][0]["genesis"].as_str().unwrap().to_string();
    let record: serde_json::Value = serde_json::from_slice(&git_show(
        &remote,
        &format!("refs/chainlock/record/{genesis}:record.json"),
    ))
    .unwrap();
    let mut policy = record["policy"].clone();
    let you_keys: serde_json::Value =
        serde_json::from_slice(&std::fs::read(demo.join("you/config/keys.json")).unwrap()).unwrap();
    let you_pub = you_keys["keys"][0]["public_key"]
        .as_str()
        .unwrap()
        .to_string();
    let kept: Vec<serde_json::Value> = policy["maintainers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k.as_str() != Some(you_pub.as_str()))
        .cloned()
        .collect();
    assert_eq!(kept.len(), 2, "{policy}");
    policy["maintainers"] = serde_json::Value::Array(kept);
    let policy_file = dir.path().join("new-policy.json");
    std::fs::write(&policy_file, policy.to_string()).unwrap();
    let clone = cfg["packages"][0]["clone"]
        .as_str()
        .unwrap()
        .replace("/you/", "/alice/");
    let out = run(
        "alice",
        &[
            "rotate",
            "--package",
            "npm:pad",
            "--policy",
            policy_file.to_str().unwrap(),
            "--repo",
            &clone,
            "--remote",
            &format!("file://{}", remote.display()),
            "--key",
            &format!("keychain://{alice}"),
            "--funding-key",
            &funding,
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("published rotation request")
            && text.contains("is REMOVED")
            && text.contains("2 of 3 becomes 2 of 2"),
        "{text}"
    );
    let id = text.split_whitespace().nth(3).unwrap().to_string();
    assert!(run("you", &["sync"]).status.success());
    let out = run("you", &["review", &id]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("ROTATION: custody moves to a new policy") && text.contains("is REMOVED"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn publish_waits_for_cosigners_then_finalizes_and_says_when_the_window_closes() {
    publish_release(false);
}

#[test]
fn publish_builds_the_artifact_from_the_tag_in_the_sandbox_when_asked() {
    publish_release(true);
}

/// `chainlock publish` of the demo's 1.1.0, with the artifact given (`built` false) or built
/// from the tag by publish itself, as the demo's builders build it.
fn publish_release(built: bool) {
    use std::io::BufRead;
    let session = SecretServiceSession::start();
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let cmd = |who: &str, args: &[&str]| -> Command {
        let mut c = chainlock();
        c.args(args).envs(session.envs()).stdin(Stdio::null());
        if !who.is_empty() {
            c.env("CHAINLOCK_CONFIG_DIR", demo.join(who).join("config"))
                .env("CHAINLOCK_DATA_DIR", demo.join(who).join("data"));
        }
        c
    };
    assert!(cmd("", &["demo", demo.to_str().unwrap()])
        .output()
        .unwrap()
        .status
        .success());
    let key_of = |who: &str, suffix: &str| -> String {
        let keys: serde_json::Value = serde_json::from_slice(
            &std::fs::read(demo.join(who).join("config/keys.json")).unwrap(),
        )
        .unwrap();
        keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["label"].as_str().unwrap().ends_with(suffix))
            .unwrap()["key_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let remote = format!("file://{}", demo.join("remote/pad.git").display());
    let given = demo.join("artifacts/pad-1.1.0.js");
    let out_dir = dir.path().join("built");
    let build = "mkdir -p dist && { echo '// pad, built'; cat index.js; } > dist/pad.js";
    let artifact_args: Vec<&str> = if built {
        vec![
            "--build",
            build,
            "--artifact-glob",
            "dist/pad.js",
            "--out-dir",
            out_dir.to_str().unwrap(),
        ]
    } else {
        vec!["--artifact", given.to_str().unwrap()]
    };
    let alice_key = format!("keychain://{}", key_of("alice", ": alice"));
    let funding_key = key_of("alice", "alice funding");
    if built {
        // Neither an artifact nor a build: said, and nothing published.
        let out = cmd(
            "alice",
            &[
                "publish",
                "--package",
                "npm:pad",
                "--tag",
                "v1.1.0",
                "--repo",
                demo.join("source").to_str().unwrap(),
                "--remote",
                &remote,
                "--key",
                &alice_key,
                "--funding-key",
                &funding_key,
            ],
        )
        .output()
        .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "an error, not a failed check: {err}"
        );
        assert!(
            err.contains("--artifact FILE") && err.contains("--build COMMAND"),
            "{err}"
        );
    }
    let mut args = vec!["publish", "--package", "npm:pad", "--tag", "v1.1.0"];
    args.extend(artifact_args);
    let mut child = cmd(
        "alice",
        &[
            &args[..],
            &[
                "--repo",
                demo.join("source").to_str().unwrap(),
                "--remote",
                &remote,
                "--key",
                &alice_key,
                "--funding-key",
                &funding_key,
                "--poll-secs",
                "1",
                "--wait-secs",
                "120",
            ],
        ]
        .concat(),
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            tx.send(line.unwrap()).unwrap();
        }
    });
    let mut lines = Vec::new();
    let id = loop {
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("publish prints the request id");
        lines.push(line.clone());
        if let Some(id) = line.strip_prefix("published request ") {
            break id.to_string();
        }
    };
    for (who, suffix) in [("bob", ": bob"), ("you", "")] {
        let key = if suffix.is_empty() {
            key_of("you", "")
        } else {
            key_of(who, suffix)
        };
        assert!(cmd(who, &["sync"]).output().unwrap().status.success());
        let out = cmd(
            who,
            &[
                "sign",
                &id,
                "--key",
                &format!("keychain://{key}"),
                "--accept-warnings",
            ],
        )
        .output()
        .unwrap();
        assert!(
            out.status.success(),
            "{who}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let status = child.wait().unwrap();
    // Every line read before looking: the reader ends when the child's stdout closes.
    reader.join().unwrap();
    lines.extend(rx.try_iter());
    let text = lines.join("\n");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(status.success(), "{text}\n{err}");
    assert!(text.contains("builder attestation(s) agree"), "{text}");
    assert!(
        text.contains("signed by") && text.contains("(2 of 2)"),
        "{text}"
    );
    assert!(
        text.contains("mined at height") && text.contains("proof.beef"),
        "{text}"
    );
    assert!(text.contains("the challenge window closes"), "{text}");
    if built {
        // Built in the sandbox from the tag: the very bytes the builders attest.
        let kept = out_dir.join("pad.js");
        assert!(text.contains("in the build sandbox: sha256"), "{text}");
        assert_eq!(
            std::fs::read(&kept).unwrap(),
            std::fs::read(&given).unwrap()
        );
    }
    // The release is now verifiable offline from the publisher's workspace.
    let out = cmd("alice", &["verify-record", "npm:pad@1.1.0"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("VERIFIED release pad@1.1.0"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
