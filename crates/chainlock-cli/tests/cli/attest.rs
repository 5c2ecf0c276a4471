//! `chainlock builder key` and `chainlock attest [verify]` end to end: a real npm package in
//! a real git repository served over file://, packed by independent builders with `npm pack`,
//! and the envelopes checked by an independent node verifier (tests/judge/dsse-verify.mjs).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use base64ct::{Base64, Encoding};
use chainlock_protocol::keys::SecretKey;
use chainlock_protocol::policy::Policy;
use serde_json::Value;

use crate::util::{chainlock, workspace_root};

const COMMIT_TIME: &str = "@1700000000 +0000";

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn require_tool(tool: &str, install: &str) {
    let found = Command::new(tool)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "`{tool}` is required by this test and was not found: {install}"
    );
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_DATE", COMMIT_TIME)
        .env("GIT_COMMITTER_DATE", COMMIT_TIME)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("git runs (Debian: apt-get install git)");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

struct Builder {
    key: PathBuf,
    public_key: String,
}

/// What the three builders produced, made once for all tests in this module.
struct Fixture {
    dir: tempfile::TempDir,
    commit: String,
    builders: Vec<Builder>,
    /// Envelopes of builders 0 and 1 (`npm pack`) and 2 (injects a file, then `npm pack`).
    envelopes: Vec<PathBuf>,
    /// The environment builder 2's build saw.
    env_dump: String,
}

impl Fixture {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn policy(&self, trusted: &[usize], min_builders: u32) -> PathBuf {
        let maintainers = (1..=2u8)
            .map(|i| SecretKey::from_bytes(&[i; 32]).unwrap().public_key())
            .collect();
        let builders = trusted
            .iter()
            .map(|i| self.builders[*i].public_key.clone())
            .collect();
        let policy = Policy::new(maintainers, 2, builders, min_builders, 86_400).unwrap();
        let name = format!("policy-{trusted:?}-{min_builders}.json");
        let path = self.path(&name);
        std::fs::write(&path, serde_json::to_vec_pretty(&policy).unwrap()).unwrap();
        path
    }
}

fn new_key(dir: &Path, name: &str) -> Builder {
    let key = dir.join(name);
    let out = chainlock()
        .args(["builder", "key", "new", "--json", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    let v: Value = serde_json::from_str(&ok(&out)).unwrap();
    Builder {
        key,
        public_key: v["public_key"].as_str().unwrap().to_string(),
    }
}

fn attest(f_dir: &Path, url: &str, commit: &str, build: &str, key: &Path, out: &Path) -> Output {
    chainlock()
        .args([
            "attest",
            "--repo",
            url,
            "--commit",
            commit,
            "--build",
            build,
            "--artifact",
            "*.tgz",
            "--key",
        ])
        .arg(key)
        .arg("--out")
        .arg(out)
        // Where a test build may write what it saw; everything else is out of its reach.
        .arg("--share")
        .arg(shared_dir(f_dir))
        .current_dir(f_dir)
        // Secrets of the builder's session: they must never reach the build.
        .env("GITHUB_TOKEN", "ghp_must_not_leak")
        .env("NPM_TOKEN", "npm_must_not_leak")
        .output()
        .unwrap()
}

/// The directory test builds may write into (`--share`).
fn shared_dir(f_dir: &Path) -> PathBuf {
    let dir = f_dir.join("shared");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        require_tool("git", "install git (Debian: apt-get install git)");
        require_tool("npm", "install node 20 and npm (Debian: apt-get install nodejs npm)");
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("pkg");
        std::fs::create_dir(&repo).unwrap();
        std::fs::write(
            repo.join("package.json"),
            r#"{"name":"chainlock-fixture","version":"1.0.0","description":"A package rebuilt by independent builders","main":"index.js","license":"MIT"}"#,
        )
        .unwrap();
        std::fs::write(repo.join("index.js"), "module.exports = (a, b) => a + b;\n").unwrap();
        std::fs::write(repo.join("README.md"), "# chainlock-fixture\n").unwrap();
        git(&repo, &["init", "-q", "-b", "main"]);
        git(&repo, &["add", "-A"]);
        git(&repo, &["-c", "user.name=Maintainer", "-c", "user.email=m@example.com", "commit", "-q", "-m", "v1.0.0"]);
        let commit = git(&repo, &["rev-parse", "HEAD"]);
        let url = format!("file://{}", repo.display());

        let builders: Vec<Builder> = (0..4).map(|i| new_key(dir.path(), &format!("builder{i}.pem"))).collect();
        let env_path = shared_dir(dir.path()).join("env-builder2.txt");
        let builds = [
            "npm pack".to_string(),
            "npm pack".to_string(),
            format!("env > '{}' && echo injected > injected.txt && npm pack", env_path.display()),
            "npm pack".to_string(),
        ];
        let mut envelopes = Vec::new();
        for (i, build) in builds.iter().enumerate() {
            let out_path = dir.path().join(format!("envelope{i}.json"));
            let out = attest(dir.path(), &url, &commit, build, &builders[i].key, &out_path);
            let text = ok(&out);
            assert!(text.contains("envelope written to"), "{text}");
            envelopes.push(out_path);
        }
        let env_dump = std::fs::read_to_string(&env_path).unwrap();
        Fixture { dir, commit, builders, envelopes, env_dump }
    })
}

fn subject_sha256(envelope: &Path) -> String {
    let env: Value = serde_json::from_slice(&std::fs::read(envelope).unwrap()).unwrap();
    let payload = Base64::decode_vec(env["payload"].as_str().unwrap()).unwrap();
    let statement: Value = serde_json::from_slice(&payload).unwrap();
    statement["subject"][0]["digest"]["sha256"]
        .as_str()
        .unwrap()
        .to_string()
}

fn verify(args: &[&str], envelopes: &[&Path]) -> Output {
    let mut cmd = chainlock();
    cmd.args(["attest", "verify"]).args(args).arg("--envelope");
    for e in envelopes {
        cmd.arg(e);
    }
    cmd.output().unwrap()
}

fn verify_json(args: &[&str], envelopes: &[&Path]) -> (Option<i32>, Value) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = verify(&all, envelopes);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), v)
}

/// An edited copy of an envelope.
fn edited(f: &Fixture, from: usize, name: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let mut v: Value = serde_json::from_slice(&std::fs::read(&f.envelopes[from]).unwrap()).unwrap();
    edit(&mut v);
    let path = f.path(name);
    std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
    path
}

fn tampered(f: &Fixture) -> PathBuf {
    edited(f, 0, "tampered.json", |v| {
        let payload = Base64::decode_vec(v["payload"].as_str().unwrap()).unwrap();
        let mut statement: Value = serde_json::from_slice(&payload).unwrap();
        statement["predicate"]["buildDefinition"]["externalParameters"]["command"] =
            "npm pack && curl evil".into();
        v["payload"] = Base64::encode_string(statement.to_string().as_bytes()).into();
    })
}

#[test]
fn builder_key_file_is_owner_only_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let b = new_key(dir.path(), "k.pem");
    let meta = std::fs::metadata(&b.key).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let before = std::fs::read(&b.key).unwrap();
    assert!(String::from_utf8_lossy(&before).starts_with("-----BEGIN PRIVATE KEY-----\n"));

    let again = chainlock()
        .args(["builder", "key", "new", "--out"])
        .arg(&b.key)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    assert_eq!(std::fs::read(&b.key).unwrap(), before);

    let show = ok(&chainlock()
        .args(["builder", "key", "show", "--key"])
        .arg(&b.key)
        .output()
        .unwrap());
    assert!(show.contains(&b.public_key), "{show}");

    // A key others can read is refused, with the fix.
    std::fs::set_permissions(&b.key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = chainlock()
        .args(["builder", "key", "show", "--key"])
        .arg(&b.key)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("chmod 600"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn default_key_location_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let out = chainlock()
        .args(["builder", "key", "new"])
        .env("XDG_CONFIG_HOME", dir.path())
        .output()
        .unwrap();
    let text = ok(&out);
    let key = dir.path().join("chainlock/builder-ed25519.pem");
    assert!(text.contains(&key.display().to_string()), "{text}");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(key.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    // What `builder key new` wrote is where `builder key show` and `attest` look by default.
    let out = chainlock()
        .args(["builder", "key", "show"])
        .env("XDG_CONFIG_HOME", dir.path())
        .output()
        .unwrap();
    assert!(ok(&out).contains(&key.display().to_string()));
}

#[test]
fn a_missing_builder_key_is_named_once_with_the_next_step() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("chainlock/builder-ed25519.pem");
    for args in [
        &["builder", "key", "show"][..],
        &[
            "attest",
            "--repo",
            "file:///nowhere",
            "--commit",
            "v1",
            "--build",
            "true",
        ],
    ] {
        let mut full = args.to_vec();
        if args[0] == "attest" {
            full.extend(["--artifact", "x"]);
        }
        let out = chainlock()
            .args(&full)
            .env("XDG_CONFIG_HOME", dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.matches("No such file").count(), 0, "{err}");
        assert_eq!(
            err.matches(&*missing.display().to_string()).count(),
            2,
            "{err}"
        );
        assert!(err.contains("chainlock builder key new"), "{err}");
    }
}

#[test]
fn independent_npm_pack_builds_agree_and_an_injected_file_disagrees() {
    let f = fixture();
    let shas: Vec<String> = f.envelopes.iter().map(|e| subject_sha256(e)).collect();
    assert_eq!(shas[0], shas[1], "npm pack is reproducible across builders");
    assert_eq!(shas[0], shas[3]);
    assert_ne!(shas[0], shas[2], "the injected file changes the artifact");

    let policy = f.policy(&[0, 1, 2], 2);
    let p = policy.to_str().unwrap();
    let envs: Vec<&Path> = f.envelopes[..3].iter().map(PathBuf::as_path).collect();
    let (code, report) = verify_json(
        &[
            "--policy",
            p,
            "--commit",
            &f.commit,
            "--artifact-sha256",
            &shas[0],
        ],
        &envs,
    );
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["minimum_met"], true);
    assert_eq!(report["agreeing"].as_array().unwrap().len(), 2);
    let disagreeing = report["disagreeing"].as_array().unwrap();
    assert_eq!(disagreeing.len(), 1);
    assert_eq!(
        disagreeing[0]["public_key"],
        f.builders[2].public_key.as_str()
    );
    assert_eq!(disagreeing[0]["artifact_sha256"][0], shas[2].as_str());
    assert_eq!(report["envelopes"][2]["verdict"], "disagrees");

    // The attestation digest, recomputed here from PROTOCOL.md section 5: SHA-256 over the
    // sorted SHA-256 digests of the canonical JSON of the two agreeing envelopes.
    let mut digests: Vec<[u8; 32]> = f.envelopes[..2]
        .iter()
        .map(|e| {
            let v: Value = serde_json::from_slice(&std::fs::read(e).unwrap()).unwrap();
            chainlock_protocol::hash::sha256(&chainlock_protocol::jcs::canonicalize(&v).unwrap())
        })
        .collect();
    digests.sort();
    let expected = hex::encode(chainlock_protocol::hash::sha256(&digests.concat()));
    assert_eq!(report["attestation_digest"], expected.as_str());

    // Without --commit and --artifact-sha256 the release is the one most builders attest.
    let (code, inferred) = verify_json(&["--policy", p], &envs);
    assert_eq!(code, Some(0));
    assert_eq!(inferred["artifact_sha256"], shas[0].as_str());
    assert_eq!(inferred["source_commit"], f.commit.as_str());

    // The human rendering says the same.
    let out = verify(&["--policy", p], &envs);
    let text = ok(&out);
    for words in [
        "agrees",
        "DISAGREES",
        &shas[2],
        "agreeing builders: 2 distinct (minimum 2)",
        &expected,
        "(over 2 envelopes)",
        "result: minimum met",
        // Builders named as the policy lists them: by public key.
        &format!("  {}\n", f.builders[0].public_key),
        &format!("  {}\n", f.builders[1].public_key),
        &format!("builder {}", f.builders[2].public_key),
    ] {
        assert!(text.contains(words), "missing {words:?} in:\n{text}");
    }
}

#[test]
fn attest_takes_a_tag_or_a_short_id_and_prints_the_full_commit() {
    let f = fixture();
    let repo = f.dir.path().join("pkg");
    git(&repo, &["tag", "v1.0.0-attest", &f.commit]);
    let url = format!("file://{}", repo.display());
    for (i, rev) in ["v1.0.0-attest", &f.commit[..10]].into_iter().enumerate() {
        let out_path = f.dir.path().join(format!("by-revision{i}.json"));
        let out = attest(
            f.dir.path(),
            &url,
            rev,
            "npm pack",
            &f.builders[0].key,
            &out_path,
        );
        let text = ok(&out);
        assert!(
            text.contains(&format!("commit {} (resolved from \"{rev}\")", f.commit)),
            "{text}"
        );
        assert!(text.contains("SOURCE_DATE_EPOCH "), "{text}");
        assert!(
            text.contains(" UTC)"),
            "the epoch is shown as a date: {text}"
        );
        assert_eq!(subject_sha256(&out_path), subject_sha256(&f.envelopes[0]));
    }
}

#[test]
fn builds_never_see_the_builders_environment() {
    let f = fixture();
    assert!(!f.env_dump.contains("must_not_leak"), "{}", f.env_dump);
    let mut names: Vec<&str> = f
        .env_dump
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .collect();
    names.retain(|n| *n != "PWD"); // exported by dash, Debian's /bin/sh, itself
    names.sort();
    assert_eq!(
        names,
        ["HOME", "LANG", "PATH", "SOURCE_DATE_EPOCH", "TZ"],
        "{}",
        f.env_dump
    );
    assert!(f.env_dump.contains("SOURCE_DATE_EPOCH=1700000000\n"));
}

#[test]
fn too_few_agreeing_builders_fail_with_next_steps() {
    let f = fixture();
    let policy = f.policy(&[0, 1, 2], 2);
    let sha = subject_sha256(&f.envelopes[0]);
    let out = verify(
        &[
            "--policy",
            policy.to_str().unwrap(),
            "--commit",
            &f.commit,
            "--artifact-sha256",
            &sha,
        ],
        &[&f.envelopes[0], &f.envelopes[2]],
    );
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("result: FAILED: only 1 of the 2 required trusted builders agree"),
        "{text}"
    );
    assert!(text.contains("next:"), "{text}");
}

#[test]
fn untrusted_keys_count_for_nothing() {
    let f = fixture();
    let policy = f.policy(&[0, 1, 2], 2);
    let sha = subject_sha256(&f.envelopes[0]);
    let p = policy.to_str().unwrap();
    let (code, report) = verify_json(
        &[
            "--policy",
            p,
            "--commit",
            &f.commit,
            "--artifact-sha256",
            &sha,
        ],
        &[&f.envelopes[0], &f.envelopes[3]],
    );
    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(report["minimum_met"], false);
    assert_eq!(report["untrusted"], serde_json::json!([1]));
    assert_eq!(report["invalid"], serde_json::json!([]));
    assert_eq!(report["envelopes"][1]["verdict"], "untrusted");
}

#[test]
fn a_duplicated_builder_counts_once() {
    let f = fixture();
    let policy = f.policy(&[0, 1, 2], 2);
    let copy = f.path("envelope0-copy.json");
    std::fs::copy(&f.envelopes[0], &copy).unwrap();
    // Re-signed by the same key: a different envelope, the same builder.
    let resigned = f.path("envelope0-resigned.json");
    let repo_url = format!("file://{}", f.path("pkg").display());
    ok(&attest(
        f.dir.path(),
        &repo_url,
        &f.commit,
        "npm pack --silent",
        &f.builders[0].key,
        &resigned,
    ));
    let (code, report) = verify_json(
        &["--policy", policy.to_str().unwrap()],
        &[&f.envelopes[0], &copy, &resigned],
    );
    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(report["agreeing"].as_array().unwrap().len(), 1);
    assert_eq!(
        report["agreeing"][0]["envelopes"],
        serde_json::json!([0, 1, 2])
    );
    assert_eq!(report["envelopes"][1]["verdict"], "duplicate");
    assert_eq!(report["envelopes"][2]["verdict"], "duplicate");
    assert_eq!(report["minimum_met"], false);
}

#[test]
fn tampered_payloads_and_wrong_payload_types_are_invalid() {
    let f = fixture();
    let policy = f.policy(&[0, 1, 2], 2);
    let sha = subject_sha256(&f.envelopes[0]);
    let bad_type = edited(f, 1, "wrong-type.json", |v| {
        v["payloadType"] = "application/json".into()
    });
    let t = tampered(f);
    let p = policy.to_str().unwrap();
    let args = [
        "--policy",
        p,
        "--commit",
        f.commit.as_str(),
        "--artifact-sha256",
        sha.as_str(),
    ];
    let (code, report) = verify_json(&args, &[&t, &bad_type, &f.envelopes[2]]);
    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(report["invalid"], serde_json::json!([0, 1]));
    assert!(report["envelopes"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("altered or forged"));
    assert!(report["envelopes"][1]["detail"]
        .as_str()
        .unwrap()
        .contains("payloadType"));

    // Even with enough agreeing builders, an invalid envelope fails the check.
    let (code, report) = verify_json(&args, &[&f.envelopes[0], &f.envelopes[1], &t]);
    assert_eq!(code, Some(1));
    assert_eq!(report["minimum_met"], true);

    let out = verify(&args, &[&t]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("INVALID") && text.contains("1 envelope is invalid"),
        "{text}"
    );
}

#[test]
fn without_a_policy_each_envelope_is_checked_on_its_own() {
    let f = fixture();
    let (code, v) = verify_json(&[], &[&f.envelopes[0], &f.envelopes[2]]);
    assert_eq!(code, Some(0), "{v:#}");
    assert_eq!(v["envelopes"][0]["valid"], true);
    assert_eq!(
        v["envelopes"][0]["builder"],
        f.builders[0].public_key.as_str()
    );

    let t = tampered(f);
    let out = verify(&[], &[&f.envelopes[0], &t]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("INVALID"));

    let sha = subject_sha256(&f.envelopes[0]);
    let (code, v) = verify_json(&["--artifact-sha256", &sha], &[&f.envelopes[2]]);
    assert_eq!(code, Some(1));
    assert!(v["envelopes"][0]["problem"]
        .as_str()
        .unwrap()
        .contains("attests sha256"));
}

#[test]
fn the_independent_node_verifier_agrees() {
    let f = fixture();
    require_tool("node", "install node 20 (Debian: apt-get install nodejs)");
    let script = workspace_root().join("tests/judge/dsse-verify.mjs");
    let judge = |envelope: &Path, key: &str| {
        Command::new("node")
            .arg(&script)
            .arg(envelope)
            .arg(key)
            .output()
            .unwrap()
    };

    for (i, e) in f.envelopes.iter().enumerate() {
        let out = judge(e, &f.builders[i].public_key);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(out.status.code(), Some(0), "{v}");
        assert_eq!(v["subject"]["sha256"], subject_sha256(e).as_str());
        assert_eq!(v["commit"], f.commit.as_str());
    }
    let out = judge(&tampered(f), &f.builders[0].public_key);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("does not verify"));
    // The right envelope under the wrong key fails too.
    let out = judge(&f.envelopes[0], &f.builders[1].public_key);
    assert_eq!(out.status.code(), Some(1));
    let bad_type = edited(f, 1, "wrong-type-node.json", |v| {
        v["payloadType"] = "application/json".into()
    });
    assert_eq!(
        judge(&bad_type, &f.builders[1].public_key).status.code(),
        Some(1)
    );
}

#[test]
fn attest_refuses_an_exposed_key_and_bad_patterns() {
    let f = fixture();
    let exposed = f.path("exposed.pem");
    std::fs::copy(&f.builders[0].key, &exposed).unwrap();
    std::fs::set_permissions(&exposed, std::fs::Permissions::from_mode(0o644)).unwrap();
    let url = format!("file://{}", f.path("pkg").display());
    let out = attest(
        f.dir.path(),
        &url,
        &f.commit,
        "npm pack",
        &exposed,
        &f.path("never.json"),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("chmod 600"));
    assert!(!f.path("never.json").exists());

    // Two matches for the artifact pattern: a clear error, and nothing signed.
    let out = chainlock()
        .args([
            "attest",
            "--repo",
            &url,
            "--commit",
            &f.commit,
            "--build",
            "npm pack && cp *.tgz copy.tgz",
            "--artifact",
            "*.tgz",
            "--key",
        ])
        .arg(&f.builders[0].key)
        .arg("--out")
        .arg(f.path("never2.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("matched 2 files") && err.contains("nothing was signed"),
        "{err}"
    );
    assert!(!f.path("never2.json").exists());
}

#[test]
fn a_build_past_its_timeout_is_stopped_and_nothing_is_written() {
    let f = fixture();
    let url = format!("file://{}", f.dir.path().join("pkg").display());
    let out_path = f.dir.path().join("timed-out.json");
    let run = |timeout: &str| {
        chainlock()
            .args(["attest", "--repo", &url, "--commit", &f.commit])
            .args(["--build", "sleep 120 && npm pack", "--artifact", "*.tgz"])
            .args(["--timeout", timeout, "--key"])
            .arg(&f.builders[0].key)
            .arg("--out")
            .arg(&out_path)
            .output()
            .unwrap()
    };
    let started = std::time::Instant::now();
    let out = run("1s");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nothing was signed"), "{err}");
    assert!(err.contains("ran longer than 1 s"), "{err}");
    assert!(err.contains("raise --timeout"), "{err}");
    assert!(started.elapsed().as_secs() < 60, "{:?}", started.elapsed());
    assert!(!out_path.exists(), "an envelope was written");

    let out = run("0");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("positive whole number"), "{err}");
}

#[test]
fn the_build_cannot_read_the_key_and_attest_never_overwrites() {
    let f = fixture();
    let url = format!("file://{}", f.dir.path().join("pkg").display());
    let key = &f.builders[3].key;
    let seen = shared_dir(f.dir.path()).join("key-seen.txt");
    let build = format!(
        "cat '{}' > '{}' 2>&1; npm pack",
        key.display(),
        seen.display()
    );
    let out_path = f.dir.path().join("key-test.json");
    let out = attest(f.dir.path(), &url, &f.commit, &build, key, &out_path);
    ok(&out);
    let text = std::fs::read_to_string(&seen).unwrap();
    assert!(
        !text.contains("PRIVATE KEY"),
        "the build read the key: {text}"
    );

    // The same --out again: refused before anything is built, the first envelope intact.
    let first = std::fs::read(&out_path).unwrap();
    let out = attest(f.dir.path(), &url, &f.commit, "npm pack", key, &out_path);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("exists") && err.contains("never overwrites"),
        "{err}"
    );
    assert_eq!(std::fs::read(&out_path).unwrap(), first);
    // Nor over the key itself.
    let out = attest(f.dir.path(), &url, &f.commit, "npm pack", key, key);
    assert_eq!(out.status.code(), Some(2));
    assert!(std::fs::read_to_string(key)
        .unwrap()
        .contains("PRIVATE KEY"));
}
