//! One definition of a hidden character: the risk rules and the escaping of every message
//! (`chainlock_protocol::text`) must agree on every code point, after any kind of character.
#![allow(clippy::unwrap_used)]

#[test]
fn risk_rules_and_message_escaping_agree_on_every_code_point() {
    let contexts = [None, Some('a'), Some('é'), Some('\u{fe0f}'), Some('😀')];
    for c in (0..=0x10ffffu32).filter_map(char::from_u32) {
        for previous in contexts {
            assert_eq!(
                chainlock_review::is_hidden_char(c, previous),
                chainlock_protocol::text::is_hidden_char(c, previous),
                "U+{:04X} after {previous:?}",
                c as u32
            );
        }
    }
}
