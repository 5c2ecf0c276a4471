//! Atomic writes on a real filesystem: replace, refuse, permissions, and nothing left behind
//! when the content fails half-way or the name is taken by a racing writer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;

use chainlock_fs::{write, write_with, Error, Options};

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn replace_and_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("index.json");
    write(&f, b"one", Options::REPLACE_PRIVATE).unwrap();
    write(&f, b"two", Options::REPLACE_PRIVATE).unwrap();
    assert_eq!(std::fs::read(&f).unwrap(), b"two");
    let err = write(&f, b"three", Options::NEW_PRIVATE).unwrap_err();
    assert!(matches!(err, Error::Exists { .. }), "{err}");
    assert!(err.to_string().contains("never overwritten"));
    assert_eq!(std::fs::read(&f).unwrap(), b"two");
    assert_eq!(names(dir.path()), vec!["index.json"]);
}

#[cfg(unix)]
#[test]
fn modes_are_what_was_asked() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    for (name, options, mode) in [
        ("key.pem", Options::NEW_PRIVATE, 0o600),
        ("envelope.json", Options::NEW_PUBLIC, 0o644),
    ] {
        let f = dir.path().join(name);
        write(&f, b"x", options).unwrap();
        let got = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(got, mode, "{name}");
    }
}

#[test]
fn a_failed_fill_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("manifest");
    let result: Result<(), std::io::Error> = write_with(&f, Options::REPLACE_PUBLIC, |out| {
        out.write_all(&[b'x'; 100_000])?;
        Err(std::io::Error::other("the diff failed half-way"))
    });
    assert!(result.is_err());
    assert!(names(dir.path()).is_empty(), "{:?}", names(dir.path()));
}

#[test]
fn a_name_taken_while_writing_is_not_clobbered() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("envelope.json");
    let result: Result<(), Error> = write_with(&f, Options::NEW_PUBLIC, |out| {
        // Another process creates the file after the first check.
        std::fs::write(&f, b"theirs").unwrap();
        out.write_all(b"ours").map_err(|e| Error::Io {
            action: "cannot write",
            path: f.clone(),
            error: e,
        })
    });
    assert!(matches!(result, Err(Error::Exists { .. })));
    assert_eq!(std::fs::read(&f).unwrap(), b"theirs");
    assert_eq!(names(dir.path()), vec!["envelope.json"]);
}
