//! Settings > Keys: a Ledger added as one of my keys, and labels for any key.
//!
//! The device is read on Tauri's blocking pool, never on the UI thread, and the key index is
//! written only through `chainlock_signer`'s own functions ([`Keychain::add_ledger`],
//! [`Keychain::set_label`]), the ones the key index's other writers use. Adding is two
//! steps: the window first shows the key the device holds ([`read_ledger_key`]); the user
//! gives it a label; [`add_ledger_key`] reads the device again and adds the key only if it is
//! still the one shown (another device plugged in meanwhile is refused).

use std::sync::Arc;

use tauri::State;

use chainlock_protocol::keys::PublicKey;
use chainlock_signer::keychain::{KeyInfo, Keychain, MAX_LABEL_LEN};
use chainlock_signer::ledger::DerivationPath;
use chainlock_signer::{KeyUri, OpenOptions};

use crate::ipc::{shown, CommandError, KeyView, LedgerKeyView};
use crate::state::Shared;

type Res<T> = Result<T, CommandError>;

impl KeyView {
    /// The window's view of an indexed key; the label is escaped (the index is a file).
    pub fn of(key: &KeyInfo) -> KeyView {
        KeyView {
            key_id: key.key_id.clone(),
            label: shown(&key.label),
            kind: key.kind().as_str().to_owned(),
            path: key.ledger_path.clone(),
        }
    }
}

/// A label from the window: trimmed, 1 to [`MAX_LABEL_LEN`] characters, nothing hidden
/// (no control, bidi or zero-width characters: a label is shown next to a key id).
pub fn label(text: &str) -> Res<String> {
    let label = text.trim();
    let ok = !label.is_empty()
        && label.chars().count() <= MAX_LABEL_LEN
        && !chainlock_protocol::text::has_hidden_chars(label);
    ok.then(|| label.to_owned()).ok_or_else(|| {
        CommandError::invalid(format!(
            "give the key a label of 1 to {MAX_LABEL_LEN} visible characters (no line breaks or control characters)"
        ))
    })
}

/// The key the Ledger holds at the default ChainLock path, opened the way signing opens it.
fn device_key(options: &OpenOptions) -> Res<(LedgerKeyView, PublicKey)> {
    let path = DerivationPath::chainlock_default();
    let options = OpenOptions {
        confirm_on_device: false,
        ..options.clone()
    };
    let uri = KeyUri::Ledger {
        path: path.to_string(),
    }
    .to_string();
    let signer = chainlock_signer::open(&uri, &options)?;
    let identity = signer.identity();
    let view = LedgerKeyView {
        key_id: identity.key_id.clone(),
        public_key: identity.public_key.to_hex(),
        path: path.to_string(),
        known: false,
    };
    Ok((view, identity.public_key))
}

fn keychain(shared: &Shared) -> Res<Keychain> {
    let dir = shared.workspace().paths().config_dir.clone();
    Ok(Keychain::new(Some(dir))?)
}

/// Reads the connected Ledger's key at the default ChainLock path (nothing is stored).
#[tauri::command]
pub async fn read_ledger_key(shared: State<'_, Arc<Shared>>) -> Res<LedgerKeyView> {
    shared
        .blocking(|s| {
            let (mut view, _) = device_key(&s.open_options)?;
            view.known = keychain(s)?.list()?.iter().any(|k| k.key_id == view.key_id);
            Ok(view)
        })
        .await
}

/// Adds the connected Ledger's key to my keys with `label`, if it is still `key_id` (the key
/// the window showed).
#[tauri::command]
pub async fn add_ledger_key(
    shared: State<'_, Arc<Shared>>,
    key_id: String,
    label: String,
) -> Res<KeyView> {
    let label = self::label(&label)?;
    shared
        .blocking(move |s| {
            let (view, public_key) = device_key(&s.open_options)?;
            if view.key_id != key_id {
                return Err(CommandError::invalid(format!(
                    "the Ledger now holds key {}, not the key {} shown: read the device again and check the key id before adding it",
                    view.key_id,
                    shown(&key_id.chars().take(80).collect::<String>())
                )));
            }
            let path = DerivationPath::chainlock_default();
            let key = keychain(s)?.add_ledger(public_key, &path, &label)?;
            Ok(KeyView::of(&key))
        })
        .await
}

/// Sets the label of my key `key_id` (keychain or Ledger).
#[tauri::command]
pub async fn set_key_label(
    shared: State<'_, Arc<Shared>>,
    key_id: String,
    label: String,
) -> Res<KeyView> {
    let label = self::label(&label)?;
    if !chainlock_signer::is_key_id(&key_id) {
        return Err(CommandError::invalid(format!(
            "{} is not a key id: expected 64 lowercase hex digits",
            shown(&key_id.chars().take(80).collect::<String>())
        )));
    }
    shared
        .blocking(move |s| {
            let key = keychain(s)?.set_label(&key_id, &label)?;
            Ok(KeyView::of(&key))
        })
        .await
}
