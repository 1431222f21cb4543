use serde::{Deserialize, Serialize};

use crate::values::{Schedule, TimeZone};

/// One `[[cron]]` entry: a job enqueued on a schedule. Every tick runs once however many
/// nodes run: the tick's job carries a unique key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CronSection {
    /// `name`: unique among the entries; part of each tick's unique key.
    #[serde(deserialize_with = "super::names::name")]
    pub name: String,
    /// `schedule`: a cron expression (optionally with seconds) or `rate(5 minutes)`.
    pub schedule: Schedule,
    /// `timezone`: the zone cron expressions are read in (default `UTC`).
    #[serde(default)]
    pub timezone: TimeZone,
    /// `queue`: a queue from `[[queues]]`.
    pub queue: String,
    /// `kind`: the job's kind (default: the entry's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `payload`: the job's payload, a table (default empty).
    #[serde(default = "empty_object")]
    pub payload: serde_json::Value,
    /// `missed`: what a node starting after a missed tick does (default `skip`).
    #[serde(default)]
    pub missed: MissedTicks,
}

impl CronSection {
    /// The job kind ticks enqueue.
    pub fn kind(&self) -> &str {
        self.kind.as_deref().unwrap_or(&self.name)
    }
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

/// `missed = "skip" | "run_once"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissedTicks {
    /// Ticks missed while no node ran are lost; the schedule resumes at the next one.
    #[default]
    Skip,
    /// At start, if any tick was missed since the last one that ran, run once now.
    RunOnce,
}

/// One `[[subscriptions]]` entry: an event on `topic` enqueues a job on `queue`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionSection {
    /// `topic`: the events it receives, like `invoice.created`.
    #[serde(deserialize_with = "super::names::name")]
    pub topic: String,
    /// `queue`: a queue from `[[queues]]`, which delivers the job.
    pub queue: String,
    /// `kind`: the job's kind (default: the topic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

impl SubscriptionSection {
    /// The job kind its events enqueue.
    pub fn kind(&self) -> &str {
        self.kind.as_deref().unwrap_or(&self.topic)
    }
}
