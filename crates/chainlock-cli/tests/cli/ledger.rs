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
