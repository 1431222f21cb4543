//! The `version` check, done before the typed parse: a file from a newer solo should say
//! "upgrade solo", not trip over the new keys it uses.

use serde::Deserialize;
use toml::de::DeTable;

use crate::CURRENT_VERSION;
use crate::diagnose::typed_error;
use crate::error::{ConfigError, ConfigErrorKind};

/// Reads `version` and nothing else.
#[derive(Deserialize)]
struct VersionProbe {
    version: Option<toml::Spanned<toml::Value>>,
}

pub(crate) fn check(
    source: &str,
    origin: &str,
    document: &toml::Spanned<DeTable<'_>>,
) -> Result<(), ConfigError> {
    let probe = VersionProbe::deserialize(toml::de::Deserializer::from(document.clone()))
        .map_err(|err| typed_error(&err, source, origin, document.get_ref()))?;
    let error = |message: String, help: String| {
        ConfigError::new(ConfigErrorKind::Version, origin, message).with_help(Some(help))
    };
    let Some(version) = probe.version else {
        return Err(error(
            format!("missing `version = {CURRENT_VERSION}`"),
            format!(
                "every solo.toml starts with `version = {CURRENT_VERSION}`, so that later releases of solo know how to read it: add that line at the top"
            ),
        )
        .at(source, 0..0));
    };
    let span = version.span();
    let current = i64::from(CURRENT_VERSION);
    let problem = match version.get_ref() {
        toml::Value::Integer(v) if *v == current => return Ok(()),
        toml::Value::Integer(v) if *v > current => error(
            format!(
                "this solo.toml is version {v}, but this solo understands version {CURRENT_VERSION}"
            ),
            "upgrade solo to a release that reads this version".to_owned(),
        ),
        toml::Value::Integer(v) => error(
            format!("unsupported version {v}: versions start at 1"),
            format!("write `version = {CURRENT_VERSION}`"),
        ),
        toml::Value::String(_) => error(
            "`version` must be a whole number, found a string".to_owned(),
            format!("write `version = {CURRENT_VERSION}`, without quotes"),
        ),
        other => error(
            format!(
                "`version` must be a whole number, found {}",
                match other {
                    toml::Value::Float(_) => "a float",
                    toml::Value::Boolean(_) => "a boolean",
                    toml::Value::Datetime(_) => "a date",
                    toml::Value::Array(_) => "an array",
                    _ => "a table",
                }
            ),
            format!("write `version = {CURRENT_VERSION}`"),
        ),
    };
    Err(problem.at(source, span))
}
