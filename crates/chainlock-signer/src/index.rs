//! The key index beyond the keychain: Ledger keys listed beside keychain keys, and labels.
//!
//! A Ledger key's secret stays on the device; the index records its public key and derivation
//! path, so that the co-signing loop knows it as one of *my* keys (the inbox's "needs my
//! signature", the key a policy lists) without asking the device. The key is read from the
//! device once, when the user adds it ([`Keychain::add_ledger`]). Labels are the user's own
//! text, checked like every label ([`crate::keychain::MAX_LABEL_LEN`], no control characters)
//! and shown escaped wherever they are shown.

use chainlock_protocol::keys::PublicKey;

use crate::keychain::{check_label, IndexLock, KeyInfo, Keychain};
use crate::ledger::DerivationPath;
use crate::{Error, Result};

impl Keychain {
    /// Adds the Ledger key `public_key` at `path` to the index with `label`; a key already in
    /// the index (keychain or Ledger) is refused with [`Error::KeyExists`].
    pub fn add_ledger(
        &self,
        public_key: PublicKey,
        path: &DerivationPath,
        label: &str,
    ) -> Result<KeyInfo> {
        check_label(label)?;
        let key_id = public_key.key_id();
        let _lock = IndexLock::acquire(self.dir())?;
        let mut index = self.read_index()?;
        if index.keys.iter().any(|k| k.key_id == key_id) {
            return Err(Error::KeyExists { key_id });
        }
        let info = KeyInfo {
            key_id,
            public_key,
            label: label.to_string(),
            ledger_path: Some(path.to_string()),
        };
        index.keys.push(info.clone());
        self.write_index(&index)?;
        Ok(info)
    }

    /// Sets the label of the indexed key `id_or_prefix` (a key id or a unique prefix of 8
    /// digits or more), keychain or Ledger, and returns the key as now indexed.
    pub fn set_label(&self, id_or_prefix: &str, label: &str) -> Result<KeyInfo> {
        check_label(label)?;
        let key_id = self.find(id_or_prefix)?.key_id;
        let _lock = IndexLock::acquire(self.dir())?;
        let mut index = self.read_index()?;
        let key = index
            .keys
            .iter_mut()
            .find(|k| k.key_id == key_id)
            // Deleted by another process between the two reads.
            .ok_or_else(|| Error::KeyNotFound {
                key_id: key_id.clone(),
            })?;
        key.label = label.to_string();
        let info = key.clone();
        self.write_index(&index)?;
        Ok(info)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests {
    use chainlock_protocol::keys::SecretKey;

    use super::*;
    use crate::signer::SignerKind;

    fn key(seed: u8) -> PublicKey {
        SecretKey::from_bytes(&[seed; 32]).unwrap().public_key()
    }

    #[test]
    fn a_ledger_key_is_indexed_with_its_path_and_opens_only_as_ledger() {
        let dir = tempfile::tempdir().unwrap();
        let store = Keychain::new(Some(dir.path().join("c"))).unwrap();
        let path = DerivationPath::chainlock_default();
        let info = store.add_ledger(key(7), &path, "my ledger").unwrap();
        assert_eq!(info.kind(), SignerKind::Ledger);
        assert_eq!(info.uri(), format!("ledger://{path}"));
        assert_eq!(store.list().unwrap(), vec![info.clone()]);
        let text = std::fs::read_to_string(store.index_path()).unwrap();
        assert!(
            text.contains("\"ledger_path\": \"m/45'/236'/0'/0/0\""),
            "{text}"
        );
        // Added twice: refused, the index unchanged.
        let err = store.add_ledger(key(7), &path, "again").unwrap_err();
        assert_eq!(err.kind(), "key_exists");
        assert_eq!(store.list().unwrap().len(), 1);
        // Opened as a keychain key: refused with the URI that works.
        let err = store.open(&info.key_id).unwrap_err();
        assert_eq!(err.kind(), "invalid_uri");
        assert!(
            err.to_string()
                .contains("sign with ledger://m/45'/236'/0'/0/0"),
            "{err}"
        );
        // Deleting it touches no keychain (there is none in this test) and drops the line.
        store.delete(&info.key_id).unwrap();
        assert!(store.list().unwrap().is_empty());
    }

    #[test]
    fn an_index_written_before_ledger_keys_reads_as_keychain_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = Keychain::new(Some(dir.path().to_path_buf())).unwrap();
        let k = key(9);
        std::fs::write(
            store.index_path(),
            format!(
                "{{\"version\":1,\"keys\":[{{\"key_id\":\"{}\",\"public_key\":\"{}\",\"label\":\"old\"}}]}}",
                k.key_id(),
                k.to_hex()
            ),
        )
        .unwrap();
        let keys = store.list().unwrap();
        assert_eq!(keys[0].kind(), SignerKind::Keychain);
        assert_eq!(keys[0].uri(), format!("keychain://{}", k.key_id()));
    }

    #[test]
    fn labels_are_set_on_any_key_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let store = Keychain::new(Some(dir.path().join("c"))).unwrap();
        let info = store
            .add_ledger(key(3), &DerivationPath::chainlock_default(), "")
            .unwrap();
        let renamed = store.set_label(&info.key_id[..8], "desk ledger").unwrap();
        assert_eq!(renamed.label, "desk ledger");
        assert_eq!(store.list().unwrap()[0].label, "desk ledger");
        for bad in ["a\u{1b}[31mred", "two\nlines", &"x".repeat(101)] {
            let err = store.set_label(&info.key_id, bad).unwrap_err();
            assert_eq!(err.kind(), "invalid_label", "{bad:?}");
        }
        assert_eq!(store.list().unwrap()[0].label, "desk ledger", "unchanged");
        let err = store.set_label(&"0".repeat(64), "x").unwrap_err();
        assert_eq!(err.kind(), "key_not_found");
    }
}
