//! Python packaging checks of the artifact comparison: what the source's manifests declare
//! (dependencies, extras, entry points, the version file a VCS plugin writes), read from the
//! repository root down to the package, and a wheel's `RECORD` against its files.
//!
//! The metadata a build backend writes is listed as expected, but an installer acts on it: a
//! `Requires-Dist` or an entry point that no manifest declares, or a wheel file that `RECORD`
//! does not vouch for, is how a tampered package hides in "tool-written" files.

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

use crate::archive::Entry;
use crate::risk::{
    pyproject_declared, requirements_names, setup_cfg_declared, Flag, PythonDeclared, Rule,
    Severity,
};
use crate::source::SourceTree;

/// What the source's Python manifests declare, merged over every manifest from the
/// repository root down to the package's directory.
#[derive(Debug, Default)]
pub(crate) struct Declared {
    /// PEP 503 names of runtime and optional dependencies.
    requires: BTreeSet<String>,
    /// Entry point names.
    entry_points: BTreeSet<String>,
    /// Every name-like token of a `setup.py`: its lists are code, so only this weaker check
    /// is possible there.
    setup_py_tokens: BTreeSet<String>,
    /// Source paths (from the repository root) of version files a VCS plugin writes.
    pub(crate) version_files: BTreeSet<String>,
    /// Manifests that could not be read, with why: their declarations are unknown.
    pub(crate) unreadable: Vec<(String, String)>,
}

impl Declared {
    /// Reads `pyproject.toml`, `setup.cfg` and `setup.py` in the repository root and in each
    /// directory down to `prefix` (`src/` layouts keep the manifest at the root, monorepos
    /// keep one per package), and requirements files when dependencies are `dynamic`.
    pub(crate) fn read(source: &SourceTree, prefix: &str) -> Declared {
        let mut dirs = vec![String::new()];
        let mut acc = String::new();
        for part in prefix
            .trim_end_matches('/')
            .split('/')
            .filter(|p| !p.is_empty())
        {
            acc.push_str(part);
            acc.push('/');
            dirs.push(acc.clone());
        }
        let mut out = Declared::default();
        let mut dynamic = false;
        for dir in &dirs {
            let read = |name: &str| -> Option<String> {
                let bytes = source.read(&format!("{dir}{name}")).ok().flatten()?;
                Some(String::from_utf8_lossy(&bytes).into_owned())
            };
            let mut merge = |path: String, parsed: Result<PythonDeclared, String>| match parsed {
                Ok(d) => {
                    out.requires
                        .extend(d.requires.iter().map(|n| normalize_python_name(n)));
                    out.entry_points.extend(d.entry_points);
                    dynamic |= d.dynamic_requires;
                    if let Some(file) = d.version_file {
                        out.version_files
                            .insert(format!("{dir}{}", file.trim_start_matches("./")));
                    }
                }
                Err(why) => out.unreadable.push((path, why)),
            };
            if let Some(text) = read("pyproject.toml") {
                merge(format!("{dir}pyproject.toml"), pyproject_declared(&text));
            }
            if let Some(text) = read("setup.cfg") {
                merge(format!("{dir}setup.cfg"), setup_cfg_declared(&text));
            }
            if let Some(text) = read("setup.py") {
                out.setup_py_tokens.extend(
                    text.split(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
                        .filter(|t| !t.is_empty())
                        .map(normalize_python_name),
                );
            }
        }
        if dynamic {
            for path in source.files().keys() {
                let file = path.rsplit('/').next().unwrap_or(path);
                let dir = &path[..path.len() - file.len()];
                let in_scope = dirs
                    .iter()
                    .any(|d| dir == d || dir == format!("{d}requirements/"));
                if in_scope
                    && file.ends_with(".txt")
                    && (file.starts_with("requirements") || dir.ends_with("requirements/"))
                {
                    if let Ok(Some(bytes)) = source.read(path) {
                        out.requires.extend(
                            requirements_names(&String::from_utf8_lossy(&bytes))
                                .iter()
                                .map(|n| normalize_python_name(n)),
                        );
                    }
                }
            }
        }
        out
    }

    fn declares_requirement(&self, name: &str) -> bool {
        let name = normalize_python_name(name);
        self.requires.contains(&name) || self.setup_py_tokens.contains(&name)
    }

    fn declares_entry_point(&self, name: &str) -> bool {
        self.entry_points.contains(name)
            || self.setup_py_tokens.contains(&normalize_python_name(name))
    }
}

/// Flags the dependencies and entry points of a metadata file (`METADATA`, `PKG-INFO`,
/// `requires.txt`, `entry_points.txt`) that no manifest of the source declares.
pub(crate) fn check_metadata(file: &str, entry: &Entry, declared: &Declared) -> Vec<Flag> {
    let text = String::from_utf8_lossy(&entry.data);
    let flag = |message: String| Flag {
        rule: Rule::ArtifactModified,
        severity: Severity::High,
        file: entry.path.clone(),
        line: None,
        message,
    };
    let mut flags: Vec<Flag> = declared
        .unreadable
        .iter()
        .map(|(path, why)| {
            flag(format!(
                "the source's {path} cannot be read ({why}), so what this metadata installs is unchecked: compare them by hand"
            ))
        })
        .collect();
    if file == "entry_points.txt" {
        flags.extend(
            entry_point_names(&text)
                .into_iter()
                .filter(|ep| !declared.declares_entry_point(ep))
                .map(|ep| flag(format!(
                    "entry point `{ep}` (a command or plugin the installer sets up) is declared in no manifest of the source"
                ))),
        );
    } else {
        flags.extend(
            python_requirements(file, &text)
                .into_iter()
                .filter(|req| !declared.declares_requirement(req))
                .map(|req| flag(format!(
                    "the metadata makes the installer fetch `{req}`, which no manifest of the source declares as a dependency or extra"
                ))),
        );
    }
    flags
}

/// Whether `data` is a version file as hatch-vcs and setuptools-scm write it: comments, the
/// typing preamble, and assignments of the version, its tuple and the commit id to literals.
/// Anything else (a call, an import other than `typing`) makes it code to review.
pub(crate) fn is_version_file(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let names = [
        "__version__",
        "version",
        "__version_tuple__",
        "version_tuple",
        "__commit_id__",
        "commit_id",
        "VERSION_TUPLE",
        "COMMIT_ID",
    ];
    let type_expr = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_[], .".contains(c))
    };
    let literal = |s: &str| {
        let s = s.trim();
        let quoted = |q: &str| {
            q.len() >= 2
                && ((q.starts_with('\'') && q.ends_with('\''))
                    || (q.starts_with('"') && q.ends_with('"')))
                && q[1..q.len() - 1]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".+-_".contains(c))
        };
        s == "None"
            || quoted(s)
            || (s.starts_with('(')
                && s.ends_with(')')
                && s[1..s.len() - 1]
                    .split(',')
                    .map(str::trim)
                    .all(|p| p.is_empty() || p.chars().all(|c| c.is_ascii_digit()) || quoted(p)))
    };
    let mut seen_version = false;
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let ok = t == "TYPE_CHECKING = False"
            || t == "if TYPE_CHECKING:"
            || t == "else:"
            || t.strip_prefix("from typing import ").is_some_and(|rest| {
                rest.split(',').all(|n| {
                    n.trim()
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_')
                })
            })
            || t.strip_prefix("__all__ = [").is_some_and(|rest| {
                rest.strip_suffix(']').is_some_and(|items| {
                    items
                        .split(',')
                        .map(str::trim)
                        .all(|i| i.is_empty() || literal(i))
                })
            })
            || match t.split_once(':') {
                Some((name, ty)) if !t.contains('=') => {
                    names.contains(&name.trim()) && type_expr(ty)
                }
                _ => false,
            }
            || {
                let parts: Vec<&str> = t.split('=').map(str::trim).collect();
                let (value, targets) = parts.split_last().unwrap_or((&"", &[]));
                !targets.is_empty()
                    && targets.iter().all(|n| names.contains(n))
                    && (literal(value)
                        || (targets
                            .iter()
                            .all(|n| n.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
                            && type_expr(value)))
            };
        if !ok {
            return false;
        }
        seen_version |= t.starts_with("__version__") || t.starts_with("version =");
    }
    seen_version
}

/// Checks a wheel's `RECORD` (PEP 376/427): every file of the wheel but `RECORD` itself (and
/// its signatures) must be listed with its SHA-256, and every listed file must be there.
/// pip refuses nothing of this, so a file slipped in after the build would go unnoticed.
pub(crate) fn check_record(entries: &[Entry]) -> Vec<Flag> {
    let Some(record) = entries.iter().find(|e| {
        let mut parts = e.path.split('/');
        matches!((parts.next(), parts.next(), parts.next()), (Some(d), Some("RECORD"), None) if d.ends_with(".dist-info"))
    }) else {
        return vec![Flag {
            rule: Rule::ArtifactModified,
            severity: Severity::High,
            file: String::new(),
            line: None,
            message: "the wheel has no .dist-info/RECORD: nothing vouches for its files".to_owned(),
        }];
    };
    let flag = |file: &str, message: String| Flag {
        rule: Rule::ArtifactModified,
        severity: Severity::High,
        file: file.to_owned(),
        line: None,
        message,
    };
    let mut listed = std::collections::BTreeMap::new();
    for line in String::from_utf8_lossy(&record.data).lines() {
        if line.trim().is_empty() {
            continue;
        }
        let fields = csv_fields(line);
        let (Some(path), Some(hash)) = (fields.first(), fields.get(1)) else {
            continue;
        };
        listed.insert(path.trim_start_matches("./").to_owned(), hash.clone());
    }
    let mut flags = Vec::new();
    for entry in entries {
        let name = entry.path.rsplit('/').next().unwrap_or(&entry.path);
        if entry.path == record.path
            || (entry
                .path
                .starts_with(record.path.trim_end_matches("RECORD"))
                && matches!(name, "RECORD.jws" | "RECORD.p7s"))
        {
            continue;
        }
        match listed.get(&entry.path) {
            None => flags.push(flag(
                &entry.path,
                format!(
                    "not listed in {}: added to the wheel after it was built",
                    record.path
                ),
            )),
            Some(hash) => {
                let actual = format!("sha256={}", base64_url_nopad(&Sha256::digest(&entry.data)));
                if *hash != actual {
                    flags.push(flag(
                        &entry.path,
                        format!(
                            "its hash is not the one {} lists ({hash}, the file has {actual}): changed after the build",
                            record.path
                        ),
                    ));
                }
            }
        }
    }
    for path in listed.keys() {
        if *path != record.path && !entries.iter().any(|e| e.path == *path) {
            flags.push(flag(
                path,
                format!("listed in {} but not in the wheel", record.path),
            ));
        }
    }
    flags
}

/// The fields of one CSV line (RECORD quotes a path holding a comma or a quote).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// URL-safe base64 without padding, as RECORD writes hashes.
fn base64_url_nopad(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(data.len() * 4 / 3 + 2);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// The distribution names a metadata file makes the installer fetch: `Requires-Dist:` lines
/// of METADATA / PKG-INFO, or the requirement lines of `requires.txt`.
fn python_requirements(file: &str, text: &str) -> Vec<String> {
    let lines: Vec<&str> = if file == "requires.txt" {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('[') && !l.starts_with('#'))
            .collect()
    } else {
        text.lines()
            // The headers end at the first blank line; the description follows.
            .take_while(|l| !l.trim().is_empty())
            .filter_map(|l| l.strip_prefix("Requires-Dist:"))
            .map(str::trim)
            .collect()
    };
    lines
        .into_iter()
        .map(|l| {
            l.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
                .collect::<String>()
        })
        .filter(|n| !n.is_empty())
        .collect()
}

/// The names of the entry points an `entry_points.txt` declares (`name = module:attr`).
fn entry_point_names(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('[') && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(name, _)| name.trim().to_owned())
        .filter(|n| !n.is_empty())
        .collect()
}

/// PEP 503 normalization: lowercase, runs of `-`, `_` and `.` as one `-`.
pub(crate) fn normalize_python_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if "-_.".contains(c) {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out.trim_matches('-').to_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn record_hash_encoding() {
        // `python -c "import hashlib,base64;print(base64.urlsafe_b64encode(hashlib.sha256(b'abc').digest()).rstrip(b'='))"`
        assert_eq!(
            base64_url_nopad(&Sha256::digest(b"abc")),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
    }

    #[test]
    fn version_files() {
        assert!(is_version_file(
            b"# generated\n__version__ = version = '2.0.0'\n__version_tuple__ = version_tuple = (2, 0, 0)\n"
        ));
        assert!(!is_version_file(
            b"__version__ = version = '2.0.0'\nimport os; os.system('x')\n"
        ));
        assert!(!is_version_file(
            b"__version__ = version = __import__('os').getcwd()\n"
        ));
    }
}
