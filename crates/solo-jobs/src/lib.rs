//! Durable jobs on the database solo already has: enqueue (one or many in
//! one statement), claim with a lease, complete, fail with backoff and
//! discard, cancel, retry, and the rescue of jobs whose worker died.
//!
//! Owns the `jobs` table; its SQL lives in `store.rs`. Every function takes
//! the current time from its caller, so tests move time instead of
//! sleeping. Delivery (HTTP, commands, pull), cron and events build on this
//! core (see docs/design/jobs.md).

mod actions;
mod backoff;
mod cron;
mod delivery;
mod metrics;
mod operate;
mod requests;
mod routes;
mod service;
mod store;
mod worker;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use solo_store::{Db, Migration, MigrationSet, Tx};

pub use actions::{Operator, cancel_job, enqueue_in, purge_jobs, retry_job};
pub use backoff::{DEFAULT_RETRY_BASE, backoff};
pub use cron::{
    CronEntry, CronRun, CronStatus, LATE_TOLERANCE, Schedule, cron_status, cron_tick, run_cron,
};
pub use delivery::{
    CommandDelivery, Delivery, DeliveryError, HttpDelivery, SigningSecret, sign, verify_signature,
};
pub use metrics::JobMetrics;
pub use operate::{JobFilter, QueueStats, list, prune, purge, release, stats};
pub use routes::routes;
pub use service::{BUILTIN_QUEUE, Jobs, JobsSettings, QueueSpec, Subscription};
pub use worker::{Handler, HandlerFuture, Outcome, Wakeup, WorkerConfig, run_worker};

/// The `jobs` component's migrations.
pub const MIGRATIONS: MigrationSet = MigrationSet {
    component: "jobs",
    migrations: &[
        Migration {
            version: 1,
            name: "create_jobs",
            sqlite: include_str!("../migrations/sqlite/0001_create_jobs.sql"),
            postgres: include_str!("../migrations/postgres/0001_create_jobs.sql"),
        },
        Migration {
            version: 2,
            name: "cron_and_requests",
            sqlite: include_str!("../migrations/sqlite/0002_cron_and_requests.sql"),
            postgres: include_str!("../migrations/postgres/0002_cron_and_requests.sql"),
        },
    ],
};

/// Where a job stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for its run-at time.
    Scheduled,
    /// Ready for a worker.
    Available,
    /// Failed; waiting for its next attempt.
    Retryable,
    /// Claimed by a worker, under a lease.
    Running,
    Completed,
    /// Out of attempts (or discarded by its handler).
    Discarded,
    Cancelled,
}

impl JobState {
    pub(crate) fn code(self) -> i64 {
        match self {
            JobState::Scheduled => 0,
            JobState::Available => 1,
            JobState::Retryable => 2,
            JobState::Running => 3,
            JobState::Completed => 4,
            JobState::Discarded => 5,
            JobState::Cancelled => 6,
        }
    }

    pub(crate) fn from_code(code: i64) -> Result<Self, JobError> {
        Ok(match code {
            0 => JobState::Scheduled,
            1 => JobState::Available,
            2 => JobState::Retryable,
            3 => JobState::Running,
            4 => JobState::Completed,
            5 => JobState::Discarded,
            6 => JobState::Cancelled,
            other => return Err(JobError::Corrupt(format!("unknown job state {other}"))),
        })
    }

    /// The lowercase name, as the API and the CLI write it.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Scheduled => "scheduled",
            JobState::Available => "available",
            JobState::Retryable => "retryable",
            JobState::Running => "running",
            JobState::Completed => "completed",
            JobState::Discarded => "discarded",
            JobState::Cancelled => "cancelled",
        }
    }

    /// No further attempts will be made.
    pub fn is_finished(self) -> bool {
        self >= JobState::Completed
    }
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub queue: String,
    pub kind: String,
    pub payload: serde_json::Value,
    /// Lower runs first (default 0).
    pub priority: i16,
    /// Not before this time (default: now).
    pub run_at: Option<DateTime<Utc>>,
    /// Attempts before the job is discarded (default 20).
    pub max_attempts: u16,
    /// While a job with this key is unfinished, another is refused.
    pub unique_key: Option<String>,
    pub tags: Vec<String>,
}

impl NewJob {
    pub fn new(
        queue: impl Into<String>,
        kind: impl Into<String>,
        payload: serde_json::Value,
    ) -> Self {
        NewJob {
            queue: queue.into(),
            kind: kind.into(),
            payload,
            priority: 0,
            run_at: None,
            max_attempts: 20,
            unique_key: None,
            tags: Vec::new(),
        }
    }
}

/// What became of one enqueued job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    Inserted(i64),
    /// An unfinished job with the same unique key exists.
    Duplicate,
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Job {
    pub id: i64,
    pub queue: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub priority: i64,
    pub run_at: DateTime<Utc>,
    pub state: JobState,
    /// Attempts started so far.
    pub attempt: i64,
    pub max_attempts: i64,
    pub unique_key: Option<String>,
    pub tags: Vec<String>,
    /// One entry per failed attempt: `{"attempt", "at", "error"}`.
    pub errors: Vec<serde_json::Value>,
    /// What the last successful attempt printed (command delivery).
    pub output: Option<String>,
    pub locked_by: Option<String>,
    pub locked_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl Job {
    /// The first line of the last attempt's error, at most `max_chars`
    /// long: what a table of jobs shows.
    pub fn last_error_summary(&self, max_chars: usize) -> String {
        self.errors
            .last()
            .and_then(|e| e.get("error"))
            .and_then(|e| e.as_str())
            .and_then(|e| e.lines().next())
            .map(|line| line.chars().take(max_chars).collect())
            .unwrap_or_default()
    }
}

/// What a failed attempt led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// Another attempt at this time.
    Retry(DateTime<Utc>),
    Discarded,
    /// The job was not ours to fail (its lease was lost: rescued, cancelled).
    NotHeld,
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("database error: {0}")]
    Db(#[from] solo_store::sqlx::Error),
    #[error("a job is unreadable: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
    #[error("could not write the audit log: {0}")]
    Audit(String),
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
}

pub(crate) fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

pub(crate) fn from_micros(us: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(us)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// Enqueues jobs, all in one statement (one transaction). Returns, per
/// job, its id or that it was a duplicate of an unfinished job.
pub async fn enqueue(
    db: &Db,
    jobs: &[NewJob],
    now: DateTime<Utc>,
) -> Result<Vec<Enqueued>, JobError> {
    validate(jobs)?;
    store::insert(db, jobs, now).await
}

pub(crate) fn validate(jobs: &[NewJob]) -> Result<(), JobError> {
    for job in jobs {
        if job.queue.is_empty() || job.kind.is_empty() {
            return Err(JobError::Invalid {
                field: if job.queue.is_empty() {
                    "queue"
                } else {
                    "kind"
                },
                message: "must not be empty".into(),
            });
        }
        if job.max_attempts == 0 {
            return Err(JobError::Invalid {
                field: "max_attempts",
                message: "must be at least 1".into(),
            });
        }
        if job.tags.iter().any(|t| t.is_empty() || t.contains(',')) {
            return Err(JobError::Invalid {
                field: "tags",
                message: "tags must be non-empty and may not contain `,`".into(),
            });
        }
    }
    Ok(())
}

/// Claims up to `limit` jobs of `queue` that may run at `now`, best
/// priority first, for `worker` until `now + lease`.
pub async fn claim(
    db: &Db,
    queue: &str,
    limit: u32,
    worker: &str,
    now: DateTime<Utc>,
    lease: std::time::Duration,
) -> Result<Vec<Job>, JobError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(30));
    store::claim(
        db,
        queue,
        i64::from(limit),
        worker,
        micros(now),
        micros(until),
    )
    .await
}

/// Completes jobs `worker` holds; returns how many it still held.
pub async fn complete(
    db: &Db,
    ids: &[i64],
    worker: &str,
    now: DateTime<Utc>,
) -> Result<u64, JobError> {
    store::complete(db, ids, worker, micros(now)).await
}

/// Extends the leases of jobs `worker` still holds to `now + lease`
/// (a running worker's heartbeat); returns how many it still held.
pub async fn extend_leases(
    db: &Db,
    ids: &[i64],
    worker: &str,
    now: DateTime<Utc>,
    lease: std::time::Duration,
) -> Result<u64, JobError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(30));
    store::extend_leases(db, ids, worker, micros(until)).await
}

/// Records a failed attempt of a job `worker` holds: retried after a
/// backoff from [`DEFAULT_RETRY_BASE`], or discarded when out of attempts
/// (or when `discard`).
pub async fn fail(
    db: &Db,
    id: i64,
    worker: &str,
    error: &str,
    discard: bool,
    now: DateTime<Utc>,
) -> Result<FailOutcome, JobError> {
    fail_with(db, id, worker, error, discard, DEFAULT_RETRY_BASE, now).await
}

/// [`fail`] with the queue's first wait.
pub async fn fail_with(
    db: &Db,
    id: i64,
    worker: &str,
    error: &str,
    discard: bool,
    retry_base: std::time::Duration,
    now: DateTime<Utc>,
) -> Result<FailOutcome, JobError> {
    store::fail(db, id, Some(worker), error, discard, retry_base, now).await
}

/// Returns running jobs whose lease ran out (their worker died) to the
/// queue, or discards them when out of attempts. Returns how many.
pub async fn rescue(db: &Db, now: DateTime<Utc>) -> Result<u64, JobError> {
    store::rescue(db, now).await
}

/// Cancels an unfinished job; false when it had already finished.
pub async fn cancel(db: &Db, id: i64, now: DateTime<Utc>) -> Result<bool, JobError> {
    let mut tx = db.begin().await?;
    let cancelled = cancel_in(&mut tx, id, now).await?;
    tx.commit().await?;
    Ok(cancelled)
}

/// [`cancel`] inside a caller's transaction (with its audit entry).
pub async fn cancel_in(tx: &mut Tx, id: i64, now: DateTime<Utc>) -> Result<bool, JobError> {
    store::cancel(tx, id, micros(now)).await
}

/// Makes a discarded, cancelled or retryable job available again at once,
/// with one more attempt allowed if it had run out.
pub async fn retry(db: &Db, id: i64, now: DateTime<Utc>) -> Result<bool, JobError> {
    let mut tx = db.begin().await?;
    let retried = retry_in(&mut tx, id, now).await?;
    tx.commit().await?;
    Ok(retried)
}

/// [`retry`] inside a caller's transaction (with its audit entry).
pub async fn retry_in(tx: &mut Tx, id: i64, now: DateTime<Utc>) -> Result<bool, JobError> {
    store::retry(tx, id, micros(now)).await
}

pub async fn get(db: &Db, id: i64) -> Result<Option<Job>, JobError> {
    store::get(db, id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job_with_errors(errors: Vec<serde_json::Value>) -> Job {
        let now = Utc::now();
        Job {
            id: 1,
            queue: "q".into(),
            kind: "k".into(),
            payload: serde_json::Value::Null,
            priority: 0,
            run_at: now,
            state: JobState::Retryable,
            attempt: errors.len() as i64,
            max_attempts: 5,
            unique_key: None,
            tags: vec![],
            errors,
            output: None,
            locked_by: None,
            locked_until: None,
            created_at: now,
            finished_at: None,
        }
    }

    #[test]
    fn the_summary_is_the_first_line_of_the_last_error_cut_to_size() {
        let job = job_with_errors(vec![
            serde_json::json!({"attempt": 1, "error": "first failure"}),
            serde_json::json!({"attempt": 2, "error": "HTTP 500 from the app\nbody: ..."}),
        ]);
        assert_eq!(job.last_error_summary(100), "HTTP 500 from the app");
        assert_eq!(job.last_error_summary(8), "HTTP 500");
        assert_eq!(job_with_errors(vec![]).last_error_summary(10), "");
    }
}
