//! Risk flags: what a co-signer should look at first in a release's changes.
//!
//! [`scan_change`] looks at one changed file (its old and new content) and knows nothing of
//! git or archives, so the range scan and the artifact comparison share it. The rules are
//! heuristics that point a human at lines; they never decide anything on their own.

use std::borrow::Cow;
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
    /// A file in the published artifact that is not in the source at the commit.
    ArtifactOnlyFile,
    /// A file whose content in the artifact differs from the source at the commit.
    ArtifactModified,
}

impl Rule {
    /// Every rule, in report order.
    pub const ALL: [Rule; 12] = [
        Rule::InstallHook,
        Rule::DependencyChange,
        Rule::BinaryFile,
        Rule::MinifiedCode,
        Rule::HighEntropy,
        Rule::Base64Blob,
        Rule::NetworkAccess,
        Rule::ProcessSpawn,
        Rule::DynamicEval,
        Rule::EnvCredentials,
        Rule::ArtifactOnlyFile,
        Rule::ArtifactModified,
    ];

    /// The stable id, e.g. `install-hook`.
    pub fn id(self) -> &'static str {
        match self {
            Rule::InstallHook => "install-hook",
            Rule::DependencyChange => "dependency-change",
            Rule::BinaryFile => "binary-file",
            Rule::MinifiedCode => "minified-code",
            Rule::HighEntropy => "high-entropy",
            Rule::Base64Blob => "base64-blob",
            Rule::NetworkAccess => "network-access",
            Rule::ProcessSpawn => "process-spawn",
            Rule::DynamicEval => "dynamic-eval",
            Rule::EnvCredentials => "env-credentials",
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
    let Some(new) = new else { return Vec::new() };
    if old == Some(new) {
        return Vec::new();
    }
    let file = FileInfo::new(path, new);
    let mut flags = Vec::new();
    if text_of(new).is_none() {
        binary_file(&file, old, new, &mut flags);
    }
    let Some(new_text) = decode(&file, new) else {
        return finish(flags);
    };
    let old_text = old.and_then(|o| decode(&file, o));
    let added = added_lines(old_text.as_deref(), &new_text);

    install_hooks(&file, old, old_text.as_deref(), &new_text, &added, &mut flags);
    dependencies(&file, old_text.as_deref().unwrap_or(""), &new_text, &mut flags);
    if !file.is_lock_or_data {
        opaque_content(&file, &added, &mut flags);
    }
    if file.is_code {
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
    fn new(path: &'a str, content: &[u8]) -> Self {
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
            .or_else(|| Lang::from_shebang(content));
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

/// The first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> Option<u32> {
    split_lines(text)
        .into_iter()
        .position(|l| l.contains(needle))
        .map(line_no)
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
        let scripts = |text: Option<&str>| -> serde_json::Map<String, serde_json::Value> {
            text.and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
                .and_then(|v| v.get("scripts").and_then(|s| s.as_object()).cloned())
                .unwrap_or_default()
        };
        let (before, after) = (scripts(old_text), scripts(Some(new_text)));
        for hook in NPM_HOOKS {
            let Some(command) = after.get(*hook) else {
                continue;
            };
            let command_text = command.as_str().unwrap_or_default();
            let verb = match before.get(*hook) {
                None => "added",
                Some(old_cmd) if old_cmd != command => "changed",
                Some(_) => continue,
            };
            let line = line_of(new_text, &format!("\"{hook}\""));
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

/// Shortens `text` to at most `max` characters for a one-line message.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut s: String = text.chars().take(max).collect();
    s.push('…');
    s
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

fn dependencies(file: &FileInfo<'_>, old: &str, new: &str, flags: &mut Vec<Flag>) {
    let extract: fn(&str) -> Vec<Dep> = match file.name.as_str() {
        "package.json" => npm_deps,
        "cargo.toml" | "pyproject.toml" => toml_deps,
        "setup.cfg" => setup_cfg_deps,
        n if (n.starts_with("requirements") && n.ends_with(".txt"))
            || (file.path.contains("requirements/") && file.ext == "txt") =>
        {
            requirements_deps
        }
        _ => return,
    };
    let before = extract(old);
    for dep in extract(new) {
        let previous = before.iter().find(|d| d.key == dep.key);
        let message = match previous {
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

fn npm_deps(text: &str) -> Vec<Dep> {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        return Vec::new();
    };
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
        let section_line = line_of(text, &format!("\"{section}\"")).unwrap_or(1);
        for (name, spec) in map {
            let needle = format!("\"{name}\"");
            let line = text
                .lines()
                .enumerate()
                .skip(usize::try_from(section_line).unwrap_or(0))
                .find(|(_, l)| l.contains(&needle))
                .map_or(section_line, |(i, _)| line_no(i));
            let spec = spec
                .as_str()
                .map_or_else(|| spec.to_string(), str::to_owned);
            deps.push(Dep {
                key: format!("{section}.{name}"),
                spec,
                line,
            });
        }
    }
    for section in ["bundleDependencies", "bundledDependencies"] {
        if let Some(list) = value.get(section).and_then(|v| v.as_array()) {
            let line = line_of(text, &format!("\"{section}\"")).unwrap_or(1);
            for name in list.iter().filter_map(|v| v.as_str()) {
                deps.push(Dep {
                    key: format!("{section}.{name}"),
                    spec: "bundled".to_owned(),
                    line,
                });
            }
        }
    }
    deps
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

/// Line-based reading of the dependency tables of `Cargo.toml` and `pyproject.toml`: enough
/// for manifests as people write them, and it keeps line numbers.
fn toml_deps(text: &str) -> Vec<Dep> {
    let mut deps = Vec::new();
    let mut table = String::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((i, raw)) = lines.next() {
        let line = strip_toml_comment(raw).trim();
        if line.starts_with('[') {
            table = line
                .trim_matches(|c| c == '[' || c == ']')
                .replace(['"', '\'', ' '], "");
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim().trim_matches('"'), value.trim());
        let is_dep_table = table.ends_with("dependencies");
        let array_key = (table == "project" && key == "dependencies")
            || (table == "build-system" && key == "requires");
        let in_dep_subtable = ["dependencies.", "-dependencies."]
            .iter()
            .any(|p| table.starts_with(p) || table.contains(&format!(".{p}")));
        if value.starts_with('[') && (array_key || is_dep_table) {
            // A requirement array, possibly over several lines.
            let mut collected = vec![(line_no(i), value.to_owned())];
            let mut depth = bracket_depth(value);
            while depth > 0 {
                let Some((j, next)) = lines.next() else { break };
                let next = strip_toml_comment(next);
                depth += bracket_depth(next);
                collected.push((line_no(j), next.to_owned()));
            }
            for (n, chunk) in collected {
                for req in quoted_strings(&chunk) {
                    deps.push(Dep {
                        key: format!("{table}.{key}:{}", requirement_name(&req)),
                        spec: req,
                        line: n,
                    });
                }
            }
        } else if is_dep_table || in_dep_subtable {
            deps.push(Dep {
                key: format!("{table}.{key}"),
                spec: value.to_owned(),
                line: line_no(i),
            });
        }
    }
    deps
}

fn strip_toml_comment(line: &str) -> &str {
    // Good enough: a `#` inside a quoted requirement is rare in dependency tables.
    let mut in_str: Option<char> = None;
    for (i, c) in line.char_indices() {
        match (in_str, c) {
            (None, '"' | '\'') => in_str = Some(c),
            (Some(q), c) if c == q => in_str = None,
            (None, '#') => return &line[..i],
            _ => {}
        }
    }
    line
}

fn bracket_depth(s: &str) -> i32 {
    let mut depth = 0;
    let mut in_str: Option<char> = None;
    for c in s.chars() {
        match (in_str, c) {
            (None, '"' | '\'') => in_str = Some(c),
            (Some(q), c) if c == q => in_str = None,
            (None, '[') => depth += 1,
            (None, ']') => depth -= 1,
            _ => {}
        }
    }
    depth
}

fn quoted_strings(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<(char, String)> = None;
    for c in s.chars() {
        match &mut current {
            None if c == '"' || c == '\'' => current = Some((c, String::new())),
            None => {}
            Some((q, buf)) => {
                if c == *q {
                    out.push(std::mem::take(buf));
                    current = None;
                } else {
                    buf.push(c);
                }
            }
        }
    }
    out
}

/// `[options] install_requires/setup_requires/tests_require` and `[options.extras_require]`.
fn setup_cfg_deps(text: &str) -> Vec<Dep> {
    let mut deps = Vec::new();
    let mut section = String::new();
    let mut key: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if trimmed.starts_with('[') {
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
            let k = k.trim();
            let wanted = (section == "options"
                && matches!(k, "install_requires" | "setup_requires" | "tests_require"))
                || section == "options.extras_require";
            key = wanted.then(|| format!("{section}.{k}"));
            v.trim()
        } else {
            continue;
        };
        let Some(k) = &key else { continue };
        // One requirement per line; a `;` starts its environment marker, which stays with it.
        if !value.is_empty() {
            deps.push(Dep {
                key: format!("{k}:{}", requirement_name(value)),
                spec: value.to_owned(),
                line: line_no(i),
            });
        }
    }
    deps
}

fn requirements_deps(text: &str) -> Vec<Dep> {
    let mut deps = Vec::new();
    for (i, raw) in text.lines().enumerate() {
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
        let deps = toml_deps(text);
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
        let deps = setup_cfg_deps(text);
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
