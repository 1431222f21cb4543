use std::fmt;
use std::str::FromStr;

use super::{ValueError, serde_via_str, show};
use crate::suggest::did_you_mean;

fn unknown(what: &str, input: &str, names: &[&str]) -> ValueError {
    let err = ValueError::new(format!("unknown {what} `{}`", show(input)));
    match did_you_mean(input, names.iter().copied()) {
        Some(name) => err.with_help(format!("did you mean `{name}`?")),
        None => err.with_help(format!("expected one of {}", crate::suggest::list(names))),
    }
}

/// How much solo logs. Ordered from quietest to loudest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum LogLevel {
    /// Only errors.
    Error,
    /// Errors and warnings.
    Warn,
    /// What solo is doing (the default).
    #[default]
    Info,
    /// Details for troubleshooting.
    Debug,
    /// Everything.
    Trace,
}

impl LogLevel {
    /// Every level, quietest first.
    pub const ALL: [LogLevel; 5] = [
        LogLevel::Error,
        LogLevel::Warn,
        LogLevel::Info,
        LogLevel::Debug,
        LogLevel::Trace,
    ];

    /// The name as written in `solo.toml`: `error`, `warn`, `info`, `debug` or `trace`.
    pub const fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

impl FromStr for LogLevel {
    type Err = ValueError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|level| level.as_str() == input)
            .ok_or_else(|| unknown("log level", input, &Self::ALL.map(Self::as_str)))
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

serde_via_str!(
    LogLevel,
    "a log level (`error`, `warn`, `info`, `debug` or `trace`)"
);

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LogFormat {
    /// `pretty` on a terminal, `json` otherwise (the default).
    #[default]
    Auto,
    /// One JSON object per line, for log shippers.
    Json,
    /// Human-friendly lines.
    Pretty,
}

impl LogFormat {
    /// Every format.
    pub const ALL: [LogFormat; 3] = [LogFormat::Auto, LogFormat::Json, LogFormat::Pretty];

    /// The name as written in `solo.toml`: `auto`, `json` or `pretty`.
    pub const fn as_str(self) -> &'static str {
        match self {
            LogFormat::Auto => "auto",
            LogFormat::Json => "json",
            LogFormat::Pretty => "pretty",
        }
    }
}

impl FromStr for LogFormat {
    type Err = ValueError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|format| format.as_str() == input)
            .ok_or_else(|| unknown("log format", input, &Self::ALL.map(Self::as_str)))
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

serde_via_str!(LogFormat, "a log format (`auto`, `json` or `pretty`)");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for level in LogLevel::ALL {
            assert_eq!(level.to_string().parse::<LogLevel>().ok(), Some(level));
        }
        for format in LogFormat::ALL {
            assert_eq!(format.to_string().parse::<LogFormat>().ok(), Some(format));
        }
        assert!(LogLevel::Error < LogLevel::Trace);
    }

    #[test]
    fn unknown_names_get_suggestions() {
        let err = "jsn".parse::<LogFormat>().err();
        assert_eq!(
            err.as_ref().map(ValueError::message),
            Some("unknown log format `jsn`")
        );
        assert_eq!(
            err.as_ref().and_then(ValueError::help),
            Some("did you mean `json`?")
        );
        let err = "INFO".parse::<LogLevel>().err();
        assert_eq!(
            err.as_ref().and_then(ValueError::help),
            Some("did you mean `info`?")
        );
        let err = "loud".parse::<LogLevel>().err();
        assert_eq!(
            err.as_ref().and_then(ValueError::help),
            Some("expected one of `error`, `warn`, `info`, `debug`, `trace`")
        );
    }
}
