//! `chainlock builder`: builder keys (Ed25519) for signing rebuild attestations.
//!
//! Builder keys live in a file on the build node, never in the maintainers' keychain: a
//! compromised build node must not be able to co-sign a release.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use chainlock_attest::BuilderKey;

use crate::output::print_json;

/// Arguments of `chainlock builder`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: BuilderCommand,
}

#[derive(Debug, clap::Subcommand)]
enum BuilderCommand {
    /// Builder keys: create one, or show the public key of one.
    #[command(subcommand)]
    Key(KeyCommand),
}

#[derive(Debug, clap::Subcommand)]
enum KeyCommand {
    /// Create a new Ed25519 builder key in a file readable only by you (never overwrites).
    New {
        /// Where to write the key (PKCS#8 PEM) [default: $XDG_CONFIG_HOME/chainlock/builder-ed25519.pem].
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the public key and key id of a builder key file.
    Show {
        /// The key file [default: $XDG_CONFIG_HOME/chainlock/builder-ed25519.pem].
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `chainlock builder`.
pub fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        BuilderCommand::Key(KeyCommand::New { out, json }) => {
            let path = match out {
                Some(p) => p,
                None => {
                    let path = default_key_path()?;
                    create_private_dir(&path)?;
                    path
                }
            };
            let key = BuilderKey::generate()?;
            key.write_new(&path)
                .context("the builder key was not created")?;
            report(&path, &key, json, true)
        }
        BuilderCommand::Key(KeyCommand::Show { key, json }) => {
            let key = match key {
                Some(k) => k,
                None => default_key_path()?,
            };
            let loaded = BuilderKey::load(&key)?;
            report(&key, &loaded, json, false)
        }
    }
}

fn report(path: &Path, key: &BuilderKey, json: bool, created: bool) -> Result<ExitCode> {
    let public = key.public_key();
    if json {
        print_json(&serde_json::json!({
            "path": path.display().to_string(),
            "public_key": public.to_hex(),
            "key_id": public.key_id(),
        }))?;
    } else {
        if created {
            outln!("created builder key {} (mode 0600)", path.display());
        } else {
            outln!("builder key {}", path.display());
        }
        outln!("public key  {}", public.to_hex());
        outln!("key id      {}", public.key_id());
        if created {
            outln!("To trust this builder, add its public key to the policy's \"builders\".");
            if path == default_key_path()?.as_path() {
                outln!("`chainlock attest` uses this key when no --key is given.");
            } else {
                outln!(
                    "Attest with it: chainlock attest ... --key {}",
                    path.display()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Where builder keys live unless `--out`/`--key` say otherwise:
/// `$XDG_CONFIG_HOME/chainlock/builder-ed25519.pem`, or under `~/.config`. `builder key new`
/// writes there and `builder key show` and `attest` read from there.
pub fn default_key_path() -> Result<PathBuf> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => {
            let home = std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .context("neither XDG_CONFIG_HOME nor HOME is set: pass --out FILE")?;
            PathBuf::from(home).join(".config")
        }
    };
    Ok(base.join("chainlock").join("builder-ed25519.pem"))
}

/// Creates the key's directory (mode 0700) if needed.
fn create_private_dir(key: &Path) -> Result<()> {
    let Some(dir) = key.parent() else {
        return Ok(());
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| {
            format!(
                "cannot create {}: pass --out FILE to put the key elsewhere",
                dir.display()
            )
        })
}
