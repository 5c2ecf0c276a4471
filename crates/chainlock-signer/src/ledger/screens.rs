//! What the Bitcoin Cash app shows while it signs, screen by screen, so the CLI and the app can
//! tell the user exactly what to expect and what each screen must say.
//!
//! The texts are those of the Ledger "Bitcoin Cash" app 2.4.6 (Nano S Plus) as the Speculos
//! emulator reports them; the Ledger tests compare them with the real app's screens for every
//! flow ChainLock runs. A screen the user is not told about, or a value that differs (an
//! amount, an address, the fee, the path), is a reason to reject on the device.

use chainlock_protocol::bsm::{self, StatementKind};
use chainlock_protocol::hash::{hash160, sha256, sha256d};
use chainlock_protocol::keys::PublicKey;
use chainlock_protocol::record_tx::RecordTx;
use chainlock_protocol::script::Script;

use super::DerivationPath;

/// What the user does on a screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Read it, check it, press the right button.
    Next,
    /// Press both buttons: this approves (the screen after it, with the right button,
    /// rejects).
    Approve,
    /// Both buttons here reject; the right button goes on to the approving screen.
    Reject,
}

/// One screen: its text, as one line, and what to do on it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Screen {
    /// The text shown ("Amount BCH 0.000195").
    pub text: String,
    /// What the user does there.
    pub action: Action,
}

impl Screen {
    fn next(text: impl Into<String>) -> Self {
        Screen {
            text: text.into(),
            action: Action::Next,
        }
    }

    fn reject(text: impl Into<String>) -> Self {
        Screen {
            text: text.into(),
            action: Action::Reject,
        }
    }

    fn approve(text: impl Into<String>) -> Self {
        Screen {
            text: text.into(),
            action: Action::Approve,
        }
    }
}

/// The screens of signing the custody input of `tx` with the key at `path`, given a trusted
/// input (so no "unverified inputs" warning): each output (amount, address), then the fee,
/// then, for a path outside BIP44's `44'/145'`, the path warning.
pub fn record_tx(tx: &RecordTx, path: &DerivationPath) -> Vec<Screen> {
    let mut screens = Vec::new();
    for (i, output) in tx.tx().outputs.iter().enumerate() {
        screens.push(Screen::next(format!("Review output #{}", i + 1)));
        screens.push(Screen::next(format!("Amount {}", amount(output.value))));
        screens.push(Screen::next(format!(
            "Address {}",
            address(&output.script_pubkey)
        )));
        screens.push(Screen::approve("Accept"));
    }
    screens.push(Screen::next("Confirm transaction"));
    screens.push(Screen::next(format!("Fees {}", amount(tx.fee()))));
    screens.push(Screen::approve("Accept and send"));
    if is_unusual(path) {
        screens.push(Screen::next("The sign path is unusual"));
        screens.push(Screen::next(format!("Sign path {}", path_text(path))));
        screens.push(Screen::reject("Reject if you're not sure"));
        screens.push(Screen::approve("Approve"));
    }
    screens
}

/// The screens of signing the statement `chainlock/1 <kind> <digest>`: the app shows the
/// SHA-256 of the message text (uppercase hex, over two pages), not the text itself.
pub fn statement(kind: StatementKind, digest: &[u8; 32]) -> Vec<Screen> {
    let text = bsm::statement_text(kind, digest);
    vec![
        Screen::next("Sign message"),
        Screen::next(format!(
            "Message hash {}",
            hex::encode_upper(sha256(text.as_bytes()))
        )),
        Screen::approve("Sign message"),
    ]
}

/// The screens of showing the key at `path` for confirmation (`chainlock key ledger
/// --confirm-on-device`): the path warning for a path outside BIP44's `44'/145'`, then the
/// key's legacy address.
pub fn public_key(path: &DerivationPath, key: &PublicKey) -> Vec<Screen> {
    let mut screens = Vec::new();
    if is_unusual(path) {
        screens.push(Screen::next("The derivation path is unusual!"));
        screens.push(Screen::next(format!("Derivation path {}", path_text(path))));
        screens.push(Screen::reject("Reject if you're not sure"));
        screens.push(Screen::approve("Approve derivation path"));
    }
    screens.push(Screen::next(format!("Address {}", p2pkh_address(key))));
    screens.push(Screen::approve("Approve"));
    screens
}

/// The screens as numbered instructions for a terminal, one screen a line:
/// `  3. Reject if you're not sure      right button`.
pub fn instructions(screens: &[Screen]) -> String {
    let mut out = String::from(
        "The Ledger will show these screens, in this order. Check each one; if any says something else, or another screen appears, reject on the device:\n",
    );
    let width = screens.iter().map(|s| s.text.len()).max().unwrap_or(0);
    for (i, screen) in screens.iter().enumerate() {
        let action = match screen.action {
            Action::Next => "right button",
            Action::Approve => "both buttons to approve (right button, then both, to reject)",
            Action::Reject => "both buttons here reject; right button to go on",
        };
        out.push_str(&format!(
            "  {:>2}. {:<width$}  {action}\n",
            i + 1,
            screen.text
        ));
    }
    out
}

/// Parses the screen texts back out of [`instructions`] (for tests that compare what the
/// user was told with what the device showed).
pub fn parse_instructions(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let (number, rest) = line.trim_start().split_once(". ")?;
            number.parse::<usize>().ok()?;
            let cut = rest
                .rfind("  right button")
                .or_else(|| rest.rfind("  both buttons"))?;
            Some(rest[..cut].trim_end().to_string())
        })
        .collect()
}

/// True when the app warns about the path: anything but `44'/145'/...` (BIP44, coin 145).
pub fn is_unusual(path: &DerivationPath) -> bool {
    !matches!(path.components(), [p, c, ..] if *p == 0x8000_002c && *c == 0x8000_0091)
}

/// The path as the app writes it: no `m/`, hardened steps with `'`.
pub fn path_text(path: &DerivationPath) -> String {
    let text = path.to_string();
    text.strip_prefix("m/").unwrap_or(&text).to_string()
}

/// An amount as the app writes it: `BCH`, then the value in coins without trailing zeros.
pub fn amount(satoshis: u64) -> String {
    let whole = satoshis / 100_000_000;
    let frac = satoshis % 100_000_000;
    if frac == 0 {
        return format!("BCH {whole}");
    }
    let frac = format!("{frac:08}");
    format!("BCH {whole}.{}", frac.trim_end_matches('0'))
}

/// An output's address as the app writes it with legacy (base58) addresses: P2PKH version 0,
/// P2SH version 5, `OP_RETURN` for a data output.
pub fn address(script: &Script) -> String {
    let s = script.as_bytes();
    if let Ok(hash) = script.parse_p2pkh() {
        return base58check(0x00, &hash);
    }
    if s.len() == 23 && s[0] == 0xa9 && s[1] == 0x14 && s[22] == 0x87 {
        return base58check(0x05, &s[2..22]);
    }
    "OP_RETURN".into()
}

/// The legacy (base58) P2PKH address of a key, as the app shows it when it confirms a key.
pub fn p2pkh_address(key: &PublicKey) -> String {
    base58check(0x00, &hash160(&key.to_bytes()))
}

/// Base58Check of a version byte and a payload.
fn base58check(version: u8, payload: &[u8]) -> String {
    const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut data = vec![version];
    data.extend_from_slice(payload);
    let check = sha256d(&data);
    data.extend_from_slice(&check[..4]);
    // Repeated division of the big-endian number by 58; digits come out least significant first.
    let mut digits: Vec<u8> = Vec::new();
    for &byte in &data {
        let mut carry = u32::from(byte);
        for d in digits.iter_mut() {
            carry += u32::from(*d) << 8;
            *d = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let zeros = data.iter().take_while(|b| **b == 0).count();
    std::iter::repeat_n(b'1', zeros)
        .chain(digits.iter().rev().map(|d| ALPHABET[usize::from(*d)]))
        .map(char::from)
        .collect()
}

/// The screens as the emulator reports them (each a list of text items), made comparable
/// with [`Screen::text`]: pages of one value ("Message hash (1/2)", "(2/2)") joined into one
/// screen, and all whitespace dropped (the app wraps long values at arbitrary points).
pub fn normalize_shown(shown: &[Vec<String>]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut paging: Option<String> = None;
    for items in shown {
        let Some((first, rest)) = items.split_first() else {
            continue;
        };
        let page = page_title(first);
        let body: String = rest.concat();
        match (page, &paging) {
            (Some((title, n)), Some(open)) if n > 1 && title == *open => {
                if let Some(last) = out.last_mut() {
                    last.push_str(&squash(&body));
                }
            }
            (Some((title, _)), _) => {
                out.push(squash(&format!("{title}{body}")));
                paging = Some(title.to_string());
            }
            (None, _) => {
                out.push(squash(&items.concat()));
                paging = None;
            }
        }
    }
    out
}

/// The text of a screen with all whitespace dropped, as [`normalize_shown`] compares it.
pub fn squash(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// `("Message hash", 2)` for `"Message hash (2/2)"`.
fn page_title(item: &str) -> Option<(&str, u32)> {
    let open = item.rfind(" (")?;
    let inner = item[open + 2..].strip_suffix(')')?;
    let (n, _total) = inner.split_once('/')?;
    Some((&item[..open], n.parse().ok()?))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests {
    use super::*;

    #[test]
    fn amounts_and_addresses_are_written_as_the_app_writes_them() {
        assert_eq!(amount(0), "BCH 0");
        assert_eq!(amount(19_500), "BCH 0.000195");
        assert_eq!(amount(500), "BCH 0.000005");
        assert_eq!(amount(100_000_000), "BCH 1");
        assert_eq!(amount(123_000_000), "BCH 1.23");
        // Seen on the app for the P2PKH script of hash 42..42.
        assert_eq!(
            address(&Script::p2pkh(&[0x42; 20])),
            "173LyQTzYp4YaRvxCy7NAKwaeRdcyjnHTG"
        );
        assert_eq!(
            address(&Script::p2pkh(&[0; 20])),
            "1111111111111111111114oLvT2"
        );
        assert_eq!(address(&Script::commitment(&[1; 32])), "OP_RETURN");
    }

    #[test]
    fn paged_values_are_joined_and_whitespace_dropped() {
        let shown: Vec<Vec<String>> = [
            &["Sign", "message"][..],
            &["Message hash (1/2)", "C51336199FB7BDE6BE", "A9AF"][..],
            &["Message hash (2/2)", "0B55"][..],
            &["Sign", "message"][..],
            &["Address", "OP", "_RETURN"][..],
        ]
        .iter()
        .map(|s| s.iter().map(|t| t.to_string()).collect())
        .collect();
        assert_eq!(
            normalize_shown(&shown),
            [
                "Signmessage",
                "MessagehashC51336199FB7BDE6BEA9AF0B55",
                "Signmessage",
                "AddressOP_RETURN"
            ]
        );
    }

    #[test]
    fn instructions_read_back_as_the_screens() {
        let key = PublicKey::from_hex(
            "03d3693093fc40773d3edd5d0b5c38669cb9180a27383137710703095d529d8939",
        )
        .unwrap();
        let screens = public_key(&DerivationPath::chainlock_default(), &key);
        let text = instructions(&screens);
        let line = |n: usize| {
            let words: Vec<&str> = text.lines().nth(n).unwrap().split_whitespace().collect();
            words.join(" ")
        };
        assert_eq!(
            line(3),
            "3. Reject if you're not sure both buttons here reject; right button to go on"
        );
        assert_eq!(
            line(4),
            "4. Approve derivation path both buttons to approve (right button, then both, to reject)"
        );
        assert_eq!(
            parse_instructions(&text),
            screens.iter().map(|s| s.text.clone()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn only_bip44_coin_145_paths_are_usual() {
        assert!(is_unusual(&DerivationPath::chainlock_default()));
        assert!(!is_unusual(
            &DerivationPath::parse("m/44'/145'/0'/0/0").unwrap()
        ));
        assert_eq!(
            path_text(&DerivationPath::chainlock_default()),
            "45'/236'/0'/0/0"
        );
    }
}
