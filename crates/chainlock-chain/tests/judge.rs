//! The @bsv/sdk judge (`tests/judge/spend.mjs`, the node's script flags): every transaction a
//! fake chain or server accepts must also pass it. Shared with the CLI's tests.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

const NPM_HINT: &str =
    "run `npm ci --prefix tests/judge` from the workspace root (needs node 18+ and npm; \
     on Debian: apt-get install -y nodejs npm)";

/// The judge's verdicts, one per case (`{name, tx, input, spent: {script, satoshis}, flags}`).
pub fn ask_judge(cases: &[Value]) -> Vec<Value> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/judge");
    assert!(
        dir.join("node_modules/@bsv/sdk/package.json").is_file(),
        "the @bsv/sdk judge is not installed in {}: {NPM_HINT}",
        dir.display()
    );
    let mut child = Command::new("node")
        .arg("spend.mjs")
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `node` ({e}): {NPM_HINT}"));
    let input = serde_json::to_vec(&json!({ "cases": cases })).unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "judge failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("the judge prints JSON");
    let verdicts = v["verdicts"].as_array().expect("verdicts").clone();
    assert_eq!(verdicts.len(), cases.len());
    verdicts
}

/// The judge's verdict on every input of `tx`, each spending its output in `spent`: Err with
/// the first failing input's error.
pub fn judge_inputs(
    tx: &chainlock_protocol::tx::Transaction,
    spent: &[chainlock_protocol::tx::SpentOutput],
) -> Result<(), String> {
    let cases: Vec<Value> = spent
        .iter()
        .enumerate()
        .map(|(i, s)| {
            json!({"name": format!("input {i}"), "tx": tx.to_hex(), "input": i,
                   "spent": {"script": s.script_pubkey.to_hex(), "satoshis": s.value}, "flags": "node"})
        })
        .collect();
    match ask_judge(&cases).into_iter().find(|v| v["valid"] != true) {
        Some(v) => Err(v["error"].to_string()),
        None => Ok(()),
    }
}
