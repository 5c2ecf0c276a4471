//! Whole-archive checks: the content is the format its name or `--format` claims, and a
//! zip's central directory is where its end record says, with every name once.

use super::{central_name, single_top_dir, Container, Entry, Format};
use crate::error::{Error, Result};

/// Refuses an artifact whose content is not the format its name or the caller claims: a
/// `.whl` that is a tar, `--format npm` for a zip, `--format sdist` without `PKG-INFO`. Read as another format, its files would be
/// compared under the wrong rules, and the installer for the claimed format would refuse it.
pub(super) fn check_format(
    format: Format,
    claimed: bool,
    container: Container,
    file_name: &str,
    entries: &[Entry],
) -> Result<()> {
    let lower = file_name.to_ascii_lowercase();
    let by_name = if lower.ends_with(".whl") {
        Some(Format::Wheel)
    } else if lower.ends_with(".crate") {
        Some(Format::Crate)
    } else {
        None
    };
    let is_zip = container == Container::Zip;
    let mismatch = |claimed: Format, reason: String| Error::FormatMismatch {
        artifact: file_name.to_owned(),
        claimed: claimed.as_str(),
        reason,
    };
    let what = if is_zip { "a zip" } else { "a tar" };
    // The name's claim first: `x.whl` read as npm would be compared under npm's rules.
    if let Some(named) = by_name {
        if named != format || (named == Format::Wheel) != is_zip {
            return Err(mismatch(
                named,
                format!("its name says {}, its content is {what}", named.as_str()),
            ));
        }
    }
    let top = single_top_dir(entries);
    let has_top = |name: &str| {
        top.is_some_and(|t| {
            entries
                .iter()
                .any(|e| e.path.strip_prefix(t).and_then(|r| r.strip_prefix('/')) == Some(name))
        })
    };
    let problem = match format {
        Format::Wheel | Format::Zip if !is_zip => Some(format!("the content is {what}")),
        Format::Npm | Format::Sdist | Format::Crate | Format::Tar if is_zip => {
            Some("the content is a zip".to_owned())
        }
        // Detected from the layout itself: only a `--format` claim is checked against it.
        _ if !claimed => None,
        Format::Wheel
            if !entries.iter().any(|e| {
                let mut parts = e.path.split('/');
                matches!((parts.next(), parts.next(), parts.next()), (Some(d), Some("WHEEL"), None) if d.ends_with(".dist-info"))
            }) =>
        {
            Some("no top-level name-version.dist-info/WHEEL".to_owned())
        }
        Format::Npm if !has_top("package.json") => {
            Some("no package.json under one top directory (npm pack writes package/package.json)".to_owned())
        }
        Format::Sdist if !has_top("PKG-INFO") => {
            Some("no PKG-INFO under one top directory (every sdist has name-version/PKG-INFO)".to_owned())
        }
        Format::Crate if !has_top("Cargo.toml") => {
            Some("no Cargo.toml under one top directory (cargo package writes name-version/Cargo.toml)".to_owned())
        }
        _ => None,
    };
    match problem {
        Some(reason) => Err(mismatch(format, reason)),
        None => Ok(()),
    }
}

/// Walks the central directory as the end record describes it: its size and offset must lie
/// inside the file, before the end record, and every name must be unique. The zip crate
/// quietly keeps one of two entries with the same name (and Python's zipfile the other), and
/// trusts a directory size that points past the end of the file.
pub(super) fn check_central_directory(bytes: &[u8]) -> Result<()> {
    let malformed = |reason: String| Error::Malformed {
        entry: String::new(),
        reason,
    };
    // The end record is 22 bytes plus a comment of at most 65,535.
    let from = bytes.len().saturating_sub(22 + 0xFFFF);
    let Some(eocd) = bytes
        .get(from..)
        .and_then(|tail| tail.windows(4).rposition(|w| w == b"PK\x05\x06"))
        .map(|at| from + at)
    else {
        return Err(malformed("no end of central directory record".to_owned()));
    };
    let Some(record) = bytes.get(eocd..eocd + 22) else {
        return Err(malformed(
            "the end of central directory record is cut".to_owned(),
        ));
    };
    let u16_at = |at: usize| u16::from_le_bytes([record[at], record[at + 1]]);
    let u32_at = |at: usize| {
        u32::from_le_bytes([record[at], record[at + 1], record[at + 2], record[at + 3]])
    };
    let (count, size, offset) = (u16_at(10), u32_at(12), u32_at(16));
    if count == 0xFFFF || size == 0xFFFF_FFFF || offset == 0xFFFF_FFFF {
        // Zip64: the zip crate reads the zip64 record; no package needs one, and the
        // duplicate check below then runs on what the zip crate lists.
        return Ok(());
    }
    let (size, offset) = (size as usize, offset as usize);
    if offset.saturating_add(size) > eocd {
        return Err(malformed(format!(
            "the central directory ({size} bytes at offset {offset}) runs past its end record at {eocd}: readers disagree on what such a file holds"
        )));
    }
    let mut names = std::collections::BTreeSet::new();
    let mut at = offset;
    for _ in 0..count {
        let Some(name) = central_name(bytes, at as u64) else {
            return Err(malformed(format!(
                "the central directory lists {count} entries but has no header at offset {at}"
            )));
        };
        let Some(fixed) = bytes.get(at..at + 46) else {
            return Err(malformed(format!("central directory header cut at {at}")));
        };
        let extra = usize::from(u16::from_le_bytes([fixed[30], fixed[31]]));
        let comment = usize::from(u16::from_le_bytes([fixed[32], fixed[33]]));
        if !names.insert(name.to_vec()) {
            let shown = String::from_utf8_lossy(name).into_owned();
            return Err(Error::DuplicateEntry {
                entry: shown.clone(),
                first: shown,
            });
        }
        at += 46 + name.len() + extra + comment;
    }
    Ok(())
}
