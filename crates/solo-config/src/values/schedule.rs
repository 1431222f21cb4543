use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use super::{ValueError, serde_via_str, show};

/// When a `[[cron]]` entry ticks: a cron expression (five fields, or six with seconds
/// first; `@daily`-style nicknames too) or `rate(5 minutes)`.
///
/// A rate ticks at whole multiples of its period since the Unix epoch, so every node
/// computes the same tick times without talking to the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    text: String,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Cron(Box<croner::Cron>),
    Rate(std::time::Duration),
}

const EXPECTED: &str = "a cron expression like `*/5 * * * *` (minute hour day month weekday, \
                        optionally seconds first) or a rate like `rate(5 minutes)`";

impl Schedule {
    /// The first tick strictly after `after`, in `zone` for cron expressions (a rate
    /// ignores the zone). `None` when the expression never matches again.
    pub fn next_after(&self, after: DateTime<Utc>, zone: TimeZone) -> Option<DateTime<Utc>> {
        match &self.kind {
            Kind::Cron(cron) => cron
                .find_next_occurrence(&after.with_timezone(&zone.0), false)
                .ok()
                .map(|at| at.with_timezone(&Utc)),
            Kind::Rate(every) => {
                let every_us = i64::try_from(every.as_micros()).ok()?.max(1);
                let now_us = after.timestamp_micros();
                let next = (now_us.div_euclid(every_us) + 1).checked_mul(every_us)?;
                DateTime::from_timestamp_micros(next)
            }
        }
    }

    /// The last tick at or before `at`.
    pub fn latest_at_or_before(&self, at: DateTime<Utc>, zone: TimeZone) -> Option<DateTime<Utc>> {
        match &self.kind {
            Kind::Cron(cron) => cron
                .find_previous_occurrence(&at.with_timezone(&zone.0), true)
                .ok()
                .map(|tick| tick.with_timezone(&Utc)),
            Kind::Rate(every) => {
                let every_us = i64::try_from(every.as_micros()).ok()?.max(1);
                let tick = at
                    .timestamp_micros()
                    .div_euclid(every_us)
                    .checked_mul(every_us)?;
                DateTime::from_timestamp_micros(tick)
            }
        }
    }

    fn rate(input: &str, inner: &str) -> Result<Self, ValueError> {
        let bad = || {
            ValueError::new(format!("invalid rate `{}`", show(input))).with_help(
                "write `rate(N unit)` with a whole N above zero and a unit of seconds, \
                 minutes, hours or days, like `rate(5 minutes)`",
            )
        };
        let mut parts = inner.split_whitespace();
        let (Some(count), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        let count: u64 = count.parse().map_err(|_| bad())?;
        let unit_secs = match unit.trim_end_matches('s') {
            "second" => 1,
            "minute" => 60,
            "hour" => 3600,
            "day" => 86_400,
            _ => return Err(bad()),
        };
        if count == 0 {
            return Err(bad());
        }
        let secs = count.checked_mul(unit_secs).ok_or_else(bad)?;
        Ok(Self {
            text: input.to_owned(),
            kind: Kind::Rate(std::time::Duration::from_secs(secs)),
        })
    }
}

impl FromStr for Schedule {
    type Err = ValueError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let trimmed = input.trim();
        if let Some(inner) = trimmed
            .strip_prefix("rate(")
            .and_then(|rest| rest.strip_suffix(')'))
        {
            return Self::rate(input, inner);
        }
        let cron = croner::Cron::from_str(trimmed).map_err(|err| {
            ValueError::new(format!(
                "invalid schedule `{}`: {}",
                show(input),
                cron_reason(&err)
            ))
            .with_help(format!("write {EXPECTED}"))
        })?;
        Ok(Self {
            text: input.to_owned(),
            kind: Kind::Cron(Box::new(cron)),
        })
    }
}

/// croner's messages, in a sentence that reads after "invalid schedule `…`:".
fn cron_reason(err: &croner::errors::CronError) -> String {
    use croner::errors::CronError;
    match err {
        CronError::EmptyPattern => "it is empty".to_owned(),
        CronError::InvalidPattern(why) | CronError::IllegalCharacters(why) => {
            why.trim_end_matches('.').to_lowercase()
        }
        CronError::ComponentError(why) => why.trim_end_matches('.').to_lowercase(),
        other => other.to_string().to_lowercase(),
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

serde_via_str!(Schedule, "a cron expression or `rate(N unit)`");

/// An IANA time zone name (`Europe/Berlin`, `UTC`), for cron expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeZone(chrono_tz::Tz);

impl TimeZone {
    pub const UTC: TimeZone = TimeZone(chrono_tz::Tz::UTC);
}

impl FromStr for TimeZone {
    type Err = ValueError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        input.parse::<chrono_tz::Tz>().map(TimeZone).map_err(|_| {
            ValueError::new(format!("unknown time zone `{}`", show(input))).with_help(
                "write an IANA time zone name like `UTC`, `Europe/Berlin` or `America/New_York`",
            )
        })
    }
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name())
    }
}

serde_via_str!(TimeZone, "an IANA time zone name");

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn next(schedule: &str, zone: &str, after: &str) -> String {
        let schedule: Schedule = schedule.parse().unwrap_or_else(|e| panic!("{e}"));
        let zone: TimeZone = zone.parse().unwrap_or_else(|e| panic!("{e}"));
        schedule
            .next_after(at(after), zone)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default()
    }

    #[test]
    fn five_fields_tick_on_minutes() {
        assert_eq!(
            next("*/5 * * * *", "UTC", "2026-01-01T10:02:30Z"),
            "2026-01-01T10:05:00+00:00"
        );
        // Strictly after: a tick exactly now is not the next one.
        assert_eq!(
            next("*/5 * * * *", "UTC", "2026-01-01T10:05:00Z"),
            "2026-01-01T10:10:00+00:00"
        );
    }

    #[test]
    fn six_fields_have_seconds_first() {
        assert_eq!(
            next("*/10 * * * * *", "UTC", "2026-01-01T10:00:01Z"),
            "2026-01-01T10:00:10+00:00"
        );
    }

    #[test]
    fn time_zones_move_the_ticks() {
        // 03:00 in Berlin is 02:00 UTC in winter.
        assert_eq!(
            next("0 3 * * *", "Europe/Berlin", "2026-01-01T00:00:00Z"),
            "2026-01-01T02:00:00+00:00"
        );
    }

    #[test]
    fn the_latest_tick_includes_now() {
        let latest = |schedule: &str, at_text: &str| {
            let schedule: Schedule = schedule.parse().unwrap_or_else(|e| panic!("{e}"));
            schedule
                .latest_at_or_before(at(at_text), TimeZone::UTC)
                .map(|t| t.to_rfc3339())
                .unwrap_or_default()
        };
        assert_eq!(
            latest("*/5 * * * *", "2026-01-01T10:05:00Z"),
            "2026-01-01T10:05:00+00:00"
        );
        assert_eq!(
            latest("*/5 * * * *", "2026-01-01T10:07:10Z"),
            "2026-01-01T10:05:00+00:00"
        );
        assert_eq!(
            latest("rate(5 minutes)", "2026-01-01T10:07:10Z"),
            "2026-01-01T10:05:00+00:00"
        );
    }

    #[test]
    fn rates_tick_at_multiples_of_their_period() {
        assert_eq!(
            next("rate(5 minutes)", "UTC", "2026-01-01T10:02:30Z"),
            "2026-01-01T10:05:00+00:00"
        );
        assert_eq!(
            next("rate(1 hour)", "Europe/Berlin", "2026-01-01T10:00:00Z"),
            "2026-01-01T11:00:00+00:00"
        );
    }

    #[test]
    fn bad_schedules_say_what_to_write() {
        for bad in [
            "",
            "* * *",
            "61 * * * *",
            "rate(0 minutes)",
            "rate(5 fortnights)",
            "rate(five minutes)",
        ] {
            let err = bad
                .parse::<Schedule>()
                .err()
                .unwrap_or_else(|| panic!("{bad}"));
            assert!(err.help().is_some(), "{bad}: {err}");
        }
        assert!("Mars/Olympus".parse::<TimeZone>().is_err());
    }
}
