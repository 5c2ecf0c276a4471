//! The content rules: binary, minified or high-entropy content, code that reaches the
//! network, spawns processes, evaluates strings or reads credentials, and hidden Unicode.

use super::context::{depth_change, is_only_strings, lex, Changes};
use super::patterns::{
    contains_token, is_constant_import, matches_in_strings, CREDENTIAL_SOURCES, DECODERS,
    ENV_ACCESS, EVAL, NETWORK, PROCESS, SECRET_WORDS,
};
use super::*;
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

pub(super) fn binary_file(
    file: &FileInfo<'_>,
    old: Option<&[u8]>,
    new: &[u8],
    flags: &mut Vec<Flag>,
) {
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
pub(super) fn opaque_content(file: &FileInfo<'_>, added: &[(u32, &str)], flags: &mut Vec<Flag>) {
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
    // A URL or a hex digest is long but says what it is.
    .filter(|t| !t.contains("://") && !t.bytes().all(|b| b.is_ascii_hexdigit()))
    .map(|t| (t.len(), shannon_bits(t.as_bytes())))
    .find(|&(_, bits)| bits >= ENTROPY_BITS)
}

/// Shannon entropy of the byte distribution, in bits per byte.
pub(super) fn shannon_bits(data: &[u8]) -> f64 {
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

pub(super) fn code_patterns(
    file: &FileInfo<'_>,
    changes: &Changes<'_>,
    old: Option<&str>,
    new: &str,
    flags: &mut Vec<Flag>,
) {
    let escalate = if file.is_install_hook {
        Severity::High
    } else {
        Severity::Medium
    };
    let python_only_eval = |p: &str| matches!(p, "exec(" | "__import__(" | "marshal.loads(");
    let lang = file.lang.unwrap_or(Lang::Opaque);
    let is_python = lang.is_python();
    let lexed_new = lex(lang, new);
    let lexed_old = lex(lang, old.unwrap_or(""));
    let masked_at = |lexed: &[super::context::Lexed], line: u32| {
        lexed
            .get((line as usize).saturating_sub(1))
            .map(|l| (l.masked.clone(), l.prose))
    };
    // Each added line as the rules see it: skipped (comment, prose, only strings), or its
    // masked text and whether it continues the statement of the added line before it.
    let mut lines: Vec<(u32, &str, usize, Option<String>, bool)> = Vec::new();
    let (mut depth, mut previous) = (0i32, 0u32);
    for &(line, text, hunk) in &changes.added {
        let (masked, prose) =
            masked_at(&lexed_new, line).unwrap_or_else(|| (text.to_owned(), false));
        let continues = line == previous + 1 && depth > 0;
        depth = if continues { depth } else { 0 };
        depth = (depth + depth_change(&masked)).max(0);
        previous = line;
        let skip = is_comment(lang, text) || prose || is_only_strings(&masked);
        lines.push((line, text, hunk, (!skip).then_some(masked), continues));
    }
    // A pattern the same hunk also removed was there before: re-indented, re-annotated,
    // moved within the hunk. Only what the range introduces is flagged.
    // Counted, not just found: removing one `eval(` does not excuse adding three.
    let removed_count = |hunk: usize, matches: &dyn Fn(&str, &str) -> bool| {
        changes.removed.get(hunk).map_or(0, |lines| {
            lines
                .iter()
                .filter(|&&(n, r)| {
                    let (masked, prose) =
                        masked_at(&lexed_old, n).unwrap_or_else(|| (r.to_owned(), false));
                    !is_comment(lang, r) && !prose && matches(r, &masked)
                })
                .count()
        })
    };
    // What each (hunk, pattern) removed and has not yet been matched by an added line.
    let mut budget: HashMap<(usize, &str), usize> = HashMap::new();
    let hit_of = |p: &str, text: &str, masked: &str| {
        let subject = if matches_in_strings(p) { text } else { masked };
        contains_token(subject, p) && !(p == "__import__(" && is_constant_import(text))
    };
    for patterns in [&NETWORK, &PROCESS, &EVAL] {
        let (mut count, mut statement_flagged) = (0, false);
        for (line, text, hunk, masked, continues) in &lines {
            statement_flagged &= *continues;
            let Some(masked) = masked else { continue };
            if count >= MAX_LINE_FLAGS || statement_flagged {
                continue;
            }
            let hit = patterns
                .patterns
                .iter()
                .find(|p| (is_python || !python_only_eval(p)) && hit_of(p, text, masked));
            let Some(p) = hit else { continue };
            let left = budget
                .entry((*hunk, p))
                .or_insert_with(|| removed_count(*hunk, &|r, masked| hit_of(p, r, masked)));
            if *left > 0 {
                *left -= 1;
                continue;
            }
            count += 1;
            statement_flagged = true;
            let decoded =
                patterns.rule == Rule::DynamicEval && DECODERS.iter().any(|d| text.contains(d));
            let (severity, what) = if decoded {
                (
                    Severity::High,
                    "evaluates decoded data, code nobody can read",
                )
            } else {
                (escalate, patterns.what)
            };
            let message = format!(
                "added line {what} (`{}`): {}",
                p.trim(),
                clip(text.trim(), 100)
            );
            flags.push(file.flag(patterns.rule, severity, Some(*line), message));
        }
    }
    let credential = |text: &str| -> Option<String> {
        let lower = text.to_ascii_lowercase();
        let env_secret = ENV_ACCESS.iter().any(|p| text.contains(p))
            && SECRET_WORDS.iter().any(|w| lower.contains(w));
        let source = CREDENTIAL_SOURCES.iter().find(|p| text.contains(*p));
        match source {
            Some(s) => Some(format!("reads credentials (`{s}`)")),
            None => env_secret.then(|| "reads a secret from the environment".to_owned()),
        }
    };
    let (mut count, mut statement_flagged) = (0, false);
    for (line, text, hunk, masked, continues) in &lines {
        statement_flagged &= *continues;
        if masked.is_none() || count >= MAX_LINE_FLAGS || statement_flagged {
            continue;
        }
        let Some(why) = credential(text) else {
            continue;
        };
        let left = budget
            .entry((*hunk, "credentials"))
            .or_insert_with(|| removed_count(*hunk, &|r, _| credential(r).is_some()));
        if *left > 0 {
            *left -= 1;
            continue;
        }
        count += 1;
        statement_flagged = true;
        flags.push(file.flag(
            Rule::EnvCredentials,
            Severity::High,
            Some(*line),
            format!("added line {why}: {}", clip(text.trim(), 100)),
        ));
    }
}

/// Why `c` would not show as itself: the one definition, shared with every report and
/// with record validation (`chainlock_protocol::text`).
pub(super) use chainlock_protocol::text::invisible_char as invisible;

/// Bidi controls and invisible characters in added lines of code ("Trojan Source").
pub(super) fn hidden_unicode(file: &FileInfo<'_>, added: &[(u32, &str)], flags: &mut Vec<Flag>) {
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests {
    use super::*;

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
        // Bounded on both sides: a longer identifier is another name.
        assert!(!contains_token("urllib3_version_list = []", "urllib3"));
        assert!(contains_token("import urllib3", "urllib3"));
        // ...except for the patterns that start a family of names.
        assert!(contains_token("os.execv(path, args)", "os.exec"));
        assert!(is_constant_import("m = __import__('json')"));
        assert!(!is_constant_import("m = __import__(name)"));
        assert!(!is_constant_import("m = __import__('o' + 's')"));
    }
}
