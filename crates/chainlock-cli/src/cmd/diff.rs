//! `chainlock diff`: review evidence from git (the diff digest and the review diff).

use std::fmt::Write as _;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::anyhow;
use chainlock_diff::{
    Content, DiffDigest, FileDiff, LineKind, Range, ReviewOptions, ReviewSummary,
};

use crate::output::{count, has_hidden_chars, printable};

/// Arguments of `chainlock diff`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: DiffCommand,
}

/// The `chainlock diff` subcommands.
#[derive(Debug, clap::Subcommand)]
enum DiffCommand {
    /// Print the diff digest of a release range (docs/protocol.md, section 4) and the commits it covers.
    Digest(DigestArgs),
    /// Show the review diff: changed files, line counts, hunks with word-level changes.
    Show(ShowArgs),
    /// Compare a published artifact (npm, wheel, sdist, crate, tar, zip) with the source at a commit.
    Artifact(super::diff_artifact::ArtifactArgs),
    /// Print the risk flags of a release range (and of an artifact comparison with --artifact).
    Risk(super::diff_artifact::RiskArgs),
}

/// A release range in a local clone (shared by `diff digest`, `show` and `risk`).
#[derive(Debug, clap::Args)]
pub(crate) struct RangeArgs {
    /// The git repository (work tree or bare); not searched upwards.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub(crate) repo: PathBuf,
    /// The previous release's source revision (tag, branch or commit). For the first release
    /// after genesis the base is the empty tree: omit --base, or give git's empty tree id
    /// 4b825dc642cb6eb9a060e54bf8d69288fbee4904 as the record's base_commit names it.
    #[arg(long, value_name = "REV")]
    pub(crate) base: Option<String>,
    /// The new release's source revision (tag, branch or commit).
    #[arg(long, value_name = "REV")]
    pub(crate) head: String,
}

/// Arguments of `chainlock diff digest`.
#[derive(Debug, clap::Args)]
struct DigestArgs {
    #[command(flatten)]
    range: RangeArgs,
    /// Also write the exact manifest bytes that were hashed to FILE (check with sha256sum).
    #[arg(long, value_name = "FILE")]
    manifest: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// When to colour the human output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ColorChoice {
    /// When standard output is a terminal and NO_COLOR is not set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Arguments of `chainlock diff show`.
#[derive(Debug, clap::Args)]
struct ShowArgs {
    #[command(flatten)]
    range: RangeArgs,
    /// Unchanged lines shown around each change.
    #[arg(long, short = 'U', value_name = "LINES", default_value_t = 3)]
    context: usize,
    /// Files larger than this are marked as too large instead of shown.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    max_file_bytes: u64,
    /// Colour the output (changed words are highlighted inside modified lines).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    /// Print the review as JSON (files, hunks, lines with kind and word-level segments).
    #[arg(long)]
    json: bool,
}

/// Runs `chainlock diff`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        DiffCommand::Digest(args) => digest(args),
        DiffCommand::Show(args) => show(args),
        DiffCommand::Artifact(args) => super::diff_artifact::run_artifact(args),
        DiffCommand::Risk(args) => super::diff_artifact::run_risk(args),
    }
}

/// A library error with its causes and, last, what to do about it.
fn explain(err: chainlock_diff::Error, range: &RangeArgs) -> anyhow::Error {
    use chainlock_diff::Error as E;
    let next = match &err {
        E::OpenRepository { .. } => "pass --repo with the path of a git clone".to_owned(),
        E::Revision { spec, .. } => format!(
            "check that {spec:?} names a tag, branch or commit of {} (git fetch --tags may be missing)",
            range.repo.display()
        ),
        E::ReadBlob { .. } => "the clone is missing objects: run git fsck, or fetch the full history".to_owned(),
        _ => "check the repository with git fsck, and report this if it persists".to_owned(),
    };
    let mut message = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        let _ = write!(message, ": {cause}");
        source = cause.source();
    }
    anyhow!("{message}\nnext: {next}")
}

/// Errors of a streamed report: from the library, or from writing the output.
enum StreamError {
    Diff(chainlock_diff::Error),
    Io(io::Error),
}

impl From<chainlock_diff::Error> for StreamError {
    fn from(err: chainlock_diff::Error) -> Self {
        StreamError::Diff(err)
    }
}

impl From<chainlock_fs::Error> for StreamError {
    fn from(err: chainlock_fs::Error) -> Self {
        StreamError::Io(err.into())
    }
}

impl From<io::Error> for StreamError {
    fn from(err: io::Error) -> Self {
        StreamError::Io(err)
    }
}

impl StreamError {
    /// A reader closing the pipe early (`| head`) is not a failure.
    fn into_result(self, range: &RangeArgs) -> anyhow::Result<ExitCode> {
        match self {
            StreamError::Io(err) if err.kind() == io::ErrorKind::BrokenPipe => {
                Ok(ExitCode::SUCCESS)
            }
            StreamError::Io(err) => Err(anyhow!(
                "cannot write the output: {err}\nnext: check the disk or pipe it is written to"
            )),
            StreamError::Diff(err) => Err(explain(err, range)),
        }
    }
}

fn commit_label(id: Option<chainlock_diff::ObjectId>, rev: Option<&str>) -> String {
    match (id, rev) {
        (Some(id), Some(rev)) if rev != id.to_hex() => format!("{id} ({rev})"),
        (Some(id), _) => id.to_hex(),
        (None, _) => "empty tree".to_owned(),
    }
}

fn digest(args: DigestArgs) -> anyhow::Result<ExitCode> {
    let range = &args.range;
    let changes = chainlock_diff::changes(&range.repo, range.base.as_deref(), &range.head)
        .map_err(|e| explain(e, range))?;
    let result: Result<DiffDigest, StreamError> = match &args.manifest {
        None => changes.digest_with(None, |_| Ok(())),
        // Replaced atomically: a failed run never leaves a half-written manifest behind.
        Some(path) => {
            chainlock_fs::write_with(path, chainlock_fs::Options::REPLACE_PUBLIC, |out| {
                changes.digest_with(None, |bytes| out.write_all(bytes).map_err(StreamError::Io))
            })
        }
    };
    let digest = match result {
        Ok(digest) => digest,
        Err(err) => return err.into_result(range),
    };
    if args.json {
        crate::output::print_json(&serde_json::json!({
            "repo": range.repo.display().to_string(),
            "base": digest.range.base.map(|id| id.to_hex()),
            "base_rev": range.base,
            "head": digest.range.head.to_hex(),
            "head_rev": range.head,
            "entries": digest.entries,
            "diff_digest": digest.to_hex(),
        }))?;
    } else {
        outln!(
            "base         {}",
            commit_label(digest.range.base, range.base.as_deref())
        );
        outln!(
            "head         {}",
            commit_label(Some(digest.range.head), Some(&range.head))
        );
        outln!("entries      {}", digest.entries);
        outln!("diff digest  {}", digest.to_hex());
    }
    Ok(ExitCode::SUCCESS)
}

fn show(args: ShowArgs) -> anyhow::Result<ExitCode> {
    let range = &args.range;
    let changes = chainlock_diff::changes(&range.repo, range.base.as_deref(), &range.head)
        .map_err(|e| explain(e, range))?;
    let options = ReviewOptions {
        context: args.context,
        max_file_bytes: args.max_file_bytes,
        threads: None,
    };
    let color = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            !args.json && io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
        }
    };
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let result = if args.json {
        show_json(&changes, &options, range, &mut out)
    } else {
        show_human(&changes, &options, range, color, &mut out)
    };
    match result.and_then(|()| out.flush().map_err(StreamError::Io)) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(err) => err.into_result(range),
    }
}

fn show_json(
    changes: &chainlock_diff::Changes,
    options: &ReviewOptions,
    range: &RangeArgs,
    out: &mut impl Write,
) -> Result<(), StreamError> {
    let Range { base, head } = changes.range;
    // Streamed by hand so memory stays flat: the header, each file as it is ready, the totals.
    write!(
        out,
        "{{\"base\":{},\"base_rev\":{},\"head\":{},\"head_rev\":{},\"files\":[",
        json(&base.map(|id| id.to_hex())),
        json(&range.base),
        json(&head.to_hex()),
        json(&range.head)
    )?;
    let mut first = true;
    let summary = changes.review(options, |file: FileDiff| -> Result<(), StreamError> {
        if !first {
            out.write_all(b",")?;
        }
        first = false;
        out.write_all(b"\n")?;
        serde_json::to_writer(&mut *out, &file).map_err(io::Error::from)?;
        Ok(())
    })?;
    writeln!(out, "\n],\"summary\":{}}}", json(&summary))?;
    Ok(())
}

fn json<T: serde::Serialize>(value: &T) -> String {
    // Plain data (strings, numbers, options) always serializes.
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

/// ANSI styles of the human output.
struct Style {
    on: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

/// A path for display: as is when printable UTF-8, otherwise quoted with escapes (`\xff` for
/// bytes that are not UTF-8), so two different paths never look the same.
fn display_path(path: &[u8]) -> String {
    match std::str::from_utf8(path) {
        Ok(text) if !has_hidden_chars(text) && !text.starts_with('"') => text.to_owned(),
        _ => {
            let mut out = String::from("\"");
            for chunk in path.utf8_chunks() {
                for c in chunk.valid().chars() {
                    match c {
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        '\t' => out.push_str("\\t"),
                        c => out.push_str(&printable(&c.to_string())),
                    }
                }
                for byte in chunk.invalid() {
                    let _ = write!(out, "\\x{byte:02x}");
                }
            }
            out.push('"');
            out
        }
    }
}

fn size(size: Option<u64>) -> String {
    size.map_or_else(|| "absent".to_owned(), |s| format!("{s} bytes"))
}

fn short(id: Option<chainlock_diff::ObjectId>) -> String {
    id.map_or_else(|| "none".to_owned(), |id| id.to_hex()[..12].to_owned())
}

fn show_human(
    changes: &chainlock_diff::Changes,
    options: &ReviewOptions,
    range: &RangeArgs,
    color: bool,
    out: &mut impl Write,
) -> Result<(), StreamError> {
    let style = Style { on: color };
    writeln!(
        out,
        "base {}",
        commit_label(changes.range.base, range.base.as_deref())
    )?;
    writeln!(
        out,
        "head {}",
        commit_label(Some(changes.range.head), Some(&range.head))
    )?;
    let summary: ReviewSummary =
        changes.review(options, |file: FileDiff| -> Result<(), StreamError> {
            write_file(&file, &style, out)?;
            Ok(())
        })?;
    writeln!(
        out,
        "\n{} changed, {}(+), {}(-), {} not shown as text",
        count(summary.files, "file", "files"),
        count(summary.additions, "insertion", "insertions"),
        count(summary.deletions, "deletion", "deletions"),
        summary.not_shown
    )?;
    Ok(())
}

fn write_file(file: &FileDiff, style: &Style, out: &mut impl Write) -> io::Result<()> {
    let path = display_path(&file.path);
    let status = file.status.letter();
    let modes = if file.old_mode != file.new_mode
        && !file.old_mode.is_absent()
        && !file.new_mode.is_absent()
    {
        format!(", mode {} -> {}", file.old_mode, file.new_mode)
    } else if file.old_mode.is_absent() || file.new_mode.is_absent() {
        format!(
            ", mode {}",
            if file.old_mode.is_absent() {
                file.new_mode
            } else {
                file.old_mode
            }
        )
    } else {
        String::new()
    };
    let detail = match file.content {
        Content::Text { lossy } => format!(
            "+{} -{}{modes}{}",
            file.additions.unwrap_or(0),
            file.deletions.unwrap_or(0),
            if lossy {
                ", not valid UTF-8 (shown with replacement characters)"
            } else {
                ""
            }
        ),
        Content::ModeOnly => format!("content unchanged{modes}"),
        Content::Binary { old_size, new_size } => {
            format!(
                "binary, {} -> {}, not shown{modes}",
                size(old_size),
                size(new_size)
            )
        }
        Content::TooLarge { old_size, new_size } => format!(
            "large file, {} -> {}, not shown (raise --max-file-bytes to see it){modes}",
            size(old_size),
            size(new_size)
        ),
        Content::Submodule => {
            format!(
                "submodule {} -> {}{modes}",
                short(file.old_id),
                short(file.new_id)
            )
        }
    };
    writeln!(
        out,
        "\n{}  {}",
        style.paint("1", &format!("{status} {path}")),
        detail
    )?;
    for hunk in &file.hunks {
        let header = format!(
            "@@ -{},{} +{},{} @@",
            hunk.old_start, hunk.old_lines, hunk.new_start, hunk.new_lines
        );
        writeln!(out, "{}", style.paint("36", &header))?;
        for line in &hunk.lines {
            let (sign, code, emphasis) = match line.kind {
                LineKind::Context => (' ', "", ""),
                LineKind::Added => ('+', "32", "7;32"),
                LineKind::Removed => ('-', "31", "7;31"),
            };
            let mut text = String::new();
            for segment in &line.segments {
                let piece = printable(&segment.text);
                text.push_str(&match (segment.changed, code.is_empty()) {
                    (true, false) => style.paint(emphasis, &piece),
                    (false, false) => style.paint(code, &piece),
                    _ => piece,
                });
            }
            let sign = if code.is_empty() {
                sign.to_string()
            } else {
                style.paint(code, &sign.to_string())
            };
            writeln!(out, "{sign}{text}")?;
            if line.no_newline {
                writeln!(out, "\\ No newline at end of file")?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_with_controls_or_invalid_utf8_are_quoted() {
        assert_eq!(display_path(b"src/main.rs"), "src/main.rs");
        assert_eq!(display_path(b"caf\xe9.txt"), "\"caf\\xe9.txt\"");
        assert_eq!(display_path(b"a\nb\tc"), "\"a\\nb\\tc\"");
        assert_eq!(display_path(b"\x1b[2Kx"), "\"\\u{1b}[2Kx\"");
        assert_eq!(display_path(b"\"quoted\""), "\"\\\"quoted\\\"\"");
    }

    #[test]
    fn terminal_controls_in_content_are_made_visible() {
        assert_eq!(printable("ok\there"), "ok\there");
        assert_eq!(
            printable("evil\x1b[1A\x1b[2Kline\r"),
            "evil\\u{1b}[1A\\u{1b}[2Kline\\r"
        );
    }
}
