//! Risk flags: what a co-signer should look at first in a release's changes.
//!
//! [`scan_change`] looks at one changed file (its old and new content) and knows nothing of
//! git or archives, so the range scan and the artifact comparison share it. The rules are
//! heuristics that point a human at lines; they never decide anything on their own.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::fmt;

use serde::Serialize;

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
    let added = added_lines(old_text.as_deref(), &new_text);

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
        code_patterns(&file, &added, &mut flags);
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

/// Lines of `new` that are not in `old`, with their 1-based line numbers in `new`.
fn added_lines<'t>(old: Option<&str>, new: &'t str) -> Vec<(u32, &'t str)> {
    let lines = split_lines(new);
    let Some(old) = old else {
        return lines
            .into_iter()
            .enumerate()
            .map(|(i, l)| (line_no(i), l))
            .collect();
    };
    // Deadline: a pathological file gets a coarser (still correct) diff, never a hang.
    let diff = similar::TextDiff::configure()
        .timeout(std::time::Duration::from_secs(2))
        .diff_lines(old, new);
    let mut added = Vec::new();
    for change in diff.iter_all_changes() {
        if change.tag() != similar::ChangeTag::Insert {
            continue;
        }
        // `lines` is split exactly as the diff split `new`, so the index finds the change's text.
        if let Some((i, text)) = change
            .new_index()
            .and_then(|i| lines.get(i).map(|t| (i, *t)))
        {
            debug_assert_eq!(text, strip_terminator(change.value()));
            added.push((line_no(i), text));
        }
    }
    added
}

fn line_no(index: usize) -> u32 {
    u32::try_from(index)
        .unwrap_or(u32::MAX - 1)
        .saturating_add(1)
}

/// npm's lifecycle scripts that run when a package is installed (or packed from git).
const NPM_HOOKS: &[&str] = &[
    "preinstall",
    "install",
    "postinstall",
    "prepare",
    "preprepare",
    "postprepare",
];

fn install_hooks(
    file: &FileInfo<'_>,
    old: Option<&[u8]>,
    old_text: Option<&str>,
    new_text: &str,
    added: &[(u32, &str)],
    flags: &mut Vec<Flag>,
) {
    if file.name == "package.json" {
        // An unparsable package.json is flagged by `dependencies`.
        let new_text = strip_bom(new_text);
        let Ok(after) = serde_json::from_str::<serde_json::Value>(new_text) else {
            return;
        };
        let before = old_text
            .and_then(|t| serde_json::from_str::<serde_json::Value>(strip_bom(t)).ok())
            .unwrap_or_default();
        let keys = JsonKeyLines::new(new_text);
        for hook in NPM_HOOKS {
            let Some(command) = after.get("scripts").and_then(|s| s.get(*hook)) else {
                continue;
            };
            let command_text = command.as_str().unwrap_or_default();
            let verb = match before.get("scripts").and_then(|s| s.get(*hook)) {
                None => "added",
                Some(old_cmd) if old_cmd != command => "changed",
                Some(_) => continue,
            };
            // The key inside "scripts", not the first `"install"` anywhere (keywords).
            let line = keys.nested("scripts", hook);
            flags.push(file.flag(
                Rule::InstallHook,
                Severity::High,
                line,
                format!(
                    "npm `{hook}` script {verb}: runs on every install: {}",
                    clip(command_text, 120)
                ),
            ));
        }
        return;
    }
    if !file.is_install_hook {
        return;
    }
    let first_added = added.first().map(|(l, _)| *l);
    let (what, severity_new, severity_changed) = match (file.name.as_str(), file.ext.as_str()) {
        (_, "pth") => (
            "`.pth` file: its `import` lines run at every Python start-up",
            Severity::High,
            Severity::High,
        ),
        ("sitecustomize.py" | "usercustomize.py", _) => (
            "runs at every Python start-up",
            Severity::High,
            Severity::High,
        ),
        ("setup.py", _) => (
            "`setup.py` runs at install time",
            Severity::High,
            Severity::Medium,
        ),
        ("build.rs", _) => (
            "`build.rs` runs at build time on every consumer's machine",
            Severity::High,
            Severity::Medium,
        ),
        _ => (
            "`binding.gyp` drives a native build at install time",
            Severity::High,
            Severity::Medium,
        ),
    };
    let line = if file.ext == "pth" {
        split_lines(new_text)
            .into_iter()
            .position(|l| l.starts_with("import ") || l.starts_with("import\t"))
            .map(line_no)
            .or(first_added)
    } else {
        first_added
    };
    let (verb, severity) = if old.is_none() {
        ("added", severity_new)
    } else {
        ("changed", severity_changed)
    };
    flags.push(file.flag(Rule::InstallHook, severity, line, format!("{verb}: {what}")));
}

/// Well-known binary formats whose magic matches their extension raise no flag.
fn media_magic_ok(ext: &str, data: &[u8]) -> Option<bool> {
    let ok = match ext {
        "png" => data.starts_with(b"\x89PNG\r\n\x1a\n"),
        "jpg" | "jpeg" => data.starts_with(&[0xff, 0xd8, 0xff]),
        "gif" => data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a"),
        "ico" => data.starts_with(&[0, 0, 1, 0]),
        "webp" => data.len() >= 12 && data.starts_with(b"RIFF") && &data[8..12] == b"WEBP",
        "woff" => data.starts_with(b"wOFF"),
        "woff2" => data.starts_with(b"wOF2"),
        "ttf" => data.starts_with(&[0, 1, 0, 0]) || data.starts_with(b"true"),
        "otf" => data.starts_with(b"OTTO"),
        "pdf" => data.starts_with(b"%PDF"),
        _ => return None,
    };
    Some(ok)
}

fn is_executable_binary(ext: &str, data: &[u8]) -> bool {
    data.starts_with(b"\x7fELF")
        || data.starts_with(b"MZ")
        || data.starts_with(&[0xcf, 0xfa, 0xed, 0xfe])
        || data.starts_with(&[0xce, 0xfa, 0xed, 0xfe])
        || data.starts_with(&[0xca, 0xfe, 0xba, 0xbe])
        || data.starts_with(b"\0asm")
        || matches!(
            ext,
            "so" | "dll" | "dylib" | "node" | "exe" | "pyd" | "wasm"
        )
}

fn binary_file(file: &FileInfo<'_>, old: Option<&[u8]>, new: &[u8], flags: &mut Vec<Flag>) {
    let verb = if old.is_none() { "new" } else { "changed" };
    let size = new.len();
    if is_executable_binary(&file.ext, new) {
        flags.push(file.flag(
            Rule::BinaryFile,
            Severity::High,
            None,
            format!("{verb} executable binary ({size} bytes): cannot be reviewed as source"),
        ));
        return;
    }
    if file.is_code {
        // Its interpreter runs it all the same; the lines are scanned as decoded text.
        flags.push(file.flag(
            Rule::BinaryFile,
            Severity::High,
            None,
            format!(
                "{verb} code file that is not valid text ({size} bytes; NUL bytes or invalid UTF-8): its interpreter may read it differently than a viewer shows it"
            ),
        ));
        return;
    }
    match media_magic_ok(&file.ext, new) {
        Some(true) => {}
        Some(false) => flags.push(file.flag(
            Rule::BinaryFile,
            Severity::High,
            None,
            format!(
                "{verb} binary whose content is not the .{} its name claims ({size} bytes)",
                file.ext
            ),
        )),
        None => flags.push(file.flag(
            Rule::BinaryFile,
            Severity::Medium,
            None,
            format!("{verb} binary file ({size} bytes): check what reads it"),
        )),
    }
}

/// Very long lines, large base64 blobs and high-entropy strings: content a reviewer cannot read.
fn opaque_content(file: &FileInfo<'_>, added: &[(u32, &str)], flags: &mut Vec<Flag>) {
    let (mut long, mut blob, mut entropy) = (false, false, false);
    for &(line, text) in added {
        if !long && text.len() > LONG_LINE {
            long = true;
            flags.push(file.flag(
                Rule::MinifiedCode,
                Severity::Medium,
                Some(line),
                format!(
                    "line of {} characters: minified or generated, not reviewable",
                    text.len()
                ),
            ));
        }
        if !blob {
            let run = longest_base64_run(text);
            if run >= BASE64_RUN {
                blob = true;
                flags.push(file.flag(
                    Rule::Base64Blob,
                    Severity::Medium,
                    Some(line),
                    format!("embedded base64/hex blob of {run} characters"),
                ));
            }
        }
        if !entropy {
            if let Some((len, bits)) = high_entropy_token(text) {
                entropy = true;
                flags.push(file.flag(
                    Rule::HighEntropy,
                    Severity::Medium,
                    Some(line),
                    format!("string of {len} characters at {bits:.1} bits/char: obfuscated payload or embedded secret?"),
                ));
            }
        }
        if long && blob && entropy {
            break;
        }
    }
}

fn longest_base64_run(text: &str) -> usize {
    let (mut best, mut current) = (0, 0);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_') {
            current += 1;
            best = best.max(current);
        } else {
            current = 0;
        }
    }
    best
}

fn high_entropy_token(text: &str) -> Option<(usize, f64)> {
    text.split(|c: char| {
        c.is_whitespace()
            || matches!(
                c,
                '"' | '\'' | '`' | ',' | ';' | '(' | ')' | '[' | ']' | '{' | '}' | '<' | '>'
            )
    })
    .filter(|t| t.len() >= ENTROPY_TOKEN)
    .map(|t| (t.len(), shannon_bits(t.as_bytes())))
    .find(|&(_, bits)| bits >= ENTROPY_BITS)
}

/// Shannon entropy of the byte distribution, in bits per byte.
fn shannon_bits(data: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    for &b in data {
        counts[usize::from(b)] += 1;
    }
    let n = data.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| f64::from(c) / n)
        .map(|p| -p * p.log2())
        .sum()
}

/// Patterns of one rule; a pattern starting with an identifier character must not be
/// preceded by one (`eval(` matches `x = eval(` but not `medieval(`).
struct Patterns {
    rule: Rule,
    what: &'static str,
    patterns: &'static [&'static str],
}

const NETWORK: Patterns = Patterns {
    rule: Rule::NetworkAccess,
    what: "reaches the network",
    patterns: &[
        "fetch(",
        "XMLHttpRequest",
        "require('http')",
        "require(\"http\")",
        "require('https')",
        "require(\"https\")",
        "require('net')",
        "require(\"net\")",
        "require('dgram')",
        "require(\"dgram\")",
        "from 'http'",
        "from \"http\"",
        "from 'https'",
        "from \"https\"",
        "node:http",
        "node:https",
        "node:net",
        "node:dgram",
        "net.connect(",
        "net.createConnection(",
        "WebSocket(",
        "axios",
        "http.request(",
        "https.request(",
        "http.get(",
        "https.get(",
        "urllib.request",
        "urllib3",
        "urlopen(",
        "requests.get(",
        "requests.post(",
        "requests.put(",
        "requests.request(",
        "httpx.",
        "http.client",
        "aiohttp",
        "socket.socket(",
        "socket.create_connection(",
        "TcpStream::connect",
        "UdpSocket::bind",
        "reqwest::",
        "ureq::",
        "curl ",
        "wget ",
        "Invoke-WebRequest",
        "/dev/tcp/",
        "Net::HTTP",
    ],
};

const PROCESS: Patterns = Patterns {
    rule: Rule::ProcessSpawn,
    what: "spawns a process",
    patterns: &[
        "child_process",
        "execSync(",
        "spawnSync(",
        "execFileSync(",
        "execa(",
        "subprocess.",
        "os.system(",
        "os.popen(",
        "os.exec",
        "os.spawn",
        "pty.spawn(",
        "Command::new(",
        "std::process::Command",
        "Runtime.getRuntime().exec",
        "ProcessBuilder(",
        "shell_exec(",
        "proc_open(",
        "passthru(",
        "Start-Process",
        "| sh",
        "| bash",
        "bash -c",
        "sh -c",
    ],
};

const EVAL: Patterns = Patterns {
    rule: Rule::DynamicEval,
    what: "evaluates code built at run time",
    patterns: &[
        "eval(",
        "new Function(",
        "vm.runInNewContext",
        "vm.runInThisContext",
        "vm.runInContext",
        "vm.Script(",
        "__import__(",
        "marshal.loads(",
        "compile(",
        "exec(",
    ],
};

/// Reads of the environment...
const ENV_ACCESS: &[&str] = &[
    "process.env",
    "os.environ",
    "os.getenv(",
    "env::var",
    "env!(",
    "getenv(",
    "ENV[",
    "$ENV{",
    "System.getenv",
];
/// ...whose variable names suggest a secret.
const SECRET_WORDS: &[&str] = &[
    "token",
    "secret",
    "password",
    "passwd",
    "api_key",
    "apikey",
    "access_key",
    "private_key",
    "credential",
    "auth",
];
/// The whole environment, or well-known credential files.
const CREDENTIAL_SOURCES: &[&str] = &[
    "JSON.stringify(process.env",
    "Object.keys(process.env",
    "Object.entries(process.env",
    "dict(os.environ",
    "os.environ.copy(",
    "os.environ.items(",
    "env::vars()",
    "printenv",
    ".npmrc",
    ".pypirc",
    ".ssh/",
    "id_rsa",
    "id_ed25519",
    ".aws/credentials",
    ".git-credentials",
    ".docker/config.json",
    ".netrc",
    ".kube/config",
];

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Whether `line` contains `pattern` at an identifier boundary.
fn contains_token(line: &str, pattern: &str) -> bool {
    let starts_ident = pattern.bytes().next().is_some_and(is_ident);
    let bytes = line.as_bytes();
    let mut from = 0;
    while let Some(pos) = line[from..].find(pattern) {
        let at = from + pos;
        if !starts_ident || at == 0 || !is_ident(bytes[at - 1]) {
            // Python's `exec(`/`compile(` are builtins; `x.exec(` (RegExp, cursor) is not eval.
            if !(matches!(pattern, "exec(" | "compile(") && at > 0 && bytes[at - 1] == b'.') {
                return true;
            }
        }
        from = at + pattern.len().max(1);
        if from >= line.len() {
            break;
        }
    }
    false
}

/// Whether the whole of `line` is a comment in `lang`, so no pattern in it can run. When in
/// doubt the line is scanned: a false positive costs a glance, a false negative a compromise.
fn is_comment(lang: Lang, line: &str) -> bool {
    let t = line.trim_start();
    // JavaScript ends a line (and so a `//` comment) at U+2028 and U+2029 too.
    if t.contains(['\u{2028}', '\u{2029}']) {
        return false;
    }
    let slashes = matches!(lang, Lang::JavaScript | Lang::CFamily | Lang::Php);
    let hash = matches!(lang, Lang::Python | Lang::Hash | Lang::Php);
    if slashes && t.starts_with("//") {
        return true;
    }
    if let Some(rest) = t.strip_prefix("/*").filter(|_| slashes) {
        // `/* note */` is a comment; `/**/ code` and an unclosed `/* note` line are scanned.
        return rest
            .find("*/")
            .is_some_and(|end| rest[end + 2..].trim().is_empty());
    }
    hash && t.starts_with('#') && !t.starts_with("#!") && !t.starts_with("#[")
}

fn code_patterns(file: &FileInfo<'_>, added: &[(u32, &str)], flags: &mut Vec<Flag>) {
    let escalate = if file.is_install_hook {
        Severity::High
    } else {
        Severity::Medium
    };
    let python_only_eval =
        |p: &str| matches!(p, "compile(" | "exec(" | "__import__(" | "marshal.loads(");
    let lang = file.lang.unwrap_or(Lang::Opaque);
    let is_python = lang.is_python();
    for patterns in [&NETWORK, &PROCESS, &EVAL] {
        let mut count = 0;
        for &(line, text) in added {
            if count >= MAX_LINE_FLAGS || is_comment(lang, text) {
                continue;
            }
            let hit = patterns
                .patterns
                .iter()
                .find(|p| (is_python || !python_only_eval(p)) && contains_token(text, p));
            if let Some(p) = hit {
                count += 1;
                let message = format!(
                    "added line {} (`{}`): {}",
                    patterns.what,
                    p.trim(),
                    clip(text.trim(), 100)
                );
                flags.push(file.flag(patterns.rule, escalate, Some(line), message));
            }
        }
    }
    let mut count = 0;
    for &(line, text) in added {
        if count >= MAX_LINE_FLAGS || is_comment(lang, text) {
            continue;
        }
        let lower = text.to_ascii_lowercase();
        let env_secret = ENV_ACCESS.iter().any(|p| text.contains(p))
            && SECRET_WORDS.iter().any(|w| lower.contains(w));
        let source = CREDENTIAL_SOURCES.iter().find(|p| text.contains(*p));
        if env_secret || source.is_some() {
            count += 1;
            let why = match source {
                Some(s) => format!("reads credentials (`{s}`)"),
                None => "reads a secret from the environment".to_owned(),
            };
            flags.push(file.flag(
                Rule::EnvCredentials,
                Severity::High,
                Some(line),
                format!("added line {why}: {}", clip(text.trim(), 100)),
            ));
        }
    }
}

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
        if (c.is_control() && c != '\t') || invisible(c, previous).is_some() {
            s.push_str(&format!("\\u{{{:04X}}}", u32::from(c)));
        } else {
            s.push(c);
        }
        previous = Some(c);
    }
    s
}

/// What an invisible character can do, or `None` for a character that shows. `previous` is
/// the character before it: a variation selector after an emoji is ordinary text.
fn invisible(c: char, previous: Option<char>) -> Option<&'static str> {
    Some(match c {
        '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}'
        | '\u{200E}'
        | '\u{200F}'
        | '\u{061C}' => "a bidi control: the code shown is not the order it runs in",
        '\u{2028}' | '\u{2029}' => "a line separator: a line break most viewers do not show",
        '\u{E0000}'..='\u{E007F}' => "a tag character: text no viewer shows",
        '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' => {
            "a Hangul filler: a name that shows as nothing"
        }
        '\u{E0100}'..='\u{E01EF}' => "a variation selector: can carry a hidden payload",
        '\u{FE00}'..='\u{FE0F}'
            if previous.is_none_or(|p| p.is_ascii() || ('\u{FE00}'..='\u{FE0F}').contains(&p)) =>
        {
            "a variation selector: can carry a hidden payload"
        }
        // The rest of Unicode's format characters (category Cf).
        '\u{00AD}'
        | '\u{0600}'..='\u{0605}'
        | '\u{06DD}'
        | '\u{070F}'
        | '\u{0890}'..='\u{0891}'
        | '\u{08E2}'
        | '\u{180E}'
        | '\u{200B}'..='\u{200D}'
        | '\u{2060}'..='\u{2064}'
        | '\u{206A}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}'
        | '\u{110BD}'
        | '\u{110CD}'
        | '\u{13430}'..='\u{1343F}'
        | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}' => "an invisible format character",
        _ => return None,
    })
}

/// Bidi controls and invisible characters in added lines of code ("Trojan Source").
fn hidden_unicode(file: &FileInfo<'_>, added: &[(u32, &str)], flags: &mut Vec<Flag>) {
    let mut count = 0;
    for &(line, text) in added {
        if count >= MAX_LINE_FLAGS {
            break;
        }
        let mut previous = None;
        let mut found = None;
        for (at, c) in text.char_indices() {
            // A byte order mark opening the file is the encoding's, not the code's.
            let file_bom = line == 1 && at == 0 && c == '\u{feff}';
            if let Some(what) = invisible(c, previous).filter(|_| !file_bom) {
                found = Some((c, what));
                break;
            }
            previous = Some(c);
        }
        if let Some((c, what)) = found {
            count += 1;
            flags.push(file.flag(
                Rule::HiddenUnicode,
                Severity::High,
                Some(line),
                format!(
                    "added line holds U+{:04X}, {what}: {}",
                    u32::from(c),
                    clip(text.trim(), 100)
                ),
            ));
        }
    }
}

/// One dependency requirement as written in a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Dep {
    /// Table or section plus name, e.g. `dependencies.left-pad`.
    key: String,
    /// The requirement as written (version, URL, inline table).
    spec: String,
    /// Where it is in the file.
    line: u32,
}

/// Why a manifest could not be read, and where.
#[derive(Debug)]
struct Unreadable {
    line: Option<u32>,
    why: String,
}

impl Unreadable {
    fn at(line: u32, why: &str) -> Self {
        Unreadable {
            line: Some(line),
            why: why.to_owned(),
        }
    }
}

/// Drops a leading byte order mark, as npm, Cargo and Python's `utf-8-sig` readers do.
fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

fn dependencies(file: &FileInfo<'_>, old: &str, new: &str, flags: &mut Vec<Flag>) {
    let extract: fn(&str) -> Result<Vec<Dep>, Unreadable> = match file.name.as_str() {
        "package.json" => npm_deps,
        "cargo.toml" | "pyproject.toml" => toml_deps,
        "setup.cfg" => setup_cfg_deps,
        n if (n.starts_with("requirements") && n.ends_with(".txt"))
            || (file.path.contains("requirements/") && file.ext == "txt") =>
        {
            |text| Ok(requirements_deps(text))
        }
        _ => return,
    };
    let after = match extract(strip_bom(new)) {
        Ok(deps) => deps,
        Err(e) => {
            // Silence here would hide exactly what the manifest exists to declare.
            let unchecked = if file.name == "package.json" {
                "install scripts and dependencies"
            } else {
                "dependencies"
            };
            flags.push(file.flag(
                Rule::UnparsedManifest,
                Severity::High,
                e.line,
                format!(
                    "manifest cannot be parsed ({}): its {unchecked} were not checked, and the tool that reads it may still accept it",
                    clip(&e.why, 100)
                ),
            ));
            return;
        }
    };
    // An unreadable old manifest counts as empty: every dependency of the new one is news.
    let before: HashMap<String, Dep> = extract(strip_bom(old))
        .unwrap_or_default()
        .into_iter()
        .map(|d| (d.key.clone(), d))
        .collect();
    for dep in after {
        let message = match before.get(&dep.key) {
            None => format!("dependency added: {} = {}", dep.key, clip(&dep.spec, 100)),
            Some(p) if p.spec != dep.spec => format!(
                "dependency changed: {} from {} to {}",
                dep.key,
                clip(&p.spec, 60),
                clip(&dep.spec, 60)
            ),
            Some(_) => continue,
        };
        let spec = dep.spec.to_ascii_lowercase();
        let severity = if spec.contains("://")
            || spec.contains("git+")
            || spec.contains("git =")
            || spec.starts_with("git")
            || spec.contains("file:")
            || dep.key.contains("index-url")
            || dep.key.contains("find-links")
            || dep.key.contains("registry")
            || dep.key.ends_with(".git")
            || dep.key.starts_with("patch.")
            || dep.key.starts_with("replace.")
        {
            Severity::High
        } else if dep.key.contains("dev") || dep.key.contains("test") {
            Severity::Low
        } else {
            Severity::Medium
        };
        flags.push(file.flag(Rule::DependencyChange, severity, Some(dep.line), message));
    }
}

fn parse_json(text: &str) -> Result<serde_json::Value, Unreadable> {
    serde_json::from_str(text).map_err(|e| Unreadable {
        line: u32::try_from(e.line()).ok().filter(|&l| l > 0),
        why: e.to_string(),
    })
}

/// Where the keys of a JSON document's first two levels are written, found in one pass. A key
/// written twice maps to its last line: the occurrence `JSON.parse` (and serde_json) keeps.
struct JsonKeyLines {
    top: HashMap<String, u32>,
    nested: HashMap<String, HashMap<String, u32>>,
}

impl JsonKeyLines {
    /// Reads a document serde_json has accepted; lines are counted as [`split_lines`] does.
    fn new(text: &str) -> Self {
        struct Frame {
            object: bool,
            expect_key: bool,
            key: Option<String>,
        }
        let mut found = JsonKeyLines {
            top: HashMap::new(),
            nested: HashMap::new(),
        };
        let bytes = text.as_bytes();
        let mut stack: Vec<Frame> = Vec::new();
        let mut line = 1u32;
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\n' => line = line.saturating_add(1),
                b'\r' if bytes.get(i + 1) != Some(&b'\n') => line = line.saturating_add(1),
                open @ (b'{' | b'[') => stack.push(Frame {
                    object: open == b'{',
                    expect_key: true,
                    key: None,
                }),
                b'}' | b']' => {
                    stack.pop();
                }
                b',' => {
                    if let Some(frame) = stack.last_mut() {
                        frame.expect_key = true;
                    }
                }
                b'"' => {
                    let start = i;
                    i += 1;
                    while i < bytes.len() && bytes[i] != b'"' {
                        i += if bytes[i] == b'\\' { 2 } else { 1 };
                    }
                    let is_key = stack.last().is_some_and(|f| f.object && f.expect_key);
                    let raw = text.get(start..(i + 1).min(bytes.len())).unwrap_or("");
                    if is_key {
                        let key: String = serde_json::from_str(raw).unwrap_or_default();
                        match stack.len() {
                            1 => {
                                found.top.insert(key.clone(), line);
                            }
                            2 => {
                                if let Some(parent) = stack[0].key.as_deref() {
                                    found
                                        .nested
                                        .entry(parent.to_owned())
                                        .or_default()
                                        .insert(key.clone(), line);
                                }
                            }
                            _ => {}
                        }
                        if let Some(frame) = stack.last_mut() {
                            frame.expect_key = false;
                            frame.key = Some(key);
                        }
                    }
                }
                _ => {}
            }
            i += 1;
        }
        found
    }

    fn nested(&self, parent: &str, key: &str) -> Option<u32> {
        self.nested.get(parent).and_then(|m| m.get(key)).copied()
    }
}

fn npm_deps(text: &str) -> Result<Vec<Dep>, Unreadable> {
    let value = parse_json(text)?;
    let keys = JsonKeyLines::new(text);
    let mut deps = Vec::new();
    for section in [
        "dependencies",
        "devDependencies",
        "optionalDependencies",
        "peerDependencies",
    ] {
        let Some(map) = value.get(section).and_then(|v| v.as_object()) else {
            continue;
        };
        let section_line = keys.top.get(section).copied().unwrap_or(1);
        for (name, spec) in map {
            let spec = spec
                .as_str()
                .map_or_else(|| spec.to_string(), str::to_owned);
            deps.push(Dep {
                key: format!("{section}.{name}"),
                spec,
                line: keys.nested(section, name).unwrap_or(section_line),
            });
        }
    }
    for section in ["bundleDependencies", "bundledDependencies"] {
        if let Some(list) = value.get(section).and_then(|v| v.as_array()) {
            let line = keys.top.get(section).copied().unwrap_or(1);
            for name in list.iter().filter_map(|v| v.as_str()) {
                deps.push(Dep {
                    key: format!("{section}.{name}"),
                    spec: "bundled".to_owned(),
                    line,
                });
            }
        }
    }
    Ok(deps)
}

/// The distribution name at the start of a PEP 508 requirement.
fn requirement_name(req: &str) -> String {
    req.trim()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect::<String>()
        .to_ascii_lowercase()
        .replace('_', "-")
}

/// What identifies a requirement in a list: its name, or the whole of it when it is a bare
/// URL (an index list), so two URLs never share a key.
fn requirement_key(req: &str) -> String {
    let name = requirement_name(req);
    let rest = &req.trim()[name.len()..];
    if name.is_empty() || rest.starts_with("://") || rest.starts_with('+') {
        req.trim().to_owned()
    } else {
        name
    }
}

/// A statement of a TOML document as the line-based reader sees it.
enum TomlItem {
    /// `[a.b]`, or `[[a.b]]` when `array` is set.
    Table { path: Vec<String>, array: bool },
    /// `key = value`: the key's dotted path and the value's text line by line, comments
    /// dropped, so each element of a multi-line array or inline table keeps its line.
    Pair {
        key: Vec<String>,
        line: u32,
        value: Vec<(u32, String)>,
    },
}

/// Reads a TOML document statement by statement. No TOML parser is available, so this knows
/// enough of the syntax (quoted and dotted keys, multi-line strings, arrays, inline tables)
/// to place every table and key, and refuses a line it cannot place instead of skipping it.
fn toml_items(text: &str) -> Result<Vec<TomlItem>, Unreadable> {
    let lines = split_lines(text);
    let mut items = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let n = line_no(i);
        let t = lines[i].trim();
        i += 1;
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if let Some(header) = t.strip_prefix('[') {
            let (array, header) = match header.strip_prefix('[') {
                Some(h) => (true, h),
                None => (false, header),
            };
            let bad = || Unreadable::at(n, "a table header that cannot be read");
            let (path, rest) = toml_key(header).ok_or_else(bad)?;
            let rest = rest
                .strip_prefix(if array { "]]" } else { "]" })
                .ok_or_else(bad)?
                .trim_start();
            if !(rest.is_empty() || rest.starts_with('#')) {
                return Err(bad());
            }
            items.push(TomlItem::Table { path, array });
            continue;
        }
        let bad = || Unreadable::at(n, "a line that is neither a table header nor `key = value`");
        let (key, rest) = toml_key(t).ok_or_else(bad)?;
        let first = rest.strip_prefix('=').ok_or_else(bad)?.trim_start();
        let mut scan = ValueScan::default();
        let unterminated = |m| Unreadable::at(m, "an unterminated string");
        let piece = scan.piece(first).ok_or_else(|| unterminated(n))?;
        if piece.trim().is_empty() {
            return Err(Unreadable::at(n, "a key without a value"));
        }
        let mut value = vec![(n, piece)];
        while scan.is_open() {
            let Some(next) = lines.get(i) else {
                return Err(Unreadable::at(n, "a value that never ends"));
            };
            let m = line_no(i);
            i += 1;
            value.push((m, scan.piece(next).ok_or_else(|| unterminated(m))?));
        }
        if scan.depth < 0 {
            return Err(Unreadable::at(n, "a `]` or `}` that closes nothing"));
        }
        items.push(TomlItem::Pair {
            key,
            line: n,
            value,
        });
    }
    Ok(items)
}

/// Follows a TOML value over its lines: open brackets and an open multi-line string.
#[derive(Default)]
struct ValueScan {
    /// `[` and `{` opened and not yet closed, outside strings.
    depth: i32,
    /// The delimiter of an open multi-line string.
    multiline: Option<&'static [u8]>,
}

impl ValueScan {
    fn is_open(&self) -> bool {
        self.depth > 0 || self.multiline.is_some()
    }

    /// Follows one line; returns it without its comment, or `None` when a single-line string
    /// is not closed on it.
    fn piece(&mut self, line: &str) -> Option<String> {
        let b = line.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if let Some(delim) = self.multiline {
                if delim == b"\"\"\"" && b[i] == b'\\' {
                    i += 2;
                } else if b[i..].starts_with(delim) {
                    self.multiline = None;
                    i += 3;
                } else {
                    i += 1;
                }
                continue;
            }
            match b[i] {
                // `#` is ASCII, so `i` is a character boundary.
                b'#' => return Some(line[..i].to_owned()),
                b'"' if b[i..].starts_with(b"\"\"\"") => {
                    self.multiline = Some(b"\"\"\"");
                    i += 3;
                }
                b'\'' if b[i..].starts_with(b"'''") => {
                    self.multiline = Some(b"'''");
                    i += 3;
                }
                b'"' => {
                    i += 1;
                    loop {
                        match b.get(i) {
                            None => return None,
                            Some(b'\\') => i += 2,
                            Some(b'"') => break,
                            Some(_) => i += 1,
                        }
                    }
                    i += 1;
                }
                b'\'' => {
                    let close = b[i + 1..].iter().position(|&c| c == b'\'')?;
                    i += close + 2;
                }
                b'[' | b'{' => {
                    self.depth += 1;
                    i += 1;
                }
                b']' | b'}' => {
                    self.depth -= 1;
                    i += 1;
                }
                _ => i += 1,
            }
        }
        Some(line.to_owned())
    }
}

/// A dotted key at the start of `s` (bare, "basic" and 'literal' parts, escapes resolved) and
/// the text after it.
fn toml_key(s: &str) -> Option<(Vec<String>, &str)> {
    let mut path = Vec::new();
    let mut rest = s.trim_start();
    loop {
        let (part, after) = if let Some(r) = rest.strip_prefix('"') {
            let end = basic_string_end(r)?;
            (unescape_basic(&r[..end])?, &r[end + 1..])
        } else if let Some(r) = rest.strip_prefix('\'') {
            let end = r.find('\'')?;
            (r[..end].to_owned(), &r[end + 1..])
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                .unwrap_or(rest.len());
            if end == 0 {
                return None;
            }
            (rest[..end].to_owned(), &rest[end..])
        };
        path.push(part);
        rest = after.trim_start();
        match rest.strip_prefix('.') {
            Some(r) => rest = r.trim_start(),
            None => return Some((path, rest)),
        }
    }
}

/// The index of the `"` that closes a basic string whose content starts `s`.
fn basic_string_end(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// A basic string's content with its escapes resolved (`"depend\u0065ncies"` is
/// `dependencies`); `None` for an invalid escape.
fn unescape_basic(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let escape = chars.next()?;
        out.push(match escape {
            'b' => '\u{8}',
            't' => '\t',
            'n' => '\n',
            'f' => '\u{c}',
            'r' => '\r',
            'e' => '\u{1b}',
            '"' => '"',
            '\\' => '\\',
            'x' | 'u' | 'U' => {
                let len = match escape {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let hex: String = chars.by_ref().take(len).collect();
                if hex.len() != len || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                    return None;
                }
                char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?
            }
            _ => return None,
        });
    }
    Some(out)
}

/// The value of a quoted TOML string element, `None` when `element` is not one.
fn unquote(element: &str) -> Option<String> {
    if element.len() >= 2 && element.starts_with('"') && element.ends_with('"') {
        unescape_basic(&element[1..element.len() - 1])
    } else if element.len() >= 2 && element.starts_with('\'') && element.ends_with('\'') {
        Some(element[1..element.len() - 1].to_owned())
    } else {
        None
    }
}

/// The elements of an array or inline table value, split at its top-level commas, each with
/// the line it starts on.
fn toml_elements(value: &[(u32, String)]) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut current = String::new();
    let mut start = 0;
    let mut push = |current: &mut String, start: u32| {
        let element = current.trim();
        if !element.is_empty() {
            out.push((start, element.to_owned()));
        }
        current.clear();
    };
    for (line, piece) in value {
        for c in piece.chars() {
            if let Some(q) = quote {
                current.push(c);
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
                continue;
            }
            match c {
                '"' | '\'' => quote = Some(c),
                '[' | '{' => {
                    depth += 1;
                    if depth == 1 {
                        continue;
                    }
                }
                ']' | '}' => {
                    depth -= 1;
                    if depth == 0 {
                        push(&mut current, start);
                        continue;
                    }
                }
                ',' if depth == 1 => {
                    push(&mut current, start);
                    continue;
                }
                _ => {}
            }
            if depth >= 1 && !(current.is_empty() && c.is_whitespace()) {
                if current.is_empty() {
                    start = *line;
                }
                current.push(c);
            }
        }
        if !current.is_empty() {
            current.push(' ');
        }
    }
    out
}

/// A path segment that names a collection of dependencies: `[dependencies]`,
/// `[target.'cfg(unix)'.build-dependencies]`, `[project.optional-dependencies]`,
/// `[dependency-groups]`, `[tool.uv.sources]`, uv's `dev-dependencies = [...]`.
fn is_dep_collection(segment: &str) -> bool {
    segment == "dependencies"
        || segment.ends_with("-dependencies")
        || segment == "dependency-groups"
        || segment == "sources"
}

/// Where a key's full path (its table's path, then its own) names its collection of
/// dependencies, if it is in one.
fn dep_collection(full: &[&str]) -> Option<usize> {
    match full {
        // `[patch.crates-io]` and `[replace]` swap other code in for a dependency.
        ["patch", _, ..] => Some(1),
        ["replace", ..] => Some(0),
        ["build-system", "requires", ..] => Some(1),
        // Package indexes: `[[tool.uv.index]]`, `[[tool.poetry.source]]`.
        ["tool", _, "index" | "source", ..] => Some(2),
        _ => full.iter().position(|s| is_dep_collection(s)).or_else(|| {
            full.last()
                .filter(|k| k.ends_with("index-url") || **k == "find-links")
                .map(|_| full.len() - 1)
        }),
    }
}

/// Line-based reading of the dependency tables of `Cargo.toml` and `pyproject.toml`: every
/// way to write one (`[dependencies]`, `[dependencies.x]`, `[target.x.dependencies]`,
/// dotted keys, inline tables, requirement arrays), and it keeps line numbers.
fn toml_deps(text: &str) -> Result<Vec<Dep>, Unreadable> {
    let mut deps = Vec::new();
    let mut table: Vec<String> = Vec::new();
    // The table's name in dependency keys: `[[x]]` tables are numbered, `x[0]`, `x[1]`.
    let mut table_name = String::new();
    let mut array_tables: HashMap<String, usize> = HashMap::new();
    for item in toml_items(text)? {
        let (key, line, value) = match item {
            TomlItem::Table { path, array } => {
                table_name = path.join(".");
                if array {
                    let n = array_tables.entry(table_name.clone()).or_insert(0);
                    table_name = format!("{table_name}[{n}]");
                    *n += 1;
                }
                table = path;
                continue;
            }
            TomlItem::Pair { key, line, value } => (key, line, value),
        };
        let full: Vec<&str> = table.iter().chain(&key).map(String::as_str).collect();
        let Some(at) = dep_collection(&full) else {
            continue;
        };
        let name = if table_name.is_empty() {
            key.join(".")
        } else {
            format!("{table_name}.{}", key.join("."))
        };
        let first = value[0].1.trim_start();
        // `dependencies = [...]`, `[project.optional-dependencies] test = [...]`.
        let is_requirement_list = first.starts_with('[') && at + 2 >= full.len();
        // `dependencies = { serde = "1" }`: entries keyed as in a `[dependencies]` table.
        let is_inline_collection = first.starts_with('{') && at + 1 == full.len();
        if is_requirement_list {
            for (n, element) in toml_elements(&value) {
                let (id, spec) = match unquote(&element) {
                    Some(req) => (requirement_key(&req), req),
                    None => (element.clone(), element),
                };
                deps.push(Dep {
                    key: format!("{name}:{id}"),
                    spec,
                    line: n,
                });
            }
        } else if is_inline_collection {
            for (n, element) in toml_elements(&value) {
                let (entry, spec) = match toml_key(&element) {
                    Some((k, rest)) => (
                        k.join("."),
                        rest.strip_prefix('=').unwrap_or(rest).trim().to_owned(),
                    ),
                    None => (element.clone(), element),
                };
                deps.push(Dep {
                    key: format!("{name}.{entry}"),
                    spec,
                    line: n,
                });
            }
        } else {
            let spec: Vec<&str> = value
                .iter()
                .map(|(_, t)| t.trim())
                .filter(|t| !t.is_empty())
                .collect();
            deps.push(Dep {
                key: name,
                spec: spec.join(" "),
                line,
            });
        }
    }
    Ok(deps)
}

/// The names of the dependencies a Cargo manifest declares, in every table form the
/// dependency rules read (`[dependencies]`, `[dependencies.x]`, `[target.x.build-dependencies]`,
/// dotted keys, `dependencies = { x = "1" }`); for the artifact comparison, which checks
/// that the manifest cargo builds with adds none.
pub(crate) fn cargo_dependency_names(text: &str) -> Result<BTreeSet<String>, String> {
    let mut names = BTreeSet::new();
    let mut table: Vec<String> = Vec::new();
    for item in toml_items(strip_bom(text)).map_err(|e| e.why)? {
        let (key, value) = match item {
            TomlItem::Table { path, .. } => {
                table = path;
                continue;
            }
            TomlItem::Pair { key, value, .. } => (key, value),
        };
        let full: Vec<&str> = table.iter().chain(&key).map(String::as_str).collect();
        let Some(at) = full.iter().position(|s| {
            matches!(
                *s,
                "dependencies" | "dev-dependencies" | "build-dependencies"
            )
        }) else {
            continue;
        };
        match full.get(at + 1) {
            Some(name) => {
                names.insert((*name).to_owned());
            }
            None => {
                for (_, element) in toml_elements(&value) {
                    if let Some(name) = toml_key(&element).and_then(|(k, _)| k.into_iter().next()) {
                        names.insert(name);
                    }
                }
            }
        }
    }
    Ok(names)
}

/// A key's value in a TOML table (`[package] build = "build.rs"`): a string without its
/// quotes, anything else as written.
pub(crate) fn toml_value(text: &str, table: &[&str], key: &str) -> Option<String> {
    let mut current: Vec<String> = Vec::new();
    for item in toml_items(strip_bom(text)).ok()? {
        match item {
            TomlItem::Table { path, .. } => current = path,
            TomlItem::Pair { key: k, value, .. } => {
                let full: Vec<&str> = current.iter().chain(&k).map(String::as_str).collect();
                if full.len() == table.len() + 1
                    && full[..table.len()] == *table
                    && full[table.len()] == key
                {
                    let text: Vec<&str> = value.iter().map(|(_, t)| t.trim()).collect();
                    let text = text.join(" ");
                    return Some(unquote(&text).unwrap_or(text));
                }
            }
        }
    }
    None
}

/// `[options] install_requires/setup_requires/tests_require` and `[options.extras_require]`.
fn setup_cfg_deps(text: &str) -> Result<Vec<Dep>, Unreadable> {
    let mut deps = Vec::new();
    let mut section = String::new();
    let mut key: Option<String> = None;
    for (i, raw) in split_lines(text).into_iter().enumerate() {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if trimmed.starts_with('[') {
            if !trimmed.ends_with(']') {
                return Err(Unreadable::at(
                    line_no(i),
                    "a section header that cannot be read",
                ));
            }
            section = trimmed
                .trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_owned();
            key = None;
            continue;
        }
        let continuation = raw.starts_with([' ', '\t']);
        let value = if continuation {
            trimmed
        } else if let Some((k, v)) = trimmed.split_once('=').or_else(|| trimmed.split_once(':')) {
            if section.is_empty() {
                return Err(Unreadable::at(line_no(i), "an option before any section"));
            }
            let k = k.trim();
            let wanted = (section == "options"
                && matches!(
                    k,
                    "install_requires" | "setup_requires" | "tests_require" | "dependency_links"
                ))
                || section == "options.extras_require";
            key = wanted.then(|| format!("{section}.{k}"));
            v.trim()
        } else {
            return Err(Unreadable::at(
                line_no(i),
                "a line that is neither a section, an option nor a continuation",
            ));
        };
        let Some(k) = &key else { continue };
        // One requirement per line; a `;` starts its environment marker, which stays with it.
        if !value.is_empty() {
            deps.push(Dep {
                key: format!("{k}:{}", requirement_key(value)),
                spec: value.to_owned(),
                line: line_no(i),
            });
        }
    }
    Ok(deps)
}

fn requirements_deps(text: &str) -> Vec<Dep> {
    let mut deps = Vec::new();
    for (i, raw) in split_lines(text).into_iter().enumerate() {
        let line = raw.split(" #").next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let key = if let Some(opt) = line.strip_prefix('-') {
            // Options: `--index-url URL`, `-e git+https://...`, `-r other.txt`.
            let name = opt
                .trim_start_matches('-')
                .split([' ', '='])
                .next()
                .unwrap_or("")
                .to_owned();
            format!("option:{name}:{}", line)
        } else {
            requirement_name(line)
        };
        deps.push(Dep {
            key,
            spec: line.to_owned(),
            line: line_no(i),
        });
    }
    deps
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn rules(flags: &[Flag]) -> Vec<&'static str> {
        flags.iter().map(|f| f.rule.id()).collect()
    }

    #[test]
    fn shannon_of_uniform_and_constant() {
        assert!(shannon_bits(b"aaaaaaaa") < 0.001);
        let all: Vec<u8> = (0..=255).collect();
        assert!((shannon_bits(&all) - 8.0).abs() < 1e-9);
    }

    #[test]
    fn token_boundaries() {
        assert!(contains_token("x = eval(y)", "eval("));
        assert!(!contains_token("medieval(x)", "eval("));
        assert!(!contains_token("re.exec(x)", "exec("));
        assert!(contains_token("exec(code)", "exec("));
    }

    #[test]
    fn toml_arrays_and_tables() {
        let text = "[project]\nname = \"x\"\ndependencies = [\n  \"requests>=2\",\n  \"idna\" # comment\n]\n\n[dependencies]\nserde = \"1\"\n\n[dependencies.tokio]\nversion = \"1\"\n";
        let deps = toml_deps(text).unwrap();
        let keys: Vec<_> = deps.iter().map(|d| (d.key.as_str(), d.line)).collect();
        assert_eq!(
            keys,
            vec![
                ("project.dependencies:requests", 4),
                ("project.dependencies:idna", 5),
                ("dependencies.serde", 9),
                ("dependencies.tokio.version", 12)
            ]
        );
    }

    #[test]
    fn setup_cfg_requirements() {
        let text = "[metadata]\nname = x\n\n[options]\ninstall_requires =\n    requests>=2\n    idna; python_version<\"3.8\"\n";
        let deps = setup_cfg_deps(text).unwrap();
        let keys: Vec<_> = deps.iter().map(|d| (d.key.as_str(), d.line)).collect();
        assert_eq!(
            keys,
            vec![
                ("options.install_requires:requests", 6),
                ("options.install_requires:idna", 7)
            ]
        );
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
