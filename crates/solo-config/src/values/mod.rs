//! Value types that can only hold valid values: each one is parsed (with `FromStr`) from the
//! text a person writes in `solo.toml`, and prints back (with `Display`) in its canonical form.

mod bytesize;
pub(crate) mod database_url;
mod duration;
mod listen;
mod log;
mod origin;
mod schedule;

use std::fmt;

pub use bytesize::ByteSize;
pub use database_url::DatabaseUrl;
pub use duration::Duration;
pub use listen::ListenAddr;
pub use log::{LogFormat, LogLevel};
pub use origin::Origin;
pub use schedule::{Schedule, TimeZone};

/// Why a value could not be parsed: a one-line message, and sometimes a hint.
///
/// `Display` prints the message only; [`ValueError::help`] has the hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError {
    message: String,
    help: Option<String>,
}

impl ValueError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            help: None,
        }
    }

    pub(crate) fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// What is wrong, in one line.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// How to fix it, when there is something useful to say.
    pub fn help(&self) -> Option<&str> {
        self.help.as_deref()
    }

    /// Turns this into a serde error that carries the help along to the diagnostic.
    pub(crate) fn into_de_error<E: serde::de::Error>(self) -> E {
        E::custom(crate::diagnose::Note::new(self.message).help(self.help))
    }
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ValueError {}

/// Shows user input inside a message: control characters escaped, long values shortened.
pub(crate) fn show(input: &str) -> String {
    const MAX: usize = 60;
    let mut out = String::new();
    for (i, c) in input.chars().enumerate() {
        if i == MAX {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// `Serialize` as the `Display` string, `Deserialize` from a TOML string through `FromStr`.
/// Extra visitor methods (e.g. `visit_u64`) can be passed in braces.
macro_rules! serde_via_str {
    ($ty:ty, $expecting:literal $(, { $($extra:item)* })?) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Visitor;

                impl serde::de::Visitor<'_> for Visitor {
                    type Value = $ty;

                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str($expecting)
                    }

                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$ty, E> {
                        v.parse::<$ty>().map_err($crate::values::ValueError::into_de_error)
                    }

                    $($($extra)*)?
                }

                deserializer.deserialize_str(Visitor)
            }
        }
    };
}
pub(crate) use serde_via_str;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_escapes_and_shortens() {
        assert_eq!(show("a\tb"), "a\\tb");
        assert_eq!(show(&"x".repeat(100)).chars().count(), 61);
    }
}
