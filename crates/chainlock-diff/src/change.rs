//! The changed entries of a release range: what differs between the trees of two commits.

use std::fmt;
use std::path::{Path, PathBuf};

use git2::{Delta, DiffOptions, Oid, Repository};

use crate::error::{Error, Result};
use crate::parallel;

/// A git object id (SHA-1, 20 bytes).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId(pub [u8; 20]);

impl ObjectId {
    pub(crate) fn from_oid(oid: Oid) -> Self {
        let mut bytes = [0; 20];
        bytes.copy_from_slice(oid.as_bytes());
        Self(bytes)
    }

    pub(crate) fn to_oid(self) -> Oid {
        // Twenty bytes always make an Oid; the zero id is only a fallback that cannot occur.
        Oid::from_bytes(&self.0).unwrap_or(Oid::ZERO_SHA1)
    }

    /// The id in lowercase hex, as git prints it.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({self})")
    }
}

/// How a path changed between the base and the head of a range.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum Status {
    /// Absent in the base, present in the head.
    Added,
    /// Present in the base, absent in the head.
    Deleted,
    /// Present in both, with different content or mode (type changes included).
    Modified,
}

impl Status {
    /// The one-letter code of the diff manifest: `A`, `D` or `M`.
    pub fn letter(self) -> char {
        match self {
            Status::Added => 'A',
            Status::Deleted => 'D',
            Status::Modified => 'M',
        }
    }
}

/// A tree entry's mode, normalized the way git writes it in its raw diff output.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct Mode(u32);

impl Mode {
    /// The absent side of an addition or deletion: `000000`.
    pub const ABSENT: Mode = Mode(0);
    /// A regular file: `100644`.
    pub const FILE: Mode = Mode(0o100644);
    /// An executable file: `100755`.
    pub const EXECUTABLE: Mode = Mode(0o100755);
    /// A symbolic link, whose blob holds the target: `120000`.
    pub const SYMLINK: Mode = Mode(0o120000);
    /// A submodule (gitlink), whose id is a commit in another repository: `160000`.
    pub const SUBMODULE: Mode = Mode(0o160000);

    /// Normalizes a raw git mode as git's `canon_mode` does (any executable bit makes a file
    /// `100755`, historic `100664` becomes `100644`); `None` for modes with no blob behind them.
    pub fn from_git(raw: u32) -> Option<Mode> {
        match raw & 0o170000 {
            0 if raw == 0 => Some(Mode::ABSENT),
            0o100000 if raw & 0o100 != 0 => Some(Mode::EXECUTABLE),
            0o100000 => Some(Mode::FILE),
            0o120000 => Some(Mode::SYMLINK),
            0o160000 => Some(Mode::SUBMODULE),
            _ => None,
        }
    }

    /// The numeric mode.
    pub fn bits(self) -> u32 {
        self.0
    }

    /// Whether the entry is a submodule, whose id names a commit rather than a blob.
    pub fn is_submodule(self) -> bool {
        self == Mode::SUBMODULE
    }

    /// Whether the entry is a symbolic link.
    pub fn is_symlink(self) -> bool {
        self == Mode::SYMLINK
    }

    /// Whether the side is absent (an addition's base, a deletion's head).
    pub fn is_absent(self) -> bool {
        self == Mode::ABSENT
    }

    /// Whether the id names a blob this repository holds (a file or a symlink target).
    pub fn has_blob(self) -> bool {
        !self.is_absent() && !self.is_submodule()
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06o}", self.0)
    }
}

/// The two commits of a release range, as resolved from the revisions given.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Range {
    /// The base commit; `None` when the base is the empty tree (the first release).
    pub base: Option<ObjectId>,
    /// The head commit.
    pub head: ObjectId,
}

/// One changed path of a range, without content.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Entry {
    /// The path's raw bytes (git paths need not be UTF-8).
    pub path: Vec<u8>,
    /// Added, deleted or modified.
    pub status: Status,
    /// The base side's mode, [`Mode::ABSENT`] when added.
    pub old_mode: Mode,
    /// The head side's mode, [`Mode::ABSENT`] when deleted.
    pub new_mode: Mode,
    /// The base side's object id, `None` when added.
    pub old_id: Option<ObjectId>,
    /// The head side's object id, `None` when deleted.
    pub new_id: Option<ObjectId>,
}

impl Entry {
    /// The path for display: invalid UTF-8 replaced, never to be hashed or compared.
    pub fn display_path(&self) -> String {
        String::from_utf8_lossy(&self.path).into_owned()
    }
}

/// Every changed path of a range, sorted by raw path bytes.
#[derive(Clone, Debug)]
pub struct Changes {
    /// The resolved commits.
    pub range: Range,
    /// The changed paths in byte order of the path.
    pub entries: Vec<Entry>,
    /// The repository they came from, so workers can open their own handles.
    pub(crate) repo_path: PathBuf,
}

/// Opens the repository at exactly `path` (no search upwards: the caller names the clone).
pub(crate) fn open(path: &Path) -> Result<Repository> {
    Repository::open(path).map_err(|source| Error::OpenRepository {
        path: path.to_owned(),
        source,
    })
}

fn resolve<'r>(repo: &'r Repository, path: &Path, spec: &str) -> Result<git2::Commit<'r>> {
    repo.revparse_single(spec)
        .and_then(|object| object.peel_to_commit())
        .map_err(|source| Error::Revision {
            spec: spec.to_owned(),
            path: path.to_owned(),
            source,
        })
}

/// Git's empty tree id (SHA-1 repositories): how a release record names the base of the first
/// release after genesis.
pub const EMPTY_TREE_SHA1: &str = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
/// Git's empty tree id in SHA-256 repositories.
pub const EMPTY_TREE_SHA256: &str =
    "6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321";

/// Whether `spec` names the empty tree: its well-known id (which need not be stored in the
/// repository), or any revision that resolves to a tree with no entries.
fn names_empty_tree(repo: &Repository, spec: &str) -> bool {
    spec == EMPTY_TREE_SHA1
        || spec == EMPTY_TREE_SHA256
        || repo
            .revparse_single(spec)
            .ok()
            .and_then(|object| object.into_tree().ok())
            .is_some_and(|tree| tree.is_empty())
}

/// Lists the changed paths between `base` and `head` (any revisions git resolves to commits;
/// `base` `None`, or the empty tree's id, for the empty tree), recursively, without rename or
/// copy detection.
pub fn changes(repo: &Path, base: Option<&str>, head: &str) -> Result<Changes> {
    let git = open(repo)?;
    let base = base.filter(|spec| !names_empty_tree(&git, spec));
    let base_commit = base.map(|spec| resolve(&git, repo, spec)).transpose()?;
    let head_commit = resolve(&git, repo, head)?;
    let range = Range {
        base: base_commit.as_ref().map(|c| ObjectId::from_oid(c.id())),
        head: ObjectId::from_oid(head_commit.id()),
    };
    let tree_error = |source| Error::TreeDiff {
        base: range
            .base
            .map_or_else(|| "the empty tree".to_owned(), |id| id.to_hex()),
        head: range.head.to_hex(),
        path: repo.to_owned(),
        source,
    };
    let base_tree = base_commit
        .as_ref()
        .map(|c| c.tree())
        .transpose()
        .map_err(tree_error)?;
    let head_tree = head_commit.tree().map_err(tree_error)?;

    let mut options = DiffOptions::new();
    // One entry per path even when a file becomes a symlink or a submodule; no content is
    // read here (binary detection would inflate every blob once more).
    options
        .include_typechange(true)
        .skip_binary_check(true)
        .ignore_submodules(false)
        .ignore_filemode(false);
    let diff = git
        .diff_tree_to_tree(base_tree.as_ref(), Some(&head_tree), Some(&mut options))
        .map_err(tree_error)?;

    let mut entries = Vec::with_capacity(diff.deltas().len());
    for delta in diff.deltas() {
        let (old, new) = (delta.old_file(), delta.new_file());
        let path = new
            .path_bytes()
            .or_else(|| old.path_bytes())
            .unwrap_or_default()
            .to_vec();
        let mode = |file: &git2::DiffFile<'_>| {
            let raw = u32::from(file.mode());
            Mode::from_git(raw).ok_or_else(|| Error::UnexpectedMode {
                path: String::from_utf8_lossy(&path).into_owned(),
                mode: raw,
            })
        };
        let (status, old_mode, new_mode) = match delta.status() {
            Delta::Added => (Status::Added, Mode::ABSENT, mode(&new)?),
            Delta::Deleted => (Status::Deleted, mode(&old)?, Mode::ABSENT),
            Delta::Modified | Delta::Typechange => (Status::Modified, mode(&old)?, mode(&new)?),
            Delta::Unmodified => continue,
            // Renames, copies and work-tree states cannot come out of a plain tree comparison;
            // should a libgit2 change produce one, fail loudly rather than mis-hash.
            other => {
                return Err(Error::UnexpectedDelta {
                    path: String::from_utf8_lossy(&path).into_owned(),
                    kind: format!("{other:?}"),
                })
            }
        };
        entries.push(Entry {
            path,
            status,
            old_mode,
            new_mode,
            old_id: (!old_mode.is_absent()).then(|| ObjectId::from_oid(old.id())),
            new_id: (!new_mode.is_absent()).then(|| ObjectId::from_oid(new.id())),
        });
    }
    let entries = normalize(entries)?;
    Ok(Changes {
        range,
        entries,
        repo_path: repo.to_owned(),
    })
}

/// Sorts by raw path bytes and joins a deletion and an addition of the same path (a type
/// change libgit2 chose to split) into the one modification the manifest calls for.
pub(crate) fn normalize(mut entries: Vec<Entry>) -> Result<Vec<Entry>> {
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let mut out: Vec<Entry> = Vec::with_capacity(entries.len());
    for entry in entries {
        match out.last_mut() {
            Some(last) if last.path == entry.path => {
                let (deleted, added) = match (last.status, entry.status) {
                    (Status::Deleted, Status::Added) => (last.clone(), entry),
                    (Status::Added, Status::Deleted) => (entry, last.clone()),
                    (first, second) => {
                        return Err(Error::DuplicatePath {
                            path: entry.display_path(),
                            first: first.letter(),
                            second: second.letter(),
                        })
                    }
                };
                *last = Entry {
                    path: added.path,
                    status: Status::Modified,
                    old_mode: deleted.old_mode,
                    new_mode: added.new_mode,
                    old_id: deleted.old_id,
                    new_id: added.new_id,
                };
            }
            _ => out.push(entry),
        }
    }
    Ok(out)
}

/// A changed path with the content of both sides, as [`for_each_change`] hands it out.
#[derive(Clone, Copy, Debug)]
pub struct FileChange<'a> {
    /// The path's raw bytes.
    pub path: &'a [u8],
    /// Added, deleted or modified.
    pub status: Status,
    /// The base side's mode, [`Mode::ABSENT`] when added.
    pub old_mode: Mode,
    /// The head side's mode, [`Mode::ABSENT`] when deleted.
    pub new_mode: Mode,
    /// The base side's object id (a commit id for a submodule), `None` when added.
    pub old_id: Option<ObjectId>,
    /// The head side's object id (a commit id for a submodule), `None` when deleted.
    pub new_id: Option<ObjectId>,
    /// The base side's blob bytes; `None` when absent or a submodule.
    pub old: Option<&'a [u8]>,
    /// The head side's blob bytes; `None` when absent or a submodule.
    pub new: Option<&'a [u8]>,
}

/// Something per side of an entry: base, head.
pub(crate) type Sides<T> = (Option<T>, Option<T>);

/// Reads the blob behind one side of an entry.
pub(crate) fn read_blob<'r>(
    repo: &'r Repository,
    entry: &Entry,
    id: ObjectId,
) -> Result<git2::Blob<'r>> {
    repo.find_blob(id.to_oid())
        .map_err(|source| Error::ReadBlob {
            path: entry.display_path(),
            id: id.to_hex(),
            source,
        })
}

impl Changes {
    /// Calls `f` with every changed path and its content, in byte order of the path.
    ///
    /// Blobs are read ahead on worker threads (each with its own repository handle) within a
    /// small window, so memory stays bounded by a few blobs however many files changed.
    pub fn for_each<E, F>(&self, threads: Option<usize>, mut f: F) -> Result<(), E>
    where
        E: From<Error>,
        F: FnMut(&FileChange<'_>) -> Result<(), E>,
    {
        let threads = threads.unwrap_or_else(parallel::default_threads);
        let read_side = |repo: &Repository,
                         entry: &Entry,
                         mode: Mode,
                         id: Option<ObjectId>|
         -> Result<Option<Vec<u8>>> {
            match id {
                Some(id) if mode.has_blob() => {
                    Ok(Some(read_blob(repo, entry, id)?.content().to_vec()))
                }
                _ => Ok(None),
            }
        };
        parallel::ordered_map(
            self.entries.len(),
            threads,
            2 * threads,
            || open(&self.repo_path),
            |repo, i| -> Result<Sides<Vec<u8>>> {
                let repo = repo.as_ref().map_err(clone_open_error)?;
                let entry = &self.entries[i];
                Ok((
                    read_side(repo, entry, entry.old_mode, entry.old_id)?,
                    read_side(repo, entry, entry.new_mode, entry.new_id)?,
                ))
            },
            |i, content| {
                let (old, new) = content?;
                let entry = &self.entries[i];
                f(&FileChange {
                    path: &entry.path,
                    status: entry.status,
                    old_mode: entry.old_mode,
                    new_mode: entry.new_mode,
                    old_id: entry.old_id,
                    new_id: entry.new_id,
                    old: old.as_deref(),
                    new: new.as_deref(),
                })
            },
        )
    }
}

/// A worker's failed open, re-reported for the item it could not process.
pub(crate) fn clone_open_error(err: &Error) -> Error {
    match err {
        Error::OpenRepository { path, source } => Error::OpenRepository {
            path: path.clone(),
            source: git2::Error::new(source.code(), source.class(), source.message()),
        },
        other => Error::OpenRepository {
            path: PathBuf::new(),
            source: git2::Error::from_str(&other.to_string()),
        },
    }
}

/// Streams every changed path of the range `base..head` with its content, in byte order of
/// the path, and returns the resolved commits.
///
/// `base` and `head` are any revisions git resolves to commits (tags, branches, ids); `base`
/// `None` compares against the empty tree. `old`/`new` are `None` for an absent side and for
/// submodules. The first error `f` returns stops the walk and is returned.
pub fn for_each_change<E, F>(repo: &Path, base: Option<&str>, head: &str, f: F) -> Result<Range, E>
where
    E: From<Error>,
    F: FnMut(&FileChange<'_>) -> Result<(), E>,
{
    let changes = changes(repo, base, head)?;
    changes.for_each(None, f)?;
    Ok(changes.range)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, status: Status, old: Mode, new: Mode) -> Entry {
        Entry {
            path: path.as_bytes().to_vec(),
            status,
            old_mode: old,
            new_mode: new,
            old_id: (!old.is_absent()).then_some(ObjectId([1; 20])),
            new_id: (!new.is_absent()).then_some(ObjectId([2; 20])),
        }
    }

    #[test]
    fn modes_normalize_like_git() {
        assert_eq!(Mode::from_git(0o100644), Some(Mode::FILE));
        assert_eq!(Mode::from_git(0o100664), Some(Mode::FILE));
        assert_eq!(Mode::from_git(0o100755), Some(Mode::EXECUTABLE));
        assert_eq!(Mode::from_git(0o100744), Some(Mode::EXECUTABLE));
        assert_eq!(Mode::from_git(0o120000), Some(Mode::SYMLINK));
        assert_eq!(Mode::from_git(0o160000), Some(Mode::SUBMODULE));
        assert_eq!(Mode::from_git(0), Some(Mode::ABSENT));
        assert_eq!(Mode::from_git(0o040000), None);
        assert_eq!(Mode::SYMLINK.to_string(), "120000");
        assert_eq!(Mode::ABSENT.to_string(), "000000");
    }

    #[test]
    fn entries_sort_by_raw_bytes_not_tree_order() {
        // Git's tree order puts the directory "a" (compared as "a/") after "a.c"; raw byte
        // order agrees here, and puts "a-b" (0x2d) before "a.c" (0x2e) before "a/x" (0x2f).
        let sorted = normalize(vec![
            entry("a/x", Status::Added, Mode::ABSENT, Mode::FILE),
            entry("a.c", Status::Added, Mode::ABSENT, Mode::FILE),
            entry("\u{e9}", Status::Added, Mode::ABSENT, Mode::FILE),
            entry("a-b", Status::Added, Mode::ABSENT, Mode::FILE),
            entry("B", Status::Added, Mode::ABSENT, Mode::FILE),
        ])
        .expect("normalizes");
        let paths: Vec<_> = sorted.iter().map(Entry::display_path).collect();
        assert_eq!(paths, ["B", "a-b", "a.c", "a/x", "\u{e9}"]);
    }

    #[test]
    fn a_split_type_change_becomes_one_modification() {
        let joined = normalize(vec![
            entry("link", Status::Added, Mode::ABSENT, Mode::SYMLINK),
            entry("link", Status::Deleted, Mode::FILE, Mode::ABSENT),
        ])
        .expect("normalizes");
        assert_eq!(joined.len(), 1);
        assert_eq!(joined[0].status, Status::Modified);
        assert_eq!(
            (joined[0].old_mode, joined[0].new_mode),
            (Mode::FILE, Mode::SYMLINK)
        );
        assert_eq!(
            (joined[0].old_id, joined[0].new_id),
            (Some(ObjectId([1; 20])), Some(ObjectId([2; 20])))
        );
    }

    #[test]
    fn a_path_reported_twice_otherwise_is_an_error() {
        let err = normalize(vec![
            entry("x", Status::Modified, Mode::FILE, Mode::FILE),
            entry("x", Status::Added, Mode::ABSENT, Mode::FILE),
        ])
        .expect_err("duplicate");
        assert!(matches!(err, Error::DuplicatePath { .. }), "{err}");
    }
}
