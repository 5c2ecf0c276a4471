//! `chainlock policy digest` and `show`, on the documented example and the committed
//! request scenarios.

use serde_json::Value;

use crate::util::{run, workspace_root};

fn path(rel: &str) -> String {
    workspace_root().join(rel).display().to_string()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_digest_of_a_policy_or_its_genesis_record_is_the_trusted_one() {
    let trusted = std::fs::read_to_string(path(
        "crates/chainlock-protocol/tests/data/requests/trusted-policy-digest",
    ))
    .unwrap();
    for file in [
        "docs/examples/policy.json",
        "docs/examples/genesis-record.json",
    ] {
        let out = run(&["policy", "digest", &path(file)]);
        assert!(out.status.success(), "{file}");
        assert_eq!(stdout(&out).trim(), trusted.trim(), "{file}");
    }
    let out = run(&[
        "policy",
        "digest",
        "--json",
        &path("docs/examples/genesis-record.json"),
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["policy_digest"], trusted.trim());
    assert_eq!(v["from"], "genesis record");
}

#[test]
fn show_lists_maintainers_builders_and_the_window() {
    let out = run(&["policy", "show", &path("docs/examples/policy.json")]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    for words in [
        "maintainers    2 of 3 must co-sign a release",
        "024d4b6cd1361032ca9bd2aeb9d900aa4d45d9ead80ac9423374c451a7254d0766  key id 80a9f999",
        "3 builders trusted, at least 2 must agree",
        "  d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a\n",
        "86400 s after the record is mined (1 day)",
    ] {
        assert!(text.contains(words), "missing {words:?} in:\n{text}");
    }
    let out = run(&[
        "policy",
        "show",
        "--json",
        &path("docs/examples/policy.json"),
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["policy"]["threshold"], 2);
    assert_eq!(v["maintainer_key_ids"].as_array().unwrap().len(), 3);
}

#[test]
fn what_is_not_a_policy_says_where_the_format_is() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, b"{\"maintainers\": []}").unwrap();
    let out = run(&["policy", "digest", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("docs/protocol.md"), "{err}");
    assert!(!err.contains("PROTOCOL.md"), "{err}");
    // A release record names its policy only by digest.
    let req: Value = serde_json::from_slice(
        &std::fs::read(path(
            "crates/chainlock-protocol/tests/data/requests/valid/request.json",
        ))
        .unwrap(),
    )
    .unwrap();
    let record = dir.path().join("record.json");
    std::fs::write(&record, serde_json::to_vec(&req["record"]).unwrap()).unwrap();
    let out = run(&["policy", "digest", record.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is a release record"), "{err}");
}
