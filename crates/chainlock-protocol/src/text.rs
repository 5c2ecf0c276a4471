//! Text that came from outside, made safe to show: control, bidi and invisible format
//! characters written as `\u{..}` escapes, and long values cut with their length stated.
//!
//! One definition serves the record validation (which refuses such characters in record
//! fields), the reports, the CLI and the desktop app, so that what is shown is what is signed.

/// Why `c` is hidden or misleading when displayed, or `None` for an ordinary character.
/// `previous` is the character before it: a variation selector after a non-ASCII character
/// is how emoji are written, and is allowed.
pub fn hidden_char_reason(c: char, previous: Option<char>) -> Option<&'static str> {
    Some(match c {
        '\t' => return None,
        c if c.is_control() => "a control character: terminals act on it instead of showing it",
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

/// True for a character that must never reach a screen as itself (see [`hidden_char_reason`]).
pub fn is_hidden_char(c: char, previous: Option<char>) -> bool {
    hidden_char_reason(c, previous).is_some()
}

/// The first hidden character of `text` with its reason, if any.
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

/// The longest value shown whole in a one-line message.
pub const MAX_SHOWN_CHARS: usize = 200;

/// `text` made safe for a terminal or a window: every hidden character written as
/// `\u{hex}` (and a backslash as `\\` only where it starts such an escape, so the output
/// cannot forge one), and, past `max_chars`, cut with the full length stated.
pub fn escape(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars * 4) + 16);
    let mut previous = None;
    let mut shown = 0usize;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if shown == max_chars {
            out.push_str(&format!(
                "… ({} characters in all, {} bytes)",
                text.chars().count(),
                text.len()
            ));
            return out;
        }
        if is_hidden_char(c, previous) {
            out.push_str(&format!("\\u{{{:04x}}}", u32::from(c)));
        } else if c == '\\' && chars.peek() == Some(&'u') {
            out.push_str("\\\\");
        } else {
            out.push(c);
        }
        previous = Some(c);
        shown += 1;
    }
    out
}

/// [`escape`] with the default length limit, for a value inside a message.
pub fn shown(text: &str) -> String {
    escape(text, MAX_SHOWN_CHARS)
}

/// A Unix time as a UTC date with the seconds beside it: `2026-11-30 11:38:37 UTC (1795952317)`.
pub fn unix_time(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC ({secs})",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A span of seconds in words: `6 days 23 h`, `4 h 10 min`, `59 s`.
pub fn duration(secs: u64) -> String {
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, _) => format!("{m} min"),
        (0, _, _) => format!("{h} h {m} min"),
        (1, _, _) => format!("1 day {h} h"),
        _ => format!("{d} days {h} h"),
    }
}

/// Year, month and day of a count of days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_bidi_and_invisible_characters_are_escaped() {
        assert_eq!(escape("lib/\u{202e}txt.js", 100), "lib/\\u{202e}txt.js");
        assert_eq!(
            escape("a\u{1b}]0;pwned\u{7}b", 100),
            "a\\u{001b}]0;pwned\\u{0007}b"
        );
        assert_eq!(escape("zero\u{200b}width", 100), "zero\\u{200b}width");
        assert_eq!(
            escape("tab\tand é ok ❤\u{fe0f}", 100),
            "tab\tand é ok ❤\u{fe0f}"
        );
        assert_eq!(escape("x\u{fe0f}", 100), "x\\u{fe0f}");
    }

    #[test]
    fn an_escape_cannot_be_forged_by_the_input() {
        // A literal backslash-u in the input must not read like one of our escapes.
        assert_eq!(escape("\\u{202e}", 100), "\\\\u{202e}");
        assert_eq!(escape("a\\b", 100), "a\\b");
    }

    #[test]
    fn long_values_are_cut_with_their_length() {
        let long = "x".repeat(20_000_000);
        let e = escape(&long, 10);
        assert_eq!(
            e,
            "xxxxxxxxxx… (20000000 characters in all, 20000000 bytes)"
        );
        assert_eq!(escape("short", 10), "short");
        assert_eq!(escape("exactly10!", 10), "exactly10!");
    }

    #[test]
    fn times_read_as_utc_dates() {
        assert_eq!(unix_time(0), "1970-01-01 00:00:00 UTC (0)");
        assert_eq!(
            unix_time(1_795_219_200),
            "2026-11-21 00:00:00 UTC (1795219200)"
        );
        assert_eq!(
            unix_time(951_782_400),
            "2000-02-29 00:00:00 UTC (951782400)"
        );
        assert!(unix_time(u64::MAX).ends_with("UTC (18446744073709551615)"));
        assert_eq!(duration(59), "59 s");
        assert_eq!(duration(3600 * 4 + 600), "4 h 10 min");
        assert_eq!(duration(7 * 86_400), "7 days 0 h");
        assert_eq!(duration(86_400 + 3600), "1 day 1 h");
    }

    #[test]
    fn first_hidden_char_names_it() {
        assert_eq!(first_hidden_char("plain"), None);
        let (c, why) = first_hidden_char("v1\u{2066}.0").unwrap();
        assert_eq!(c, '\u{2066}');
        assert!(why.contains("bidi"));
    }
}
