//! The source tree at a commit, read from git: paths up front, blob contents on demand.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A tracked file (or symlink) of the source tree.
#[derive(Debug, Clone, Copy)]
pub struct SourceFile {
    /// The blob id.
    pub oid: git2::Oid,
    /// The git file mode (0o100644, 0o100755, 0o120000).
    pub mode: u32,
}

/// The files of a commit's tree. Submodules are left out: their content is not in this repo.
pub struct SourceTree {
    repo: git2::Repository,
    repo_path: PathBuf,
    commit: String,
    files: BTreeMap<String, SourceFile>,
}

impl std::fmt::Debug for SourceTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceTree")
            .field("repo", &self.repo_path)
            .field("commit", &self.commit)
            .field("files", &self.files.len())
            .finish()
    }
}

impl SourceTree {
    /// Opens `repo` and lists the tree of `rev` (any revision git resolves to a commit).
    pub fn open(repo: &Path, rev: &str) -> Result<SourceTree> {
        let git_err = |e: git2::Error| Error::Git {
            repo: repo.to_path_buf(),
            rev: rev.to_owned(),
            message: e.message().to_owned(),
        };
        let repository = git2::Repository::open(repo).map_err(git_err)?;
        let commit = repository
            .revparse_single(rev)
            .and_then(|o| o.peel_to_commit())
            .map_err(git_err)?;
        let tree = commit.tree().map_err(git_err)?;
        let mut files = BTreeMap::new();
        tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
            if entry.kind() == Some(git2::ObjectType::Blob) {
                // Non-UTF-8 names cannot match an archive path (archives with them are refused).
                let name = String::from_utf8_lossy(entry.name_bytes());
                files.insert(
                    format!("{dir}{name}"),
                    SourceFile {
                        oid: entry.id(),
                        mode: entry.filemode() as u32,
                    },
                );
            }
            git2::TreeWalkResult::Ok
        })
        .map_err(git_err)?;
        let commit_id = commit.id().to_string();
        drop(tree);
        drop(commit);
        Ok(SourceTree {
            repo: repository,
            repo_path: repo.to_path_buf(),
            commit: commit_id,
            files,
        })
    }

    /// The resolved commit id (hex).
    pub fn commit(&self) -> &str {
        &self.commit
    }

    /// The tracked paths and their blobs, sorted by path.
    pub fn files(&self) -> &BTreeMap<String, SourceFile> {
        &self.files
    }

    /// Whether `path` is a tracked file.
    pub fn contains(&self, path: &str) -> bool {
        self.files.contains_key(path)
    }

    /// Reads the content of a tracked path (a symlink's content is its target).
    pub fn read(&self, path: &str) -> Result<Option<Vec<u8>>> {
        let Some(file) = self.files.get(path) else {
            return Ok(None);
        };
        let blob = self.repo.find_blob(file.oid).map_err(|e| Error::Git {
            repo: self.repo_path.clone(),
            rev: self.commit.clone(),
            message: format!("cannot read blob of {path}: {}", e.message()),
        })?;
        Ok(Some(blob.content().to_vec()))
    }
}
