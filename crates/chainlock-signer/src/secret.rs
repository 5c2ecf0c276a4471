//! Service secrets in the OS keychain, beside the maintainer keys: an ARC API key. One
//! entry per secret: service `chainlock`, account `secret:<name>`, the secret as text.

use crate::keychain::{map_keyring_error, SERVICE};
use crate::Result;

fn entry(name: &str) -> Result<keyring::Entry> {
    let account = format!("secret:{name}");
    keyring::Entry::new(SERVICE, &account).map_err(|e| map_keyring_error(&account, e))
}

/// The secret `name`, or None when none is set.
pub fn get(name: &str) -> Result<Option<String>> {
    match entry(name)?.get_password() {
        Ok(secret) => Ok(Some(secret)),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(map_keyring_error(&format!("secret:{name}"), e)),
    }
}

/// Stores `secret` as `name`, replacing any earlier one.
pub fn set(name: &str, secret: &str) -> Result<()> {
    entry(name)?
        .set_password(secret)
        .map_err(|e| map_keyring_error(&format!("secret:{name}"), e))
}

/// Removes the secret `name`; false when there was none.
pub fn delete(name: &str) -> Result<bool> {
    match entry(name)?.delete_credential() {
        Ok(()) => Ok(true),
        Err(keyring::Error::NoEntry) => Ok(false),
        Err(e) => Err(map_keyring_error(&format!("secret:{name}"), e)),
    }
}
