//! Reading published artifacts (tar, gzip'd tar, zip) in memory, under hard limits.
//!
//! Nothing is ever written to disk: every entry is read into memory through a reader that
//! stops at the limit, so a zip bomb or a lying size header costs at most the limit. Paths
//! are checked before anything else: absolute paths, `..`, backslashes, links that leave the
//! tree (also through another symlink of the archive), device files and duplicate entries are
//! refused with an error naming the entry.
//!
//! What we compare must be what npm and pip install, so an archive that node-tar, Python's
//! tarfile or zipfile could read differently from us is refused as [`Error::Ambiguous`]: more
//! than one gzip member, data after the end-of-archive block, directories or links carrying
//! data, GNU and PAX metadata headers in any combination the readers resolve differently, and
//! zip entries renamed by an Info-ZIP Unicode Path field.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};

mod checks;
use checks::{check_central_directory, check_format};

/// The kind of published artifact, which decides how its layout maps onto the source tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// An npm package tarball (`npm pack`): gzip'd tar, everything under `package/`.
    Npm,
    /// A Python wheel: zip with `name-version.dist-info/`.
    Wheel,
    /// A Python source distribution: gzip'd tar under `name-version/` with `PKG-INFO`.
    Sdist,
    /// A Rust `.crate` (`cargo package`): gzip'd tar under `name-version/`.
    Crate,
    /// Any other tar (optionally gzip'd).
    Tar,
    /// Any other zip.
    Zip,
}

impl Format {
    /// The lowercase name used on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Npm => "npm",
            Format::Wheel => "wheel",
            Format::Sdist => "sdist",
            Format::Crate => "crate",
            Format::Tar => "tar",
            Format::Zip => "zip",
        }
    }

    /// Parses a name given on the command line.
    pub fn parse(name: &str) -> Option<Format> {
        Some(match name {
            "npm" => Format::Npm,
            "wheel" | "whl" => Format::Wheel,
            "sdist" => Format::Sdist,
            "crate" => Format::Crate,
            "tar" => Format::Tar,
            "zip" => Format::Zip,
            _ => return None,
        })
    }
}

/// Hard limits on what an archive may make us hold in memory.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Size of the artifact file itself.
    pub max_archive_bytes: u64,
    /// Number of entries (files, links, directories).
    pub max_entries: u64,
    /// Unpacked size of one entry.
    pub max_entry_bytes: u64,
    /// Unpacked size of all entries together (for tar.gz: the whole decompressed stream).
    pub max_total_bytes: u64,
    /// Largest unpacked/packed ratio tolerated once more than `ratio_floor_bytes` are unpacked.
    pub max_ratio: u64,
    /// Below this many unpacked bytes the ratio is not checked (small text compresses well).
    pub ratio_floor_bytes: u64,
}

impl Default for Limits {
    /// Generous for real packages (the largest npm and PyPI artifacts are a few hundred MB
    /// unpacked), far below what a bomb inflates to.
    fn default() -> Self {
        Limits {
            max_archive_bytes: 1 << 30,
            max_entries: 200_000,
            max_entry_bytes: 512 << 20,
            max_total_bytes: 1 << 30,
            // Source archives compress 3-10x; 100x is already a file of zeros.
            max_ratio: 100,
            ratio_floor_bytes: 32 << 20,
        }
    }
}

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum EntryKind {
    /// A regular file.
    File {
        /// Whether any execute bit is set.
        executable: bool,
    },
    /// A symbolic link whose target stays inside the tree.
    Symlink {
        /// The target as written in the archive.
        target: String,
    },
}

/// One file or link of an archive, with its content in memory.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The normalised relative path (`/`-separated, no `.` or empty components).
    pub path: String,
    /// File or link.
    pub kind: EntryKind,
    /// The content (for a link: its target's bytes, as git stores a symlink).
    pub data: Vec<u8>,
}

/// An artifact read into memory: its format and its entries sorted by path.
#[derive(Debug, Clone)]
pub struct Archive {
    /// The detected or requested format.
    pub format: Format,
    /// Files and links, sorted by path; directories are not kept.
    pub entries: Vec<Entry>,
    /// SHA-256 of the artifact file's bytes (lowercase hex), what rebuild attestations name.
    pub sha256: String,
}

impl Archive {
    /// Reads the artifact at `path`; the format is detected unless given.
    pub fn open(path: &Path, format: Option<Format>, limits: &Limits) -> Result<Archive> {
        let read_err = |source| Error::ReadArtifact {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(read_err)?;
        let mut bytes = Vec::new();
        file.take(limits.max_archive_bytes.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(read_err)?;
        if bytes.len() as u64 > limits.max_archive_bytes {
            return Err(Error::LimitExceeded {
                entry: String::new(),
                what: "artifact file size",
                limit: limits.max_archive_bytes,
            });
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Archive::from_bytes(&bytes, &name, format, limits)
    }

    /// Reads an artifact from memory; `file_name` helps tell a wheel from a plain zip.
    pub fn from_bytes(
        bytes: &[u8],
        file_name: &str,
        format: Option<Format>,
        limits: &Limits,
    ) -> Result<Archive> {
        if bytes.len() as u64 > limits.max_archive_bytes {
            return Err(Error::LimitExceeded {
                entry: String::new(),
                what: "artifact file size",
                limit: limits.max_archive_bytes,
            });
        }
        // An empty file or a tar of nothing but end-of-archive zero blocks.
        if bytes.iter().all(|&b| b == 0) {
            return Err(Error::EmptyArchive {
                artifact: file_name.to_owned(),
            });
        }
        let container = if bytes.starts_with(&[0x1f, 0x8b]) {
            Container::TarGz
        } else if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
            Container::Zip
        } else if looks_like_tar(bytes) {
            Container::Tar
        } else {
            return Err(Error::UnknownFormat(format!(
                "{file_name} is neither gzip'd tar, tar nor zip; give a .tgz, .tar.gz, .crate, .tar, .whl or .zip"
            )));
        };
        let counter = Cell::new(0);
        let mut sink = Sink::new(limits, bytes.len() as u64, &counter);
        match container {
            Container::TarGz => {
                // One gzip member only: node and Python read every member of a multi-member
                // file while this decoder (like the tar crate's users) stops after the first,
                // and no packer writes more than one. The bufread decoder consumes exactly its
                // member, so whatever it leaves is what follows.
                let gz = flate2::bufread::GzDecoder::new(bytes);
                let mut limited = CountingReader {
                    inner: gz,
                    count: &counter,
                    limit: limits.max_total_bytes,
                };
                read_tar(&mut limited, &mut sink)?;
                let rest = limited.inner.into_inner();
                if !rest.is_empty() {
                    return Err(Error::Ambiguous {
                        entry: String::new(),
                        reason: format!(
                            "{} bytes follow after the first gzip member, which node and Python \
                             unpack as more of the tar",
                            rest.len()
                        ),
                    });
                }
            }
            Container::Tar => read_tar(&mut &bytes[..], &mut sink)?,
            Container::Zip => read_zip(bytes, &mut sink)?,
        }
        check_paths_through_symlinks(&sink.entries)?;
        let entries: Vec<Entry> = sink.entries.into_values().collect();
        if entries.is_empty() {
            return Err(Error::EmptyArchive {
                artifact: file_name.to_owned(),
            });
        }
        let claimed = format.is_some();
        let format = match format {
            Some(f) => f,
            None => detect(container, file_name, &entries),
        };
        check_format(format, claimed, container, file_name, &entries)?;
        let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes));
        Ok(Archive {
            format,
            entries,
            sha256,
        })
    }
}

/// A tar starts with a header block whose checksum adds up (old v7 headers have no magic).
fn looks_like_tar(bytes: &[u8]) -> bool {
    let Some(block) = bytes.get(..512) else {
        return false;
    };
    let field = &block[148..156];
    let digits: String = field
        .iter()
        .take_while(|&&b| b != 0 && b != b' ')
        .map(|&b| char::from(b))
        .skip_while(|c| *c == ' ')
        .collect();
    let Ok(stored) = u32::from_str_radix(digits.trim(), 8) else {
        return false;
    };
    let sum: u32 = block
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(b)
            }
        })
        .sum();
    stored == sum
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Container {
    TarGz,
    Tar,
    Zip,
}

/// Tells the package format from the file name and the archive's own layout.
fn detect(container: Container, file_name: &str, entries: &[Entry]) -> Format {
    let lower = file_name.to_ascii_lowercase();
    if container == Container::Zip {
        let has_dist_info = entries.iter().any(|e| {
            let mut parts = e.path.split('/');
            matches!((parts.next(), parts.next(), parts.next()), (Some(d), Some("WHEEL"), None) if d.ends_with(".dist-info"))
        });
        return if lower.ends_with(".whl") || has_dist_info {
            Format::Wheel
        } else {
            Format::Zip
        };
    }
    if lower.ends_with(".crate") {
        return Format::Crate;
    }
    let top = single_top_dir(entries);
    let has = |name: &str| {
        top.is_some_and(|t| {
            entries
                .iter()
                .any(|e| e.path.strip_prefix(t).and_then(|r| r.strip_prefix('/')) == Some(name))
        })
    };
    if has("Cargo.toml.orig") {
        Format::Crate
    } else if has("PKG-INFO") {
        Format::Sdist
    } else if top.is_some()
        && has("package.json")
        && (lower.ends_with(".tgz") || top == Some("package"))
    {
        Format::Npm
    } else {
        Format::Tar
    }
}

/// The one directory every entry sits under, if there is one.
pub(crate) fn single_top_dir(entries: &[Entry]) -> Option<&str> {
    let mut top: Option<&str> = None;
    for e in entries {
        let (dir, _) = e.path.split_once('/')?;
        match top {
            None => top = Some(dir),
            Some(t) if t == dir => {}
            Some(_) => return None,
        }
    }
    top
}

/// Collects entries, checking every path, link and limit once, whatever the container.
struct Sink<'a> {
    limits: &'a Limits,
    packed_bytes: u64,
    /// Bytes decompressed from the gzip stream so far (stays 0 for plain tar and zip).
    stream: &'a Cell<u64>,
    count: u64,
    total: u64,
    entries: BTreeMap<String, Entry>,
    /// Each entry's path as written in the archive, to name both sides of a duplicate.
    raw_names: BTreeMap<String, String>,
}

impl<'a> Sink<'a> {
    fn new(limits: &'a Limits, packed_bytes: u64, stream: &'a Cell<u64>) -> Self {
        Sink {
            limits,
            packed_bytes,
            stream,
            count: 0,
            total: 0,
            entries: BTreeMap::new(),
            raw_names: BTreeMap::new(),
        }
    }

    /// Turns an I/O error from the decoder into this crate's error: past the stream limit it
    /// is a bomb, otherwise a damaged archive.
    fn io_error(&self, raw: &str, e: &io::Error) -> Error {
        if self.stream.get() > self.limits.max_total_bytes {
            return Error::LimitExceeded {
                entry: raw.to_owned(),
                what: "total unpacked size",
                limit: self.limits.max_total_bytes,
            };
        }
        Error::Malformed {
            entry: raw.to_owned(),
            reason: e.to_string(),
        }
    }

    /// Counts one more entry of any kind.
    fn count_entry(&mut self, raw: &str) -> Result<()> {
        self.count += 1;
        if self.count > self.limits.max_entries {
            return Err(Error::LimitExceeded {
                entry: raw.to_owned(),
                what: "number of entries",
                limit: self.limits.max_entries,
            });
        }
        Ok(())
    }

    /// Checks a size declared in a header before anything is inflated.
    fn check_declared(&self, raw: &str, declared: u64) -> Result<()> {
        if declared > self.limits.max_entry_bytes {
            return Err(Error::LimitExceeded {
                entry: raw.to_owned(),
                what: "declared entry size",
                limit: self.limits.max_entry_bytes,
            });
        }
        if self.total.saturating_add(declared) > self.limits.max_total_bytes {
            return Err(Error::LimitExceeded {
                entry: raw.to_owned(),
                what: "declared total unpacked size",
                limit: self.limits.max_total_bytes,
            });
        }
        Ok(())
    }

    /// Reads an entry's content, never more than the limits allow, whatever the header said,
    /// checking the unpacked/packed ratio as it goes so a bomb stops early.
    fn read_bounded(&mut self, raw: &str, mut reader: impl Read) -> Result<Vec<u8>> {
        let room = self
            .limits
            .max_entry_bytes
            .min(self.limits.max_total_bytes.saturating_sub(self.total));
        let mut data = Vec::new();
        let mut chunk = vec![0u8; 1 << 16];
        loop {
            let n = match reader.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io_error(raw, &e)),
            };
            data.extend_from_slice(&chunk[..n]);
            if data.len() as u64 > room {
                let (what, limit) = if room == self.limits.max_entry_bytes {
                    ("entry unpacked size", self.limits.max_entry_bytes)
                } else {
                    ("total unpacked size", self.limits.max_total_bytes)
                };
                return Err(Error::LimitExceeded {
                    entry: raw.to_owned(),
                    what,
                    limit,
                });
            }
            self.check_ratio(raw, (self.total + data.len() as u64).max(self.stream.get()))?;
        }
        self.total += data.len() as u64;
        Ok(data)
    }

    fn check_ratio(&self, raw: &str, unpacked: u64) -> Result<()> {
        if unpacked > self.limits.ratio_floor_bytes
            && unpacked / self.packed_bytes.max(1) > self.limits.max_ratio
        {
            return Err(Error::LimitExceeded {
                entry: raw.to_owned(),
                what: "unpacked/packed size ratio",
                limit: self.limits.max_ratio,
            });
        }
        Ok(())
    }

    fn insert(&mut self, raw: &str, entry: Entry) -> Result<()> {
        if let Some(first) = self.raw_names.get(&entry.path) {
            return Err(Error::DuplicateEntry {
                entry: raw.to_owned(),
                first: first.clone(),
            });
        }
        self.raw_names.insert(entry.path.clone(), raw.to_owned());
        self.entries.insert(entry.path.clone(), entry);
        Ok(())
    }

    fn add_symlink(&mut self, raw: &str, path: String, target: &str) -> Result<()> {
        check_link_target(raw, &path, target)?;
        let data = target.as_bytes().to_vec();
        self.insert(
            raw,
            Entry {
                path,
                kind: EntryKind::Symlink {
                    target: target.to_owned(),
                },
                data,
            },
        )
    }
}

const LIMIT_MESSAGE: &str = "decompressed stream exceeds the unpacked size limit";

/// Counts decompressed bytes and fails once past the limit, so a gzip bomb stops early even
/// inside entries we skip (directories) or inside tar headers.
struct CountingReader<'a, R> {
    inner: R,
    count: &'a Cell<u64>,
    limit: u64,
}

impl<R: Read> Read for CountingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let total = self.count.get().saturating_add(n as u64);
        self.count.set(total);
        if total > self.limit {
            return Err(io::Error::other(LIMIT_MESSAGE));
        }
        Ok(n)
    }
}

/// Validates and normalises an archive path: relative, no `..`, no backslash, no NUL.
pub(crate) fn normalize_path(raw: &str) -> Result<Option<String>> {
    let unsafe_path = |reason| Error::UnsafePath {
        entry: raw.to_owned(),
        reason,
    };
    if raw.contains('\0') {
        return Err(unsafe_path("NUL byte in path"));
    }
    if raw.starts_with('/') {
        return Err(unsafe_path("absolute path"));
    }
    if raw.contains('\\') {
        // Windows tools treat `\` as a separator: `..\..\x` would climb there.
        return Err(unsafe_path("backslash in path"));
    }
    let bytes = raw.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return Err(unsafe_path("absolute path (drive letter)"));
    }
    let mut parts = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(unsafe_path("`..` climbs out of the archive")),
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Ok(None);
    }
    Ok(Some(parts.join("/")))
}

/// A link's target, resolved against the link's directory, must stay inside the tree.
fn check_link_target(raw: &str, path: &str, target: &str) -> Result<()> {
    let out = || Error::LinkOutOfTree {
        entry: raw.to_owned(),
        target: target.to_owned(),
    };
    if target.is_empty()
        || target.starts_with('/')
        || target.contains('\\')
        || target.contains('\0')
    {
        return Err(out());
    }
    let tb = target.as_bytes();
    if tb.len() >= 2 && tb[0].is_ascii_alphabetic() && tb[1] == b':' {
        return Err(out());
    }
    let mut stack: Vec<&str> = path.split('/').collect();
    stack.pop();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if stack.pop().is_none() {
                    return Err(out());
                }
            }
            p => stack.push(p),
        }
    }
    Ok(())
}

/// No entry may sit below a symlink of the archive, and no symlink's target may pass through
/// one. Installers follow the links they have written: after `l -> ..`, `l/x` is written
/// outside the package, whatever the order of the two, and a target's text, checked alone,
/// says nothing of where a symlink inside it leads. A target naming a symlink as its last
/// component is fine: that symlink's own target was checked from its own place.
fn check_paths_through_symlinks(entries: &BTreeMap<String, Entry>) -> Result<()> {
    let is_symlink = |path: &str| {
        matches!(
            entries.get(path),
            Some(Entry {
                kind: EntryKind::Symlink { .. },
                ..
            })
        )
    };
    let through = |entry: &str, link: &str| Error::ThroughSymlink {
        entry: entry.to_owned(),
        link: link.to_owned(),
    };
    for (path, entry) in entries {
        let mut dirs = path.match_indices('/').map(|(i, _)| &path[..i]);
        if let Some(link) = dirs.find(|dir| is_symlink(dir)) {
            return Err(through(path, link));
        }
        let EntryKind::Symlink { target } = &entry.kind else {
            continue;
        };
        let mut at: Vec<&str> = path.split('/').collect();
        at.pop();
        let parts: Vec<&str> = target
            .split('/')
            .filter(|part| !matches!(*part, "" | "."))
            .collect();
        for (i, part) in parts.iter().enumerate() {
            if *part == ".." {
                at.pop();
                continue;
            }
            at.push(part);
            let so_far = at.join("/");
            if i + 1 < parts.len() && is_symlink(&so_far) {
                return Err(through(path, &so_far));
            }
        }
    }
    Ok(())
}

/// Reads a tar stream to its very end, so gzip checks its CRC and length and a truncated or
/// altered stream is an error rather than silently accepted.
///
/// The tar crate stops at the first zero block, node-tar only at two and reads on after one:
/// everything after the first zero block must be zeros, or the two would list other entries.
fn read_tar<R: Read>(reader: &mut R, sink: &mut Sink<'_>) -> Result<()> {
    let mut archive = tar::Archive::new(reader);
    read_tar_entries(&mut archive, sink)?;
    let rest = archive.into_inner();
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = match rest.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(sink.io_error("end of archive", &e)),
        };
        if chunk[..n].iter().any(|&b| b != 0) {
            return Err(ambiguous(
                "end of archive",
                "data follows after the end-of-archive zero block: node-tar reads it as more \
                 entries",
            ));
        }
    }
}

/// Longest GNU long name, long link or PAX header accepted; real ones are a few hundred bytes.
const MAX_METADATA_BYTES: u64 = 64 << 10;

/// The GNU long name and long link and the PAX records that apply to the next entry.
///
/// The tar crate applies these itself, but not as node-tar and Python's tarfile do in every
/// combination (a PAX path with a GNU long name, a repeated key, a header without magic), so
/// entries are read raw and every combination they could disagree on is refused.
#[derive(Default)]
struct Pending {
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    pax: Option<BTreeMap<String, Vec<u8>>>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.long_name.is_none() && self.long_link.is_none() && self.pax.is_none()
    }

    fn pax_value(&self, key: &str) -> Option<&[u8]> {
        self.pax.as_ref()?.get(key).map(Vec::as_slice)
    }
}

fn ambiguous(entry: &str, reason: impl Into<String>) -> Error {
    Error::Ambiguous {
        entry: entry.to_owned(),
        reason: reason.into(),
    }
}

fn read_tar_entries<R: Read>(archive: &mut tar::Archive<R>, sink: &mut Sink<'_>) -> Result<()> {
    let entries = archive
        .entries()
        .map_err(|e| sink.io_error("", &e))?
        .raw(true);
    let mut last = String::new();
    let mut pending = Pending::default();
    for entry in entries {
        let mut entry = entry.map_err(|e| sink.io_error(&format!("after {last}"), &e))?;
        let header = entry.header().clone();
        let kind = header.entry_type();
        if kind.is_gnu_longname()
            || kind.is_gnu_longlink()
            || kind.is_pax_local_extensions()
            || kind.is_pax_global_extensions()
        {
            read_metadata(&mut entry, &header, &last, &mut pending, sink)?;
            continue;
        }
        let meta = std::mem::take(&mut pending);
        let raw_bytes = match (&meta.long_name, meta.pax_value("path")) {
            (Some(name), _) => trim_nuls(name).to_vec(),
            (None, Some(path)) => path.to_vec(),
            (None, None) => {
                // Python's tarfile joins the ustar prefix field (at 345) to the name whatever
                // the magic; the tar crate and node-tar only in a ustar header. In a GNU
                // header those bytes are access and change times, zero when packers write.
                if header.as_ustar().is_none() && header.as_bytes()[345] != 0 {
                    return Err(ambiguous(
                        &String::from_utf8_lossy(&header.path_bytes()),
                        "bytes in the prefix field of a header that is not ustar: Python's \
                         tarfile reads them as the start of the path, the tar crate and \
                         node-tar do not",
                    ));
                }
                header.path_bytes().into_owned()
            }
        };
        let raw = String::from_utf8(raw_bytes).map_err(|e| Error::Malformed {
            entry: String::from_utf8_lossy(e.as_bytes()).into_owned(),
            reason: "path is not UTF-8".to_owned(),
        })?;
        last.clone_from(&raw);
        sink.count_entry(&raw)?;
        sink.check_ratio(&raw, sink.stream.get())?;
        let header_size = header.entry_size().map_err(|e| sink.io_error(&raw, &e))?;
        if let Some(size) = meta.pax_value("size") {
            if parse_decimal(size) != Some(header_size) {
                return Err(ambiguous(
                    &raw,
                    format!(
                        "its PAX size {:?} is not the header's size {header_size}: readers would \
                         skip different amounts of data",
                        String::from_utf8_lossy(size)
                    ),
                ));
            }
        }
        if header_size != 0 && (kind.is_dir() || kind.is_symlink() || kind.is_hard_link()) {
            return Err(ambiguous(
                &raw,
                format!(
                    "a {kind:?} entry with {header_size} bytes of data: the tar crate skips \
                     them, Python's tarfile and node-tar read them as the next headers"
                ),
            ));
        }
        if kind.is_file() && raw.ends_with('/') {
            // Old tars wrote a directory as a file named `dir/`; Python and node read it so.
            return Err(ambiguous(
                &raw,
                format!(
                    "a file entry named like a directory, with {header_size} bytes of data: \
                     Python's tarfile and node-tar take it for a directory and read the data \
                     as the next headers"
                ),
            ));
        }
        let path = normalize_path(&raw)?;
        if kind.is_dir() {
            continue;
        }
        let Some(path) = path else {
            return Err(Error::UnsafePath {
                entry: raw,
                reason: "empty path",
            });
        };
        let link = || -> Result<String> {
            let bytes = match (&meta.long_link, meta.pax_value("linkpath")) {
                (Some(link), _) => trim_nuls(link).to_vec(),
                (None, Some(link)) => link.to_vec(),
                (None, None) => header.link_name_bytes().unwrap_or_default().into_owned(),
            };
            if bytes.is_empty() {
                return Err(Error::Malformed {
                    entry: raw.clone(),
                    reason: "link without a target".to_owned(),
                });
            }
            String::from_utf8(bytes).map_err(|_| Error::Malformed {
                entry: raw.clone(),
                reason: "link target is not UTF-8".to_owned(),
            })
        };
        if kind.is_file() || kind == tar::EntryType::Continuous {
            sink.check_declared(&raw, header_size)?;
            let executable = header.mode().map(|m| m & 0o111 != 0).unwrap_or(false);
            let data = sink.read_bounded(&raw, &mut entry)?;
            sink.insert(
                &raw,
                Entry {
                    path,
                    kind: EntryKind::File { executable },
                    data,
                },
            )?;
        } else if kind.is_symlink() {
            let target = link()?;
            sink.add_symlink(&raw, path, &target)?;
        } else if kind.is_hard_link() {
            // A hard link names another entry of the archive by its archive path.
            let target = link()?;
            let Some(target_path) = normalize_path(&target).map_err(|_| Error::LinkOutOfTree {
                entry: raw.clone(),
                target: target.clone(),
            })?
            else {
                return Err(Error::LinkOutOfTree { entry: raw, target });
            };
            let Some(original) = sink.entries.get(&target_path).cloned() else {
                return Err(Error::Malformed {
                    entry: raw,
                    reason: format!(
                        "hard link to {target:?}, which is not an earlier file of the archive"
                    ),
                });
            };
            if matches!(original.kind, EntryKind::Symlink { .. }) {
                // Its target was checked from the symlink's place, not from this one.
                return Err(Error::HardLinkToSymlink { entry: raw, target });
            }
            sink.check_declared(&raw, original.data.len() as u64)?;
            sink.total += original.data.len() as u64;
            sink.insert(
                &raw,
                Entry {
                    path,
                    kind: original.kind,
                    data: original.data,
                },
            )?;
        } else {
            // Devices, fifos, and GNU sparse files: read raw, a sparse file's map would be
            // taken for its content, and no packer writes one.
            return Err(Error::SpecialEntry {
                entry: raw,
                kind: format!("{kind:?}"),
            });
        }
    }
    if !pending.is_empty() {
        return Err(ambiguous(
            &last,
            "a GNU long name or PAX header follows it with no entry after it",
        ));
    }
    Ok(())
}

/// Reads one GNU long name (`L`), long link (`K`) or PAX header (`x`) into `pending`, refusing
/// what other readers would apply differently; a global PAX header (`g`) is refused outright.
fn read_metadata<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    header: &tar::Header,
    last: &str,
    pending: &mut Pending,
    sink: &Sink<'_>,
) -> Result<()> {
    let kind = header.entry_type();
    let at = format!(
        "{} (after {last:?})",
        String::from_utf8_lossy(&header.path_bytes())
    );
    if kind.is_pax_global_extensions() {
        return Err(ambiguous(
            &at,
            "a global PAX header (type g): Python's tarfile applies it to every later entry, \
             the tar crate ignores it",
        ));
    }
    let label = if kind.is_gnu_longname() {
        "a GNU long name (type L)"
    } else if kind.is_gnu_longlink() {
        "a GNU long link (type K)"
    } else {
        "a PAX header (type x)"
    };
    if header.as_ustar().is_none() && header.as_gnu().is_none() {
        return Err(ambiguous(
            &at,
            format!(
                "{label} without ustar or GNU magic: Python's tarfile applies it to the next \
                 entry, the tar crate reads it as an entry of its own"
            ),
        ));
    }
    let size = header.entry_size().map_err(|e| sink.io_error(&at, &e))?;
    if size > MAX_METADATA_BYTES {
        return Err(Error::LimitExceeded {
            entry: at,
            what: "size of a GNU long name or PAX header",
            limit: MAX_METADATA_BYTES,
        });
    }
    let mut data = Vec::new();
    entry
        .read_to_end(&mut data)
        .map_err(|e| sink.io_error(&at, &e))?;
    let twice = |what: &str| {
        ambiguous(
            &at,
            format!("two {what} for one entry, which readers resolve differently"),
        )
    };
    if kind.is_gnu_longname() {
        if pending.long_name.replace(data).is_some() {
            return Err(twice("GNU long names"));
        }
    } else if kind.is_gnu_longlink() {
        if pending.long_link.replace(data).is_some() {
            return Err(twice("GNU long links"));
        }
    } else if pending.pax.replace(parse_pax(&at, &data)?).is_some() {
        return Err(twice("PAX headers"));
    }
    if pending.pax.is_some() && (pending.long_name.is_some() || pending.long_link.is_some()) {
        return Err(ambiguous(
            &at,
            "both a PAX header and a GNU long name or link describe one entry: Python's \
             tarfile applies whichever comes first, the tar crate always the GNU one",
        ));
    }
    Ok(())
}

/// Parses PAX records strictly: `<length> <key>=<value>\n`, the length counting the whole
/// record. What node-tar (which splits at newlines) and Python's tarfile or the tar crate
/// (which count bytes) could read differently is refused: a wrong length, a newline inside a
/// value, a key set twice (the tar crate takes the first, Python and node-tar the last), and
/// the `GNU.sparse.*` keys through which Python's tarfile renames and resizes the entry.
fn parse_pax(at: &str, data: &[u8]) -> Result<BTreeMap<String, Vec<u8>>> {
    let bad = |why: &str| ambiguous(at, format!("PAX record {why}"));
    let mut records = BTreeMap::new();
    let mut rest = data;
    // Some writers pad the records with NULs, which every reader stops at.
    while !rest.iter().all(|&b| b == 0) {
        let space = rest
            .iter()
            .take(21)
            .position(|&b| b == b' ')
            .ok_or_else(|| bad("without a length"))?;
        let len = parse_decimal(&rest[..space])
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| bad("without a decimal length"))?;
        let record = rest
            .get(..len)
            .filter(|r| r.len() > space + 1 && r.last() == Some(&b'\n'))
            .ok_or_else(|| bad("whose length does not end it at a newline"))?;
        let body = &record[space + 1..len - 1];
        if body.contains(&b'\n') {
            return Err(bad(
                "with a newline inside: node-tar splits it there, Python does not",
            ));
        }
        let eq = body
            .iter()
            .position(|&b| b == b'=')
            .filter(|&i| i > 0)
            .ok_or_else(|| bad("without a key"))?;
        let key = std::str::from_utf8(&body[..eq]).map_err(|_| bad("with a key not UTF-8"))?;
        if key.starts_with("GNU.sparse.") {
            return Err(ambiguous(
                at,
                format!(
                    "PAX record {key:?}: Python's tarfile reads the entry as a sparse file, \
                     with another name or size than the tar crate"
                ),
            ));
        }
        if records
            .insert(key.to_owned(), body[eq + 1..].to_vec())
            .is_some()
        {
            return Err(ambiguous(
                at,
                format!(
                    "the PAX header sets {key:?} twice: the tar crate takes the first, Python \
                     and node-tar the last"
                ),
            ));
        }
        rest = &rest[len..];
    }
    Ok(records)
}

/// A plain decimal number: ASCII digits only, no sign, no spaces.
fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// A GNU long name or link without its terminating NULs (a NUL inside is refused later).
fn trim_nuls(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    &bytes[..end]
}

fn read_zip(bytes: &[u8], sink: &mut Sink<'_>) -> Result<()> {
    check_central_directory(bytes)?;
    let mut zip = zip::ZipArchive::new(io::Cursor::new(bytes)).map_err(|e| Error::Malformed {
        entry: String::new(),
        reason: e.to_string(),
    })?;
    if zip.len() as u64 > sink.limits.max_entries {
        return Err(Error::LimitExceeded {
            entry: String::new(),
            what: "number of entries",
            limit: sink.limits.max_entries,
        });
    }
    for i in 0..zip.len() {
        let mut file = zip.by_index(i).map_err(|e| Error::Malformed {
            entry: format!("#{i}"),
            reason: e.to_string(),
        })?;
        // The zip crate replaces the name with an Info-ZIP Unicode Path extra field's;
        // Python's zipfile and pip ignore that field and use the name in the header.
        let header_name =
            central_name(bytes, file.central_header_start()).ok_or_else(|| Error::Malformed {
                entry: format!("#{i}"),
                reason: "no central directory header where the zip reader found one".to_owned(),
            })?;
        if header_name != file.name_raw() {
            return Err(ambiguous(
                &String::from_utf8_lossy(header_name),
                format!(
                    "an Info-ZIP Unicode Path extra field renames it {:?}, and pip installs it \
                     under the name in the header",
                    String::from_utf8_lossy(file.name_raw())
                ),
            ));
        }
        let raw = String::from_utf8(file.name_raw().to_vec()).map_err(|e| Error::Malformed {
            entry: String::from_utf8_lossy(e.as_bytes()).into_owned(),
            reason: "path is not UTF-8".to_owned(),
        })?;
        sink.count_entry(&raw)?;
        let path = normalize_path(&raw)?;
        if file.is_dir() {
            continue;
        }
        let Some(path) = path else {
            return Err(Error::UnsafePath {
                entry: raw,
                reason: "empty path",
            });
        };
        if file.encrypted() {
            return Err(Error::Malformed {
                entry: raw,
                reason: "encrypted entry".to_owned(),
            });
        }
        sink.check_declared(&raw, file.size())?;
        let mode = file.unix_mode().unwrap_or(0o644);
        let file_type = mode & 0o170_000;
        let data = sink.read_bounded(&raw, &mut file)?;
        match file_type {
            0o120_000 => {
                let target = String::from_utf8(data).map_err(|_| Error::Malformed {
                    entry: raw.clone(),
                    reason: "link target is not UTF-8".to_owned(),
                })?;
                sink.add_symlink(&raw, path, &target)?;
            }
            0 | 0o100_000 => sink.insert(
                &raw,
                Entry {
                    path,
                    kind: EntryKind::File {
                        executable: mode & 0o111 != 0,
                    },
                    data,
                },
            )?,
            other => {
                return Err(Error::SpecialEntry {
                    entry: raw,
                    kind: format!("unix mode {other:o}"),
                })
            }
        }
    }
    Ok(())
}

/// The file name in the central directory header at `start`, as written (46 fixed bytes,
/// the name's length at 28), or `None` if there is no such header.
pub(crate) fn central_name(bytes: &[u8], start: u64) -> Option<&[u8]> {
    let start = usize::try_from(start).ok()?;
    let fixed = bytes.get(start..start.checked_add(46)?)?;
    if !fixed.starts_with(b"PK\x01\x02") {
        return None;
    }
    let len = usize::from(u16::from_le_bytes([fixed[28], fixed[29]]));
    bytes.get(start + 46..start + 46 + len)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalised_or_refused() {
        assert_eq!(
            normalize_path("package/./a//b.js").unwrap().as_deref(),
            Some("package/a/b.js")
        );
        assert_eq!(normalize_path("./").unwrap(), None);
        assert!(matches!(
            normalize_path("/etc/passwd"),
            Err(Error::UnsafePath {
                reason: "absolute path",
                ..
            })
        ));
        assert!(matches!(
            normalize_path("a/../../x"),
            Err(Error::UnsafePath { .. })
        ));
        assert!(matches!(
            normalize_path("a\\..\\x"),
            Err(Error::UnsafePath {
                reason: "backslash in path",
                ..
            })
        ));
        assert!(matches!(
            normalize_path("C:/x"),
            Err(Error::UnsafePath { .. })
        ));
    }

    #[test]
    fn link_targets_must_stay_inside() {
        assert!(check_link_target("l", "a/b/link", "../c").is_ok());
        assert!(check_link_target("l", "a/link", "../../etc/passwd").is_err());
        assert!(check_link_target("l", "link", "/etc/passwd").is_err());
        assert!(check_link_target("l", "link", "").is_err());
    }

    #[test]
    fn garbage_is_an_unknown_format_not_a_panic() {
        let err = Archive::from_bytes(b"hello", "x.bin", None, &Limits::default()).unwrap_err();
        assert!(matches!(err, Error::UnknownFormat(_)), "{err}");
        // A zip signature with nothing behind it.
        let err = Archive::from_bytes(b"PK\x03\x04garbage", "x.zip", None, &Limits::default())
            .unwrap_err();
        assert!(matches!(err, Error::Malformed { .. }), "{err}");
        // A truncated gzip stream.
        let err = Archive::from_bytes(&[0x1f, 0x8b, 8, 0, 0, 0], "x.tgz", None, &Limits::default())
            .unwrap_err();
        assert!(matches!(err, Error::Malformed { .. }), "{err}");
    }
}
