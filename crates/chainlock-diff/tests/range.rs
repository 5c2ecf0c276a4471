//! The library over real repositories made with the git CLI: the streamed content equals what
//! `git cat-file` reads, the digest does not depend on the thread count, and failures name
//! what failed.
#![allow(clippy::expect_used, clippy::unwrap_used)] // tests fail loudly on setup errors

use std::path::Path;
use std::process::Command;

use chainlock_diff::{for_each_change, Error, Mode, Status};

fn git(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.org")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.org")
        .output()
        .expect("git runs: install it with apt-get install -y git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Two commits: `one` and `two`, with text, executable, symlink, submodule and binary changes,
/// and enough files that several worker threads share the work.
fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    git(d, &["init", "-q", "-b", "main"]);
    for i in 0..60 {
        std::fs::write(
            d.join(format!("f{i:02}.txt")),
            format!("file {i}\n").repeat(i + 1),
        )
        .expect("write");
    }
    std::fs::write(d.join("gone.txt"), "bye\n").expect("write");
    std::os::unix::fs::symlink("f00.txt", d.join("link")).expect("symlink");
    git(d, &["add", "-A"]);
    git(
        d,
        &[
            "update-index",
            "--add",
            "--cacheinfo",
            "160000,1111111111111111111111111111111111111111,sub",
        ],
    );
    git(d, &["commit", "-q", "-m", "one"]);
    git(d, &["tag", "one"]);
    for i in (0..60).step_by(3) {
        std::fs::write(d.join(format!("f{i:02}.txt")), format!("changed {i}\n")).expect("write");
    }
    std::fs::remove_file(d.join("gone.txt")).expect("rm");
    std::fs::remove_file(d.join("link")).expect("rm");
    std::os::unix::fs::symlink("f01.txt", d.join("link")).expect("symlink");
    std::fs::write(d.join("blob.bin"), [0u8, 1, 2, 0, 255]).expect("write");
    git(d, &["add", "-A"]);
    git(d, &["update-index", "--chmod=+x", "f01.txt"]);
    git(
        d,
        &[
            "update-index",
            "--add",
            "--cacheinfo",
            "160000,2222222222222222222222222222222222222222,sub",
        ],
    );
    git(d, &["commit", "-q", "-m", "two"]);
    git(d, &["tag", "two"]);
    dir
}

#[test]
fn streamed_content_is_what_git_cat_file_reads() {
    let dir = repo();
    let d = dir.path();
    let mut seen = Vec::new();
    let range = for_each_change(d, Some("one"), "two", |change| -> Result<(), Error> {
        let path = std::str::from_utf8(change.path)
            .expect("ascii paths here")
            .to_owned();
        let expect_side = |rev: &str, mode: Mode| -> Option<Vec<u8>> {
            mode.has_blob()
                .then(|| git(d, &["cat-file", "blob", &format!("{rev}:{path}")]))
        };
        assert_eq!(
            change.old.map(<[u8]>::to_vec),
            expect_side("one", change.old_mode),
            "old side of {path}"
        );
        assert_eq!(
            change.new.map(<[u8]>::to_vec),
            expect_side("two", change.new_mode),
            "new side of {path}"
        );
        seen.push((path, change.status, change.old_mode, change.new_mode));
        Ok(())
    })
    .expect("walk");
    assert_eq!(
        range.head.to_hex(),
        String::from_utf8(git(d, &["rev-parse", "two"]))
            .expect("hex")
            .trim()
    );
    let paths: Vec<&str> = seen.iter().map(|s| s.0.as_str()).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted, "byte order of the path");
    assert!(seen.contains(&("gone.txt".into(), Status::Deleted, Mode::FILE, Mode::ABSENT)));
    assert!(seen.contains(&("blob.bin".into(), Status::Added, Mode::ABSENT, Mode::FILE)));
    assert!(seen.contains(&(
        "f01.txt".into(),
        Status::Modified,
        Mode::FILE,
        Mode::EXECUTABLE
    )));
    assert!(seen.contains(&(
        "link".into(),
        Status::Modified,
        Mode::SYMLINK,
        Mode::SYMLINK
    )));
    assert!(seen.contains(&(
        "sub".into(),
        Status::Modified,
        Mode::SUBMODULE,
        Mode::SUBMODULE
    )));
    assert_eq!(seen.len(), 20 + 5);
}

#[test]
fn the_digest_does_not_depend_on_the_thread_count() {
    let dir = repo();
    let changes = chainlock_diff::changes(dir.path(), Some("one"), "two").expect("changes");
    let digests: Vec<_> = [1, 2, 3, 8]
        .into_iter()
        .map(|threads| {
            changes
                .digest_with(Some(threads), |_| Ok::<(), Error>(()))
                .expect("digest")
        })
        .collect();
    assert!(digests.windows(2).all(|w| w[0] == w[1]), "{digests:?}");
    let direct = chainlock_diff::diff_digest(dir.path(), Some("one"), "two").expect("digest");
    assert_eq!(direct, digests[0]);
    assert_eq!(direct.entries, 25);
}

#[derive(Debug)]
enum Mine {
    Diff(#[allow(dead_code)] Error),
    Enough(usize),
}

impl From<Error> for Mine {
    fn from(err: Error) -> Self {
        Mine::Diff(err)
    }
}

#[test]
fn the_callback_error_stops_the_walk_and_is_returned() {
    let dir = repo();
    let mut calls = 0;
    let result = for_each_change(dir.path(), Some("one"), "two", |_| {
        calls += 1;
        if calls == 3 {
            Err(Mine::Enough(calls))
        } else {
            Ok(())
        }
    });
    assert!(matches!(result, Err(Mine::Enough(3))), "{result:?}");
    assert_eq!(calls, 3);
}

#[test]
fn failures_say_which_repository_revision_or_blob() {
    let dir = repo();
    let err =
        chainlock_diff::diff_digest(dir.path(), Some("v9.9"), "two").expect_err("unknown tag");
    assert!(
        matches!(&err, Error::Revision { spec, .. } if spec == "v9.9"),
        "{err}"
    );
    let missing = dir.path().join("no-such-dir");
    let err = chainlock_diff::diff_digest(&missing, None, "two").expect_err("no repo");
    assert!(
        matches!(&err, Error::OpenRepository { path, .. } if *path == missing),
        "{err}"
    );

    // A clone missing a blob (loose object removed): the error names the path and blob id.
    let id = String::from_utf8(git(dir.path(), &["rev-parse", "two:blob.bin"]))
        .expect("hex")
        .trim()
        .to_owned();
    std::fs::remove_file(
        dir.path()
            .join(".git/objects")
            .join(&id[..2])
            .join(&id[2..]),
    )
    .expect("remove object");
    let err =
        chainlock_diff::diff_digest(dir.path(), Some("one"), "two").expect_err("missing blob");
    assert!(
        matches!(&err, Error::ReadBlob { path, id: got, .. } if path == "blob.bin" && *got == id),
        "{err}"
    );
}

#[test]
fn a_cancelled_digest_returns_no_digest_and_the_next_is_whole() {
    let dir = repo();
    let changes = chainlock_diff::changes(dir.path(), Some("one"), "two").unwrap();
    let total = changes.entries.len();
    assert!(total > 20, "enough entries to cancel mid-way: {total}");

    let cancel = chainlock_diff::Cancel::new();
    let mut seen = Vec::new();
    let result = changes.digest_cancellable(&cancel, |done, all| {
        seen.push((done, all));
        if done == 10 {
            cancel.cancel();
        }
    });
    assert!(
        matches!(result, Err(Error::Cancelled)),
        "cancelled mid-way: {result:?}"
    );
    assert_eq!(seen.last(), Some(&(10, total)), "no entry after the cancel");

    // Already cancelled: nothing is read at all.
    let mut heard = 0;
    let early =
        chainlock_diff::diff_digest_cancellable(dir.path(), Some("one"), "two", &cancel, |_, _| {
            heard += 1
        });
    assert!(matches!(early, Err(Error::Cancelled)));
    assert_eq!(heard, 0);

    // A fresh token: the whole digest, equal to the plain one, with every entry counted.
    let mut seen = Vec::new();
    let whole = chainlock_diff::diff_digest_cancellable(
        dir.path(),
        Some("one"),
        "two",
        &chainlock_diff::Cancel::new(),
        |done, all| seen.push((done, all)),
    )
    .unwrap();
    assert_eq!(
        whole,
        chainlock_diff::diff_digest(dir.path(), Some("one"), "two").unwrap()
    );
    assert_eq!(seen.len(), total);
    assert_eq!(seen.last(), Some(&(total, total)));
}
