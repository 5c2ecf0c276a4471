//! Atomic file writes, done one way by every ChainLock writer (key index, builder keys,
//! envelopes, diff manifests): the content goes to a temporary file in the target's own
//! directory, is flushed and fsynced, and only then takes the target's name, by a rename that
//! replaces ([`Existing::Replace`]) or by a link that fails if the name is taken
//! ([`Existing::Refuse`]: keys and evidence are never overwritten). A failure at any step
//! removes the temporary file: nothing is ever left half-written under the target's name.

mod error;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use tempfile::TempPath;

pub use error::Error;

/// What to do when the target already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Replace it, atomically (readers see the old file or the new one, never a mix).
    Replace,
    /// Refuse with [`Error::Exists`], even when another process creates it meanwhile.
    Refuse,
}

/// How a file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// What to do when the target exists.
    pub existing: Existing,
    /// Unix permission bits of the new file (`0o600` for secrets and private state).
    pub mode: u32,
}

impl Options {
    /// A new document others may read (`0o644`), never overwriting one.
    pub const NEW_PUBLIC: Options = Options {
        existing: Existing::Refuse,
        mode: 0o644,
    };
    /// A new file only its owner may read (`0o600`), never overwriting one: keys.
    pub const NEW_PRIVATE: Options = Options {
        existing: Existing::Refuse,
        mode: 0o600,
    };
    /// A document others may read, replacing the old one atomically.
    pub const REPLACE_PUBLIC: Options = Options {
        existing: Existing::Replace,
        mode: 0o644,
    };
    /// Private state (`0o600`) replacing the old one atomically: the key index.
    pub const REPLACE_PRIVATE: Options = Options {
        existing: Existing::Replace,
        mode: 0o600,
    };
}

/// Writes `bytes` to `path` atomically (see the crate docs). The bytes go straight to the
/// file, with no intermediate buffer: a secret is not copied into memory freed unzeroized.
pub fn write(path: &Path, bytes: &[u8], options: Options) -> Result<(), Error> {
    let (mut file, tmp) = create_temp(path, options)?;
    file.write_all(bytes)
        .map_err(|e| Error::io("cannot write", path, e))?;
    commit(file, tmp, path, options)
}

/// Writes `path` atomically with what `fill` writes: for content streamed as it is made. An
/// error from `fill` (any type an [`Error`] converts into) leaves nothing behind.
pub fn write_with<T, E: From<Error>>(
    path: &Path,
    options: Options,
    fill: impl FnOnce(&mut BufWriter<File>) -> Result<T, E>,
) -> Result<T, E> {
    let (file, tmp) = create_temp(path, options)?;
    let mut out = BufWriter::new(file);
    // On any error below, `tmp` is dropped and the temporary file removed with it.
    let value = fill(&mut out)?;
    let file = out
        .into_inner()
        .map_err(|e| Error::io("cannot write", path, e.into_error()))?;
    commit(file, tmp, path, options)?;
    Ok(value)
}

/// A new temporary file beside `path`, with the mode asked for.
fn create_temp(path: &Path, options: Options) -> Result<(File, TempPath), Error> {
    if options.existing == Existing::Refuse && path.symlink_metadata().is_ok() {
        // Checked first so no work is wasted; the link in `commit` still decides.
        return Err(Error::Exists { path: path.into() });
    }
    let dir = parent(path);
    let mut builder = tempfile::Builder::new();
    builder.prefix(".chainlock-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(options.mode));
    }
    let tmp = builder
        .tempfile_in(dir)
        .map_err(|e| Error::io("cannot create a file in", dir, e))?;
    Ok(tmp.into_parts())
}

/// Syncs the written file and gives it the target's name.
fn commit(file: File, tmp: TempPath, path: &Path, options: Options) -> Result<(), Error> {
    file.sync_all()
        .map_err(|e| Error::io("cannot write", path, e))?;
    drop(file);
    match options.existing {
        Existing::Replace => tmp
            .persist(path)
            .map_err(|e| Error::io("cannot replace", path, e.error))?,
        Existing::Refuse => tmp.persist_noclobber(path).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                Error::Exists { path: path.into() }
            } else {
                Error::io("cannot create", path, e.error)
            }
        })?,
    }
    // Make the new name durable where the platform lets a directory be synced.
    if let Ok(d) = File::open(parent(path)) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}
