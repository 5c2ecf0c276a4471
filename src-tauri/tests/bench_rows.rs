//! Benchmark (ignored by default): the review diff of a 10,000-file release laid out as rows
//! and served in windows, as the window asks for it. Run with
//! `cargo test --release -p chainlock-app --test bench_rows -- --ignored --nocapture`;
//! the numbers are in docs/benchmarks.md.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use chainlock_app::rows::DiffIndex;

fn git(repo: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["-c", "user.name=b", "-c", "user.email=b@example.org"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn ten_thousand_files_first_window_and_a_jump_to_the_middle() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    git(repo, &["init", "-q"]);
    let files = 10_000;
    let write = |version: usize| {
        for i in 0..files {
            let sub = repo.join(format!("src/m{:03}", i / 100));
            fs::create_dir_all(&sub).unwrap();
            let body: String = (0..40)
                .map(|l| {
                    if l == 20 {
                        format!("export const value{i} = {version}; // changed line\n")
                    } else {
                        format!("// line {l} of file {i}, unchanged context\n")
                    }
                })
                .collect();
            fs::write(sub.join(format!("f{i}.js")), body).unwrap();
        }
    };
    write(1);
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-qm", "base"]);
    let base = git(repo, &["rev-parse", "HEAD"]);
    write(2);
    git(repo, &["commit", "-qam", "head"]);
    let head = git(repo, &["rev-parse", "HEAD"]);

    let start = Instant::now();
    let index = DiffIndex::compute(repo, Some(&base), &head, &[]).unwrap();
    let computed = start.elapsed();
    assert_eq!(index.summary.files.len(), files);
    let total = index.summary.total_rows;

    let start = Instant::now();
    let first = index.rows(0, 256);
    let first_window = start.elapsed();
    let start = Instant::now();
    let middle = index.rows(total / 2, 256);
    let jump = start.elapsed();
    let json = serde_json::to_vec(&middle).unwrap().len();
    assert_eq!(first.len(), 256);
    assert_eq!(middle.len(), 256);
    eprintln!(
        "{files} files, {total} rows: diff laid out in {computed:?}; first window of 256 rows \
         {first_window:?}; jump to row {} {jump:?} ({json} bytes of JSON per window)",
        total / 2
    );
}
