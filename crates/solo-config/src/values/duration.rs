use std::fmt;
use std::str::FromStr;

use super::{ValueError, serde_via_str, show};

/// A length of time written as `<number><unit>` pieces: `250ms`, `30s`, `5m`, `1h30m`, `2d`.
///
/// Units are `ms`, `s`, `m`, `h` and `d`. `Display` prints the canonical form, largest unit first
/// (`90m` prints as `1h30m`; zero prints as `0s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(std::time::Duration);

const UNITS: [(&str, u64); 5] = [
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

const EXPECTED: &str = "expected a number and a unit (ms, s, m, h, d), like `30s` or `5m`";

impl Duration {
    /// A whole number of seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Self(std::time::Duration::from_secs(secs))
    }

    /// A whole number of milliseconds.
    pub const fn from_millis(millis: u64) -> Self {
        Self(std::time::Duration::from_millis(millis))
    }

    /// The standard library's duration, for timers and timeouts.
    pub const fn as_std(self) -> std::time::Duration {
        self.0
    }

    fn invalid(input: &str) -> ValueError {
        ValueError::new(format!("invalid duration `{}`: {EXPECTED}", show(input)))
    }
}

impl From<Duration> for std::time::Duration {
    fn from(value: Duration) -> Self {
        value.0
    }
}

/// Common spellings people reach for, mapped to the unit solo wants.
fn unit_alias(unit: &str) -> Option<&'static str> {
    let unit = unit.to_ascii_lowercase();
    Some(match unit.as_str() {
        "msec" | "msecs" | "millis" | "millisecond" | "milliseconds" => "ms",
        "sec" | "secs" | "second" | "seconds" => "s",
        "min" | "mins" | "minute" | "minutes" => "m",
        "hr" | "hrs" | "hour" | "hours" => "h",
        "day" | "days" => "d",
        "ms" => "ms",
        "s" => "s",
        "m" => "m",
        "h" => "h",
        "d" => "d",
        _ => return None,
    })
}

impl FromStr for Duration {
    type Err = ValueError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let text = input.trim();
        if text.is_empty() {
            return Err(ValueError::new(format!("empty duration: {EXPECTED}")));
        }
        let mut total: u64 = 0;
        let mut rest = text;
        while !rest.is_empty() {
            let digits_end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            let (digits, after) = rest.split_at(digits_end);
            let unit_end = after
                .find(|c: char| !c.is_alphabetic())
                .unwrap_or(after.len());
            let (unit, after) = after.split_at(unit_end);
            if digits.is_empty() {
                return Err(Self::invalid(input));
            }
            if unit.is_empty() {
                let err = Self::invalid(input);
                return Err(if after.trim().is_empty() && total == 0 {
                    err.with_help(format!("add a unit, like `{digits}s` or `{digits}m`"))
                } else {
                    err
                });
            }
            let Some(&(_, millis_per_unit)) = UNITS.iter().find(|(u, _)| *u == unit) else {
                let err = Self::invalid(input);
                return Err(match unit_alias(unit) {
                    Some(alias) => err.with_help(format!("write `{digits}{alias}`")),
                    None => err,
                });
            };
            let too_long = || ValueError::new(format!("duration `{}` is too long", show(input)));
            let count: u64 = digits.parse().map_err(|_| too_long())?;
            total = count
                .checked_mul(millis_per_unit)
                .and_then(|millis| total.checked_add(millis))
                .ok_or_else(too_long)?;
            rest = after.trim_start();
        }
        Ok(Self::from_millis(total))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Sub-millisecond precision cannot be written in solo.toml; round down.
        let mut millis = u64::try_from(self.0.as_millis()).unwrap_or(u64::MAX);
        if millis == 0 {
            return f.write_str("0s");
        }
        for (unit, size) in UNITS {
            let count = millis / size;
            if count > 0 {
                write!(f, "{count}{unit}")?;
                millis -= count * size;
            }
        }
        Ok(())
    }
}

serde_via_str!(Duration, "a duration like `30s` or `5m`", {
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Duration, E> {
        Err(Duration::invalid(&v.to_string())
            .with_help(format!("add a unit and quotes, like `\"{v}s\"`"))
            .into_de_error())
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Duration, E> {
        Err(Duration::invalid(&v.to_string())
            .with_help(format!("add a unit and quotes, like `\"{v}s\"`"))
            .into_de_error())
    }
});

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Duration, ValueError> {
        s.parse()
    }

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse("250ms").ok(), Some(Duration::from_millis(250)));
        assert_eq!(parse("30s").ok(), Some(Duration::from_secs(30)));
        assert_eq!(parse("5m").ok(), Some(Duration::from_secs(300)));
        assert_eq!(parse("2h").ok(), Some(Duration::from_secs(7200)));
        assert_eq!(parse("2d").ok(), Some(Duration::from_secs(2 * 86_400)));
        assert_eq!(parse("1h30m").ok(), Some(Duration::from_secs(5400)));
        assert_eq!(parse(" 1h 30m ").ok(), Some(Duration::from_secs(5400)));
        assert_eq!(parse("0s").ok(), Some(Duration::from_secs(0)));
        assert_eq!(
            parse("1s500ms").map(Duration::as_std).ok(),
            Some(std::time::Duration::from_millis(1500))
        );
    }

    #[test]
    fn refuses_bad_input() {
        for bad in [
            "", "  ", "30", "5x", "s", "ms", "1h m", "-5s", "1.5s", "5 s", "h1", "1h30",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn error_messages_are_clear() {
        let err = parse("5x").err();
        assert_eq!(
            err.as_ref().map(ValueError::message),
            Some(
                "invalid duration `5x`: expected a number and a unit (ms, s, m, h, d), like `30s` or `5m`"
            )
        );
        assert_eq!(
            parse("30").err().and_then(|e| e.help().map(str::to_owned)),
            Some("add a unit, like `30s` or `30m`".to_owned())
        );
        assert_eq!(
            parse("5sec")
                .err()
                .and_then(|e| e.help().map(str::to_owned)),
            Some("write `5s`".to_owned())
        );
        assert!(parse("").is_err_and(|e| e.message().starts_with("empty duration")));
    }

    #[test]
    fn refuses_overflow() {
        assert!(parse("99999999999999999999s").is_err_and(|e| e.message().contains("too long")));
        assert!(parse("999999999999999d").is_err_and(|e| e.message().contains("too long")));
        assert!(parse("18446744073709551615ms1ms").is_err());
    }

    #[test]
    fn display_is_canonical_and_round_trips() {
        for (input, shown) in [
            ("250ms", "250ms"),
            ("30s", "30s"),
            ("90m", "1h30m"),
            ("1h30m", "1h30m"),
            ("48h", "2d"),
            ("1500ms", "1s500ms"),
            ("0ms", "0s"),
            ("1d1h1m1s1ms", "1d1h1m1s1ms"),
        ] {
            let parsed = parse(input).ok();
            assert_eq!(parsed.map(|d| d.to_string()).as_deref(), Some(shown));
            assert_eq!(parse(shown).ok(), parsed, "round trip of {shown}");
        }
    }
}
