//! Rebuilds from real git repositories served over file://, with real shell builds.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic

use std::path::{Path, PathBuf};
use std::process::Command;

use chainlock_attest::dsse;
use chainlock_attest::rebuild::{attest, rebuild, RebuildSpec, DEFAULT_BUILD_TIMEOUT};
use chainlock_attest::sandbox::{Isolation, Sandbox};
use chainlock_attest::statement::{Statement, BUILD_ENVIRONMENT};
use chainlock_attest::{BuilderKey, Error};

const COMMIT_TIME: i64 = 1_700_000_000;

/// A git repository with one commit; returns its file:// URL and the commit id.
fn repo(dir: &Path, files: &[(&str, &str)]) -> (String, String) {
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_AUTHOR_DATE", format!("@{COMMIT_TIME} +0000"))
            .env("GIT_COMMITTER_DATE", format!("@{COMMIT_TIME} +0000"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", dir)
            .output()
            .expect("git is installed (Debian: apt-get install git)");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    git(&["init", "-q", "-b", "main"]);
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    git(&["add", "-A"]);
    git(&[
        "-c",
        "user.name=Test",
        "-c",
        "user.email=test@example.com",
        "commit",
        "-q",
        "-m",
        "release",
    ]);
    let commit = git(&["rev-parse", "HEAD"]).trim().to_string();
    (format!("file://{}", dir.display()), commit)
}

fn spec(url: &str, commit: &str, command: &str, artifact: &str) -> RebuildSpec {
    RebuildSpec {
        repository: url.into(),
        commit: commit.into(),
        command: command.into(),
        artifact: artifact.into(),
        timeout: DEFAULT_BUILD_TIMEOUT,
        sandbox: Sandbox::default(),
    }
}

/// The same spec, with `dir` writable from inside the sandbox (for what a test build reports).
fn sharing(mut spec: RebuildSpec, dir: &Path) -> RebuildSpec {
    spec.sandbox = Sandbox::Bubblewrap(Isolation {
        share: vec![dir.to_path_buf()],
        ..Isolation::default()
    });
    spec
}

#[test]
fn rebuild_hashes_the_artifact_in_a_scrubbed_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let (url, commit) = repo(&src, &[("input.txt", "hello\n")]);
    let env_dump: PathBuf = tmp.path().join("env.txt");
    // The build copies the committed file to out/ and records its environment outside the
    // checkout (the test runs under cargo, so CARGO_* and much else would leak if not scrubbed).
    let command = format!(
        "mkdir out && cp input.txt out/app.bin && env > '{}'",
        env_dump.display()
    );
    let facts = rebuild(&sharing(
        spec(&url, &commit, &command, "out/*.bin"),
        tmp.path(),
    ))
    .unwrap();
    assert_eq!(facts.artifact_name, "app.bin");
    assert_eq!(
        facts.artifact_sha256,
        chainlock_protocol::hash::sha256(b"hello\n")
    );
    assert_eq!(facts.source_date_epoch, COMMIT_TIME);
    assert_eq!(facts.commit, commit);

    let env = std::fs::read_to_string(&env_dump).unwrap();
    let mut names: Vec<&str> = env
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .collect();
    // dash, Debian's /bin/sh, exports PWD itself; nothing else may appear.
    names.retain(|n| *n != "PWD");
    names.sort();
    assert_eq!(
        names,
        BUILD_ENVIRONMENT.to_vec(),
        "build environment:\n{env}"
    );
    assert!(env.contains(&format!("SOURCE_DATE_EPOCH={COMMIT_TIME}\n")));
    assert!(env.contains("TZ=UTC\n") && env.contains("LANG=C.UTF-8\n"));
    let home = env.lines().find_map(|l| l.strip_prefix("HOME=")).unwrap();
    assert!(home.contains("chainlock-rebuild-"), "HOME={home}");
    // The build directory is gone afterwards.
    assert!(!Path::new(home).exists());
}

#[test]
fn attest_signs_a_statement_about_the_rebuild() {
    let tmp = tempfile::tempdir().unwrap();
    let (url, commit) = repo(tmp.path(), &[("a.txt", "A")]);
    let key = BuilderKey::from_seed(&[5; 32]);
    let (envelope, facts) = attest(&spec(&url, &commit, "cp a.txt a.out", "*.out"), &key).unwrap();
    let payload = dsse::verify(&envelope, &key.public_key()).unwrap();
    let attested = Statement::from_payload(&payload).unwrap().check().unwrap();
    assert_eq!(attested.artifact_sha256, hex::encode(facts.artifact_sha256));
    assert_eq!(attested.commit, commit);
    assert_eq!(attested.repository, url);
    assert_eq!(attested.command, "cp a.txt a.out");
    assert_eq!(attested.builder, key.public_key());
}

#[test]
fn failures_are_reported_and_nothing_is_attested() {
    let tmp = tempfile::tempdir().unwrap();
    let (url, commit) = repo(tmp.path(), &[("a.txt", "A"), ("b.txt", "B")]);
    let key = BuilderKey::from_seed(&[5; 32]);

    let err = attest(&spec(&url, &commit, "exit 3", "*.txt"), &key).unwrap_err();
    assert!(matches!(err, Error::Build { .. }), "{err}");
    assert!(err.to_string().contains("exit status: 3"), "{err}");

    let err = attest(&spec(&url, &commit, "true", "*.txt"), &key).unwrap_err();
    assert!(
        matches!(err, Error::Artifact { .. }) && err.to_string().contains("matched 2 files"),
        "{err}"
    );

    let err = attest(&spec(&url, &commit, "true", "*.tgz"), &key).unwrap_err();
    assert!(err.to_string().contains("matched no file"), "{err}");

    let err = attest(
        &spec(&url, &commit, "ln -s /etc/hostname link.out", "*.out"),
        &key,
    )
    .unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");

    let err = attest(&spec(&url, &"f".repeat(40), "true", "a.txt"), &key).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Git {
                action: "checkout",
                ..
            }
        ),
        "{err}"
    );

    for rev in ["--upload-pack=touch /tmp/x", "main v1", "", "a\u{1b}b"] {
        let err = attest(&spec(&url, rev, "true", "a.txt"), &key).unwrap_err();
        assert!(matches!(err, Error::Parameter { .. }), "{rev:?}: {err}");
    }

    let err = attest(
        &spec(&format!("{url}-missing"), &commit, "true", "a.txt"),
        &key,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Git {
                action: "clone",
                ..
            }
        ),
        "{err}"
    );

    let err = attest(&spec(&url, &commit, "true", "../a.txt"), &key).unwrap_err();
    assert!(matches!(err, Error::Artifact { .. }), "{err}");
}

#[test]
fn a_tag_or_a_short_id_is_resolved_to_the_full_commit_attested() {
    let tmp = tempfile::tempdir().unwrap();
    let (url, commit) = repo(tmp.path(), &[("a.txt", "A")]);
    let tag = Command::new("git")
        .args(["tag", "-a", "-m", "release", "v1.0.0"])
        .current_dir(tmp.path())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", tmp.path())
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .status()
        .unwrap();
    assert!(tag.success());
    let key = BuilderKey::from_seed(&[6; 32]);
    for rev in ["v1.0.0", &commit[..10], &commit] {
        let mut s = spec(&url, rev, "true", "a.txt");
        s.sandbox = Sandbox::None;
        let (_, facts) = attest(&s, &key).unwrap();
        assert_eq!(facts.commit, commit, "{rev}");
    }
}

/// A repository in `dir/src` holding `a.txt` = "A", so that `dir` is free for what a build
/// writes outside its checkout.
fn repo_beside_a_scratch_dir(dir: &Path) -> (String, String) {
    let src = dir.join("src");
    std::fs::create_dir(&src).unwrap();
    repo(&src, &[("a.txt", "A")])
}

/// Waits long enough for a process the build left behind to write `path`, then says
/// whether it did. (Process ids inside the sandbox mean nothing outside it, so the tests
/// watch for effects instead.)
fn written_later(path: &Path) -> bool {
    std::thread::sleep(std::time::Duration::from_secs(4));
    path.exists()
}

#[test]
fn a_build_past_its_time_limit_is_stopped_with_everything_it_started() {
    let tmp = tempfile::tempdir().unwrap();
    let (url, commit) = repo_beside_a_scratch_dir(tmp.path());
    let late = tmp.path().join("late.txt");
    let command = format!(
        "(sleep 2; echo late > '{}') & cp a.txt a.out; sleep 300",
        late.display()
    );
    let mut limited = sharing(spec(&url, &commit, &command, "*.out"), tmp.path());
    limited.timeout = std::time::Duration::from_secs(1);

    let started = std::time::Instant::now();
    let err = attest(&limited, &BuilderKey::from_seed(&[5; 32])).unwrap_err();
    assert!(
        matches!(err, Error::BuildTimeout { seconds: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("raise --timeout"), "{err}");
    // Stopped at the limit, not after the 300 s the build wanted.
    assert!(started.elapsed().as_secs() < 60, "{:?}", started.elapsed());
    assert!(!written_later(&late), "a process of the build outlived it");
}

#[test]
fn nothing_a_successful_build_started_outlives_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (url, commit) = repo_beside_a_scratch_dir(tmp.path());
    let late = tmp.path().join("late.txt");
    // A daemon in a session of its own, out of the build's process group, that would keep
    // running (and could rewrite the checkout while it is hashed): the sandbox ends it.
    let command = format!(
        "cp a.txt a.out; setsid sh -c 'sleep 2; echo late > \"{}\"' &",
        late.display()
    );
    let facts = rebuild(&sharing(spec(&url, &commit, &command, "*.out"), tmp.path())).unwrap();
    assert_eq!(
        facts.artifact_sha256,
        chainlock_protocol::hash::sha256(b"A")
    );
    assert!(!written_later(&late), "the build's daemon outlived it");
}

#[test]
fn the_sandboxed_build_cannot_reach_the_key_the_home_or_other_processes() {
    let tmp = tempfile::tempdir().unwrap();
    let (url, commit) = repo_beside_a_scratch_dir(tmp.path());
    let report = tmp.path().join("report");
    std::fs::create_dir(&report).unwrap();
    let key = tmp.path().join("builder.pem");
    std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\nsecret\n").unwrap();
    // What a hostile build would try: the key, this process's environment and command line
    // through /proc, the builder's home, a file outside the checkout.
    let home = std::env::var("HOME").unwrap();
    let command = format!(
        "r='{report}'; cat '{key}' > \"$r/key\" 2>&1; \
         cat /proc/[0-9]*/environ /proc/[0-9]*/cmdline > \"$r/proc\" 2>/dev/null; \
         ls /proc | grep -c '^[0-9]' > \"$r/pids\"; \
         ls -A '{home}' > \"$r/home\" 2>&1; \
         touch /etc/chainlock-escape 2>/dev/null && echo wrote > \"$r/etc\"; \
         cp a.txt a.out",
        report = report.display(),
        key = key.display(),
    );
    let mut sandboxed = spec(&url, &commit, &command, "*.out");
    sandboxed.sandbox = Sandbox::Bubblewrap(Isolation {
        hide: vec![key.clone()],
        share: vec![report.clone()],
        ..Isolation::default()
    });
    let facts = rebuild(&sandboxed).unwrap();
    assert_eq!(
        facts.artifact_sha256,
        chainlock_protocol::hash::sha256(b"A")
    );

    let read = |name: &str| std::fs::read_to_string(report.join(name)).unwrap_or_default();
    let key_seen = read("key");
    assert!(
        !key_seen.contains("PRIVATE KEY") && !key_seen.contains("secret"),
        "the build read the key file: {key_seen}"
    );
    let proc_seen = read("proc");
    assert!(
        std::env::var_os("CARGO_MANIFEST_DIR").is_some() && !proc_seen.contains("CARGO_"),
        "the build saw the test's environment: {proc_seen}"
    );
    // bwrap as the sandbox's init, the shell, and the commands of the pipeline.
    let pids: usize = read("pids").trim().parse().unwrap();
    assert!(pids < 8, "the build sees {pids} processes");
    assert_eq!(read("home"), "", "the build listed the builder's home");
    assert!(!report.join("etc").exists() && !Path::new("/etc/chainlock-escape").exists());
}

#[test]
fn without_the_sandbox_the_build_runs_but_the_spec_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let (url, commit) = repo_beside_a_scratch_dir(tmp.path());
    let mut unsandboxed = spec(&url, &commit, "cp a.txt a.out", "*.out");
    unsandboxed.sandbox = Sandbox::None;
    let facts = rebuild(&unsandboxed).unwrap();
    assert_eq!(
        facts.artifact_sha256,
        chainlock_protocol::hash::sha256(b"A")
    );
}

#[test]
fn an_artifact_reached_through_a_linked_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (url, commit) = repo_beside_a_scratch_dir(tmp.path());
    // A directory link made by the build, and one committed to the repository.
    let err = rebuild(&spec(&url, &commit, "ln -s /etc dist", "dist/hostname")).unwrap_err();
    assert!(
        matches!(err, Error::Artifact { .. }) && err.to_string().contains("symbolic link"),
        "{err}"
    );
    let linked = tmp.path().join("linked");
    std::fs::create_dir(&linked).unwrap();
    std::os::unix::fs::symlink("/etc", linked.join("dist")).unwrap();
    let (url, commit) = repo(&linked, &[("a.txt", "A")]);
    let err = rebuild(&spec(&url, &commit, "true", "dist/hostname")).unwrap_err();
    assert!(matches!(err, Error::Artifact { .. }), "{err}");
}

#[test]
fn a_local_repository_is_copied_not_hard_linked() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let (_, commit) = repo(&src, &[("a.txt", "A")]);
    // A plain path (not file://), which git would otherwise clone with hard links; the build
    // tries to rewrite every object it can reach.
    let command = "chmod -R u+w .git/objects && find .git/objects -type f -exec sh -c 'echo EVIL > \"$1\"' _ {} \\; ; cp a.txt a.out";
    let path = src.display().to_string();
    rebuild(&spec(&path, &commit, command, "*.out")).unwrap();
    let facts = rebuild(&spec(&path, &commit, "cp a.txt a.out", "*.out")).unwrap();
    assert_eq!(
        facts.artifact_sha256,
        chainlock_protocol::hash::sha256(b"A")
    );
}
