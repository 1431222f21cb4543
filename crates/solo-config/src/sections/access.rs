use serde::{Deserialize, Deserializer, Serialize};

use crate::diagnose::Note;
use crate::values::Duration;

/// `[access]`: signing in to the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccessSection {
    /// `session_idle`: a session unused this long ends (default `30m`).
    #[serde(deserialize_with = "session_idle")]
    pub session_idle: Duration,
    /// `session_lifetime`: a session ends this long after sign-in, used or not (default
    /// `12h`, at most [`AccessSection::MAX_SESSION_LIFETIME`]).
    #[serde(deserialize_with = "session_lifetime")]
    pub session_lifetime: Duration,
    /// `require_mfa_for_admins`: admins without two-factor sign-in can only reach their
    /// account page, to set it up (default `false`).
    pub require_mfa_for_admins: bool,
}

impl AccessSection {
    /// The longest allowed `session_lifetime`: 30 days.
    pub const MAX_SESSION_LIFETIME: Duration = Duration::from_secs(30 * 86_400);
}

impl Default for AccessSection {
    fn default() -> Self {
        Self {
            session_idle: Duration::from_secs(30 * 60),
            session_lifetime: Duration::from_secs(12 * 3600),
            require_mfa_for_admins: false,
        }
    }
}

fn session_idle<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    super::positive_duration(
        deserializer,
        "session_idle",
        "every session would end before its first use",
        AccessSection::default().session_idle,
    )
}

fn session_lifetime<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let lifetime = super::positive_duration(
        deserializer,
        "session_lifetime",
        "every session would end at sign-in",
        AccessSection::default().session_lifetime,
    )?;
    if lifetime > AccessSection::MAX_SESSION_LIFETIME {
        return Err(serde::de::Error::custom(
            Note::new(format!(
                "`session_lifetime` must be at most {}, found {lifetime}",
                AccessSection::MAX_SESSION_LIFETIME
            ))
            .help(Some(
                "a stolen session cookie works until the session ends; sign in again now and then"
                    .to_owned(),
            )),
        ));
    }
    Ok(lifetime)
}
