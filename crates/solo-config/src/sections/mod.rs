//! One file per `solo.toml` section. To add a section: write its struct here (with
//! `#[serde(default, deny_unknown_fields)]` and a `Default`), then add a field to
//! [`StackFile`](crate::StackFile) with `#[serde(default, deserialize_with = "table")]`.

mod access;
mod app;
mod cron;
mod database;
mod http;
mod jobs;
mod log;
mod names;
mod node;
mod preflight;
mod proxy;
mod queue;
mod stack;

use std::fmt;
use std::marker::PhantomData;
use std::path::PathBuf;

use serde::de::value::MapAccessDeserializer;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

pub use access::AccessSection;
pub use app::{AppSection, HealthSection, RestartSection, WatchSection};
pub use cron::{CronSection, MissedTicks, SubscriptionSection};
pub use database::DatabaseSection;
pub use http::{HttpSection, TlsFiles};
pub use jobs::JobsSection;
pub use log::LogSection;
pub use node::NodeSection;
pub use preflight::PreflightSection;
pub use proxy::ProxySection;
pub use queue::{QueueDelivery, QueueSection};
pub use stack::StackFile;

use crate::diagnose::Note;
use crate::values::Duration;

/// A duration longer than zero, for `key`: with zero, `consequence` (so the setting would be
/// meaningless); the help suggests `default`.
pub(crate) fn positive_duration<'de, D: Deserializer<'de>>(
    deserializer: D,
    key: &str,
    consequence: &str,
    default: Duration,
) -> Result<Duration, D::Error> {
    let duration = Duration::deserialize(deserializer)?;
    if duration.as_std().is_zero() {
        return Err(serde::de::Error::custom(
            Note::new(format!("`{key}` must be longer than zero")).help(Some(format!(
                "at zero, {consequence}; write a duration like `{default}` (the default)"
            ))),
        ));
    }
    Ok(duration)
}

/// A path that is not empty.
pub(crate) fn path<'de, D: Deserializer<'de>>(deserializer: D) -> Result<PathBuf, D::Error> {
    let path = PathBuf::deserialize(deserializer)?;
    if path.as_os_str().is_empty() {
        return Err(serde::de::Error::custom(
            Note::new("the path is empty")
                .help(Some("write a path, or leave the key out".to_owned())),
        ));
    }
    Ok(path)
}

/// An optional path that, when given, is not empty.
pub(crate) fn opt_path<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<PathBuf>, D::Error> {
    path(deserializer).map(Some)
}

/// A section, which must be written as a table. (serde's derived structs would also accept an
/// array, filling the fields in order: `node = ["127.0.0.1:7070"]` must not mean anything.)
pub(crate) fn table<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct TableOnly<T>(PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for TableOnly<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a table")
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::deserialize(MapAccessDeserializer::new(map))
        }
    }

    deserializer.deserialize_map(TableOnly(PhantomData))
}
