//! Shared output helpers: every report prints for humans, or as JSON with `--json`.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    println!(
        "{}",
        serde_json::to_string_pretty(value).context("cannot serialize the report")?
    );
    Ok(())
}

/// Reads a whole file, or standard input for `-`, naming the path in the error.
pub fn read_input(path: &str) -> Result<Vec<u8>> {
    if path == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("cannot read standard input")?;
        return Ok(buf);
    }
    std::fs::read(Path::new(path))
        .with_context(|| format!("cannot read {path}: check the path and permissions"))
}

/// A transaction given as hex on the command line, or as a file holding hex or raw bytes.
pub fn read_tx_arg(arg: &str) -> Result<Vec<u8>> {
    let looks_hex =
        !arg.is_empty() && arg.len() % 2 == 0 && arg.bytes().all(|b| b.is_ascii_hexdigit());
    if looks_hex && !Path::new(arg).exists() {
        return hex::decode(arg).context("invalid transaction hex");
    }
    let bytes = read_input(arg)?;
    let text = String::from_utf8_lossy(&bytes);
    let trimmed = text.trim();
    if !trimmed.is_empty()
        && trimmed.len() % 2 == 0
        && trimmed.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return hex::decode(trimmed).with_context(|| format!("invalid transaction hex in {arg}"));
    }
    Ok(bytes)
}
