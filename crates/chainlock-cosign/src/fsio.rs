//! Files written whole or not at all (through `chainlock_fs`), and reads with a size cap.

use std::fs::{self, File};
use std::path::Path;

use crate::{Error, Result};

/// The largest state or configuration file read (a watched package list, a cached request).
pub const MAX_STATE_FILE: u64 = 64 << 20;

/// Writes `bytes` to `path` atomically (readers see the old file or the new one, never a
/// part), creating its directory: `chainlock_fs`, the one way ChainLock writes files.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    create_parent(path)?;
    chainlock_fs::write(path, bytes, chainlock_fs::Options::REPLACE_PRIVATE).map_err(fs_error)
}

/// Writes `bytes` to `path` only if nothing is there yet (a policy, evidence): an existing
/// file is never replaced.
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    create_parent(path)?;
    chainlock_fs::write(path, bytes, chainlock_fs::Options::NEW_PUBLIC).map_err(fs_error)
}

fn create_parent(path: &Path) -> Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            fs::create_dir_all(dir).map_err(|e| Error::io("cannot create directory", dir, e))
        }
        _ => Ok(()),
    }
}

fn fs_error(e: chainlock_fs::Error) -> Error {
    Error::Refused(e.to_string())
}

/// Reads a file of at most [`MAX_STATE_FILE`] bytes.
pub fn read_capped(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let file = File::open(path).map_err(|e| Error::io("cannot read", path, e))?;
    let mut bytes = Vec::new();
    file.take(MAX_STATE_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("cannot read", path, e))?;
    if bytes.len() as u64 > MAX_STATE_FILE {
        return Err(Error::Damaged {
            path: path.to_path_buf(),
            reason: format!(
                "larger than the {} MiB a state file may be",
                MAX_STATE_FILE >> 20
            ),
        });
    }
    Ok(bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn atomic_replaces_and_new_never_does() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert!(write_new(&p, b"three").is_err());
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let q = dir.path().join("b.json");
        write_new(&q, b"x").unwrap();
        assert_eq!(fs::read(&q).unwrap(), b"x");
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }
}
