//! What a line is, beyond its text: which hunk it was added in and what that hunk removed,
//! whether it sits in a docstring or a block comment, what of it is string literal, and where
//! its statement starts. The code rules use this to flag what a range introduces, not what it
//! merely re-indents, annotates, documents or quotes.

use super::*;

/// The added lines of a change with their hunks, and the lines each hunk removed.
pub(super) struct Changes<'t> {
    /// Added lines: 1-based line number in the new content, text, hunk index.
    pub(super) added: Vec<(u32, &'t str, usize)>,
    /// The removed lines of each hunk: 1-based line number in the old content, text.
    pub(super) removed: Vec<Vec<(u32, &'t str)>>,
}

impl<'t> Changes<'t> {
    /// Diffs `old` (absent: every line is added) against `new` line by line.
    pub(super) fn new(old: Option<&'t str>, new: &'t str) -> Self {
        let lines = split_lines(new);
        let Some(old) = old else {
            return Changes {
                added: lines
                    .into_iter()
                    .enumerate()
                    .map(|(i, l)| (line_no(i), l, 0))
                    .collect(),
                removed: vec![Vec::new()],
            };
        };
        let old_lines = split_lines(old);
        // Deadline: a pathological file gets a coarser (still correct) diff, never a hang.
        let diff = similar::TextDiff::configure()
            .timeout(std::time::Duration::from_secs(2))
            .diff_lines(old, new);
        let mut changes = Changes {
            added: Vec::new(),
            removed: Vec::new(),
        };
        let mut in_hunk = false;
        for change in diff.iter_all_changes() {
            if change.tag() == similar::ChangeTag::Equal {
                in_hunk = false;
                continue;
            }
            if !in_hunk {
                changes.removed.push(Vec::new());
                in_hunk = true;
            }
            let hunk = changes.removed.len() - 1;
            match change.tag() {
                similar::ChangeTag::Delete => {
                    if let Some((i, text)) = change
                        .old_index()
                        .and_then(|i| old_lines.get(i).map(|t| (i, *t)))
                    {
                        changes.removed[hunk].push((line_no(i), text));
                    }
                }
                _ => {
                    // `lines` is split exactly as the diff split `new`.
                    if let Some((i, text)) = change
                        .new_index()
                        .and_then(|i| lines.get(i).map(|t| (i, *t)))
                    {
                        changes.added.push((line_no(i), text, hunk));
                    }
                }
            }
        }
        changes
    }

    /// The added lines without their hunks.
    pub(super) fn lines(&self) -> Vec<(u32, &'t str)> {
        self.added.iter().map(|&(n, t, _)| (n, t)).collect()
    }
}

/// One line of a file as the code rules see it.
///
/// Prose is what cannot run: block comments and docstrings. A multi-line string that is
/// assigned or passed (`code = """...`, a template literal) may be handed to `exec` or
/// `new Function`, so its lines are scanned as written.
pub(super) struct Lexed {
    /// The line with the contents of string literals and comments blanked (quotes kept), so
    /// a pattern inside a message, a URL or a comment does not count as code.
    pub(super) masked: String,
    /// Whether the line holds no code at all: every character is inside a multi-line string
    /// (a Python docstring, a template literal without `${}`) or a block comment.
    pub(super) prose: bool,
}

/// Lexes `text` from its first line (strings, comments, escapes) for Python, JavaScript and
/// C-family files, so a `/*` or `"""` inside a string cannot open a comment that hides the
/// code after it, and a string that spans lines is known as one. Other languages are not
/// masked: shell quoting runs commands inside strings (`"$(curl ...)"`).
pub(super) fn lex(lang: Lang, text: &str) -> Vec<Lexed> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Code,
        /// A one-line string closed by this quote.
        Short(char),
        /// A Python triple-quoted string closed by three of this quote.
        Triple(char),
        /// A JavaScript template literal.
        Template,
        /// A `/* */` comment.
        Block,
    }
    let python = lang == Lang::Python;
    let slashes = matches!(lang, Lang::JavaScript | Lang::CFamily | Lang::Php);
    let hash = python || lang == Lang::Php;
    let lines = split_lines(text);
    if !python && !slashes {
        return lines
            .into_iter()
            .map(|l| Lexed {
                masked: l.to_owned(),
                prose: false,
            })
            .collect();
    }
    let mut out = Vec::with_capacity(lines.len());
    let mut state = State::Code;
    // Whether the Python string being read is an f-string (or t-string): its `{...}` is code.
    let mut interpolated = false;
    // Whether the triple-quoted string being read opened a statement: a docstring, prose.
    let mut docstring = false;
    for line in lines {
        // JavaScript ends a line (and a `//` comment) at U+2028/U+2029 too: such a line is
        // scanned as written.
        if line.contains(['\u{2028}', '\u{2029}']) {
            out.push(Lexed {
                masked: line.to_owned(),
                prose: false,
            });
            continue;
        }
        let mut code_seen = false;
        // The masking is only trusted when the line lexes cleanly: a regex literal or a
        // division (`/"/`, which the lexer cannot tell apart) or a string left open at the
        // end of the line may have shifted every quote after it, so such a line is
        // scanned as written. In doubt, a line is code.
        let mut unsure = false;
        let in_data = match state {
            // A line of a multi-line f-string (its `{...}` runs) or of a string that is not a
            // docstring (it may be handed to `exec`): scanned as written, as code.
            State::Triple(_) => interpolated || !docstring,
            State::Template => true,
            _ => false,
        };
        if in_data {
            unsure = true;
            code_seen = true;
        }
        let mut masked = String::with_capacity(line.len());
        let chars: Vec<char> = line.chars().collect();
        let mut k = 0;
        while k < chars.len() {
            let c = chars[k];
            let next = chars.get(k + 1).copied();
            match state {
                State::Code => {
                    let line_comment =
                        (hash && c == '#' && !(lang == Lang::Php && next == Some('[')))
                            || (slashes && c == '/' && next == Some('/'));
                    if line_comment {
                        break;
                    }
                    if slashes && c == '/' && next == Some('*') {
                        state = State::Block;
                        masked.push_str("  ");
                        k += 2;
                        continue;
                    }
                    if python && (c == '"' || c == '\'') {
                        // The string's prefix (`f`, `rb`, `Fr`, ...) says whether it runs code.
                        let prefix = chars[..k]
                            .iter()
                            .rev()
                            .take_while(|p| p.is_ascii_alphabetic())
                            .collect::<String>()
                            .to_ascii_lowercase();
                        interpolated = prefix.contains('f') || prefix.contains('t');
                        if interpolated {
                            unsure = true;
                            code_seen = true;
                        }
                    }
                    if python
                        && (c == '"' || c == '\'')
                        && next == Some(c)
                        && chars.get(k + 2) == Some(&c)
                    {
                        docstring = !code_seen;
                        state = State::Triple(c);
                        masked.extend([c, c, c]);
                        k += 3;
                        continue;
                    }
                    // Closing brackets after a docstring or a comment are not code.
                    if !c.is_whitespace() && !matches!(c, ')' | ',' | ';') {
                        code_seen = true;
                    }
                    // JavaScript regex literals look like division; PHP's double quotes
                    // interpolate `{$x->call()}`.
                    if (c == '/' && lang == Lang::JavaScript) || (c == '"' && lang == Lang::Php) {
                        unsure = true;
                    }
                    // A C or Rust character literal (`'"'`, `'\''`) is not a string; a
                    // lone `'` is a Rust lifetime.
                    if c == '\'' && lang == Lang::CFamily {
                        let len = match (next, chars.get(k + 2), chars.get(k + 3)) {
                            (Some('\\'), _, Some('\'')) => 4,
                            (Some(_), Some('\''), _) => 3,
                            _ => 1,
                        };
                        masked.extend(chars[k..(k + len).min(chars.len())].iter());
                        k += len;
                        continue;
                    }
                    if lang == Lang::JavaScript && c == '`' {
                        state = State::Template;
                    } else if c == '"' || (c == '\'' && lang != Lang::CFamily) {
                        state = State::Short(c);
                    }
                    masked.push(c);
                }
                State::Short(q) | State::Triple(q) if c == '\\' => {
                    let _ = q;
                    masked.push(' ');
                    if next.is_some() {
                        masked.push(' ');
                    }
                    k += 2;
                    continue;
                }
                State::Short(q) => {
                    if c == q {
                        state = State::Code;
                        masked.push(c);
                    } else {
                        masked.push(' ');
                    }
                }
                State::Triple(q) => {
                    if c == q && next == Some(q) && chars.get(k + 2) == Some(&q) {
                        state = State::Code;
                        masked.extend([q, q, q]);
                        k += 3;
                        continue;
                    }
                    masked.push(' ');
                }
                State::Template => {
                    if c == '\\' {
                        masked.push_str("  ");
                        k += 2;
                        continue;
                    }
                    if c == '`' {
                        state = State::Code;
                        masked.push(c);
                    } else if c == '$' && next == Some('{') {
                        // Code inside the template: the line is code, and the template's end
                        // is no longer tracked (in doubt, lines are scanned as code).
                        code_seen = true;
                        state = State::Code;
                        masked.push(c);
                    } else {
                        masked.push(' ');
                    }
                }
                State::Block => {
                    if c == '*' && next == Some('/') {
                        state = State::Code;
                        masked.push_str("  ");
                        k += 2;
                        continue;
                    }
                    masked.push(' ');
                }
            }
            k += 1;
        }
        // A one-line string does not continue past its line in these languages.
        if let State::Short(_) = state {
            state = State::Code;
            unsure = true;
        }
        out.push(Lexed {
            masked: if unsure { line.to_owned() } else { masked },
            prose: !code_seen,
        });
    }
    out
}

/// Whether the masked line holds nothing but string literals and punctuation: an element of
/// a list of messages, test data, a docstring line.
pub(super) fn is_only_strings(masked: &str) -> bool {
    !masked
        .chars()
        .any(|c| c.is_alphanumeric() || c == '_' || c == '$')
}

/// The change in bracket depth over a masked line: positive while a statement continues.
pub(super) fn depth_change(masked: &str) -> i32 {
    masked.chars().fold(0, |d, c| match c {
        '(' | '[' | '{' => d + 1,
        ')' | ']' | '}' => d - 1,
        _ => d,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn prose(lang: Lang, text: &str) -> Vec<u32> {
        lex(lang, text)
            .iter()
            .enumerate()
            .filter(|(_, l)| l.prose)
            .map(|(i, _)| line_no(i))
            .collect()
    }

    #[test]
    fn strings_are_masked_and_docstrings_found() {
        assert_eq!(
            lex(Lang::Python, r#"x = "a \" b" + f(y)"#)[0].masked,
            r#"x = "      " + f(y)"#
        );
        assert!(is_only_strings(
            &lex(Lang::Python, r#"    "token in ~/.netrc ciao ciao","#)[0].masked
        ));
        let doc = "def f():\n    \"\"\"Run it.\n\n    Uses subprocess.Popen.\n    \"\"\"\n    subprocess.run(x)\n";
        assert_eq!(prose(Lang::Python, doc), vec![2, 3, 4, 5]);
        // A `"""` inside a `'''` string opens nothing: the code after the string is code.
        let fooled = "x = '''\n\"\"\"\n'''; exec(y)\nz = 1\n";
        assert!(!prose(Lang::Python, fooled).contains(&3));
        // A `/*` inside a template literal opens no comment.
        let js = "const s = `\n/*\n`; eval(atob(x))\n*/\n";
        assert!(!prose(Lang::JavaScript, js).contains(&3));
        // A quote in a regex literal, a char literal or an unclosed string cannot hide code.
        for (lang, line) in [
            (
                Lang::JavaScript,
                "s.replace(/\"/g, ''); eval(atob(p)) + \"\"",
            ),
            (Lang::Python, "x = \"unterminated; os.system('id')"),
            (Lang::CFamily, "let q = '\"'; Command::new(\"sh\");"),
            (Lang::Python, "x = f\"{os.system('id')}\""),
        ] {
            let masked = &lex(lang, line)[0].masked;
            assert!(
                masked.contains("eval(atob(")
                    || masked.contains("os.system(")
                    || masked.contains("Command::new("),
                "{lang:?}: {masked}"
            );
        }
        // A multi-line string that is not a docstring may be exec'd: its lines are code.
        let assigned = "code = \"\"\"\nimport os; os.system('id')\n\"\"\"\nexec(code)\n";
        assert!(prose(Lang::Python, assigned).is_empty());
        assert!(lex(Lang::Python, assigned)[1].masked.contains("os.system("));
        // A multi-line f-string is code on every line.
        let f = "x = f\"\"\"\n{os.system('id')}\n\"\"\"\n";
        assert!(prose(Lang::Python, f).is_empty());
        assert!(lex(Lang::Python, f)[1].masked.contains("os.system("));
        // The code after the template literal is not masked.
        assert!(lex(Lang::JavaScript, js)[2]
            .masked
            .contains("eval(atob(x))"));
    }
}
