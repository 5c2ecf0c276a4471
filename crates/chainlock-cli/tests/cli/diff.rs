//! `chainlock diff`: the diff digest checked against an independent computation with the git
//! CLI (`diff-tree -r --no-renames --raw -z`, `cat-file`, `sha256sum`), and the review diff in
//! both renderings, over real repositories with every kind of change.

use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::util;

/// Runs a tool, feeding `input`, and returns its stdout; fails the test with stderr otherwise.
fn tool(dir: &Path, program: &str, args: &[&OsStr], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.org")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.org")
        .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} ({e}): install it (apt-get install -y git coreutils)")
        });
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn git(dir: &Path, args: &[&str]) -> String {
    let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    String::from_utf8(tool(dir, "git", &args, b""))
        .expect("utf-8")
        .trim()
        .to_owned()
}

/// One tree entry to commit: mode, raw path bytes, and content (for a submodule, the commit id).
struct Item<'a> {
    mode: &'a str,
    path: &'a [u8],
    content: &'a [u8],
}

fn item<'a>(mode: &'a str, path: &'a [u8], content: &'a [u8]) -> Item<'a> {
    Item {
        mode,
        path,
        content,
    }
}

/// A scratch repository built with git's own plumbing, so any path bytes and any mode
/// (symlinks, gitlinks) can be committed exactly.
struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        git(dir.path(), &["init", "-q", "-b", "main"]);
        Repo { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn path_str(&self) -> &str {
        self.dir.path().to_str().expect("utf-8 temp path")
    }

    /// Commits exactly `items` as the whole tree, on top of `parent`.
    fn commit(&self, items: &[Item<'_>], parent: Option<&str>, message: &str) -> String {
        let mut index_info = Vec::new();
        for it in items {
            let id = if it.mode == "160000" {
                String::from_utf8(it.content.to_vec()).expect("commit id")
            } else {
                let out = tool(
                    self.path(),
                    "git",
                    &[
                        OsStr::new("hash-object"),
                        OsStr::new("-w"),
                        OsStr::new("--stdin"),
                    ],
                    it.content,
                );
                String::from_utf8(out).expect("id").trim().to_owned()
            };
            let kind = if it.mode == "160000" {
                "commit"
            } else {
                "blob"
            };
            index_info.extend_from_slice(format!("{} {kind} {id}\t", it.mode).as_bytes());
            index_info.extend_from_slice(it.path);
            index_info.push(0);
        }
        let index = self.path().join(".git/scratch-index");
        let _ = std::fs::remove_file(&index);
        let mut cmd = Command::new("git");
        cmd.args(["update-index", "-z", "--index-info"])
            .current_dir(self.path())
            .env("GIT_INDEX_FILE", &index)
            .stdin(Stdio::piped());
        let mut child = cmd.spawn().expect("git update-index");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(&index_info)
            .expect("index info");
        assert!(child.wait().expect("wait").success(), "update-index failed");
        let tree = String::from_utf8(
            Command::new("git")
                .args(["write-tree"])
                .current_dir(self.path())
                .env("GIT_INDEX_FILE", &index)
                .output()
                .expect("write-tree")
                .stdout,
        )
        .expect("id")
        .trim()
        .to_owned();
        let mut args = vec!["commit-tree", tree.as_str(), "-m", message];
        if let Some(parent) = parent {
            args.extend(["-p", parent]);
        }
        git(self.path(), &args)
    }
}

/// The diff manifest computed from the git CLI alone, as an independent implementation of
/// PROTOCOL.md section 4 would: diff-tree for the entries, cat-file and sha256sum per blob.
fn manifest_from_git_cli(repo: &Path, base: Option<&str>, head: &str) -> Vec<u8> {
    const EMPTY_TREE: &str = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
    let raw = tool(
        repo,
        "git",
        &[
            "diff-tree",
            "-r",
            "--no-renames",
            "--raw",
            "-z",
            base.unwrap_or(EMPTY_TREE),
            head,
        ]
        .map(OsStr::new),
        b"",
    );
    let sha256sum = |bytes: &[u8]| -> String {
        String::from_utf8(tool(repo, "sha256sum", &[], bytes)).expect("hex")[..64].to_owned()
    };
    let side = |mode: &str, id: &str| -> String {
        match mode {
            "000000" => "0".repeat(64),
            "160000" => sha256sum(id.as_bytes()),
            _ => sha256sum(&tool(
                repo,
                "git",
                &["cat-file", "blob", id].map(OsStr::new),
                b"",
            )),
        }
    };
    // `:old new oldid newid status\0path\0`, repeated.
    let mut fields = raw.split(|b| *b == 0);
    let mut entries: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    while let Some(meta) = fields.next() {
        if meta.is_empty() {
            continue;
        }
        let path = fields.next().expect("path follows").to_vec();
        let meta = std::str::from_utf8(meta).expect("ascii");
        let parts: Vec<&str> = meta.trim_start_matches(':').split(' ').collect();
        let (old_mode, new_mode, old_id, new_id, status) =
            (parts[0], parts[1], parts[2], parts[3], parts[4]);
        let status = match status {
            "A" => "A",
            "D" => "D",
            "M" | "T" => "M",
            other => panic!("unexpected status {other}"),
        };
        let mut line = format!(
            "{status} {old_mode} {new_mode} {} {} ",
            side(old_mode, old_id),
            side(new_mode, new_id)
        )
        .into_bytes();
        line.extend_from_slice(&path);
        line.push(0);
        entries.push((path, line));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut manifest = b"chainlock-diff-v1\n".to_vec();
    for (_, line) in entries {
        manifest.extend_from_slice(&line);
    }
    manifest
}

fn sha256sum_of(repo: &Path, bytes: &[u8]) -> String {
    String::from_utf8(tool(repo, "sha256sum", &[], bytes)).expect("hex")[..64].to_owned()
}

/// Base and head with every kind of change the manifest distinguishes.
struct Scenario {
    repo: Repo,
    base: String,
    head: String,
}

const SUB_OLD: &[u8] = b"1111111111111111111111111111111111111111";
const SUB_NEW: &[u8] = b"2222222222222222222222222222222222222222";

fn deep_path(leaf: &str) -> Vec<u8> {
    let mut path = String::new();
    for level in 0..40 {
        path.push_str(&format!("d{level}/"));
    }
    path.push_str(leaf);
    path.into_bytes()
}

fn scenario() -> Scenario {
    let repo = Repo::new();
    let text: String = (1..=30)
        .map(|i| format!("line {i} of the text\n"))
        .collect();
    let modified = text.replace("line 15 of the text", "line 15 of the edited text");
    let deep_old = deep_path("deep.rs");
    let mut binary_old = vec![0u8, 1, 2, 3, 255, 254];
    binary_old.extend_from_slice(&[7; 100]);
    let mut binary_new = binary_old.clone();
    binary_new[50] = 9;
    let base = repo.commit(
        &[
            item("100644", b"keep.txt", b"unchanged\n"),
            item("100644", b"modify.txt", text.as_bytes()),
            item("100644", b"delete.txt", b"going away\n"),
            item("100644", b"mode.sh", b"#!/bin/sh\necho hi\n"),
            item("100644", b"tolink", b"a file that becomes a symlink\n"),
            item("120000", b"link", b"keep.txt"),
            item("100644", b"bin.dat", &binary_old),
            item("160000", b"sub", SUB_OLD),
            item("160000", b"sub-gone", SUB_OLD),
            item("100644", b"tosub", b"a file that becomes a submodule\n"),
            item("100644", b"fd", b"a file that becomes a directory\n"),
            item("100644", b"caf\xe9-latin1.txt", b"non-UTF-8 name\n"),
            item("100644", &deep_old, b"fn deep() {}\n"),
            item("100644", b"no-newline.txt", b"last line"),
        ],
        None,
        "v1",
    );
    git(repo.path(), &["tag", "-a", "v1", "-m", "release 1", &base]);
    let deep_new = deep_path("deeper/added.rs");
    let head = repo.commit(
        &[
            item("100644", b"keep.txt", b"unchanged\n"),
            item("100644", b"modify.txt", modified.as_bytes()),
            item("100755", b"mode.sh", b"#!/bin/sh\necho hi\n"),
            item("120000", b"tolink", b"keep.txt"),
            item("120000", b"link", b"modify.txt"),
            item("100644", b"bin.dat", &binary_new),
            item("160000", b"sub", SUB_NEW),
            item("160000", b"sub-new", SUB_NEW),
            item("160000", b"tosub", SUB_NEW),
            item("100644", b"fd/inside.txt", b"now a directory\n"),
            item("100644", b"caf\xe9-latin1.txt", b"non-UTF-8 name, edited\n"),
            item(
                "100644",
                b"new\nline\tand \x1b[2K escape",
                b"hostile name\n",
            ),
            item("100755", b"added.sh", b"#!/bin/sh\n"),
            item("100644", b"empty", b""),
            item("100644", &deep_old, b"fn deep() { changed() }\n"),
            item("100644", &deep_new, b"fn added() {}\n"),
            item("100644", b"no-newline.txt", b"last line\n"),
            item("100644", b"a.txt", b"sorts before a/ but after a-\n"),
            item("100644", b"a/b.txt", b"in a directory\n"),
            item("100644", b"a-b.txt", b"dash\n"),
        ],
        Some(&base),
        "v2",
    );
    git(repo.path(), &["tag", "v2", &head]);
    Scenario { repo, base, head }
}

fn digest_json(repo: &str, base: Option<&str>, head: &str) -> serde_json::Value {
    let mut args = vec!["diff", "digest", "--repo", repo, "--head", head, "--json"];
    if let Some(base) = base {
        args.extend(["--base", base]);
    }
    let out = util::run(&args);
    assert!(
        out.status.success(),
        "digest failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json report")
}

#[test]
fn digest_matches_the_git_cli_for_every_kind_of_change() {
    let s = scenario();
    let expected = manifest_from_git_cli(s.repo.path(), Some(&s.base), &s.head);
    let report = digest_json(s.repo.path_str(), Some("v1"), "v2");
    assert_eq!(
        report["diff_digest"],
        sha256sum_of(s.repo.path(), &expected)
    );
    // The annotated tag v1 peels to its commit; both commits are reported.
    assert_eq!(report["base"], s.base.as_str());
    assert_eq!(report["head"], s.head.as_str());
    assert_eq!(
        report["entries"],
        expected.iter().filter(|b| **b == 0).count()
    );

    // The manifest it hashed, byte for byte.
    let manifest = s.repo.path().join("manifest.bin");
    let out = util::run(&[
        "diff",
        "digest",
        "--repo",
        s.repo.path_str(),
        "--base",
        &s.base,
        "--head",
        &s.head,
        "--manifest",
        manifest.to_str().expect("utf-8"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::fs::read(&manifest).expect("manifest written");
    assert_eq!(
        String::from_utf8_lossy(&written),
        String::from_utf8_lossy(&expected)
    );
    assert_eq!(written, expected);
    assert!(!PathBuf::from(format!("{}.partial", manifest.display())).exists());

    // Every kind of change is really in there.
    let text = String::from_utf8_lossy(&written);
    for needle in [
        "M 100644 100755 ", // mode only
        "M 100644 120000 ", // file to symlink
        "M 120000 120000 ", // symlink retargeted
        "M 160000 160000 ", // submodule moved
        "D 160000 000000 ", // submodule removed
        "A 000000 160000 ", // submodule added
        "M 100644 160000 ", // file to submodule
        "D 100644 000000 ", // deleted file
        "A 000000 100755 ", // added executable
    ] {
        assert!(text.contains(needle), "manifest lacks {needle:?}:\n{text}");
    }
    assert!(
        written.windows(4).any(|w| w == b"caf\xe9"),
        "raw non-UTF-8 path bytes are hashed"
    );
}

#[test]
fn digest_from_the_empty_tree_when_base_is_omitted() {
    let s = scenario();
    let expected = manifest_from_git_cli(s.repo.path(), None, &s.base);
    let report = digest_json(s.repo.path_str(), None, "v1");
    assert_eq!(
        report["diff_digest"],
        sha256sum_of(s.repo.path(), &expected)
    );
    assert_eq!(report["base"], serde_json::Value::Null);
    assert_eq!(report["entries"], 14);
}

#[test]
fn the_empty_tree_id_names_the_first_release_base() {
    let s = scenario();
    let omitted = digest_json(s.repo.path_str(), None, "v1");
    // Git's empty tree id, as a first release's record names its base, and a revision that
    // resolves to the empty tree: the same range as no base at all.
    let empty = git(s.repo.path(), &["hash-object", "-t", "tree", "/dev/null"]);
    assert_eq!(empty.trim(), "4b825dc642cb6eb9a060e54bf8d69288fbee4904");
    for base in [
        empty.trim(),
        "4b825dc642cb6eb9a060e54bf8d69288fbee4904^{tree}",
    ] {
        let report = digest_json(s.repo.path_str(), Some(base), "v1");
        assert_eq!(report["diff_digest"], omitted["diff_digest"], "{base}");
        assert_eq!(report["base"], serde_json::Value::Null, "{base}");
        assert_eq!(report["entries"], 14);
    }
}

#[test]
fn digest_of_a_porcelain_history_with_real_symlinks_and_executables() {
    // An ordinary work-tree history, committed with `git add` / `git commit`.
    let repo = Repo::new();
    let dir = repo.path();
    std::fs::create_dir_all(dir.join("src")).expect("mkdir");
    std::fs::write(dir.join("src/lib.rs"), "pub fn a() {}\n").expect("write");
    std::fs::write(dir.join("README"), "hello\n").expect("write");
    std::os::unix::fs::symlink("README", dir.join("README.link")).expect("symlink");
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "one"]);
    git(dir, &["tag", "r1"]);
    std::fs::write(
        dir.join("src/lib.rs"),
        "pub fn a() { b() }\npub fn b() {}\n",
    )
    .expect("write");
    std::fs::remove_file(dir.join("README")).expect("rm");
    std::fs::write(
        dir.join(OsStr::from_bytes(b"\xff\xfe.bin")),
        [0u8, 159, 146, 150],
    )
    .expect("write");
    git(dir, &["add", "-A"]);
    git(dir, &["update-index", "--chmod=+x", "src/lib.rs"]);
    git(dir, &["commit", "-q", "-m", "two"]);
    let expected = manifest_from_git_cli(dir, Some("r1"), "HEAD");
    let report = digest_json(repo.path_str(), Some("r1"), "main");
    assert_eq!(report["diff_digest"], sha256sum_of(dir, &expected));
    assert_eq!(report["entries"], 3);
}

#[test]
fn digest_human_output_names_both_commits() {
    let s = scenario();
    let out = util::run(&[
        "diff",
        "digest",
        "--repo",
        s.repo.path_str(),
        "--base",
        "v1",
        "--head",
        "v2",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let expected = sha256sum_of(
        s.repo.path(),
        &manifest_from_git_cli(s.repo.path(), Some(&s.base), &s.head),
    );
    assert!(
        text.contains(&format!("base         {} (v1)", s.base)),
        "{text}"
    );
    assert!(
        text.contains(&format!("head         {} (v2)", s.head)),
        "{text}"
    );
    assert!(text.contains(&format!("diff digest  {expected}")), "{text}");

    let out = util::run(&[
        "diff",
        "digest",
        "--repo",
        s.repo.path_str(),
        "--head",
        "v1",
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("base         empty tree"));
}

#[test]
fn an_unknown_revision_fails_with_what_to_do_next() {
    let s = scenario();
    let out = util::run(&[
        "diff",
        "digest",
        "--repo",
        s.repo.path_str(),
        "--base",
        "v0.9",
        "--head",
        "v2",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot resolve revision \"v0.9\""), "{err}");
    assert!(
        err.trim_end()
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("next: ")),
        "{err}"
    );

    let out = util::run(&[
        "diff",
        "show",
        "--repo",
        "/nonexistent/repo",
        "--head",
        "v2",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot open git repository /nonexistent/repo")
            && err.contains("next: pass --repo"),
        "{err}"
    );
}

fn show_json(repo: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["diff", "show", "--repo", repo, "--json"];
    args.extend_from_slice(extra);
    let out = util::run(&args);
    assert!(
        out.status.success(),
        "show failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json review")
}

#[test]
fn show_json_has_files_hunks_lines_and_word_segments() {
    let s = scenario();
    let review = show_json(s.repo.path_str(), &["--base", "v1", "--head", "v2"]);
    assert_eq!(review["base"], s.base.as_str());
    assert_eq!(review["head_rev"], "v2");
    let files = review["files"].as_array().expect("files");
    let digest_entries = digest_json(s.repo.path_str(), Some("v1"), "v2")["entries"].clone();
    assert_eq!(
        serde_json::json!(files.len()),
        digest_entries,
        "one file per manifest entry"
    );
    let file = |path: &str| {
        files
            .iter()
            .find(|f| f["path"] == path)
            .unwrap_or_else(|| panic!("no {path}"))
    };

    let modify = file("modify.txt");
    assert_eq!(
        (
            modify["status"].as_str(),
            modify["additions"].as_u64(),
            modify["deletions"].as_u64()
        ),
        (Some("M"), Some(1), Some(1))
    );
    assert_eq!(modify["content"]["kind"], "text");
    let hunk = &modify["hunks"][0];
    assert_eq!(
        (hunk["old_start"].as_u64(), hunk["old_lines"].as_u64()),
        (Some(12), Some(7))
    );
    let lines = hunk["lines"].as_array().expect("lines");
    assert_eq!(
        lines.iter().filter(|l| l["kind"] == "context").count(),
        6,
        "3 lines of context each side"
    );
    let added = lines
        .iter()
        .find(|l| l["kind"] == "added")
        .expect("added line");
    assert_eq!(added["new_line"], 15);
    let changed: Vec<_> = added["segments"]
        .as_array()
        .expect("segments")
        .iter()
        .filter(|s| s["changed"] == true)
        .collect();
    assert_eq!(changed.len(), 1);
    assert!(
        changed[0]["text"]
            .as_str()
            .expect("text")
            .contains("edited"),
        "{added}"
    );

    assert_eq!(file("bin.dat")["content"]["kind"], "binary");
    assert_eq!(file("bin.dat")["hunks"].as_array().map(Vec::len), Some(0));
    assert_eq!(file("sub")["content"]["kind"], "submodule");
    assert_eq!(
        file("sub")["new_id"],
        String::from_utf8_lossy(SUB_NEW).as_ref()
    );
    assert_eq!(file("mode.sh")["content"]["kind"], "mode_only");
    assert_eq!(
        (
            file("mode.sh")["old_mode"].as_str(),
            file("mode.sh")["new_mode"].as_str()
        ),
        (Some("100644"), Some("100755"))
    );
    assert_eq!(
        file("link")["hunks"][0]["lines"][1]["segments"][0]["text"],
        "modify.txt"
    );
    let latin = files
        .iter()
        .find(|f| f["path_hex"] == hex::encode(b"caf\xe9-latin1.txt"))
        .expect("raw path kept");
    assert_eq!(latin["path"], "caf\u{fffd}-latin1.txt");
    assert!(file("no-newline.txt")["hunks"][0]["lines"][0]["no_newline"] == true);
    let summary = &review["summary"];
    assert_eq!(summary["files"], serde_json::json!(files.len()));
    assert!(summary["not_shown"].as_u64() >= Some(5), "{summary}");

    // Large files are marked, not dumped.
    let review = show_json(
        s.repo.path_str(),
        &["--base", "v1", "--head", "v2", "--max-file-bytes", "100"],
    );
    let large = review["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["path"] == "modify.txt")
        .cloned()
        .expect("file");
    assert_eq!(large["content"]["kind"], "too_large");
    assert!(large["content"]["new_size"].as_u64() > Some(100));
    assert_eq!(large["additions"], serde_json::Value::Null);
}

#[test]
fn show_human_prints_status_counts_hunks_and_marks() {
    let s = scenario();
    let out = util::run(&[
        "diff",
        "show",
        "--repo",
        s.repo.path_str(),
        "--base",
        "v1",
        "--head",
        "v2",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(text.contains(&format!("base {} (v1)", s.base)), "{text}");
    assert!(
        text.contains("M modify.txt  +1 -1\n@@ -12,7 +12,7 @@\n line 12 of the text\n"),
        "{text}"
    );
    assert!(
        text.contains("-line 15 of the text\n+line 15 of the edited text\n"),
        "{text}"
    );
    assert!(
        text.contains("M bin.dat  binary, 106 bytes -> 106 bytes, not shown"),
        "{text}"
    );
    assert!(
        text.contains("M sub  submodule 111111111111 -> 222222222222"),
        "{text}"
    );
    assert!(
        text.contains("M mode.sh  content unchanged, mode 100644 -> 100755"),
        "{text}"
    );
    assert!(text.contains("M \"caf\\xe9-latin1.txt\"  +1 -1"), "{text}");
    assert!(
        text.contains("-last line\n\\ No newline at end of file\n+last line\n"),
        "{text}"
    );
    // A hostile path cannot inject terminal controls: no raw ESC anywhere in plain output.
    assert!(
        text.contains("A \"new\\nline\\tand \\u{1b}[2K escape\""),
        "{text}"
    );
    assert!(!text.contains('\x1b'), "raw escape in plain output");
    let files = text
        .lines()
        .filter(|l| l.len() > 2 && matches!(&l[..2], "A " | "D " | "M "))
        .count();
    assert!(
        text.trim_end().ends_with(&format!(
            "{files} files changed, 13 insertions(+), 8 deletions(-), 5 not shown as text"
        )),
        "{text}"
    );

    // With colour, the changed word inside the modified line is highlighted.
    let out = util::run(&[
        "diff",
        "show",
        "--repo",
        s.repo.path_str(),
        "--base",
        "v1",
        "--head",
        "v2",
        "--color",
        "always",
    ]);
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(
        text.contains("\x1b[7;32medited \x1b[0m") || text.contains("\x1b[7;32medited\x1b[0m"),
        "{text:?}"
    );
}
