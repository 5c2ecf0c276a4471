//! `chainlock key`: maintainer keys in the OS keychain, and the public key of a Ledger.
//!
//! Secret keys are generated (or imported) straight into the OS keychain and never printed,
//! logged or written to a file; only public keys leave this command.

use std::io::Read;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use chainlock_signer::keychain::{self, KeyInfo, Keychain};
use chainlock_signer::ledger::{screens, DerivationPath};
use chainlock_signer::{KeyUri, OpenOptions, SignerIdentity};
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::output::{print_json, printable};

/// Arguments of `chainlock key`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Generate a new maintainer key in the OS keychain.
    New {
        /// A label to recognise the key by ("alice laptop").
        #[arg(long, default_value = "")]
        label: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List the maintainer keys in the OS keychain (from the key index; no secret is read).
    List {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show a key and check that the keychain still holds it.
    Show {
        /// The key id (or a unique prefix of at least 8 digits), or `keychain://<key-id>`.
        id: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Delete a key from the OS keychain and the index. Irreversible.
    Delete {
        /// The key id (or a unique prefix of at least 8 digits), or `keychain://<key-id>`.
        id: String,
        /// Confirm the deletion: without it nothing is deleted.
        #[arg(long)]
        yes: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Import an existing secret key into the OS keychain.
    ///
    /// The key is read from standard input (or --file) as 64 hex digits or a compressed-key
    /// WIF (K.../L..., or c... for testnet). Never pass a key as an argument: it would be
    /// visible to other users and kept in shell history.
    Import {
        /// Read the key from this file instead of standard input.
        #[arg(long, value_name = "PATH")]
        file: Option<String>,
        /// A label to recognise the key by.
        #[arg(long, default_value = "")]
        label: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show the public key of a Ledger (Bitcoin Cash app) at a derivation path.
    Ledger {
        /// The BIP32 path; the default ChainLock path when absent.
        #[arg(long, value_name = "PATH")]
        path: Option<String>,
        /// Show the address on the device and wait for the user to confirm it.
        #[arg(long)]
        confirm_on_device: bool,
        /// Use a Speculos emulator at HOST:PORT instead of a USB Ledger (also
        /// CHAINLOCK_LEDGER_TCP).
        #[arg(long, value_name = "HOST:PORT")]
        ledger_tcp: Option<String>,
        /// Also add the key to your key index under this label (as Settings > Keys does in
        /// the app), so `keychain://`-style listings, `sign` and the app know it.
        #[arg(long, value_name = "LABEL")]
        add: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Set the label of a key (keychain or Ledger) in your key index.
    Label {
        /// The key id (or a unique prefix of at least 8 digits), or `keychain://<key-id>`.
        id: String,
        /// The new label: 1 to 100 visible characters.
        label: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `chainlock key`.
pub fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        Sub::New { label, json } => {
            let info = Keychain::new(None)?.generate(&label)?;
            report_key("created", &info, json)
        }
        Sub::List { json } => list(json),
        Sub::Show { id, json } => show(&id, json),
        Sub::Delete { id, yes, json } => delete(&id, yes, json),
        Sub::Import { file, label, json } => import(file.as_deref(), &label, json),
        Sub::Ledger {
            path,
            confirm_on_device,
            ledger_tcp,
            add,
            json,
        } => ledger(
            path.as_deref(),
            confirm_on_device,
            ledger_tcp,
            add.as_deref(),
            json,
        ),
        Sub::Label { id, label, json } => {
            let store = Keychain::new(None)?;
            let key_id = resolve_any(&store, &id)?.key_id;
            let info = store.set_label(&key_id, &label)?;
            report_key("labelled", &info, json)
        }
    }
}

/// JSON of a keychain key, in the shape `key list` and `key show` share.
fn key_json(info: &KeyInfo) -> Value {
    json!({
        "key_id": info.key_id,
        "public_key": info.public_key.to_hex(),
        "label": info.label,
        "kind": info.kind().as_str(),
        "uri": info.uri(),
    })
}

fn key_text(info: &KeyInfo) -> String {
    format!(
        "key id:     {}\nlabel:      {}\npublic key: {}\nuri:        {}\n",
        info.key_id,
        printable(&info.label),
        info.public_key.to_hex(),
        info.uri()
    )
}

fn report_key(verb: &str, info: &KeyInfo, json: bool) -> Result<ExitCode> {
    if json {
        print_json(&key_json(info))?;
    } else {
        out!("{verb} key {}\n{}", info.key_id, key_text(info));
    }
    Ok(ExitCode::SUCCESS)
}

fn list(json: bool) -> Result<ExitCode> {
    let store = Keychain::new(None)?;
    let keys = store.list()?;
    if json {
        print_json(&json!({ "keys": keys.iter().map(key_json).collect::<Vec<_>>() }))?;
    } else if keys.is_empty() {
        outln!(
            "no keys in {} (create one with `chainlock key new --label NAME`)",
            store.index_path().display()
        );
    } else {
        for key in &keys {
            // The index is a file anyone with the account can edit: labels are shown escaped.
            outln!("{}  {}", key.key_id, printable(&key.label));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A key id, unique prefix, or `keychain://` URI, resolved against the index.
fn resolve(store: &Keychain, id: &str) -> Result<KeyInfo> {
    let id = match KeyUri::parse(id) {
        Ok(KeyUri::Keychain { key_id }) => key_id,
        Ok(KeyUri::Ledger { .. }) => {
            bail!("{id} is a Ledger key: use `chainlock key ledger --path PATH` to show it")
        }
        Err(_) => id.to_string(),
    };
    Ok(store.find(&id)?)
}

/// A key id, unique prefix, `keychain://` URI, or the `ledger://` URI of a Ledger key in the
/// index, resolved against the index.
fn resolve_any(store: &Keychain, id: &str) -> Result<KeyInfo> {
    if let Ok(KeyUri::Ledger { path }) = KeyUri::parse(id) {
        let path = DerivationPath::parse(&path)?.to_string();
        return store
            .list()?
            .into_iter()
            .find(|k| k.ledger_path.as_deref() == Some(path.as_str()))
            .with_context(|| {
                format!(
                    "no Ledger key on path {path} in {}: add it with `chainlock key ledger --add LABEL`",
                    store.index_path().display()
                )
            });
    }
    resolve(store, id)
}

fn show(id: &str, json: bool) -> Result<ExitCode> {
    let store = Keychain::new(None)?;
    let info = resolve_any(&store, id)?;
    // The index may be stale: read the entry (and drop it at once) to say whether it is usable.
    // A Ledger key (added in the app's Settings) has no entry: the device holds it.
    if let Some(path) = &info.ledger_path {
        if json {
            let mut v = key_json(&info);
            v["status"] = json!("ledger");
            print_json(&v)?;
        } else {
            outln!("{}status:     on a Ledger, path {path}", key_text(&info));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let status = store.check(&info);
    let (status_kind, status_text) = match &status {
        Ok(()) => ("ok".to_string(), "in the OS keychain".to_string()),
        Err(e) => (e.kind().to_string(), e.to_string()),
    };
    if json {
        let mut v = key_json(&info);
        v["status"] = json!(status_kind);
        if status.is_err() {
            v["error"] = json!(status_text);
        }
        print_json(&v)?;
    } else {
        outln!("{}status:     {}", key_text(&info), status_text);
    }
    Ok(if status.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn delete(id: &str, yes: bool, json: bool) -> Result<ExitCode> {
    let store = Keychain::new(None)?;
    let info = resolve(&store, id)?;
    if !yes {
        bail!(
            "deleting key {} ({}) cannot be undone, and a release policy listing it loses a \
             co-signer: run again with --yes to delete it",
            info.key_id,
            info.label
        );
    }
    let deleted = store.delete(&info.key_id)?;
    report_key("deleted", &deleted, json)
}

fn import(file: Option<&str>, label: &str, json: bool) -> Result<ExitCode> {
    // Room for a key and generous whitespace, allocated once: growing the buffer would leave
    // copies of the secret in freed memory that the zeroizing wrapper never sees.
    const MAX_KEY_INPUT: usize = 4096;
    let mut raw = Zeroizing::new(Vec::with_capacity(MAX_KEY_INPUT + 1));
    let source = file.unwrap_or("standard input");
    let reader: Box<dyn Read> = match file {
        Some(path) => Box::new(
            std::fs::File::open(path)
                .with_context(|| format!("cannot read {path}: check the path and permissions"))?,
        ),
        None => Box::new(std::io::stdin()),
    };
    reader
        .take(MAX_KEY_INPUT as u64 + 1)
        .read_to_end(&mut raw)
        .with_context(|| format!("cannot read the key from {source}"))?;
    if raw.len() > MAX_KEY_INPUT {
        bail!("{source} holds more than {MAX_KEY_INPUT} bytes: give only the key, as 64 hex digits or a WIF");
    }
    let text = std::str::from_utf8(&raw)
        .map_err(|_| anyhow::anyhow!("the key is not text: give 64 hex digits or a WIF"))?;
    let secret = keychain::parse_secret(text)?;
    let info = Keychain::new(None)?.import(secret, label)?;
    report_key("imported", &info, json)
}

fn ledger(
    path: Option<&str>,
    confirm: bool,
    tcp: Option<String>,
    add: Option<&str>,
    json: bool,
) -> Result<ExitCode> {
    let mut options = OpenOptions::from_env();
    if tcp.is_some() {
        options.ledger_tcp = tcp;
    }
    let uri = KeyUri::Ledger {
        path: path.unwrap_or_default().to_string(),
    }
    .to_string();
    if confirm {
        // Read the key first, so that the user is told the address the device must show.
        let signer = chainlock_signer::open(&uri, &options)?;
        let path = DerivationPath::parse(path.unwrap_or_default())?;
        eprint!(
            "{}",
            screens::instructions(&screens::public_key(&path, &signer.identity().public_key))
        );
    }
    options.confirm_on_device = confirm;
    let signer = chainlock_signer::open(&uri, &options)?;
    let Some(label) = add else {
        print_identity(signer.identity(), json)?;
        return Ok(ExitCode::SUCCESS);
    };
    let path = DerivationPath::parse(path.unwrap_or_default())?;
    let info = Keychain::new(None)?.add_ledger(signer.identity().public_key, &path, label)?;
    report_key("added Ledger", &info, json)
}

/// Prints a signer's identity (any backend).
fn print_identity(id: &SignerIdentity, json: bool) -> Result<()> {
    if json {
        print_json(id)
    } else {
        out!(
            "key id:     {}\nlabel:      {}\npublic key: {}\nuri:        {}\n",
            id.key_id,
            printable(&id.label),
            id.public_key.to_hex(),
            id.uri
        );
        Ok(())
    }
}
