//! Risk flags: what a co-signer should look at first in a release's changes.
//!
//! [`scan_change`] looks at one changed file (its old and new content) and knows nothing of
//! git or archives, so the range scan and the artifact comparison share it. The rules are
//! heuristics that point a human at lines; they never decide anything on their own.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::fmt;

use serde::Serialize;

mod content;
mod context;
mod manifest;
mod patterns;
mod pymanifest;

use content::{binary_file, code_patterns, hidden_unicode, opaque_content};
pub(crate) use manifest::{cargo_dependency_names, toml_value};
use manifest::{dependencies, install_hooks};
pub(crate) use pymanifest::{
    pyproject_declared, requirements_names, setup_cfg_declared, PythonDeclared,
};

/// How urgently a flag deserves a look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth a glance.
    Low,
    /// Read it before signing.
    Medium,
    /// Do not sign before understanding it.
    High,
}

impl Severity {
    /// The lowercase name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The rules; each has a stable kebab-case id used in reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Rule {
    /// Code that runs at install time was added or changed (npm lifecycle scripts,
    /// `setup.py`, `build.rs`, `binding.gyp`, `.pth`, `sitecustomize.py`).
    InstallHook,
    /// A dependency was added or its requirement changed in a manifest.
    DependencyChange,
    /// A manifest that cannot be parsed, so its hooks and dependencies went unchecked.
    UnparsedManifest,
    /// A new or changed binary file.
    BinaryFile,
    /// A very long line: minified or generated code that nobody can review.
    MinifiedCode,
    /// A long high-entropy string: an obfuscated payload or an embedded secret.
    HighEntropy,
    /// A large base64 (or hex) blob.
    Base64Blob,
    /// An added line reaches the network.
    NetworkAccess,
    /// An added line spawns a process.
    ProcessSpawn,
    /// An added line evaluates code built at run time.
    DynamicEval,
    /// An added line reads credentials from the environment or from credential files.
    EnvCredentials,
    /// An added line holds a bidi control or an invisible character: code that reads
    /// differently than it runs ("Trojan Source").
    HiddenUnicode,
    /// A file in the published artifact that is not in the source at the commit.
    ArtifactOnlyFile,
    /// A file whose content in the artifact differs from the source at the commit.
    ArtifactModified,
}

impl Rule {
    /// Every rule, in report order.
    pub const ALL: [Rule; 14] = [
        Rule::InstallHook,
        Rule::DependencyChange,
        Rule::UnparsedManifest,
        Rule::BinaryFile,
        Rule::MinifiedCode,
        Rule::HighEntropy,
        Rule::Base64Blob,
        Rule::NetworkAccess,
        Rule::ProcessSpawn,
        Rule::DynamicEval,
        Rule::EnvCredentials,
        Rule::HiddenUnicode,
        Rule::ArtifactOnlyFile,
        Rule::ArtifactModified,
    ];

    /// The stable id, e.g. `install-hook`.
    pub fn id(self) -> &'static str {
        match self {
            Rule::InstallHook => "install-hook",
            Rule::DependencyChange => "dependency-change",
            Rule::UnparsedManifest => "unparsed-manifest",
            Rule::BinaryFile => "binary-file",
            Rule::MinifiedCode => "minified-code",
            Rule::HighEntropy => "high-entropy",
            Rule::Base64Blob => "base64-blob",
            Rule::NetworkAccess => "network-access",
            Rule::ProcessSpawn => "process-spawn",
            Rule::DynamicEval => "dynamic-eval",
            Rule::EnvCredentials => "env-credentials",
            Rule::HiddenUnicode => "hidden-unicode",
            Rule::ArtifactOnlyFile => "artifact-only-file",
            Rule::ArtifactModified => "artifact-modified",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.id())
    }
}

/// One finding: which rule, how severe, where, and why in one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flag {
    /// The rule that fired.
    pub rule: Rule,
    /// How urgent.
    pub severity: Severity,
    /// The file's path (in the source tree, or in the artifact for artifact-only files).
    pub file: String,
    /// The 1-based line in the new content, when the flag is about a line.
    pub line: Option<u32>,
    /// A one-line explanation.
    pub message: String,
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(
                f,
                "{:<6} {:<18} {}:{}: {}",
                self.severity, self.rule, self.file, line, self.message
            ),
            None => write!(
                f,
                "{:<6} {:<18} {}: {}",
                self.severity, self.rule, self.file, self.message
            ),
        }
    }
}

/// Sorts flags most severe first, then by file and line, so reports read top-down.
pub fn sort_flags(flags: &mut [Flag]) {
    flags.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.file.cmp(&b.file))
            .then_with(|| a.line.cmp(&b.line))
            .then_with(|| a.rule.cmp(&b.rule))
    });
}

/// At most this many line flags per rule and file: past that the file needs reading anyway.
const MAX_LINE_FLAGS: usize = 10;
/// A line longer than this is not written by hand.
const LONG_LINE: usize = 1000;
/// A run of base64/hex characters this long is a blob, not an identifier.
const BASE64_RUN: usize = 512;
/// A token at least this long with at least [`ENTROPY_BITS`] bits per character.
const ENTROPY_TOKEN: usize = 100;
/// Random base64 scores about 5.5-6; English and code stay well under 5.
const ENTROPY_BITS: f64 = 5.0;

/// Flags one changed file. `old` is `None` for an added file, `new` is `None` for a deleted
/// one (deletions raise no flags). `path` is `/`-separated and relative to the tree's root.
pub fn scan_change(path: &str, old: Option<&[u8]>, new: Option<&[u8]>) -> Vec<Flag> {
    scan_file_change(path, false, old, new)
}

/// [`scan_change`] for a file whose mode is known: an executable file is code even without an
/// extension or a `#!` line (the system runs it as a script or a binary).
pub fn scan_file_change(
    path: &str,
    executable: bool,
    old: Option<&[u8]>,
    new: Option<&[u8]>,
) -> Vec<Flag> {
    let Some(new) = new else { return Vec::new() };
    if old == Some(new) {
        return Vec::new();
    }
    let file = FileInfo::new(path, executable, new);
    let mut flags = Vec::new();
    if text_of(new).is_none() {
        binary_file(&file, old, new, &mut flags);
    }
    let Some(new_text) = decode(&file, new) else {
        return finish(flags);
    };
    let old_text = old.and_then(|o| decode(&file, o));
    let changes = context::Changes::new(old_text.as_deref(), &new_text);
    let added = changes.lines();

    install_hooks(
        &file,
        old,
        old_text.as_deref(),
        &new_text,
        &added,
        &mut flags,
    );
    dependencies(
        &file,
        old_text.as_deref().unwrap_or(""),
        &new_text,
        &mut flags,
    );
    if !file.is_lock_or_data {
        opaque_content(&file, &added, &mut flags);
    }
    if file.is_code {
        hidden_unicode(&file, &added, &mut flags);
        code_patterns(&file, &changes, old_text.as_deref(), &new_text, &mut flags);
    }
    finish(flags)
}

fn finish(mut flags: Vec<Flag>) -> Vec<Flag> {
    sort_flags(&mut flags);
    flags
}

/// The language a file is written in, as far as its comments are concerned: a line is only
/// skipped as a comment when the whole line is one in that language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    /// JavaScript and TypeScript: `//` and `/* */`; `#` starts a private field, not a comment.
    JavaScript,
    /// Python: `#`.
    Python,
    /// A `.pth` file: Python runs its `import` lines, nothing in it is skipped.
    PythonPth,
    /// Shells, Ruby, Perl, PowerShell, Makefiles, Dockerfiles, gyp: `#`.
    Hash,
    /// PHP: `//`, `/* */` and `#`, except `#[` which is an attribute before code.
    Php,
    /// Rust, Go, Java, Kotlin, C and friends, Swift: `//` and `/* */` (`#` is an attribute or
    /// a preprocessor line, both code).
    CFamily,
    /// No comment syntax known (JSON, batch files, VBScript, Lua, unknown interpreters):
    /// every line is scanned.
    Opaque,
}

impl Lang {
    fn from_ext(ext: &str) -> Option<Lang> {
        Some(match ext {
            "js" | "mjs" | "cjs" | "jsx" | "ts" | "mts" | "cts" | "tsx" => Lang::JavaScript,
            "py" | "pyw" => Lang::Python,
            "pth" => Lang::PythonPth,
            "sh" | "bash" | "zsh" | "ps1" | "rb" | "pl" | "pm" | "gyp" | "gypi" => Lang::Hash,
            "php" => Lang::Php,
            "rs" | "go" | "java" | "kt" | "c" | "cc" | "cpp" | "h" | "hpp" | "cs" | "swift" => {
                Lang::CFamily
            }
            "bat" | "cmd" | "lua" | "vbs" => Lang::Opaque,
            _ => return None,
        })
    }

    /// The language of a `#!` line's interpreter; any interpreter makes the file code.
    fn from_shebang(content: &[u8]) -> Option<Lang> {
        let first = content.strip_prefix(b"#!")?;
        let first = &first[..first
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
            .unwrap_or(first.len())];
        let first = String::from_utf8_lossy(first);
        let mut words = first.split_whitespace();
        let mut program = words.next().unwrap_or("").rsplit('/').next().unwrap_or("");
        if program == "env" {
            // `env [-S] [-i] [NAME=value]... program`
            program = words
                .find(|w| !w.starts_with('-') && !w.contains('='))
                .unwrap_or("");
        }
        let program = program.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
        Some(match program {
            "node" | "nodejs" | "deno" | "bun" | "ts-node" | "tsx" => Lang::JavaScript,
            "python" | "pypy" => Lang::Python,
            "sh" | "bash" | "dash" | "zsh" | "ksh" | "ash" | "ruby" | "perl" | "pwsh" => Lang::Hash,
            "php" => Lang::Php,
            _ => Lang::Opaque,
        })
    }

    fn is_python(self) -> bool {
        matches!(self, Lang::Python | Lang::PythonPth)
    }
}

/// What the path (and, for a script without an extension, its `#!` line) says about a file.
struct FileInfo<'a> {
    path: &'a str,
    name: String,
    ext: String,
    /// The language, when the file is code.
    lang: Option<Lang>,
    is_code: bool,
    is_install_hook: bool,
    is_lock_or_data: bool,
}

impl<'a> FileInfo<'a> {
    fn new(path: &'a str, executable: bool, content: &[u8]) -> Self {
        let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
        let ext = match name.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() => ext.to_owned(),
            _ => String::new(),
        };
        let is_install_hook = matches!(
            name.as_str(),
            "setup.py" | "build.rs" | "binding.gyp" | "sitecustomize.py" | "usercustomize.py"
        ) || ext == "pth";
        let by_name = match name.as_str() {
            "package.json" => Some(Lang::Opaque),
            "makefile" | "dockerfile" | "justfile" | "rakefile" => Some(Lang::Hash),
            _ => None,
        };
        // A `#!` line makes any file a script (npm `bin/cli`), whatever its name says.
        let lang = Lang::from_ext(&ext)
            .or(by_name)
            .or_else(|| Lang::from_shebang(content))
            .or(executable.then_some(Lang::Opaque));
        let is_code = lang.is_some();
        let is_lock_or_data = ext == "lock"
            || matches!(
                name.as_str(),
                "package-lock.json" | "npm-shrinkwrap.json" | "pnpm-lock.yaml" | "go.sum"
            )
            || matches!(ext.as_str(), "svg" | "map" | "snap" | "csv" | "tsv");
        FileInfo {
            path,
            name,
            ext,
            lang,
            is_code,
            is_install_hook,
            is_lock_or_data,
        }
    }

    fn flag(&self, rule: Rule, severity: Severity, line: Option<u32>, message: String) -> Flag {
        Flag {
            rule,
            severity,
            file: self.path.to_owned(),
            line,
            message,
        }
    }
}

/// The content as text, or `None` for binary (NUL bytes or not UTF-8).
fn text_of(data: &[u8]) -> Option<&str> {
    if data.iter().take(8000).any(|&b| b == 0) {
        return None;
    }
    std::str::from_utf8(data).ok()
}

/// The content to scan: text as it is, and a code file even when it does not look like text
/// (one NUL in a comment, a Latin-1 byte under a `coding:` line), decoded lossily, because
/// its interpreter runs it anyway. `None` for a binary file that is not code.
fn decode<'d>(file: &FileInfo<'_>, data: &'d [u8]) -> Option<Cow<'d, str>> {
    match text_of(data) {
        Some(text) => Some(Cow::Borrowed(text)),
        None if file.is_code => Some(String::from_utf8_lossy(data)),
        None => None,
    }
}

/// The lines of `text` without their terminators, split where `similar` splits them (`\n`,
/// `\r\n` and a lone `\r`), so indices agree with the line diff and with `chainlock diff show`.
fn split_lines(text: &str) -> Vec<&str> {
    similar::DiffableStr::tokenize_lines(text)
        .into_iter()
        .map(strip_terminator)
        .collect()
}

fn strip_terminator(line: &str) -> &str {
    let line = line.strip_suffix('\n').unwrap_or(line);
    line.strip_suffix('\r').unwrap_or(line)
}

fn line_no(index: usize) -> u32 {
    u32::try_from(index)
        .unwrap_or(u32::MAX - 1)
        .saturating_add(1)
}

/// Whether `c` would not show as itself: `chainlock_protocol::text`'s one definition.
pub use chainlock_protocol::text::is_hidden_char;

/// Shortens `text` to at most `max` characters for a one-line message, with control and
/// invisible characters written as `\u{..}` so the report shows what the line holds.
fn clip(text: &str, max: usize) -> String {
    let mut s = String::new();
    let mut previous = None;
    for (n, c) in text.chars().enumerate() {
        if n == max {
            s.push('…');
            break;
        }
        if is_hidden_char(c, previous) {
            s.push_str(&format!("\\u{{{:04X}}}", u32::from(c)));
        } else {
            s.push(c);
        }
        previous = Some(c);
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn rules(flags: &[Flag]) -> Vec<&'static str> {
        flags.iter().map(|f| f.rule.id()).collect()
    }

    #[test]
    fn unchanged_file_raises_nothing() {
        let content = b"import os\nos.system('ls')\n";
        assert!(scan_change("a.py", Some(content), Some(content)).is_empty());
        assert!(scan_change("a.py", Some(content), None).is_empty());
    }

    #[test]
    fn only_added_lines_count() {
        let old = b"import subprocess\nsubprocess.run(['ls'])\n";
        let new = b"import subprocess\nsubprocess.run(['ls'])\nprint('hi')\n";
        assert_eq!(
            rules(&scan_change("a.py", Some(old), Some(new))),
            Vec::<&str>::new()
        );
    }
}
