use serde::{Deserialize, Deserializer, Serialize};

use crate::values::Duration;

/// `[jobs]`: how this node runs the queues of `[[queues]]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsSection {
    /// `lease`: a claimed job belongs to its worker this long, renewed while it runs; a
    /// worker that dies hands its jobs back when the lease runs out (default `30s`).
    #[serde(deserialize_with = "lease")]
    pub lease: Duration,
    /// `retention`: completed and cancelled jobs are deleted this long after they
    /// finished (default `7d`).
    #[serde(deserialize_with = "retention")]
    pub retention: Duration,
    /// `discarded_retention`: discarded jobs, kept longer to read their errors (default
    /// `30d`).
    #[serde(deserialize_with = "discarded_retention")]
    pub discarded_retention: Duration,
    /// `shutdown_grace`: at shutdown, running jobs get this long to finish; the rest are
    /// handed back to the queue (default `30s`).
    #[serde(deserialize_with = "shutdown_grace")]
    pub shutdown_grace: Duration,
}

impl Default for JobsSection {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(30),
            retention: Duration::from_secs(7 * 86_400),
            discarded_retention: Duration::from_secs(30 * 86_400),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

fn lease<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    super::positive_duration(
        deserializer,
        "lease",
        "every job would be handed back as soon as it is claimed",
        JobsSection::default().lease,
    )
}

fn retention<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    super::positive_duration(
        deserializer,
        "retention",
        "a finished job would vanish before anyone could look at it",
        JobsSection::default().retention,
    )
}

fn discarded_retention<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    super::positive_duration(
        deserializer,
        "discarded_retention",
        "a discarded job's errors would vanish before anyone could read them",
        JobsSection::default().discarded_retention,
    )
}

fn shutdown_grace<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    super::positive_duration(
        deserializer,
        "shutdown_grace",
        "every running job would be cut off at shutdown",
        JobsSection::default().shutdown_grace,
    )
}
