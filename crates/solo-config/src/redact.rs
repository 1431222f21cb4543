//! Masks passwords in text before it is shown: `user:secret@host` and `password=secret`.

use std::ops::Range;

/// What a masked secret is replaced with.
pub(crate) const MASK: &str = "****";

fn ends_value(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '#' | ',' | ']' | '}')
}

/// The byte ranges of `text` that hold a password, sorted and not overlapping.
pub(crate) fn secret_ranges(text: &str) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    // Passwords in user info: scheme://user:secret@host
    for (at, _) in text.match_indices("://") {
        let start = at + 3;
        let rest = &text[start..];
        let end = rest
            .find(|c: char| ends_value(c) || matches!(c, '/' | '?'))
            .map_or(text.len(), |i| start + i);
        let authority = &text[start..end];
        if let Some(at_sign) = authority.rfind('@')
            && let Some(colon) = authority[..at_sign].find(':')
            && colon + 1 < at_sign
        {
            ranges.push(start + colon + 1..start + at_sign);
        }
    }
    // Passwords as parameters: ?password=secret, or a `password=secret` connection string.
    // ASCII lowercasing keeps byte offsets unchanged.
    let lower = text.to_ascii_lowercase();
    for (at, key) in lower.match_indices("password=") {
        let start = at + key.len();
        let end = text[start..]
            .find(|c: char| ends_value(c) || c == '&')
            .map_or(text.len(), |i| start + i);
        if start < end {
            ranges.push(start..end);
        }
    }
    ranges.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    merged
}

/// `text` with every password replaced by [`MASK`].
pub(crate) fn redact_secrets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for range in secret_ranges(text) {
        out.push_str(&text[last..range.start]);
        out.push_str(MASK);
        last = range.end;
    }
    out.push_str(&text[last..]);
    out
}

/// Where byte offset `pos` of the original text lands in the redacted text. A position inside
/// a secret moves to the start of its mask (or its end, with `at_end`).
pub(crate) fn map_offset(ranges: &[Range<usize>], pos: usize, at_end: bool) -> usize {
    let mut shifted = pos;
    for range in ranges {
        if pos <= range.start {
            break;
        }
        if pos >= range.end {
            shifted = shifted - range.len() + MASK.len();
        } else {
            let mask_start = shifted - (pos - range.start);
            return if at_end {
                mask_start + MASK.len()
            } else {
                mask_start
            };
        }
    }
    shifted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_user_info_and_parameters() {
        assert_eq!(
            redact_secrets(r#"url = "postgres://solo:hunter2@db/solo""#),
            r#"url = "postgres://solo:****@db/solo""#
        );
        assert_eq!(
            redact_secrets("postgres://db/x?user=a&Password=hunter2&sslmode=require"),
            "postgres://db/x?user=a&Password=****&sslmode=require"
        );
        assert_eq!(
            redact_secrets("host=db password=hunter2 user=solo"),
            "host=db password=**** user=solo"
        );
        assert_eq!(redact_secrets("a://u:p@w@h"), "a://u:****@h");
        for plain in [
            "postgres://solo@db/solo",
            "https://example.com:443",
            "a://u:@h",
            "password=",
        ] {
            assert_eq!(redact_secrets(plain), plain);
        }
    }

    #[test]
    fn maps_offsets() {
        let text = "x = \"p://u:secret@h\" # ok";
        let ranges = secret_ranges(text);
        assert_eq!(ranges, vec![11..17]);
        assert_eq!(map_offset(&ranges, 4, false), 4);
        assert_eq!(map_offset(&ranges, 11, false), 11);
        assert_eq!(map_offset(&ranges, 13, false), 11);
        assert_eq!(map_offset(&ranges, 13, true), 15);
        assert_eq!(map_offset(&ranges, 17, false), 15);
        assert_eq!(map_offset(&ranges, 20, false), 18);
    }
}
