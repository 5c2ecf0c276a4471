//! `chainlock key ledger` against the real Ledger Bitcoin Cash app in the Speculos emulator
//! (`chainlock_signer::ledger::speculos`): the key is the device's, and with
//! `--confirm-on-device` the screens the CLI announces are exactly the ones the device shows.
//! Needs `scripts/setup` (speculos 0.27.1 and qemu-user-static); without speculos the test says
//! so loudly and passes (under `CI=true` it fails).

use chainlock_signer::ledger::screens::{normalize_shown, parse_instructions, squash};
use chainlock_signer::ledger::speculos::{self, Policy, Speculos};
use serde_json::Value;

use crate::util::chainlock;

/// The compressed key of the emulator's default seed at m/45'/236'/0'/0/0.
const DEVICE_KEY: &str = "03d3693093fc40773d3edd5d0b5c38669cb9180a27383137710703095d529d8939";

#[test]
fn key_ledger_tells_the_user_the_screens_the_device_shows() {
    let Some(binary) = speculos::speculos_or_skip() else {
        return;
    };
    let emu = Speculos::start(&binary);
    let out = chainlock()
        .args(["key", "ledger", "--json", "--ledger-tcp", &emu.apdu_addr()])
        .env_remove("CHAINLOCK_LEDGER_TCP")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(id["public_key"], DEVICE_KEY);
    assert_eq!(id["uri"], "ledger://m/45'/236'/0'/0/0");

    let operator = emu.operate(Policy::Approve);
    let out = chainlock()
        .args([
            "key",
            "ledger",
            "--confirm-on-device",
            "--ledger-tcp",
            &emu.apdu_addr(),
        ])
        .env_remove("CHAINLOCK_LEDGER_TCP")
        .output()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let shown = operator.finish();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains(DEVICE_KEY));
    let told: Vec<String> = parse_instructions(&stderr)
        .iter()
        .map(|t| squash(t))
        .collect();
    assert!(told.len() >= 2, "the CLI announced the screens: {stderr}");
    assert_eq!(
        told,
        normalize_shown(&shown),
        "told:\n{stderr}\nshown: {shown:?}"
    );

    // Refused on the device: a plain error, no key printed.
    let operator = emu.operate(Policy::Reject);
    let out = chainlock()
        .args([
            "key",
            "ledger",
            "--confirm-on-device",
            "--ledger-tcp",
            &emu.apdu_addr(),
        ])
        .env_remove("CHAINLOCK_LEDGER_TCP")
        .output()
        .unwrap();
    operator.finish();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("rejected on the Ledger"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn demo_with_a_ledger_that_does_not_answer_says_what_to_do_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    // A port nothing listens on: no device.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().to_string()
    };
    let out = chainlock()
        .args(["demo", "--ledger", "--ledger-tcp", &closed])
        .arg(&demo)
        .env_remove("CHAINLOCK_LEDGER_TCP")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("reads your key from the Ledger first")
            && stderr.contains("connect and unlock it, open the Bitcoin Cash app"),
        "{stderr}"
    );
    assert!(
        !demo.exists(),
        "nothing is created when the device does not answer"
    );
    // --ledger-tcp without --ledger is a mistake, not ignored.
    let out = chainlock()
        .args(["demo", "--ledger-tcp", &closed])
        .arg(&demo)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--ledger"));
    assert!(!demo.exists());
}

#[test]
fn key_list_and_show_name_a_ledger_key_added_in_the_app_as_a_ledger_key() {
    use chainlock_signer::keychain::Keychain;
    use chainlock_signer::ledger::DerivationPath;

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let key: chainlock_protocol::keys::PublicKey = DEVICE_KEY.parse().unwrap();
    let added = Keychain::new(Some(config.clone()))
        .unwrap()
        .add_ledger(key, &DerivationPath::chainlock_default(), "desk ledger")
        .unwrap();
    let out = chainlock()
        .args(["key", "list", "--json"])
        .env("CHAINLOCK_CONFIG_DIR", &config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list["keys"][0]["kind"], "ledger");
    assert_eq!(list["keys"][0]["uri"], "ledger://m/45'/236'/0'/0/0");
    // `show` does not look for it in the keychain: the device holds it.
    let out = chainlock()
        .args(["key", "show", &added.key_id])
        .env("CHAINLOCK_CONFIG_DIR", &config)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("on a Ledger, path m/45'/236'/0'/0/0"),
        "{text}"
    );
}

#[test]
fn key_ledger_add_indexes_the_device_key_and_key_label_renames_it() {
    let Some(binary) = speculos::speculos_or_skip() else {
        return;
    };
    let emu = Speculos::start(&binary);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let run = |args: &[&str]| {
        chainlock()
            .args(args)
            .env("CHAINLOCK_CONFIG_DIR", &config)
            .env("CHAINLOCK_LEDGER_TCP", emu.apdu_addr())
            .output()
            .unwrap()
    };
    let out = run(&["key", "ledger", "--add", "desk ledger", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let added: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(added["public_key"], DEVICE_KEY);
    assert_eq!(added["kind"], "ledger");
    assert_eq!(added["label"], "desk ledger");
    let key_id = added["key_id"].as_str().unwrap().to_owned();

    // The same device key twice is refused, and the index keeps one entry.
    let out = run(&["key", "ledger", "--add", "again"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&key_id),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Renamed by its ledger:// URI; a label with a control character is refused, unchanged.
    let out = run(&["key", "label", "ledger://", "office ledger"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["key", "label", &key_id[..12], "bad\u{1b}[31mlabel"]);
    assert!(!out.status.success());
    let out = run(&["key", "list", "--json"]);
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys = list["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{list}");
    assert_eq!(keys[0]["label"], "office ledger");
    assert_eq!(keys[0]["uri"], "ledger://m/45'/236'/0'/0/0");
}

#[test]
fn key_label_of_an_unknown_key_says_how_to_list_keys() {
    let dir = tempfile::tempdir().unwrap();
    let out = chainlock()
        .args(["key", "label", "ledger://", "desk"])
        .env("CHAINLOCK_CONFIG_DIR", dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("chainlock key ledger --add"), "{stderr}");
}
