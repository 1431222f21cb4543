use std::fmt;
use std::str::FromStr;

use super::{ValueError, serde_via_str, show};

/// A number of bytes: `512`, `512B`, `64KiB`, `2MiB`, `1GiB`, `10KB`, `5MB`.
///
/// Decimal units (`KB`, `MB`, `GB`, `TB`) count in thousands, binary units (`KiB`, `MiB`,
/// `GiB`, `TiB`) in 1024s, and a plain number is bytes. In TOML a bare integer is bytes too.
/// `Display` prints the shortest exact form (`2097152` prints as `2MiB`, `512` as `512B`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(u64);

const KIB: u64 = 1024;
const UNITS: [(&str, u64); 9] = [
    ("B", 1),
    ("KiB", KIB),
    ("MiB", KIB * KIB),
    ("GiB", KIB * KIB * KIB),
    ("TiB", KIB * KIB * KIB * KIB),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("TB", 1_000_000_000_000),
];

const EXPECTED: &str = "expected a number of bytes with an optional unit (KB, MB, GB, KiB, MiB, GiB), like `512KiB` or `2MiB`";

impl ByteSize {
    /// An exact number of bytes.
    pub const fn from_bytes(bytes: u64) -> Self {
        Self(bytes)
    }

    /// `n` kibibytes (n × 1024 bytes).
    pub const fn kib(n: u64) -> Self {
        Self(n * KIB)
    }

    /// `n` mebibytes (n × 1024 × 1024 bytes).
    pub const fn mib(n: u64) -> Self {
        Self(n * KIB * KIB)
    }

    /// The size in bytes.
    pub const fn bytes(self) -> u64 {
        self.0
    }

    fn invalid(input: &str) -> ValueError {
        ValueError::new(format!("invalid size `{}`: {EXPECTED}", show(input)))
    }
}

impl From<ByteSize> for u64 {
    fn from(value: ByteSize) -> Self {
        value.0
    }
}

impl FromStr for ByteSize {
    type Err = ValueError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let text = input.trim();
        let digits_end = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (digits, unit) = text.split_at(digits_end);
        let unit = unit.trim_start();
        if digits.is_empty() {
            return Err(Self::invalid(input));
        }
        let multiplier = match unit {
            "" => 1,
            "kB" => 1_000,
            _ => match UNITS.iter().find(|(name, _)| *name == unit) {
                Some(&(_, multiplier)) => multiplier,
                None => {
                    let err = Self::invalid(input);
                    let lower = unit.to_ascii_lowercase();
                    let binary = UNITS
                        .iter()
                        .find(|(name, _)| name.len() == 3 && name.to_ascii_lowercase() == lower);
                    let decimal = UNITS
                        .iter()
                        .find(|(name, _)| name.len() == 2 && name.to_ascii_lowercase() == lower);
                    let prefix = lower.trim_end_matches(['i', 'b']).to_ascii_uppercase();
                    return Err(match (binary, decimal) {
                        (Some((name, _)), _) | (None, Some((name, _))) => err
                            .with_help(format!("units are case-sensitive: write `{digits}{name}`")),
                        (None, None) if matches!(prefix.as_str(), "K" | "M" | "G" | "T") => err
                            .with_help(format!(
                                "write `{digits}{prefix}iB` (×1024) or `{digits}{prefix}B` (×1000)"
                            )),
                        (None, None) => err,
                    });
                }
            },
        };
        let too_big = || ValueError::new(format!("size `{}` is too large", show(input)));
        let count: u64 = digits.parse().map_err(|_| too_big())?;
        count.checked_mul(multiplier).map(Self).ok_or_else(too_big)
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Of the units that divide the size exactly, pick the one giving the smallest number
        // (binary wins ties, since it comes first).
        let mut best = ("B", self.0);
        for (unit, size) in UNITS {
            if self.0 != 0 && self.0.is_multiple_of(size) && self.0 / size < best.1 {
                best = (unit, self.0 / size);
            }
        }
        write!(f, "{}{}", best.1, best.0)
    }
}

serde_via_str!(ByteSize, "a size like `2MiB` or `512KiB`", {
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ByteSize, E> {
        Ok(ByteSize(v))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ByteSize, E> {
        u64::try_from(v)
            .map(ByteSize)
            .map_err(|_| ByteSize::invalid(&v.to_string()).into_de_error())
    }
});

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Option<u64> {
        s.parse::<ByteSize>().ok().map(ByteSize::bytes)
    }

    #[test]
    fn parses_units() {
        assert_eq!(parse("512"), Some(512));
        assert_eq!(parse("512B"), Some(512));
        assert_eq!(parse("64KiB"), Some(64 * 1024));
        assert_eq!(parse("2MiB"), Some(2 * 1024 * 1024));
        assert_eq!(parse("1GiB"), Some(1024 * 1024 * 1024));
        assert_eq!(parse("1TiB"), Some(1 << 40));
        assert_eq!(parse("10KB"), Some(10_000));
        assert_eq!(parse("10kB"), Some(10_000));
        assert_eq!(parse("5MB"), Some(5_000_000));
        assert_eq!(parse("3GB"), Some(3_000_000_000));
        assert_eq!(parse("2 MiB"), Some(2 * 1024 * 1024));
        assert_eq!(parse("0"), Some(0));
    }

    #[test]
    fn refuses_bad_input() {
        for bad in [
            "",
            "MiB",
            "2XB",
            "1.5MiB",
            "-1",
            "2 M iB",
            "99999999999TiB",
            "2MiBs",
        ] {
            assert_eq!(parse(bad), None, "{bad:?} should be refused");
        }
    }

    #[test]
    fn errors_help() {
        let help = |s: &str| {
            s.parse::<ByteSize>()
                .err()
                .and_then(|e| e.help().map(str::to_owned))
        };
        assert_eq!(
            help("2mib").as_deref(),
            Some("units are case-sensitive: write `2MiB`")
        );
        assert_eq!(
            help("2mb").as_deref(),
            Some("units are case-sensitive: write `2MB`")
        );
        assert_eq!(
            help("2M").as_deref(),
            Some("write `2MiB` (×1024) or `2MB` (×1000)")
        );
        assert!(
            "2XB"
                .parse::<ByteSize>()
                .is_err_and(|e| e.message().starts_with("invalid size `2XB`: expected"))
        );
        assert!(
            "99999999999TiB"
                .parse::<ByteSize>()
                .is_err_and(|e| e.message().contains("too large"))
        );
    }

    #[test]
    fn display_is_canonical_and_round_trips() {
        for (input, shown) in [
            ("512", "512B"),
            ("0", "0B"),
            ("1024", "1KiB"),
            ("2MiB", "2MiB"),
            ("2048KiB", "2MiB"),
            ("1000", "1KB"),
            ("5MB", "5MB"),
            ("1GiB", "1GiB"),
            ("1500", "1500B"),
            ("2048000", "2000KiB"),
        ] {
            let parsed: Option<ByteSize> = input.parse().ok();
            assert_eq!(parsed.map(|b| b.to_string()).as_deref(), Some(shown));
            assert_eq!(shown.parse().ok(), parsed, "round trip of {shown}");
        }
    }
}
