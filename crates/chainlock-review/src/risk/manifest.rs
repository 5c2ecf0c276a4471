//! The manifest rules: install-time hooks (npm scripts, `setup.py`, `build.rs`, `.pth`, ...)
//! and dependency changes, with line-based readers of `package.json`, TOML manifests,
//! `setup.cfg` and requirements files that keep line numbers.

use super::*;
/// npm's lifecycle scripts that run when a package is installed (or packed from git).
const NPM_HOOKS: &[&str] = &[
    "preinstall",
    "install",
    "postinstall",
    "prepare",
    "preprepare",
    "postprepare",
];

pub(super) fn install_hooks(
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
            // `prepare` runs when the package is installed from git (a git dependency, a
            // checkout), never when it is installed from the registry.
            let (severity, when) = if hook.contains("prepare") {
                (
                    Severity::Medium,
                    "runs when installed from git (git dependencies, checkouts) and before `npm publish`, not on registry installs",
                )
            } else {
                (Severity::High, "runs on every install")
            };
            flags.push(file.flag(
                Rule::InstallHook,
                severity,
                line,
                format!(
                    "npm `{hook}` script {verb}: {when}: {}",
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

/// One dependency requirement as written in a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Dep {
    /// Table or section plus name, e.g. `dependencies.left-pad`.
    pub(super) key: String,
    /// The requirement as written (version, URL, inline table).
    pub(super) spec: String,
    /// Where it is in the file.
    line: u32,
}

/// Why a manifest could not be read, and where.
#[derive(Debug)]
pub(super) struct Unreadable {
    line: Option<u32>,
    pub(super) why: String,
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
pub(super) fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

pub(super) fn dependencies(file: &FileInfo<'_>, old: &str, new: &str, flags: &mut Vec<Flag>) {
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
        } else if dep.key.contains("dev")
            || dep.key.contains("test")
            // PEP 735 groups are for development: installers never fetch them for users.
            || dep.key.starts_with("dependency-groups")
        {
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
pub(super) fn requirement_name(req: &str) -> String {
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
pub(super) enum TomlItem {
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
pub(super) fn toml_items(text: &str) -> Result<Vec<TomlItem>, Unreadable> {
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
pub(super) fn toml_key(s: &str) -> Option<(Vec<String>, &str)> {
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
pub(super) fn unquote(element: &str) -> Option<String> {
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
pub(super) fn toml_elements(value: &[(u32, String)]) -> Vec<(u32, String)> {
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
pub(super) fn toml_deps(text: &str) -> Result<Vec<Dep>, Unreadable> {
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
pub(super) fn setup_cfg_deps(text: &str) -> Result<Vec<Dep>, Unreadable> {
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

pub(super) fn requirements_deps(text: &str) -> Vec<Dep> {
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
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests {
    use super::*;

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
}
