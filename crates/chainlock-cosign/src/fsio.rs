//! Files written whole or not at all: a temporary file in the same directory, synced, then
//! renamed over the target (or linked, when the target must not be replaced).

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use crate::{Error, Result};

/// The largest state or configuration file read (a watched package list, a cached request).
pub const MAX_STATE_FILE: u64 = 64 << 20;

/// Writes `bytes` to `path` atomically: readers see the old file or the new one, never a part.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_beside(path, bytes)?;
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::io("cannot replace", path, e)
    })?;
    sync_dir(path);
    Ok(())
}

/// Writes `bytes` to `path` only if nothing is there yet (a key, evidence, an audit entry):
/// an existing file is never replaced.
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_beside(path, bytes)?;
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    linked.map_err(|e| Error::io("cannot create (it may already exist)", path, e))?;
    sync_dir(path);
    Ok(())
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

fn temp_beside(path: &Path, bytes: &[u8]) -> Result<std::path::PathBuf> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| Error::io("cannot create directory", dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for attempt in 0..100u32 {
        let tmp = dir.join(format!(".{name}.{}.{attempt}.tmp", std::process::id()));
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
        {
            Ok(mut f) => {
                let done = f.write_all(bytes).and_then(|()| f.sync_all());
                if let Err(e) = done {
                    let _ = fs::remove_file(&tmp);
                    return Err(Error::io("cannot write", &tmp, e));
                }
                return Ok(tmp);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io("cannot write", &tmp, e)),
        }
    }
    Err(Error::io(
        "cannot find a free temporary name beside",
        path,
        std::io::Error::other("100 attempts"),
    ))
}

fn sync_dir(path: &Path) {
    // Best effort: the rename is durable once the directory entry is.
    if let Some(dir) = path.parent() {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
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
