//! Input text made safe to show: every message that quotes a value it was given (a file name,
//! a JSON field, a key id) goes through [`printable`] or [`quoted`], so a hostile value can
//! neither drive the terminal (escape sequences that retitle the window or clear the screen),
//! nor reorder what is shown (bidi overrides, "Trojan Source"), nor flood it (a 20 MB string
//! becomes a few hundred characters and its length).

use std::fmt::Write as _;

/// How many characters of an input value an error message quotes before cutting it.
pub const QUOTE_CHARS: usize = 80;

/// How many characters a whole message keeps before cutting its middle out.
pub const MESSAGE_CHARS: usize = 2000;

/// Why `c` (after `previous`) would not show as itself: a bidi control, a line separator, a
/// tag or variation character or another invisible format character. `None` for characters
/// that show (controls are judged by [`is_hidden_char`]).
pub fn invisible_char(c: char, previous: Option<char>) -> Option<&'static str> {
    Some(match c {
        '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}'
        | '\u{200E}'
        | '\u{200F}'
        | '\u{061C}' => "a bidi control: the code shown is not the order it runs in",
        '\u{2028}' | '\u{2029}' => "a line separator: a line break most viewers do not show",
        '\u{E0000}'..='\u{E007F}' => "a tag character: text no viewer shows",
        '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' => {
            "a Hangul filler: a name that shows as nothing"
        }
        '\u{E0100}'..='\u{E01EF}' => "a variation selector: can carry a hidden payload",
        // After a non-ASCII character a variation selector picks a glyph (emoji): it shows.
        '\u{FE00}'..='\u{FE0F}'
            if previous.is_none_or(|p| p.is_ascii() || ('\u{FE00}'..='\u{FE0F}').contains(&p)) =>
        {
            "a variation selector: can carry a hidden payload"
        }
        // The rest of Unicode's format characters (category Cf).
        '\u{00AD}'
        | '\u{0600}'..='\u{0605}'
        | '\u{06DD}'
        | '\u{070F}'
        | '\u{0890}'..='\u{0891}'
        | '\u{08E2}'
        | '\u{180E}'
        | '\u{200B}'..='\u{200D}'
        | '\u{2060}'..='\u{2064}'
        | '\u{206A}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}'
        | '\u{110BD}'
        | '\u{110CD}'
        | '\u{13430}'..='\u{1343F}'
        | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}' => "an invisible format character",
        _ => return None,
    })
}

/// Whether `c` (after `previous`) would not show as itself in a terminal or an editor: a
/// control character other than tab, a bidi control or another invisible format character.
pub fn is_hidden_char(c: char, previous: Option<char>) -> bool {
    hidden_char_reason(c, previous).is_some()
}

/// Why `c` (after `previous`) would not show as itself, controls included; `None` for a
/// character that shows (and for tab).
pub fn hidden_char_reason(c: char, previous: Option<char>) -> Option<&'static str> {
    if c == '\t' {
        None
    } else if c.is_control() {
        Some("a control character: terminals act on it instead of showing it")
    } else {
        invisible_char(c, previous)
    }
}

/// The first hidden character of `text` with why, if any (record fields refuse them).
pub fn first_hidden_char(text: &str) -> Option<(char, &'static str)> {
    let mut previous = None;
    for c in text.chars() {
        if let Some(reason) = hidden_char_reason(c, previous) {
            return Some((c, reason));
        }
        previous = Some(c);
    }
    None
}

/// The longest value a report shows whole before cutting it (see [`shown`]).
pub const SHOWN_CHARS: usize = 200;

/// A value inside a report line: [`printable`], cut to [`SHOWN_CHARS`] with its length.
pub fn shown(text: &str) -> String {
    printable_cut(text, SHOWN_CHARS)
}

/// Whether [`printable`] would change anything in `text`.
pub fn has_hidden_chars(text: &str) -> bool {
    let mut previous = None;
    text.chars().any(|c| {
        let hidden = is_hidden_char(c, previous);
        previous = Some(c);
        hidden
    })
}

/// `text` with tabs kept, line breaks written `\r` and `\n`, and every other control and
/// invisible character written `\u{..}`. Escaped text is a fixed point: escaping it again
/// changes nothing.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_printable(&mut out, text.chars(), None);
    out
}

/// [`printable`], keeping at most `max` characters of `text`: a longer text keeps its first
/// and last `max / 2` characters around a note of how long it is, so a message that quotes a
/// huge value still ends with what to do next.
pub fn printable_cut(text: &str, max: usize) -> String {
    let total = text.chars().count();
    if total <= max {
        return printable(text);
    }
    let head = max / 2;
    let tail = max - head;
    let mut out = String::with_capacity(max + 64);
    let previous = push_printable(&mut out, text.chars().take(head), None);
    let _ = write!(
        out,
        " [... cut: {} of {total} characters ({} bytes) not shown ...] ",
        total - head - tail,
        text.len()
    );
    push_printable(&mut out, text.chars().skip(total - tail), previous);
    out
}

/// A value quoted in a message: in double quotes, escaped, and cut to [`QUOTE_CHARS`]
/// characters with its length stated.
pub fn quoted(text: &str) -> String {
    let total = text.chars().count();
    if total <= QUOTE_CHARS {
        return format!("\"{}\"", printable(text));
    }
    let mut out = String::from("\"");
    push_printable(&mut out, text.chars().take(QUOTE_CHARS), None);
    let _ = write!(out, "\"... ({total} characters in all)");
    out
}

/// Why `bytes` did not parse as a JSON document, for an error message: a byte-order mark or
/// UTF-16 text is named as such (serde says "expected value at line 1 column 1"), and the
/// parser's message, which quotes the input (an unknown field or variant), is escaped and cut.
pub fn json_reason(bytes: &[u8], err: &serde_json::Error) -> String {
    match bytes {
        [0xef, 0xbb, 0xbf, ..] => {
            "the file starts with a byte-order mark (BOM): save it as UTF-8 without one".into()
        }
        [0xff, 0xfe, ..] | [0xfe, 0xff, ..] => "the file is UTF-16 text: save it as UTF-8".into(),
        _ => printable_cut(&err.to_string(), 2 * QUOTE_CHARS),
    }
}

/// A Unix time for people, beside the seconds: `1795219200 (2026-11-21 00:00:00 UTC)`, and
/// with `now` how far away it is: `(2026-11-21 00:00:00 UTC, in 2 days 3 h)` or `(..., 5 min
/// ago)`.
pub fn unix_time(secs: u64, now: Option<u64>) -> String {
    let date = utc_date(secs);
    match now {
        None => format!("{secs} ({date})"),
        Some(now) if secs >= now => format!("{secs} ({date}, in {})", span(secs - now)),
        Some(now) => format!("{secs} ({date}, {} ago)", span(now - secs)),
    }
}

/// `YYYY-MM-DD HH:MM:SS UTC` of a Unix time (proleptic Gregorian calendar).
pub fn utc_date(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Howard Hinnant's days-from-civil, inverted, on unsigned days since 1970-01-01.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// A duration in its two largest units: `2 days 3 h`, `5 min 2 s`, `40 s`.
pub fn duration(secs: u64) -> String {
    span(secs)
}

fn span(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let day = if d == 1 { "day" } else { "days" };
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, _) => format!("{m} min {s} s"),
        (0, _, _) => format!("{h} h {m} min"),
        _ => format!("{d} {day} {h} h"),
    }
}

/// Appends the escaped `chars` to `out`; returns the last character seen.
fn push_printable(
    out: &mut String,
    chars: impl Iterator<Item = char>,
    mut previous: Option<char>,
) -> Option<char> {
    for c in chars {
        match c {
            '\t' => out.push('\t'),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c if is_hidden_char(c, previous) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
        previous = Some(c);
    }
    previous
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing test should panic
mod tests {
    use super::*;

    #[test]
    fn terminal_controls_and_bidi_overrides_are_escaped() {
        assert_eq!(printable("lib/\u{202e}txt.js"), "lib/\\u{202e}txt.js");
        assert_eq!(printable("a\u{1b}[2Kb\r"), "a\\u{1b}[2Kb\\r");
        assert_eq!(printable("\u{1b}]0;pwned\u{7}"), "\\u{1b}]0;pwned\\u{7}");
        assert_eq!(printable("zero\u{200b}width"), "zero\\u{200b}width");
        assert_eq!(printable("tab\tand é ok"), "tab\tand é ok");
        let once = printable("x\u{1b}\u{202e}y\n");
        assert_eq!(printable(&once), once);
    }

    #[test]
    fn long_values_are_cut_with_their_length() {
        let huge = "A".repeat(20_000_000);
        let cut = printable_cut(&format!("bad {huge}: try again"), 100);
        assert!(cut.len() < 200, "{cut}");
        assert!(cut.starts_with("bad AAAA"));
        assert!(cut.ends_with(": try again"), "{cut}");
        assert!(cut.contains("20000015 characters"), "{cut}");
        let q = quoted(&"\u{1b}".repeat(1000));
        assert!(q.starts_with("\"\\u{1b}"));
        assert!(q.ends_with("(1000 characters in all)"), "{q}");
        assert_eq!(quoted("v1.2"), "\"v1.2\"");
    }

    #[test]
    fn times_read_as_utc_dates_beside_the_seconds() {
        assert_eq!(utc_date(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_date(1_795_219_200), "2026-11-21 00:00:00 UTC");
        assert_eq!(utc_date(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc_date(4_102_444_799), "2099-12-31 23:59:59 UTC");
        assert_eq!(
            unix_time(1_795_219_200, Some(1_795_219_200 - 2 * 86_400 - 3 * 3600)),
            "1795219200 (2026-11-21 00:00:00 UTC, in 2 days 3 h)"
        );
        assert_eq!(
            unix_time(1_795_219_200, Some(1_795_219_200 + 302)),
            "1795219200 (2026-11-21 00:00:00 UTC, 5 min 2 s ago)"
        );
        assert_eq!(unix_time(86_400, None), "86400 (1970-01-02 00:00:00 UTC)");
        // The end of time is a date, not an overflow.
        assert!(utc_date(u64::MAX).ends_with("UTC"));
    }

    #[test]
    fn first_hidden_char_names_it() {
        assert_eq!(first_hidden_char("plain é ❤\u{fe0f}"), None);
        let (c, why) = first_hidden_char("v1\u{2066}.0").unwrap();
        assert_eq!(c, '\u{2066}');
        assert!(why.contains("bidi"));
        assert!(first_hidden_char("a\u{1b}b").unwrap().1.contains("control"));
        assert_eq!(duration(7 * 86_400), "7 days 0 h");
        assert!(shown(&"x".repeat(1000)).contains("1000 characters"));
    }

    #[test]
    fn json_reasons_name_the_bom_and_escape_the_input() {
        let bom = b"\xef\xbb\xbf{}";
        let err = serde_json::from_slice::<serde_json::Value>(bom).unwrap_err();
        assert!(json_reason(bom, &err).contains("byte-order mark"));
        #[derive(Debug, serde::Deserialize)]
        enum Kind {
            #[allow(dead_code)]
            A,
        }
        let hostile = format!("\"\\u001b]0;pwned\\u0007{}\"", "x".repeat(100_000));
        let err = serde_json::from_str::<Kind>(&hostile).unwrap_err();
        let reason = json_reason(hostile.as_bytes(), &err);
        assert!(!reason.contains('\u{1b}'), "{reason}");
        assert!(reason.contains("\\u{1b}]0;pwned"), "{reason}");
        assert!(reason.len() < 400, "{}", reason.len());
    }
}
