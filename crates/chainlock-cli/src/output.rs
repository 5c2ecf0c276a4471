//! Shared output helpers: every report prints for humans, or as JSON with `--json`.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};
use chainlock_review::is_hidden_char;

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

/// Makes text safe for a terminal: a hostile file or artifact must not move the cursor, clear
/// lines, recolour the screen, or reorder what is shown (bidi overrides, "Trojan Source") to
/// hide what it contains. Tabs stay; line breaks become `\r` and `\n`; other controls and
/// invisible characters (as the risk rules define them) become `\u{..}` escapes.
pub fn printable(text: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(text.len());
    let mut previous = None;
    for c in text.chars() {
        match c {
            '\t' => out.push('\t'),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c if is_hidden_char(c, previous) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
        previous = Some(c);
    }
    out
}

/// Whether [`printable`] would change anything but tabs in `text`.
pub fn has_hidden_chars(text: &str) -> bool {
    let mut previous = None;
    text.chars().any(|c| {
        let hidden = is_hidden_char(c, previous);
        previous = Some(c);
        hidden
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_controls_and_bidi_overrides_are_escaped() {
        assert_eq!(printable("lib/\u{202e}txt.js"), "lib/\\u{202e}txt.js");
        assert_eq!(printable("a\u{1b}[2Kb\r"), "a\\u{1b}[2Kb\\r");
        assert_eq!(printable("zero\u{200b}width"), "zero\\u{200b}width");
        assert_eq!(printable("tab\tand é ok"), "tab\tand é ok");
    }
}
