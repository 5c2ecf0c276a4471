//! The diff digest of PROTOCOL.md section 4 (diff manifest v1).
//!
//! The manifest is `chainlock-diff-v1\n` followed by one entry per changed path, in byte order
//! of the path: `<status> <old_mode> <new_mode> <old_sha256> <new_sha256> <path>` and a NUL.
//! The digest is the SHA-256 of the manifest.

use std::path::Path;

use git2::Repository;
use sha2::{Digest as _, Sha256};

use crate::change::{self, clone_open_error, Changes, Entry, Mode, ObjectId, Range};
use crate::error::{Error, Result};
use crate::parallel;
use crate::review::Cancel;

/// The first bytes of every diff manifest (version 1).
pub const MANIFEST_HEADER: &[u8] = b"chainlock-diff-v1\n";

/// The diff digest of a range, with what it was computed over.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DiffDigest {
    /// The resolved commits.
    pub range: Range,
    /// How many manifest entries (changed paths) the digest covers.
    pub entries: usize,
    /// SHA-256 of the manifest.
    pub digest: [u8; 32],
}

impl DiffDigest {
    /// The digest in lowercase hex, as records carry it.
    pub fn to_hex(&self) -> String {
        hex::encode(self.digest)
    }
}

/// One manifest entry, NUL included. `None` stands for an absent side (64 zeros).
pub fn manifest_entry(
    entry: &Entry,
    old_sha256: Option<[u8; 32]>,
    new_sha256: Option<[u8; 32]>,
) -> Vec<u8> {
    let side = |sha: Option<[u8; 32]>| hex::encode(sha.unwrap_or([0; 32]));
    let mut out = Vec::with_capacity(2 + 2 * 7 + 2 * 65 + entry.path.len() + 1);
    out.extend_from_slice(
        format!(
            "{} {} {} {} {} ",
            entry.status.letter(),
            entry.old_mode,
            entry.new_mode,
            side(old_sha256),
            side(new_sha256)
        )
        .as_bytes(),
    );
    out.extend_from_slice(&entry.path);
    out.push(0);
    out
}

/// The SHA-256 a manifest entry carries for one side: the blob's bytes, or for a submodule
/// the commit id's lowercase hex ASCII; `None` when the side is absent.
fn side_sha256(
    repo: &Repository,
    entry: &Entry,
    mode: Mode,
    id: Option<ObjectId>,
) -> Result<Option<[u8; 32]>> {
    let Some(id) = id else { return Ok(None) };
    if mode.is_absent() {
        return Ok(None);
    }
    if mode.is_submodule() {
        return Ok(Some(Sha256::digest(id.to_hex().as_bytes()).into()));
    }
    let blob = change::read_blob(repo, entry, id)?;
    Ok(Some(Sha256::digest(blob.content()).into()))
}

impl Changes {
    /// Computes the diff digest, handing the manifest bytes (header, then each entry) to `sink`
    /// as they are produced, for callers that publish or inspect the manifest itself.
    ///
    /// Blob reads and hashing run on `threads` workers (default: one per core), each with its
    /// own repository handle; entries are hashed into the digest strictly in order.
    pub fn digest_with<E, F>(&self, threads: Option<usize>, mut sink: F) -> Result<DiffDigest, E>
    where
        E: From<Error>,
        F: FnMut(&[u8]) -> Result<(), E>,
    {
        let threads = threads.unwrap_or_else(parallel::default_threads);
        let mut hasher = Sha256::new();
        hasher.update(MANIFEST_HEADER);
        sink(MANIFEST_HEADER)?;
        parallel::ordered_map(
            self.entries.len(),
            threads,
            // Results are 64 bytes: a wide window keeps every core busy behind a huge blob.
            256 * threads,
            || change::open(&self.repo_path),
            |repo, i| -> Result<change::Sides<[u8; 32]>> {
                let repo = repo.as_ref().map_err(clone_open_error)?;
                let entry = &self.entries[i];
                Ok((
                    side_sha256(repo, entry, entry.old_mode, entry.old_id)?,
                    side_sha256(repo, entry, entry.new_mode, entry.new_id)?,
                ))
            },
            |i, hashes| {
                let (old, new) = hashes?;
                let line = manifest_entry(&self.entries[i], old, new);
                hasher.update(&line);
                sink(&line)
            },
        )?;
        Ok(DiffDigest {
            range: self.range,
            entries: self.entries.len(),
            digest: hasher.finalize().into(),
        })
    }

    /// Computes the diff digest of this range.
    pub fn digest(&self) -> Result<DiffDigest> {
        self.digest_with(None, |_| Ok::<(), Error>(()))
    }

    /// [`Changes::digest`], stopping with [`Error::Cancelled`] at the first entry after
    /// `cancel` is set (no digest of part of a range is ever returned); `progress` hears
    /// `(entries hashed, entries in all)` after each entry.
    pub fn digest_cancellable(
        &self,
        cancel: &Cancel,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<DiffDigest> {
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let total = self.entries.len();
        let mut done = 0;
        let mut header = true;
        self.digest_with(None, |_| {
            // The first bytes handed on are the header, not an entry.
            if std::mem::take(&mut header) {
                return Ok(());
            }
            // Checked between entries: the workers stop with the first error returned here.
            if cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
            done += 1;
            progress(done, total);
            Ok(())
        })
    }
}

/// Computes the diff digest of the range `base..head` in the repository at `repo`.
///
/// `base` and `head` are any revisions git resolves to commits; `base` `None` is the empty
/// tree (the first release after genesis).
pub fn diff_digest(repo: &Path, base: Option<&str>, head: &str) -> Result<DiffDigest> {
    change::changes(repo, base, head)?.digest()
}

/// [`diff_digest`] with a cancellation token and progress (see
/// [`Changes::digest_cancellable`]).
pub fn diff_digest_cancellable(
    repo: &Path,
    base: Option<&str>,
    head: &str,
    cancel: &Cancel,
    progress: impl FnMut(usize, usize),
) -> Result<DiffDigest> {
    change::changes(repo, base, head)?.digest_cancellable(cancel, progress)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::Status;

    fn sha(bytes: &[u8]) -> [u8; 32] {
        Sha256::digest(bytes).into()
    }

    #[test]
    fn an_added_file_entry_has_zeros_for_the_absent_side() {
        let entry = Entry {
            path: b"src/main.rs".to_vec(),
            status: Status::Added,
            old_mode: Mode::ABSENT,
            new_mode: Mode::FILE,
            old_id: None,
            new_id: Some(ObjectId([7; 20])),
        };
        let line = manifest_entry(&entry, None, Some(sha(b"fn main() {}\n")));
        let expected = format!(
            "A 000000 100644 {} {} src/main.rs\0",
            "0".repeat(64),
            hex::encode(sha(b"fn main() {}\n"))
        );
        assert_eq!(line, expected.as_bytes());
    }

    #[test]
    fn a_deleted_executable_entry() {
        let entry = Entry {
            path: b"run.sh".to_vec(),
            status: Status::Deleted,
            old_mode: Mode::EXECUTABLE,
            new_mode: Mode::ABSENT,
            old_id: Some(ObjectId([1; 20])),
            new_id: None,
        };
        let line = manifest_entry(&entry, Some(sha(b"#!/bin/sh\n")), None);
        let text = String::from_utf8(line).expect("ascii");
        assert!(text.starts_with("D 100755 000000 "), "{text}");
        assert!(
            text.ends_with(&format!(" {} run.sh\0", "0".repeat(64))),
            "{text}"
        );
        assert_eq!(text.len(), 1 + 1 + 6 + 1 + 6 + 1 + 64 + 1 + 64 + 1 + 6 + 1);
    }

    #[test]
    fn non_utf8_path_bytes_are_written_raw() {
        let entry = Entry {
            path: vec![b'f', 0xff, 0xfe, b'\n', b'x'],
            status: Status::Modified,
            old_mode: Mode::FILE,
            new_mode: Mode::EXECUTABLE,
            old_id: Some(ObjectId([1; 20])),
            new_id: Some(ObjectId([1; 20])),
        };
        let line = manifest_entry(&entry, Some(sha(b"same")), Some(sha(b"same")));
        assert!(line.starts_with(b"M 100644 100755 "));
        assert!(line.ends_with(&[b' ', b'f', 0xff, 0xfe, b'\n', b'x', 0]));
    }

    #[test]
    fn the_empty_manifest_digest_is_the_hash_of_the_header() {
        // `printf 'chainlock-diff-v1\n' | sha256sum`
        assert_eq!(
            hex::encode(sha(MANIFEST_HEADER)),
            "d3a7f29593011416fb5ae52d80b02b124d18aaeb4bee5c12e41a3aebe967c3e7"
        );
    }

    #[test]
    fn submodule_sides_hash_the_commit_id_hex() {
        let id = ObjectId([0xab; 20]);
        let entry = Entry {
            path: b"vendor/lib".to_vec(),
            status: Status::Added,
            old_mode: Mode::ABSENT,
            new_mode: Mode::SUBMODULE,
            old_id: None,
            new_id: Some(id),
        };
        let repo_dir = tempfile::tempdir().expect("tempdir");
        let repo = Repository::init(repo_dir.path()).expect("init");
        // No object is read for a submodule: the id alone is hashed.
        let got = side_sha256(&repo, &entry, Mode::SUBMODULE, Some(id)).expect("hash");
        assert_eq!(got, Some(sha("ab".repeat(20).as_bytes())));
        assert_eq!(
            side_sha256(&repo, &entry, Mode::ABSENT, None).expect("absent"),
            None
        );
    }
}
