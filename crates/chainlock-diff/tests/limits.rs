//! `limit_libgit2_memory` bounds how much of a pack file libgit2 keeps mapped, measured in
//! this process's own `/proc/self/smaps`, and the digest read through the small windows is
//! still exact.
//!
//! The limits apply only while the process has a single thread, so this test runs without
//! the libtest harness (which would run it on a thread of its own): `harness = false`.
#![allow(clippy::expect_used, clippy::unwrap_used)] // tests fail loudly on setup errors

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use chainlock_diff::{limit_libgit2_memory, Applied, Libgit2Limits};
use sha2::{Digest as _, Sha256};

const MIB: usize = 1024 * 1024;
const FILES: usize = 24;

/// Incompressible bytes (xorshift64), so the pack is as large as the content.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = (seed << 1) | 1; // odd and distinct for distinct seeds
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A repository whose one commit adds `FILES` files of 1 MiB of noise, written straight
/// into a pack by `git fast-import`; returns the files' contents by path.
fn packed_repo(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .stdin(Stdio::piped())
            .spawn()
            .expect("git runs: install it with apt-get install -y git")
    };
    assert!(git(&["init", "-q", "-b", "main"]).wait().unwrap().success());
    let files: Vec<(String, Vec<u8>)> = (0..FILES)
        .map(|i| (format!("f{i:02}.bin"), noise(i as u64 + 1, MIB)))
        .collect();
    // Kept as a pack however few the objects (fast-import unpacks fewer than 100 by default).
    let mut import = git(&["-c", "fastimport.unpackLimit=0", "fast-import", "--quiet"]);
    {
        let mut stream = import.stdin.take().unwrap();
        for (i, (_, content)) in files.iter().enumerate() {
            write!(stream, "blob\nmark :{}\ndata {}\n", i + 1, content.len()).unwrap();
            stream.write_all(content).unwrap();
            stream.write_all(b"\n").unwrap();
        }
        write!(
            stream,
            "commit refs/heads/main\ncommitter T <t@example.org> 0 +0000\ndata 4\nbig\n"
        )
        .unwrap();
        for (i, (path, _)) in files.iter().enumerate() {
            writeln!(stream, "M 100644 :{} {path}", i + 1).unwrap();
        }
    }
    assert!(import.wait().unwrap().success(), "git fast-import failed");
    files
}

/// The resident bytes of this process's mappings of pack files.
fn pack_rss() -> usize {
    let smaps = std::fs::read_to_string("/proc/self/smaps").expect("Linux /proc");
    let mut in_pack = false;
    let mut total_kb = 0;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if first.contains('-') && first.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            in_pack = line.trim_end().ends_with(".pack");
        } else if in_pack {
            if let Some(kb) = line.strip_prefix("Rss:") {
                total_kb += kb
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<usize>()
                    .unwrap();
            }
        }
    }
    total_kb * 1024
}

/// Reads every blob of `main` through one repository handle and returns the pack bytes
/// resident while that handle is still open.
fn read_everything(dir: &Path) -> usize {
    let repo = git2::Repository::open(dir).unwrap();
    let tree = repo
        .revparse_single("main^{tree}")
        .unwrap()
        .peel_to_tree()
        .unwrap();
    let mut read = 0;
    for entry in tree.iter() {
        read += repo.find_blob(entry.id()).unwrap().content().len();
    }
    assert_eq!(read, FILES * MIB);
    pack_rss()
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = packed_repo(dir.path());

    // libgit2's defaults map the whole pack and keep it resident while the handle lives.
    let unlimited = read_everything(dir.path());
    assert!(
        unlimited >= FILES * MIB * 3 / 4,
        "expected most of the {FILES} MiB pack resident by default, got {unlimited} bytes"
    );

    let limits = Libgit2Limits {
        pack_window: MIB,
        pack_mapped: 4 * MIB,
        object_cache: MIB,
    };
    assert_eq!(limit_libgit2_memory(limits).unwrap(), Applied::Yes);
    let limited = read_everything(dir.path());
    // The mapped limit, plus the one window that may be open beyond it while in use.
    assert!(
        limited <= limits.pack_mapped + limits.pack_window,
        "{limited} bytes of pack resident with a {} byte limit",
        limits.pack_mapped
    );

    // The digest read through 1 MiB windows, on worker threads, is still exact: computed
    // here from the bytes written (every entry is an addition to the empty tree).
    let mut manifest = b"chainlock-diff-v1\n".to_vec();
    let mut sorted = files.clone();
    sorted.sort();
    for (path, content) in &sorted {
        manifest.extend_from_slice(
            format!(
                "A 000000 100644 {} {} {path}\0",
                "0".repeat(64),
                hex::encode(Sha256::digest(content))
            )
            .as_bytes(),
        );
    }
    let digest = chainlock_diff::diff_digest(dir.path(), None, "main").unwrap();
    assert_eq!(digest.to_hex(), hex::encode(Sha256::digest(&manifest)));
    assert_eq!(digest.entries, FILES);

    // Once other threads exist the limits are no longer applied.
    let other = std::thread::spawn(|| std::thread::park_timeout(std::time::Duration::from_secs(5)));
    assert_eq!(
        limit_libgit2_memory(Libgit2Limits::default()).unwrap(),
        Applied::NotSingleThreaded
    );
    other.thread().unpark();
    other.join().unwrap();

    println!(
        "limits: pack resident {} KiB by default, {} KiB under the limits",
        unlimited / 1024,
        limited / 1024
    );
    // The summary line of the libtest harness, which this test does without.
    println!("test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out");
}
