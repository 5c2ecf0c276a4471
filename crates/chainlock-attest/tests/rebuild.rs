//! Rebuilds from real git repositories served over file://, with real shell builds.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic

use std::path::{Path, PathBuf};
use std::process::Command;

use chainlock_attest::dsse;
use chainlock_attest::rebuild::{attest, rebuild, RebuildSpec, DEFAULT_BUILD_TIMEOUT};
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
    }
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
    let facts = rebuild(&spec(&url, &commit, &command, "out/*.bin")).unwrap();
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

    let err = attest(&spec(&url, &commit[..12], "true", "a.txt"), &key).unwrap_err();
    assert!(matches!(err, Error::Parameter { .. }), "{err}");

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

/// A repository in `dir/src` holding `a.txt` = "A", so that `dir` is free for what a build
/// writes outside its checkout.
fn repo_beside_a_scratch_dir(dir: &Path) -> (String, String) {
    let src = dir.join("src");
    std::fs::create_dir(&src).unwrap();
    repo(&src, &[("a.txt", "A")])
}

/// Whether `pid` is a running process (not gone, not a zombie).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat.rsplit_once(')')?.1.trim_start().chars().next()?;
            Some(!matches!(state, 'Z' | 'X'))
        })
        .unwrap_or(false)
}

/// Reads the pid a build wrote.
fn pid_in(path: &Path) -> u32 {
    let text = std::fs::read_to_string(path).expect("the build wrote its background pid");
    text.trim().parse().expect("a pid")
}

#[test]
fn a_build_past_its_time_limit_is_stopped_with_everything_it_started() {
    let tmp = tempfile::tempdir().unwrap();
    let (url, commit) = repo_beside_a_scratch_dir(tmp.path());
    let pid_file = tmp.path().join("background.pid");
    let command = format!(
        "sleep 300 & echo $! > '{}'; cp a.txt a.out; wait",
        pid_file.display()
    );
    let mut limited = spec(&url, &commit, &command, "*.out");
    limited.timeout = std::time::Duration::from_secs(2);

    let started = std::time::Instant::now();
    let err = attest(&limited, &BuilderKey::from_seed(&[5; 32])).unwrap_err();
    assert!(
        matches!(err, Error::BuildTimeout { seconds: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("raise --timeout"), "{err}");
    // Stopped at the limit, not after the 300 s the build wanted.
    assert!(started.elapsed().as_secs() < 60, "{:?}", started.elapsed());
    let background = pid_in(&pid_file);
    assert!(
        !running(background),
        "the build's sleep {background} still runs"
    );
}

#[test]
fn nothing_a_successful_build_started_outlives_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (url, commit) = repo_beside_a_scratch_dir(tmp.path());
    let pid_file = tmp.path().join("daemon.pid");
    // A daemon that would keep running (and could keep writing into the checkout).
    let command = format!(
        "cp a.txt a.out; sh -c 'sleep 300 & echo $! > \"{}\"'",
        pid_file.display()
    );
    let facts = rebuild(&spec(&url, &commit, &command, "*.out")).unwrap();
    assert_eq!(
        facts.artifact_sha256,
        chainlock_protocol::hash::sha256(b"A")
    );
    let daemon = pid_in(&pid_file);
    assert!(!running(daemon), "the build's daemon {daemon} still runs");
}
