//! RFC 8785 JSON Canonicalization Scheme (JCS), the byte form every ChainLock digest is
//! computed over.
//!
//! Protocol documents hold only strings, integers, booleans, arrays and objects, so numbers
//! are restricted to integers of magnitude at most 2^53 - 1 (I-JSON's exact range), which
//! JCS writes in plain decimal. A fractional or larger number is refused rather than risk a
//! serialization that differs from ECMAScript's by one digit: that would fork the digest.

use serde::Serialize;
use serde_json::Value;

use crate::{Error, Result};

/// Largest integer I-JSON represents exactly.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// The canonical bytes of any serializable value.
pub fn to_canonical_bytes<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    let v = serde_json::to_value(value).map_err(|e| json_err(e.to_string()))?;
    canonicalize(&v)
}

/// The canonical bytes of a JSON value.
pub fn canonicalize(value: &Value) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    write_value(&mut out, value)?;
    Ok(out)
}

/// SHA-256 of the canonical bytes: the digest the protocol names for a document.
pub fn digest<T: Serialize + ?Sized>(value: &T) -> Result<[u8; 32]> {
    Ok(crate::hash::sha256(&to_canonical_bytes(value)?))
}

fn write_value(out: &mut Vec<u8>, value: &Value) -> Result<()> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            let text = if let Some(u) = n.as_u64().filter(|u| *u <= MAX_SAFE_INTEGER) {
                u.to_string()
            } else if let Some(i) = n.as_i64().filter(|i| i.unsigned_abs() <= MAX_SAFE_INTEGER) {
                i.to_string()
            } else {
                return Err(json_err(format!(
                    "number {n} is not an integer within ±(2^53-1); protocol documents carry only such integers"
                )));
            };
            out.extend_from_slice(text.as_bytes());
        }
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            // JCS orders members by the UTF-16 code units of their names.
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push(b'{');
            for (i, (k, v)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(out, k);
                out.push(b':');
                write_value(out, v)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// Strings as ECMAScript's JSON.stringify writes them: the two-character escapes, `\u00xx`
/// for other control characters, everything else literally (Rust strings hold no lone
/// surrogates, the one other case JSON.stringify escapes).
fn write_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

fn json_err(reason: String) -> Error {
    Error::Json {
        what: "canonical JSON".into(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canon(v: Value) -> String {
        String::from_utf8(canonicalize(&v).unwrap()).unwrap()
    }

    #[test]
    fn members_sorted_by_utf16_code_units() {
        // RFC 8785 section 3.2.3's sorting example: U+1F600 (surrogates D83D DE00) sorts
        // before U+FB33, although its UTF-8 bytes sort after.
        let v = json!({"\u{20ac}": "Euro Sign", "\r": "Carriage Return", "\u{fb33}": "Hebrew Letter Dalet With Dagesh",
                       "1": "One", "\u{1f600}": "Emoji: Grinning Face", "\u{80}": "Control", "\u{f6}": "Latin Small Letter O With Diaeresis"});
        let s = canon(v);
        let order: Vec<&str> = [
            "\\r",
            "1",
            "\u{80}",
            "\u{f6}",
            "\u{20ac}",
            "\u{1f600}",
            "\u{fb33}",
        ]
        .to_vec();
        let mut last = 0;
        for key in order {
            let at = s.find(&format!("\"{key}\"")).unwrap();
            assert!(at >= last, "{key} out of order in {s}");
            last = at;
        }
    }

    #[test]
    fn strings_escape_like_json_stringify() {
        assert_eq!(
            canon(json!("a\"b\\c\u{1}\u{1f}\n\u{7f}é")),
            "\"a\\\"b\\\\c\\u0001\\u001f\\n\u{7f}é\""
        );
    }

    #[test]
    fn nested_structures_have_no_whitespace() {
        assert_eq!(
            canon(json!({"b": [1, {"d": true, "c": null}], "a": -5})),
            r#"{"a":-5,"b":[1,{"c":null,"d":true}]}"#
        );
    }

    #[test]
    fn non_integers_and_unsafe_integers_are_refused() {
        assert!(canonicalize(&json!(1.5)).is_err());
        assert!(canonicalize(&json!(9007199254740992u64)).is_err());
        assert_eq!(canon(json!(9007199254740991u64)), "9007199254740991");
    }
}
