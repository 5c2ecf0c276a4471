//! `chainlock record digest` and `chainlock request check` on the committed request scenarios.

use std::path::PathBuf;

use crate::util::{run, workspace_root};

fn scenario(name: &str) -> String {
    requests_dir()
        .join(name)
        .join("request.json")
        .display()
        .to_string()
}

fn requests_dir() -> PathBuf {
    workspace_root().join("crates/chainlock-protocol/tests/data/requests")
}

fn trusted() -> String {
    requests_dir()
        .join("trusted-policy-digest")
        .display()
        .to_string()
}

const NOW: &str = "1795219200";

#[test]
fn locally_valid_request_without_attestations_is_refused_on_builders_alone() {
    // The `valid` scenario passes every check the request itself allows; it carries no
    // rebuild attestations, so the builders' check runs and fails, and without --repo the
    // diff digest is not run. (crates/chainlock-review/tests/evidence.rs checks a request
    // with real rebuilds and a real clone that passes everything.)
    let out = run(&[
        "request",
        "check",
        &scenario("valid"),
        "--policy-digest",
        &trusted(),
        "--now",
        NOW,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("[ PASS  ] publisher's signature"), "{text}");
    assert!(
        text.contains("[ PASS  ] commits to the record shown"),
        "{text}"
    );
    assert!(text.contains("[NOT RUN] diff digest"), "{text}");
    assert!(text.contains("pass --repo"), "{text}");
    assert!(
        text.contains(
            "[ FAIL  ] trusted builders agree on the artifact: 0 of the 3 trusted builders agree"
        ),
        "{text}"
    );
    assert!(text.contains("do NOT sign"), "{text}");
}

#[test]
fn tampered_request_fails_with_exit_1_and_json_names_the_checks() {
    let out = run(&[
        "request",
        "check",
        &scenario("tampered-record"),
        "--policy-digest",
        &trusted(),
        "--now",
        NOW,
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(v["ready_to_sign"], false);
    let failed: Vec<&str> = v["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["status"] == "failed")
        .map(|c| c["id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        failed,
        vec!["publisher-signature", "commitment", "builder-agreement"]
    );
}

#[test]
fn expired_request_says_what_to_do() {
    let out = run(&[
        "request",
        "check",
        &scenario("expired"),
        "--policy-digest",
        &trusted(),
        "--now",
        NOW,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("ask the publisher for a fresh request"),
        "{text}"
    );
    assert!(text.contains("do NOT sign"), "{text}");
}

#[test]
fn malformed_request_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("r.json");
    std::fs::write(&path, br#"{"protocol":"chainlock/1"}"#).expect("write");
    let out = run(&["request", "check", &path.display().to_string()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not a valid chainlock/1 signing request") && err.contains("missing field"),
        "{err}"
    );
}

#[test]
fn record_digest_matches_the_commitment() {
    let req: serde_json::Value =
        serde_json::from_slice(&std::fs::read(scenario("valid")).expect("fixture")).expect("json");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("record.json");
    std::fs::write(&path, req["record"].to_string()).expect("write");
    let out = run(&["record", "digest", &path.display().to_string()]);
    assert!(out.status.success());
    let digest = String::from_utf8_lossy(&out.stdout).trim().to_string();
    // Output 0 of the record transaction: 00 6a 09 "chainlock" 01 01 20 <digest>.
    let tx = req["transaction"].as_str().expect("tx hex");
    assert!(
        tx.contains(&format!("2f006a09636861696e6c6f636b010120{digest}")),
        "{digest} not committed in {tx}"
    );
    let out = run(&["record", "digest", &path.display().to_string(), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["digest"], digest.as_str());
    assert_eq!(v["type"], "release");
}
