//! Bounds on the memory libgit2 keeps while a range is read: the one place this workspace
//! uses `unsafe` (ADR 0005).
//!
//! libgit2 reads pack files through memory-mapped windows and keeps an object cache, both
//! sized by process-wide settings whose defaults (on 64-bit: 1 GiB windows, 8 GiB mapped in
//! total, a 256 MiB cache) let the resident size of a long review grow with the part of the
//! pack it touched. [`limit_libgit2_memory`] lowers them, so reading a huge range stays
//! within a few tens of megabytes whatever its length.
//!
//! libgit2 stores these settings in C globals written without synchronization, which is why
//! `git2` exposes the setters as `unsafe`: a write while another thread is inside libgit2 is
//! a data race. The function below is safe because it checks that the calling thread is the
//! only thread of the process before it writes; when it cannot tell (not Linux) or another
//! thread exists, it leaves the defaults and says so.

use crate::error::{Error, Result};

const MIB: usize = 1024 * 1024;

/// The limits [`limit_libgit2_memory`] applies.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Libgit2Limits {
    /// The size of one mapped window of a pack file.
    pub pack_window: usize,
    /// The most pack data mapped at once, all repositories and threads together; libgit2
    /// unmaps the least recently used windows not in use to stay under it.
    pub pack_mapped: usize,
    /// The most memory the object caches (commits and trees; blobs are never cached) hold.
    pub object_cache: usize,
}

impl Default for Libgit2Limits {
    /// 8 MiB windows, 32 MiB mapped, a 16 MiB object cache: measured in
    /// `docs/benchmarks.md` to cost no time on a 40,000-file repository.
    fn default() -> Self {
        Self {
            pack_window: 8 * MIB,
            pack_mapped: 32 * MIB,
            object_cache: 16 * MIB,
        }
    }
}

/// Whether the limits were applied.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Applied {
    /// libgit2 uses the limits from now on.
    Yes,
    /// Left unchanged: another thread exists, or the platform cannot tell (not Linux).
    NotSingleThreaded,
}

/// Applies `limits` to libgit2 for the whole process. Call it first thing in `main`, before
/// any thread starts: it refuses (returning [`Applied::NotSingleThreaded`]) once another
/// thread exists, since that thread could be inside libgit2.
pub fn limit_libgit2_memory(limits: Libgit2Limits) -> Result<Applied> {
    if !single_threaded() {
        return Ok(Applied::NotSingleThreaded);
    }
    let option = |source| Error::Libgit2Option { source };
    let cache = isize::try_from(limits.object_cache).unwrap_or(isize::MAX);
    // SAFETY: the setters write libgit2 globals without synchronization, so they must not run
    // while another thread uses libgit2. This thread is the only thread of the process (just
    // checked), and only it could start another, which it does not do before returning: no
    // other thread can be inside libgit2 during these writes.
    #[allow(unsafe_code)]
    unsafe {
        git2::opts::set_mwindow_size(limits.pack_window).map_err(option)?;
        git2::opts::set_mwindow_mapped_limit(limits.pack_mapped).map_err(option)?;
        git2::opts::set_cache_max_size(cache).map_err(option)?;
    }
    Ok(Applied::Yes)
}

/// Whether the calling thread is the only thread of the process (Linux: `/proc/self/status`).
fn single_threaded() -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .is_some_and(|count| count.trim() == "1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_while_other_threads_exist() {
        // The test harness runs this on a thread of its own, beside the main thread.
        assert_eq!(
            limit_libgit2_memory(Libgit2Limits::default()).expect("no libgit2 error"),
            Applied::NotSingleThreaded
        );
    }
}
