//! Cancelling a long diff: a generated repository of 4,000 changed files is diffed, the work
//! is cancelled mid-way from its own progress, nothing is returned, and the next computation
//! gives the whole diff; through the app's state, a cancelled diff of the demo's release is
//! not kept and the next open computes and keeps it.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use chainlock_app::rows::DiffIndex;
use chainlock_app::state::Shared;
use chainlock_cosign::workspace::now;
use chainlock_cosign::{demo, Workspace};
use chainlock_diff::Cancel;
use chainlock_signer::testing::SecretServiceSession;

const FILES: usize = 4_000;

/// A repository whose `base` commit has `FILES` files and whose `head` edits every one.
fn generated_repo(dir: &Path) {
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .status()
            .unwrap();
        assert!(ok.success(), "git {args:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    let mut stream = String::new();
    for (n, tag) in ["base", "head"].iter().enumerate() {
        stream.push_str(&format!(
            "commit refs/heads/main\nmark :{}\ncommitter t <t@example.com> {} +0000\ndata 4\n{tag}\n",
            n + 1,
            1_700_000_000 + n
        ));
        if n == 1 {
            stream.push_str("from :1\n");
        }
        for i in 0..FILES {
            let body = format!("module {i}\nfn value() -> u32 {{ {} }}\nend\n", i + n);
            stream.push_str(&format!(
                "M 100644 inline src/m{:02}/f{i:05}.rs\ndata {}\n{body}\n",
                i % 40,
                body.len()
            ));
        }
        stream.push_str(&format!("reset refs/tags/{tag}\nfrom :{}\n\n", n + 1));
    }
    let mut child = Command::new("git")
        .arg("-C")
        .arg(dir)
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
}

#[test]
fn a_cancelled_diff_returns_nothing_and_the_next_one_is_whole() {
    let dir = tempfile::tempdir().unwrap();
    generated_repo(dir.path());

    let cancel = Cancel::new();
    let mut seen = Vec::new();
    let result = DiffIndex::compute_cancellable(
        dir.path(),
        Some("base"),
        "head",
        &[],
        &cancel,
        |done, total| {
            seen.push((done, total));
            if done == 500 {
                cancel.cancel();
            }
        },
    );
    assert!(
        matches!(result, Err(chainlock_diff::Error::Cancelled)),
        "cancelled mid-way: {:?}",
        result.map(|i| i.summary.files.len())
    );
    let (last, total) = *seen.last().unwrap();
    assert_eq!(total, FILES, "progress counts every changed file");
    assert_eq!(last, 500, "no file is handed on after the cancel");

    // The next computation is whole and equals a diff that was never cancelled.
    let mut seen = Vec::new();
    let again = DiffIndex::compute_cancellable(
        dir.path(),
        Some("base"),
        "head",
        &[],
        &Cancel::new(),
        |done, total| {
            seen.push((done, total));
        },
    )
    .unwrap();
    assert_eq!(seen.last(), Some(&(FILES, FILES)));
    let fresh = DiffIndex::compute(dir.path(), Some("base"), "head", &[]).unwrap();
    assert_eq!(again.summary.files.len(), FILES);
    assert_eq!(again.summary.total_rows, fresh.summary.total_rows);
    assert_eq!(again.summary.additions, FILES as u32);
    assert_eq!(again.summary.deletions, FILES as u32);
    let middle = again.summary.total_rows / 2;
    assert_eq!(
        serde_json::to_value(again.rows(middle, 20)).unwrap(),
        serde_json::to_value(fresh.rows(middle, 20)).unwrap()
    );
}

#[test]
fn a_cancelled_diff_is_not_kept_by_the_app() {
    let session = SecretServiceSession::start();
    for (name, value) in session.envs() {
        std::env::set_var(name, value);
    }
    let dir = tempfile::tempdir().unwrap();
    let world = demo::create(&dir.path().join("demo"), now(), |_| {}).unwrap();
    let pending = world.pending.to_hex();
    let shared = Shared::new(Workspace::open(world.you.clone()).unwrap());

    let cancel = shared.start_work(&pending);
    assert!(
        shared.cancel_work(&pending),
        "the running work is found by its request"
    );
    let mut stages = Vec::new();
    let err = chainlock_app::work::diff(&shared, &pending, &cancel, |p| stages.push(p.stage))
        .unwrap_err();
    shared.end_work(&pending);
    assert_eq!(err.kind, "cancelled", "{}", err.message);
    assert!(err.message.contains("nothing was kept"), "{}", err.message);
    assert!(
        shared.diff(&pending).is_none(),
        "a cancelled diff is not kept"
    );
    assert!(!shared.cancel_work(&pending), "no work runs any more");
    assert_eq!(
        stages,
        ["scanning the range for risk flags"],
        "stopped before diffing"
    );

    let mut progress = Vec::new();
    let index =
        chainlock_app::work::diff(&shared, &pending, &Cancel::new(), |p| progress.push(p)).unwrap();
    assert!(index.summary.total_rows > 2);
    let last = progress.last().unwrap();
    assert_eq!(last.stage, "diffing files");
    assert_eq!(last.done, last.total, "{progress:?}");
    assert!(shared.diff(&pending).is_some(), "a whole diff is kept");

    // After a review, its diff reuses the review's risk scan instead of scanning again.
    let fresh = Shared::new(Workspace::open(world.you.clone()).unwrap());
    chainlock_app::view::review(&fresh, &pending, now()).unwrap();
    let mut stages = Vec::new();
    chainlock_app::work::diff(&fresh, &pending, &Cancel::new(), |p| stages.push(p.stage)).unwrap();
    assert!(
        stages.iter().all(|s| s == "diffing files"),
        "the range was scanned twice: {stages:?}"
    );
    demo::clean(&world.dir).unwrap();
}
