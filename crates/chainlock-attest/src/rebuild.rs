//! The builder's side: rebuild a release from its source and attest what came out.
//!
//! The build runs in a fresh clone, in a temporary directory removed afterwards, with a
//! scrubbed environment: `PATH`, `HOME` (an empty directory inside the temporary one),
//! `LANG=C.UTF-8`, `TZ=UTC` and `SOURCE_DATE_EPOCH` (the commit's committer time), and nothing
//! else, so no token or credential of the builder's session can leak into a build. The
//! build's output goes to this process's standard error, keeping standard output for reports.
//! The build runs in a sandbox ([`crate::sandbox`]: the builder's files, the key and other
//! processes out of reach) and in a process group of its own, stopped (with everything it
//! started) when it outlives its time limit, and cleared of leftover processes when it ends.
//! Nothing is signed unless the clone, the build and the artifact match all succeeded.

use std::ffi::OsString;
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::dsse::{self, Envelope, PAYLOAD_TYPE};
use crate::key::BuilderKey;
use crate::sandbox::Sandbox;
use crate::statement::{is_lower_hex, RebuildFacts, Statement};
use crate::{Error, Result};
use chainlock_protocol::text::quoted;

/// The `PATH` a build gets when the builder's own session has none.
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Variables that would point git at another repository than the clone: never passed on.
const GIT_LOCATION_VARS: [&str; 8] = [
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_CEILING_DIRECTORIES",
];

/// How long a build may run when the caller does not say: 30 minutes.
pub const DEFAULT_BUILD_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// What to rebuild, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildSpec {
    /// The repository URL (anything `git clone` takes; `file://` works).
    pub repository: String,
    /// The source revision: a full commit id, a tag or a unique commit-id prefix, resolved
    /// in the fresh clone; what is built and attested is the full commit it names
    /// ([`RebuildFacts::commit`]).
    pub commit: String,
    /// The build command, run by `/bin/sh -c` at the root of the checkout.
    pub command: String,
    /// A glob, relative to the checkout, that must match exactly one file: the artifact.
    pub artifact: String,
    /// How long the build command may run before it is stopped (and nothing is attested).
    pub timeout: Duration,
    /// How the build is isolated from the builder's machine.
    pub sandbox: Sandbox,
}

/// Clones, builds and hashes: the facts a builder attests.
pub fn rebuild(spec: &RebuildSpec) -> Result<RebuildFacts> {
    rebuild_in(spec, None).map(|(facts, _)| facts)
}

/// Clones, builds and hashes as [`rebuild`] does, and keeps the artifact: written to
/// `out_dir` under its own name (never replacing a file), the bytes that were hashed. For a
/// publisher building what it publishes the way its builders do.
pub fn rebuild_keeping(spec: &RebuildSpec, out_dir: &Path) -> Result<(RebuildFacts, PathBuf)> {
    let (facts, kept) = rebuild_in(spec, Some(out_dir))?;
    let kept = kept.ok_or_else(|| Error::Artifact {
        pattern: spec.artifact.clone(),
        problem: "was not kept".into(),
    })?;
    Ok((facts, kept))
}

fn rebuild_in(spec: &RebuildSpec, keep: Option<&Path>) -> Result<(RebuildFacts, Option<PathBuf>)> {
    check_revision(&spec.commit)?;
    let pattern = artifact_pattern(&spec.artifact)?;
    let work = tempfile::Builder::new()
        .prefix("chainlock-rebuild-")
        .tempdir()
        .map_err(|e| {
            Error::io(
                "cannot create a build directory in",
                std::env::temp_dir(),
                e,
            )
        })?;
    let src = work.path().join("src");
    let home = work.path().join("home");
    std::fs::create_dir(&home).map_err(|e| Error::io("cannot create", &home, e))?;

    let git_err = |action: &'static str, detail: String| Error::Git {
        action,
        repository: spec.repository.clone(),
        detail,
    };
    git(
        None,
        &[
            OsString::from("clone"),
            "--quiet".into(),
            "--no-checkout".into(),
            // Never hard-link a local repository's objects: the build could rewrite them
            // and poison every later rebuild from that repository.
            "--no-local".into(),
            "--".into(),
            spec.repository.clone().into(),
            src.clone().into(),
        ],
    )
    .map_err(|d| git_err("clone", d))?;
    // The revision as the clone knows it (tags come with the clone): from here on only the
    // full commit id is used, and it is what the statement attests.
    let resolved = git(
        Some(&src),
        &[
            "rev-parse".into(),
            "--verify".into(),
            "--quiet".into(),
            "--end-of-options".into(),
            format!("{}^{{commit}}", spec.commit).into(),
        ],
    )
    .map_err(|d| {
        git_err(
            "checkout",
            format!(
                "{} names no commit in the repository (is it pushed? is a prefix ambiguous?): {d}",
                quoted(&spec.commit)
            ),
        )
    })?;
    let commit = resolved.trim().to_owned();
    if !is_lower_hex(&commit, &[40, 64])
        || (is_lower_hex(&spec.commit, &[40, 64]) && commit != spec.commit)
    {
        return Err(git_err(
            "checkout",
            format!("{} resolved to {commit:?}", quoted(&spec.commit)),
        ));
    }
    git(
        Some(&src),
        &[
            "checkout".into(),
            "--quiet".into(),
            "--detach".into(),
            commit.clone().into(),
        ],
    )
    .map_err(|d| git_err("checkout", format!("commit {commit}: {d}")))?;
    let head = git(Some(&src), &["rev-parse".into(), "HEAD".into()])
        .map_err(|d| git_err("rev-parse", d))?;
    if head.trim() != commit {
        return Err(git_err(
            "checkout",
            format!("checked out {} instead of {commit}", head.trim()),
        ));
    }
    let epoch_text = git(
        Some(&src),
        &[
            "show".into(),
            "-s".into(),
            "--format=%ct".into(),
            "HEAD".into(),
        ],
    )
    .map_err(|d| git_err("show", d))?;
    let source_date_epoch: i64 = epoch_text.trim().parse().map_err(|_| {
        git_err(
            "show",
            format!("unexpected commit time {:?}", epoch_text.trim()),
        )
    })?;

    let build = spec.sandbox.command(work.path(), &src, &spec.command)?;
    match run_build(build, &src, &home, source_date_epoch, spec.timeout) {
        Ok(()) => {}
        Err(BuildEnd::Failed(status)) => {
            return Err(Error::Build {
                command: spec.command.clone(),
                commit: commit.clone(),
                status,
            })
        }
        Err(BuildEnd::TimedOut) => {
            return Err(Error::BuildTimeout {
                command: spec.command.clone(),
                commit: commit.clone(),
                seconds: spec.timeout.as_secs(),
            })
        }
    }

    let artifact = find_artifact(&src, &pattern, &spec.artifact)?;
    let artifact_name = artifact
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Error::Artifact {
            pattern: spec.artifact.clone(),
            problem: "matched a path with no file name".into(),
        })?;
    let artifact_sha256 = hash_artifact(&src, &artifact, &spec.artifact)?;
    let kept = match keep {
        None => None,
        Some(out_dir) => {
            // The build and everything it started have ended: the file stays as hashed,
            // which the bytes kept are checked against.
            let bytes =
                std::fs::read(&artifact).map_err(|e| Error::io("cannot read", &artifact, e))?;
            if <[u8; 32]>::from(Sha256::digest(&bytes)) != artifact_sha256 {
                return Err(Error::Artifact {
                    pattern: spec.artifact.clone(),
                    problem: "changed after it was hashed".into(),
                });
            }
            let dest = out_dir.join(&artifact_name);
            chainlock_fs::write(&dest, &bytes, chainlock_fs::Options::NEW_PUBLIC).map_err(|e| {
                match e {
                    chainlock_fs::Error::Exists { path } => Error::ArtifactExists { path },
                    other => Error::io("cannot write", &dest, std::io::Error::other(other)),
                }
            })?;
            Some(dest)
        }
    };
    let facts = RebuildFacts {
        repository: spec.repository.clone(),
        commit,
        command: spec.command.clone(),
        artifact_glob: spec.artifact.clone(),
        artifact_name,
        artifact_sha256,
        source_date_epoch,
    };
    Ok((facts, kept))
}

/// Rebuilds and signs: the DSSE envelope of the in-toto statement about the rebuild.
pub fn attest(spec: &RebuildSpec, key: &BuilderKey) -> Result<(Envelope, RebuildFacts)> {
    let facts = rebuild(spec)?;
    let payload = Statement::for_rebuild(&facts, &key.public_key()).to_payload()?;
    Ok((dsse::sign(PAYLOAD_TYPE, &payload, key), facts))
}

/// A revision git may be handed: not an option, no whitespace or controls, not absurdly long.
fn check_revision(rev: &str) -> Result<()> {
    let bad = |why: &str| Err(Error::parameter("commit", rev, why));
    if rev.is_empty() || rev.len() > 256 {
        return bad("give a commit id, a tag or a commit-id prefix");
    }
    if rev.starts_with('-') {
        return bad("a revision cannot start with '-'");
    }
    if rev.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("a revision has no spaces or control characters");
    }
    Ok(())
}

/// Parses the artifact glob, which must stay inside the checkout.
fn artifact_pattern(glob_text: &str) -> Result<glob::Pattern> {
    let bad = |problem: &str| Error::Artifact {
        pattern: glob_text.to_string(),
        problem: problem.to_string(),
    };
    let path = Path::new(glob_text);
    if glob_text.is_empty()
        || path.is_absolute()
        || path
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(bad(
            "must be a relative path inside the checkout (no `/` prefix, no `..`)",
        ));
    }
    glob::Pattern::new(glob_text).map_err(|e| bad(&format!("is not a valid glob: {e}")))
}

/// The one regular file under `src` that `pattern` matches.
fn find_artifact(src: &Path, pattern: &glob::Pattern, glob_text: &str) -> Result<PathBuf> {
    let full = format!(
        "{}/{}",
        glob::Pattern::escape(&src.to_string_lossy()),
        pattern.as_str()
    );
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    let entries = glob::glob_with(&full, options).map_err(|e| Error::Artifact {
        pattern: glob_text.to_string(),
        problem: format!("is not a valid glob: {e}"),
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| {
            let path = e.path().to_path_buf();
            Error::io("cannot read", path, e.into())
        })?;
        let meta = path
            .symlink_metadata()
            .map_err(|e| Error::io("cannot inspect", &path, e))?;
        if meta.file_type().is_symlink() {
            return Err(Error::Artifact {
                pattern: glob_text.to_string(),
                problem: format!(
                    "matched a symbolic link ({}); the artifact must be a regular file",
                    rel(src, &path)
                ),
            });
        }
        if meta.is_file() {
            files.push(path);
        }
    }
    match files.len() {
        1 => Ok(files.remove(0)),
        0 => Err(Error::Artifact {
            pattern: glob_text.to_string(),
            problem: "matched no file after the build; check the build command's output and the pattern".into(),
        }),
        n => Err(Error::Artifact {
            pattern: glob_text.to_string(),
            problem: format!(
                "matched {n} files ({}); it must match exactly one, so make the pattern more specific",
                files.iter().map(|p| rel(src, p)).collect::<Vec<_>>().join(", ")
            ),
        }),
    }
}

fn rel(base: &Path, path: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// SHA-256 of the artifact, refusing a path that leaves the checkout through a symbolic
/// link in any of its components (a linked directory such as `dist -> /etc`), and checking
/// that the file hashed is the one inspected.
fn hash_artifact(src: &Path, path: &Path, glob_text: &str) -> Result<[u8; 32]> {
    let outside = || Error::Artifact {
        pattern: glob_text.to_string(),
        problem: format!(
            "matched {}, which leads out of the checkout or through a symbolic link; the \
             artifact must be a regular file inside the checkout, reached without links",
            rel(src, path)
        ),
    };
    let checkout = src
        .canonicalize()
        .map_err(|e| Error::io("cannot resolve", src, e))?;
    let resolved = path
        .canonicalize()
        .map_err(|e| Error::io("cannot resolve", path, e))?;
    let relative = path.strip_prefix(src).map_err(|_| outside())?;
    if !resolved.starts_with(&checkout) || resolved != checkout.join(relative) {
        return Err(outside());
    }
    let file = std::fs::File::open(&resolved).map_err(|e| Error::io("cannot open", path, e))?;
    let opened = file
        .metadata()
        .map_err(|e| Error::io("cannot inspect", path, e))?;
    let listed = resolved
        .symlink_metadata()
        .map_err(|e| Error::io("cannot inspect", path, e))?;
    if !opened.is_file() || (opened.dev(), opened.ino()) != (listed.dev(), listed.ino()) {
        return Err(outside());
    }
    sha256_reader(file, path)
}

/// SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<[u8; 32]> {
    let file = std::fs::File::open(path).map_err(|e| Error::io("cannot open", path, e))?;
    sha256_reader(file, path)
}

fn sha256_reader(mut file: std::fs::File, path: &Path) -> Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| Error::io("cannot read", path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().into())
}

/// Runs git with the caller's environment minus anything that would redirect it.
fn git(dir: Option<&Path>, args: &[OsString]) -> std::result::Result<String, String> {
    let mut cmd = Command::new("git");
    if let Some(d) = dir {
        cmd.arg("-C").arg(d);
    }
    cmd.args(args).stdin(Stdio::null());
    for var in GIT_LOCATION_VARS {
        cmd.env_remove(var);
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run git ({e}); install git (Debian: apt-get install git)"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    String::from_utf8(out.stdout).map_err(|_| "git printed non-UTF-8 output".to_string())
}

/// How a build that did not succeed ended.
enum BuildEnd {
    /// It could not start, or exited unsuccessfully (the status, as text).
    Failed(String),
    /// It ran past its time limit and was killed.
    TimedOut,
}

/// Runs the build command in the checkout with the scrubbed environment, in a process group
/// of its own, for at most `timeout`.
fn run_build(
    mut build: Command,
    src: &Path,
    home: &Path,
    source_date_epoch: i64,
    timeout: Duration,
) -> std::result::Result<(), BuildEnd> {
    let path = std::env::var_os("PATH")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| DEFAULT_PATH.into());
    // The build's standard output joins its standard error, so that ours stays clean.
    let stdout = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null());
    let mut child = build
        .current_dir(src)
        .env_clear()
        .env("PATH", path)
        .env("HOME", home)
        .env("LANG", "C.UTF-8")
        .env("TZ", "UTC")
        .env("SOURCE_DATE_EPOCH", source_date_epoch.to_string())
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::inherit())
        // Its own process group (id = the shell's pid), so that everything the build starts
        // can be stopped together.
        .process_group(0)
        .spawn()
        .map_err(|e| BuildEnd::Failed(format!("cannot start the build: {e}")))?;
    let group = child.id();
    let finished = wait_until(&mut child, Instant::now() + timeout);
    // Whether it succeeded, failed or timed out, nothing it started may outlive it (a
    // background process could still write into the checkout while it is hashed). The shell
    // is not reaped yet, so its pid, the group's id, cannot have been reused.
    kill_process_group(group);
    let status = child
        .wait()
        .map_err(|e| BuildEnd::Failed(format!("cannot wait for the build: {e}")))?;
    match finished {
        Ok(true) if status.success() => Ok(()),
        Ok(true) => Err(BuildEnd::Failed(status.to_string())),
        Ok(false) => Err(BuildEnd::TimedOut),
        Err(e) => Err(BuildEnd::Failed(format!("cannot wait for the build: {e}"))),
    }
}

/// Waits until `child` has exited (true) or `deadline` has passed (false). On Linux it does
/// not reap the child, so that its pid stays reserved until the group is killed.
fn wait_until(child: &mut std::process::Child, deadline: Instant) -> std::io::Result<bool> {
    let pid = child.id();
    loop {
        let exited = match exited_unreaped(pid) {
            Some(exited) => exited,
            // No /proc: reaps it (std keeps the status for the `wait` that follows).
            None => child.try_wait()?.is_some(),
        };
        if exited {
            return Ok(true);
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(false);
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(50)));
    }
}

/// Whether our child `pid` has exited but is not reaped yet (a zombie), from
/// `/proc/PID/stat`; `None` where that cannot be read.
fn exited_unreaped(pid: u32) -> Option<bool> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "PID (COMM) STATE ...": COMM may hold spaces and parentheses, the state follows the
    // last ')'.
    let state = stat.rsplit_once(')')?.1.trim_start().chars().next()?;
    Some(matches!(state, 'Z' | 'X'))
}

/// Sends SIGKILL to every process of the group (through the shell's `kill`, as the standard
/// library has no call for it; dash, Debian's /bin/sh, takes no `--` there); a group with no
/// process left is not an error.
fn kill_process_group(group: u32) {
    let _ = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("kill -KILL -{group} 2>/dev/null"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests {
    use super::*;

    #[test]
    fn artifact_patterns_stay_inside_the_checkout() {
        assert!(artifact_pattern("*.tgz").is_ok());
        assert!(artifact_pattern("dist/*.whl").is_ok());
        assert!(artifact_pattern("/etc/passwd").is_err());
        assert!(artifact_pattern("../x/*.tgz").is_err());
        assert!(artifact_pattern("dist/../../x").is_err());
        assert!(artifact_pattern("").is_err());
        assert!(artifact_pattern("[").is_err());
    }
}
