use serde::{Deserialize, Deserializer, Serialize};

use super::{
    AccessSection, AppSection, CronSection, DatabaseSection, HttpSection, JobsSection, LogSection,
    NodeSection, PreflightSection, ProxySection, QueueSection, SubscriptionSection,
};
use crate::CURRENT_VERSION;
use crate::diagnose::Note;

/// A whole `solo.toml`, version 1.
///
/// Every section is optional in the file; a missing section is the same as an empty one.
/// `Default` is what an empty `version = 1` file means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackFile {
    /// `version`: the format version, always [`CURRENT_VERSION`].
    #[serde(deserialize_with = "version")]
    pub version: u32,
    /// `[node]`
    #[serde(default, deserialize_with = "super::table")]
    pub node: NodeSection,
    /// `[database]`
    #[serde(default, deserialize_with = "super::table")]
    pub database: DatabaseSection,
    /// `[http]`
    #[serde(default, deserialize_with = "super::table")]
    pub http: HttpSection,
    /// `[log]`
    #[serde(default, deserialize_with = "super::table")]
    pub log: LogSection,
    /// `[access]`
    #[serde(default, deserialize_with = "super::table")]
    pub access: AccessSection,
    /// `[jobs]`
    #[serde(default, deserialize_with = "super::table")]
    pub jobs: JobsSection,
    /// `[[queues]]`
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queues: Vec<QueueSection>,
    /// `[[cron]]`
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cron: Vec<CronSection>,
    /// `[[subscriptions]]`
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subscriptions: Vec<SubscriptionSection>,
    /// `[app]`: none when solo does not run an app (jobs and monitors only).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_table"
    )]
    pub app: Option<AppSection>,
    /// `[proxy]`
    #[serde(default, deserialize_with = "super::table")]
    pub proxy: ProxySection,
    /// `[preflight]`
    #[serde(default, deserialize_with = "super::table")]
    pub preflight: PreflightSection,
}

fn opt_table<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    super::table(deserializer).map(Some)
}

impl Default for StackFile {
    fn default() -> Self {
        Self {
            version: CURRENT_VERSION,
            node: NodeSection::default(),
            database: DatabaseSection::default(),
            http: HttpSection::default(),
            log: LogSection::default(),
            access: AccessSection::default(),
            jobs: JobsSection::default(),
            queues: Vec::new(),
            cron: Vec::new(),
            subscriptions: Vec::new(),
            app: None,
            proxy: ProxySection::default(),
            preflight: PreflightSection::default(),
        }
    }
}

/// [`crate::parse`] checks the version first, with better messages; this keeps a plain
/// `toml::from_str::<StackFile>` honest too.
fn version<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let version = i64::deserialize(deserializer)?;
    if version == i64::from(CURRENT_VERSION) {
        Ok(CURRENT_VERSION)
    } else {
        Err(serde::de::Error::custom(Note::new(format!(
            "unsupported version {version}: this solo understands version {CURRENT_VERSION}"
        ))))
    }
}
