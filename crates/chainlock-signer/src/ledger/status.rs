//! Status words of the Ledger (BOLOS and the Bitcoin app) and what each means to the user.

use super::apdu::Command;
use crate::Error;

/// Success.
pub const SW_OK: u16 = 0x9000;
/// The device is locked (newer firmware).
pub const SW_LOCKED: u16 = 0x5515;
/// Security status not satisfied: the PIN was not entered (the device is locked).
pub const SW_SECURITY_STATUS_NOT_SATISFIED: u16 = 0x6982;
/// Conditions of use not satisfied: the user refused on the device.
pub const SW_CONDITIONS_OF_USE_NOT_SATISFIED: u16 = 0x6985;
/// Wrong length.
pub const SW_WRONG_LENGTH: u16 = 0x6700;
/// Incorrect data (the app refuses what it was given).
pub const SW_INCORRECT_DATA: u16 = 0x6a80;
/// Not enough memory on the device.
pub const SW_NOT_ENOUGH_MEMORY: u16 = 0x6a84;
/// Incorrect P1 or P2 (ISO variant).
pub const SW_INCORRECT_P1_P2_ISO: u16 = 0x6a86;
/// Incorrect P1 or P2.
pub const SW_INCORRECT_P1_P2: u16 = 0x6b00;
/// Instruction not supported: the open app does not know the command.
pub const SW_INS_NOT_SUPPORTED: u16 = 0x6d00;
/// Unknown APDU, as the dashboard of newer firmware answers commands meant for an app.
pub const SW_UNKNOWN_APDU: u16 = 0x6d02;
/// Class not supported: the open app (or the dashboard) does not know the command class.
pub const SW_CLA_NOT_SUPPORTED: u16 = 0x6e00;
/// Class not supported, as the dashboard of newer firmware answers when no app is open.
pub const SW_CLA_NOT_SUPPORTED_NO_APP: u16 = 0x6e01;
/// Technical problem (the low byte carries details).
pub const SW_TECHNICAL_PROBLEM: u16 = 0x6f00;
/// The device halted and must be unplugged.
pub const SW_HALTED: u16 = 0x6faa;

/// What a status word means, in words a user can act on.
pub fn meaning(sw: u16) -> &'static str {
    match sw {
        SW_OK => "success",
        SW_LOCKED | SW_SECURITY_STATUS_NOT_SATISFIED => "the device is locked",
        SW_CONDITIONS_OF_USE_NOT_SATISFIED => "refused on the device",
        SW_WRONG_LENGTH => "wrong length: the app does not understand this command",
        SW_INCORRECT_DATA => "the app refused the data it was given",
        SW_NOT_ENOUGH_MEMORY => "not enough memory on the device",
        SW_INCORRECT_P1_P2 | SW_INCORRECT_P1_P2_ISO => {
            "wrong parameters: the app does not understand this command"
        }
        SW_INS_NOT_SUPPORTED | SW_UNKNOWN_APDU => "the open app does not know this command",
        SW_CLA_NOT_SUPPORTED | SW_CLA_NOT_SUPPORTED_NO_APP => {
            "no app that knows this command is open"
        }
        SW_HALTED => "the device halted: unplug it and plug it in again",
        sw if sw & 0xff00 == SW_TECHNICAL_PROBLEM => "technical problem in the app",
        _ => "unknown status",
    }
}

/// True for the status words that mean the open app is not a Bitcoin app at all.
pub fn is_wrong_app(sw: u16) -> bool {
    matches!(
        sw,
        SW_INS_NOT_SUPPORTED | SW_UNKNOWN_APDU | SW_CLA_NOT_SUPPORTED | SW_CLA_NOT_SUPPORTED_NO_APP
    )
}

/// Maps a status word other than [`SW_OK`] to the error the user can act on. Wrong-app
/// statuses and output refusals need context the caller has (which app is open, which output
/// was refused): [`super::btchip::Btchip`] handles those before falling back to this.
pub fn to_error(command: Command, sw: u16) -> Error {
    match sw {
        SW_LOCKED | SW_SECURITY_STATUS_NOT_SATISFIED => Error::DeviceLocked,
        SW_CONDITIONS_OF_USE_NOT_SATISFIED => Error::RejectedOnDevice,
        SW_HALTED => Error::Disconnected,
        _ => Error::DeviceStatus {
            command: format!("{} ({})", command.name(), meaning(sw)),
            sw,
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests {
    use super::*;

    #[test]
    fn every_known_status_word_has_a_distinct_error() {
        let cases: &[(u16, &str)] = &[
            (0x5515, "device_locked"),
            (0x6982, "device_locked"),
            (0x6985, "rejected_on_device"),
            (0x6faa, "disconnected"),
            (0x6700, "device_status"),
            (0x6a80, "device_status"),
            (0x6b00, "device_status"),
            (0x6d00, "device_status"),
            (0x6f0f, "device_status"),
        ];
        for (sw, kind) in cases {
            assert_eq!(to_error(Command::HashSign, *sw).kind(), *kind, "{sw:#06x}");
            assert_ne!(meaning(*sw), "unknown status", "{sw:#06x}");
        }
        let msg = to_error(Command::HashSign, 0x6b00).to_string();
        assert!(
            msg.contains("UNTRUSTED_HASH_SIGN") && msg.contains("0x6b00"),
            "{msg}"
        );
    }
}
