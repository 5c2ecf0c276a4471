//! Transaction decoding and every script reader on arbitrary bytes: never a panic, and what
//! decodes re-encodes to exactly the same bytes.
#![no_main]

use chainlock_protocol::keys::{parse_der_strict, PublicKey};
use chainlock_protocol::script::Script;
use chainlock_protocol::tx::Transaction;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(tx) = Transaction::decode(data) {
        assert_eq!(tx.encode(), data, "decode is not exact");
    }
    let script = Script::from(data);
    let _ = script.to_string();
    if let Ok(c) = script.parse_custody() {
        assert_eq!(Script::custody(c.threshold, &c.keys).ok().as_ref(), Some(&script));
    }
    if let Ok(h) = script.parse_p2pkh() {
        assert_eq!(Script::p2pkh(&h), script);
    }
    if let Ok(d) = script.parse_commitment() {
        assert_eq!(Script::commitment(&d), script);
    }
    let _ = parse_der_strict(data);
    let _ = PublicKey::from_bytes(data);
});
