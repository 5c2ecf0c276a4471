//! Isolation of the build command from the builder's machine (bubblewrap).
//!
//! The build runs code from the repository under test and from every dependency it installs,
//! as the builder's own user. Without isolation it could read the builder's key file, the
//! tokens in the attesting process's environment (`/proc/PARENT/environ`), anything in the
//! builder's home, or leave a process behind that rewrites files later. Under
//! [`Sandbox::Bubblewrap`] the build sees:
//! - the whole filesystem read-only, except the clone and its scratch `HOME` (read-write);
//! - empty, private `/tmp`, `/var/tmp`, `/home`, `/root` and `/run/user` (and the caller's
//!   `HOME` wherever it is), so the builder's files and session sockets are out of reach;
//! - the key file replaced by an empty one (and any other path given to hide);
//! - its own process namespace: no other process is visible in `/proc`, and when the build
//!   ends every process it started dies with the namespace (even after `setsid`);
//! - no capabilities, a new session (no terminal injection), its own IPC and host name.
//!
//! The network stays available: builds fetch dependencies.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{Error, Result};

/// Directories emptied inside the sandbox (when they exist), before anything is exposed.
const HIDDEN_DIRS: [&str; 5] = ["/tmp", "/var/tmp", "/home", "/root", "/run/user"];

/// How the build command is isolated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sandbox {
    /// Under bubblewrap (`bwrap`, Debian package `bubblewrap`), as described in the module
    /// documentation.
    Bubblewrap(Isolation),
    /// No isolation beyond the scrubbed environment: the build can read everything the
    /// builder's user can, the key file included. Only for machines that are themselves a
    /// throw-away sandbox.
    None,
}

/// What the bubblewrap sandbox hides and exposes besides its defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Isolation {
    /// Paths made unreadable: a file becomes empty, a directory empty (the key file goes
    /// here).
    pub hide: Vec<PathBuf>,
    /// Paths shown read-only even inside a hidden directory (a toolchain under the home
    /// directory, such as `~/.cargo` or `~/.nvm`).
    pub expose: Vec<PathBuf>,
    /// Directories shown read-write (build caches).
    pub share: Vec<PathBuf>,
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox::Bubblewrap(Isolation::default())
    }
}

impl Sandbox {
    /// The command that runs `/bin/sh -c shell_command` in the checkout `src`, with `work`
    /// (the clone's temporary directory, holding `src` and the scratch `HOME`) writable.
    /// The caller sets the environment, the working directory and standard streams.
    pub(crate) fn command(&self, work: &Path, src: &Path, shell_command: &str) -> Result<Command> {
        match self {
            Sandbox::None => {
                let mut cmd = Command::new("/bin/sh");
                cmd.arg("-c").arg(shell_command);
                Ok(cmd)
            }
            Sandbox::Bubblewrap(isolation) => {
                probe_bubblewrap()?;
                let home = std::env::var_os("HOME").map(PathBuf::from);
                let mut cmd = Command::new("bwrap");
                cmd.args(bubblewrap_args(isolation, work, src, home.as_deref())?)
                    .arg("--")
                    .arg("/bin/sh")
                    .arg("-c")
                    .arg(shell_command);
                Ok(cmd)
            }
        }
    }
}

/// Checks that bubblewrap is installed and can create its namespaces here.
fn probe_bubblewrap() -> Result<()> {
    let out = Command::new("bwrap")
        .args(["--ro-bind", "/", "/", "--unshare-pid", "--", "/bin/true"])
        .stdin(Stdio::null())
        .output();
    let problem = match out {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            "bubblewrap (bwrap) is not installed; install it (Debian: apt-get install bubblewrap)"
                .to_string()
        }
        Err(e) => format!("cannot run bwrap: {e}"),
        Ok(out) if out.status.success() => return Ok(()),
        Ok(out) => format!(
            "bwrap cannot create its sandbox here ({}): enable unprivileged user namespaces \
             (sysctl kernel.unprivileged_userns_clone=1)",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
    };
    Err(Error::Sandbox {
        problem: format!(
            "{problem}; or, on a machine that is itself disposable, pass --no-sandbox (the \
             build can then read everything your user can, the builder key included)"
        ),
    })
}

/// The bubblewrap arguments (before `--` and the command), in mount order: later mounts
/// cover earlier ones.
fn bubblewrap_args(
    isolation: &Isolation,
    work: &Path,
    src: &Path,
    home: Option<&Path>,
) -> Result<Vec<OsString>> {
    let mut args: Vec<OsString> = [
        "--die-with-parent",
        "--new-session",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--cap-drop",
        "ALL",
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    let mut hidden: Vec<PathBuf> = HIDDEN_DIRS
        .iter()
        .map(PathBuf::from)
        .filter(|dir| dir.is_dir())
        .collect();
    if let Some(home) = home.filter(|h| h.is_absolute() && h.is_dir()) {
        hidden.push(home.to_path_buf());
    }
    for dir in &hidden {
        args.extend(["--tmpfs".into(), dir.into()]);
    }
    for (flag, paths) in [
        ("--ro-bind", &isolation.expose),
        ("--bind", &isolation.share),
    ] {
        for path in paths {
            let path = absolute(path)?;
            args.extend([flag.into(), path.clone().into(), path.into()]);
        }
    }
    // Hidden paths last but for the checkout, so that no exposed or shared directory
    // brings them back.
    for path in &isolation.hide {
        let path = absolute(path)?;
        if path.is_dir() {
            args.extend(["--tmpfs".into(), path.into()]);
        } else {
            args.extend(["--ro-bind".into(), "/dev/null".into(), path.into()]);
        }
    }
    let work = absolute(work)?;
    args.extend(["--bind".into(), work.clone().into(), work.into()]);
    args.extend(["--chdir".into(), absolute(src)?.into()]);
    Ok(args)
}

/// The canonical absolute form of an existing path.
fn absolute(path: &Path) -> Result<PathBuf> {
    path.canonicalize()
        .map_err(|e| Error::io("cannot find the sandbox path", path, e))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn position(args: &[OsString], pair: [&str; 2]) -> usize {
        args.windows(2)
            .position(|w| w[0] == pair[0] && w[1] == pair[1])
            .unwrap_or_else(|| panic!("{pair:?} missing from {args:?}"))
    }

    #[test]
    fn the_checkout_is_mounted_after_what_hides_it() {
        let tmp = tempfile::tempdir().unwrap();
        let work = tmp.path().canonicalize().unwrap();
        let src = work.join("src");
        std::fs::create_dir(&src).unwrap();
        let key = work.join("builder.pem");
        std::fs::write(&key, "secret").unwrap();
        let cache = tempfile::tempdir().unwrap();
        let isolation = Isolation {
            hide: vec![key.clone()],
            expose: vec![],
            share: vec![cache.path().to_path_buf()],
        };
        let args = bubblewrap_args(&isolation, &work, &src, None).unwrap();
        let root = position(&args, ["--ro-bind", "/"]);
        let tmp_hidden = position(&args, ["--tmpfs", "/tmp"]);
        let shared = cache.path().canonicalize().unwrap();
        let bind_shared = position(&args, ["--bind", shared.to_str().unwrap()]);
        let key_hidden = position(&args, ["/dev/null", key.to_str().unwrap()]);
        let bind_work = position(&args, ["--bind", work.to_str().unwrap()]);
        assert!(
            root < tmp_hidden && tmp_hidden < bind_shared && bind_shared < key_hidden,
            "{args:?}"
        );
        assert!(tmp_hidden < bind_work, "{args:?}");
        position(&args, ["--chdir", src.to_str().unwrap()]);
        for flag in ["--unshare-pid", "--die-with-parent", "--new-session"] {
            assert!(args.iter().any(|a| a == flag), "{flag} missing");
        }
    }

    #[test]
    fn a_key_outside_the_emptied_directories_is_covered() {
        // /etc/hostname stands for a key file kept outside /home, /root and /tmp.
        let work = tempfile::tempdir().unwrap();
        let isolation = Isolation {
            hide: vec![PathBuf::from("/etc/hostname"), PathBuf::from("/etc/ssl")],
            ..Isolation::default()
        };
        let args = bubblewrap_args(&isolation, work.path(), work.path(), None).unwrap();
        position(&args, ["/dev/null", "/etc/hostname"]);
        position(&args, ["--tmpfs", "/etc/ssl"]);
    }
}
