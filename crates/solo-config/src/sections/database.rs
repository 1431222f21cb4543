use std::ops::RangeInclusive;

use serde::{Deserialize, Deserializer, Serialize};

use crate::diagnose::Note;
use crate::values::{DatabaseUrl, Duration};

/// `[database]`: where solo keeps its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSection {
    /// `url`: `None` when the file does not set it (then `SOLO_DATABASE_URL` or solo's
    /// built-in SQLite database applies, as the caller decides).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<DatabaseUrl>,
    /// `max_connections`: the PostgreSQL pool size, always within
    /// [`DatabaseSection::MAX_CONNECTIONS`].
    #[serde(deserialize_with = "pool_size")]
    pub max_connections: u32,
    /// `statement_timeout`: how long one SQL statement may run: more than zero, at most
    /// [`DatabaseSection::MAX_STATEMENT_TIMEOUT`].
    #[serde(deserialize_with = "statement_timeout")]
    pub statement_timeout: Duration,
}

impl DatabaseSection {
    /// The allowed pool sizes.
    pub const MAX_CONNECTIONS: RangeInclusive<u32> = 1..=1000;

    /// The longest allowed `statement_timeout`: one hour.
    pub const MAX_STATEMENT_TIMEOUT: Duration = Duration::from_secs(3600);
}

impl Default for DatabaseSection {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 10,
            statement_timeout: Duration::from_secs(30),
        }
    }
}

fn pool_size<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let value = i64::deserialize(deserializer)?;
    let range = DatabaseSection::MAX_CONNECTIONS;
    match u32::try_from(value) {
        Ok(size) if range.contains(&size) => Ok(size),
        _ => {
            let help = if value < 1 {
                "the pool needs at least one connection"
            } else {
                "PostgreSQL allows 100 connections by default; 10 to 20 is plenty for one solo node"
            };
            Err(serde::de::Error::custom(
                Note::new(format!(
                    "`max_connections` must be between {} and {}, found {value}",
                    range.start(),
                    range.end()
                ))
                .help(Some(help.to_owned())),
            ))
        }
    }
}

fn statement_timeout<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let default = DatabaseSection::default().statement_timeout;
    // PostgreSQL reads a `statement_timeout` of 0 as "no limit": zero must not slip through.
    let timeout = super::positive_duration(
        deserializer,
        "statement_timeout",
        "PostgreSQL would let a stuck statement run forever",
        default,
    )?;
    let max = DatabaseSection::MAX_STATEMENT_TIMEOUT;
    if timeout > max {
        return Err(serde::de::Error::custom(
            Note::new(format!(
                "`statement_timeout` must be at most {max}, found {timeout}"
            ))
            .help(Some(format!(
                "a statement running longer holds a connection and its locks all the while: \
                 write `{max}` or less; `{default}` (the default) suits solo's own queries"
            ))),
        ));
    }
    Ok(timeout)
}
