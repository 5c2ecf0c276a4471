//! Shared output helpers: every report prints for humans, or as JSON with `--json`.

use std::fmt;
use std::io::{ErrorKind, Read, Write};
use std::path::Path;

use anyhow::{anyhow, bail, Result};
pub use chainlock_protocol::text::{has_hidden_chars, printable, quoted};

/// Prints to standard output like `print!`, but exits quietly when the reader went away.
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::write_stdout(format_args!($($arg)*)) };
}

/// Prints a line to standard output like `println!`, but exits quietly when the reader went
/// away (`chainlock key list | head -1`).
macro_rules! outln {
    () => { $crate::output::write_stdout(format_args!("\n")) };
    ($($arg:tt)*) => {
        $crate::output::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Writes to standard output. A closed pipe ends the process at once with exit code 0 and no
/// message: the reader has all it wanted, and nothing is left half-written by stopping here
/// (commands print only after their work is done). Any other write error ends it with 2.
pub fn write_stdout(args: fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    if let Err(err) = stdout.write_fmt(args) {
        exit_on_write_error(&err);
    }
}

/// Ends the process after a failed write to standard output (see [`write_stdout`]).
pub fn exit_on_write_error(err: &std::io::Error) -> ! {
    if err.kind() == ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!(
        "error: cannot write to standard output: {err}\nnext: check the disk or pipe it is written to"
    );
    std::process::exit(2);
}

/// Prints a value as pretty JSON on stdout, streamed: nothing is built in memory but the
/// value itself.
pub fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = serde_json::to_writer_pretty(&mut out, value)
        .map_err(std::io::Error::from)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    match written {
        Ok(()) => Ok(()),
        // serde's own failure (a value that cannot be JSON), not the pipe's.
        Err(err) if err.kind() == ErrorKind::InvalidData => {
            Err(anyhow!("cannot serialize the report: {err}"))
        }
        Err(err) => exit_on_write_error(&err),
    }
}

/// The most `chainlock` reads from one file or from standard input: every document it takes
/// (requests, records, policies, envelopes, transactions) is far smaller. A larger input (a
/// path to `/dev/zero`, say) is refused, never read until memory runs out.
pub const MAX_INPUT_BYTES: u64 = 32 << 20;

/// Reads a whole file, or standard input for `-`, at most [`MAX_INPUT_BYTES`].
pub fn read_input(path: &str) -> Result<Vec<u8>> {
    read_capped(path, MAX_INPUT_BYTES)
}

/// Reads a whole file, or standard input for `-`, refusing more than `cap` bytes; errors
/// name the file (escaped) and say what to do.
pub fn read_capped(path: &str, cap: u64) -> Result<Vec<u8>> {
    let (reader, name): (Box<dyn Read>, String) = if path == "-" {
        (Box::new(std::io::stdin()), input_name(path))
    } else {
        let file = std::fs::File::open(Path::new(path)).map_err(|e| open_error(path, &e))?;
        (Box::new(file), input_name(path))
    };
    let mut buf = Vec::new();
    reader
        .take(cap.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| match e.kind() {
            ErrorKind::IsADirectory => anyhow!("{name} is a directory: give a file"),
            _ => anyhow!("cannot read {name}: {e}"),
        })?;
    if buf.len() as u64 > cap {
        bail!(
            "{name} holds more than {}, the most chainlock reads for this input: give the \
             document itself",
            human_bytes(cap)
        );
    }
    Ok(buf)
}

/// How messages name an input argument: `standard input` for `-`, else the path, quoted.
pub fn input_name(path: &str) -> String {
    if path == "-" {
        "standard input".to_owned()
    } else {
        quoted(path)
    }
}

/// Why a file could not be opened, with the next step that fits the cause.
pub fn open_error(path: &str, err: &std::io::Error) -> anyhow::Error {
    let name = quoted(path);
    match err.kind() {
        ErrorKind::NotFound => anyhow!("no file named {name}: check the path"),
        ErrorKind::PermissionDenied => {
            anyhow!("cannot read {name}: permission denied: check its permissions")
        }
        _ => anyhow!("cannot read {name}: {err}"),
    }
}

/// A size for people: `32 MiB`, `4096 bytes`.
pub fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

/// `1 file`, `2 files`: a count with its noun, singular for one.
pub fn count(n: usize, singular: &str, plural: &str) -> String {
    if n == 1 {
        format!("1 {singular}")
    } else {
        format!("{n} {plural}")
    }
}

/// A transaction given as hex on the command line, or as a file holding hex or raw bytes.
pub fn read_tx_arg(arg: &str) -> Result<Vec<u8>> {
    if !Path::new(arg).exists() && looks_like_hex(arg) {
        return hex::decode(arg).map_err(|e| {
            anyhow!(
                "not valid transaction hex ({e}), and no file has that name: pass the whole \
                 hex, or a file holding it"
            )
        });
    }
    let bytes = read_input(arg)?;
    let text = String::from_utf8_lossy(&bytes);
    let trimmed = text.trim();
    if !trimmed.is_empty() && looks_like_hex(trimmed) {
        return hex::decode(trimmed).map_err(|e| {
            anyhow!(
                "{} holds hex that is not a valid transaction ({e}): give the whole hex",
                quoted(arg)
            )
        });
    }
    Ok(bytes)
}

/// Whether text someone typed was meant as hex: long, and hex digits but for a few typos
/// (a path almost always holds a `/` or a `.`).
fn looks_like_hex(text: &str) -> bool {
    let hex = text.bytes().filter(u8::is_ascii_hexdigit).count();
    (!text.is_empty() && hex == text.len())
        || (text.len() >= 8 && !text.contains(['/', '.']) && hex * 4 >= text.len() * 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_with_a_typo_is_hex_not_a_path() {
        assert!(looks_like_hex("0100000001ab"));
        assert!(looks_like_hex("0100000001ag"));
        assert!(looks_like_hex("0100"));
        assert!(looks_like_hex("01000000zz"));
        assert!(!looks_like_hex("tx.hex"));
        assert!(!looks_like_hex("./0100000001"));
        assert!(!looks_like_hex("request"));
    }

    #[test]
    fn counts_and_sizes_read_right() {
        assert_eq!(count(1, "file", "files"), "1 file");
        assert_eq!(count(0, "file", "files"), "0 files");
        assert_eq!(human_bytes(32 << 20), "32 MiB");
        assert_eq!(human_bytes(4096), "4 KiB");
        assert_eq!(human_bytes(100), "100 bytes");
    }
}
