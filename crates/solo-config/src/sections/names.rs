use serde::{Deserialize, Deserializer};

use crate::diagnose::Note;
use crate::values::show;

/// A name people type on the command line and in URLs: lowercase letters, digits, `-`,
/// `_` and `.`, starting with a letter or digit, at most 64 characters.
pub(crate) fn name<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let name = String::deserialize(deserializer)?;
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !valid {
        return Err(serde::de::Error::custom(
            Note::new(format!("invalid name `{}`", show(&name))).help(Some(
                "use 1 to 64 lowercase letters, digits, `-`, `_` or `.`, starting with a letter or digit"
                    .to_owned(),
            )),
        ));
    }
    Ok(name)
}
