//! The operator's side of the `jobs` table: listing with filters, purging,
//! per-queue figures, pruning finished jobs, and handing leases back at
//! shutdown. Portable SQL (same text on both engines) except where noted.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use solo_store::sqlx::{self, QueryBuilder, Row};
use solo_store::{Db, Tx, on_reader, on_tx};
use utoipa::ToSchema;

use crate::{Job, JobError, JobState, from_micros, micros};

/// Which jobs: every field given must match.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct JobFilter {
    pub queue: Option<String>,
    pub kind: Option<String>,
    pub state: Option<JobState>,
    /// Jobs carrying this tag.
    pub tag: Option<String>,
    /// Jobs with an id below this (paging, newest first).
    pub before_id: Option<i64>,
}

impl JobFilter {
    fn push_where<DB: sqlx::Database>(&self, query: &mut QueryBuilder<DB>)
    where
        for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    {
        query.push(" WHERE 1 = 1");
        if let Some(queue) = &self.queue {
            query.push(" AND queue = ").push_bind(queue.clone());
        }
        if let Some(kind) = &self.kind {
            query.push(" AND kind = ").push_bind(kind.clone());
        }
        if let Some(state) = self.state {
            query.push(" AND state = ").push_bind(state.code());
        }
        if let Some(tag) = &self.tag {
            // Tags are stored comma-joined: match a whole one.
            query
                .push(" AND (',' || tags || ',') LIKE ")
                .push_bind(format!("%,{},%", escape_like(tag)))
                .push(" ESCAPE '\\'");
        }
        if let Some(before) = self.before_id {
            query.push(" AND id < ").push_bind(before);
        }
    }
}

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Jobs matching `filter`, newest first, at most `limit`.
pub async fn list(db: &Db, filter: &JobFilter, limit: u32) -> Result<Vec<Job>, JobError> {
    let limit = i64::from(limit.clamp(1, 1000));
    macro_rules! run {
        ($db:ty, $ex:expr) => {{
            let mut query = QueryBuilder::<$db>::new(concat!(
                "SELECT ",
                crate::store::columns!(),
                " FROM jobs"
            ));
            filter.push_where(&mut query);
            query.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
            query
                .build()
                .fetch_all($ex)
                .await?
                .iter()
                .map(|row| Ok(crate::store::job_from_row!(row)))
                .collect::<Result<Vec<Job>, JobError>>()
        }};
    }
    match db {
        Db::Sqlite(sqlite) => run!(sqlx::Sqlite, sqlite.reader()),
        Db::Postgres(pool) => run!(sqlx::Postgres, pool),
    }
}

/// Deletes finished jobs (completed, discarded, cancelled) matching
/// `filter`; unfinished ones are never purged (cancel them first).
pub async fn purge(tx: &mut Tx, filter: &JobFilter) -> Result<u64, JobError> {
    if filter.state.is_some_and(|s| !s.is_finished()) {
        return Err(JobError::Invalid {
            field: "state",
            message: "only finished jobs (completed, discarded, cancelled) can be purged; cancel unfinished ones first".into(),
        });
    }
    macro_rules! run {
        ($db:ty, $ex:expr) => {{
            let mut query = QueryBuilder::<$db>::new("DELETE FROM jobs");
            filter.push_where(&mut query);
            query.push(" AND state >= 4");
            query.build().execute($ex).await?.rows_affected()
        }};
    }
    Ok(match tx {
        Tx::Sqlite(tx) => run!(sqlx::Sqlite, &mut **tx),
        Tx::Postgres(tx) => run!(sqlx::Postgres, &mut **tx),
    })
}

/// One queue at a glance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct QueueStats {
    pub queue: String,
    /// Waiting for their run-at time (scheduled, and retryable in backoff).
    pub scheduled: i64,
    /// Ready to run now.
    pub available: i64,
    pub running: i64,
    pub completed: i64,
    pub discarded: i64,
    pub cancelled: i64,
    /// How long the oldest ready job has waited, in seconds.
    pub oldest_available_s: Option<f64>,
}

/// Figures per queue (every queue that has jobs, plus `known` ones).
pub async fn stats(
    db: &Db,
    known: &[String],
    now: DateTime<Utc>,
) -> Result<Vec<QueueStats>, JobError> {
    let now_us = micros(now);
    let mut out: Vec<QueueStats> = on_reader!(db, ex => {
        sqlx::query(
            "SELECT queue,
                    SUM(CASE WHEN state <= 2 AND run_at_us > $1 THEN 1 ELSE 0 END) AS scheduled,
                    SUM(CASE WHEN state <= 2 AND run_at_us <= $1 THEN 1 ELSE 0 END) AS available,
                    SUM(CASE WHEN state = 3 THEN 1 ELSE 0 END) AS running,
                    SUM(CASE WHEN state = 4 THEN 1 ELSE 0 END) AS completed,
                    SUM(CASE WHEN state = 5 THEN 1 ELSE 0 END) AS discarded,
                    SUM(CASE WHEN state = 6 THEN 1 ELSE 0 END) AS cancelled,
                    MIN(CASE WHEN state <= 2 AND run_at_us <= $1 THEN run_at_us END) AS oldest
             FROM jobs GROUP BY queue ORDER BY queue",
        )
        .bind(now_us)
        .fetch_all(ex)
        .await?
        .iter()
        .map(|row| {
            let oldest: Option<i64> = row.try_get("oldest")?;
            Ok(QueueStats {
                queue: row.try_get("queue")?,
                scheduled: row.try_get("scheduled")?,
                available: row.try_get("available")?,
                running: row.try_get("running")?,
                completed: row.try_get("completed")?,
                discarded: row.try_get("discarded")?,
                cancelled: row.try_get("cancelled")?,
                oldest_available_s: oldest.map(|us| (now_us - us).max(0) as f64 / 1e6),
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?
    });
    for name in known {
        if !out.iter().any(|s| &s.queue == name) {
            out.push(QueueStats {
                queue: name.clone(),
                ..QueueStats::default()
            });
        }
    }
    out.sort_by(|a, b| a.queue.cmp(&b.queue));
    Ok(out)
}

/// Deletes completed and cancelled jobs finished before `finished_before`
/// and discarded ones before `discarded_before`, in batches so a big
/// backlog never holds the writer for long. Returns how many.
pub async fn prune(
    db: &Db,
    finished_before: DateTime<Utc>,
    discarded_before: DateTime<Utc>,
) -> Result<u64, JobError> {
    let mut pruned = 0;
    loop {
        let mut tx = db.begin().await?;
        let deleted = on_tx!(&mut tx, ex => {
            sqlx::query(
                "DELETE FROM jobs WHERE id IN (
                     SELECT id FROM jobs
                     WHERE state >= 4 AND finished_at_us < $1
                       AND (state <> 5 OR finished_at_us < $2)
                     LIMIT 5000)",
            )
            .bind(micros(finished_before))
            .bind(micros(discarded_before))
            .execute(ex)
            .await?
            .rows_affected()
        });
        let requests = on_tx!(&mut tx, ex => {
            sqlx::query("DELETE FROM jobs_requests WHERE created_at_us < $1")
                .bind(micros(finished_before))
                .execute(ex)
                .await?
                .rows_affected()
        });
        tx.commit().await?;
        pruned += deleted;
        if deleted < 5000 && requests < 5000 {
            return Ok(pruned);
        }
    }
}

/// Hands jobs `worker` still holds back to the queue at once (a graceful
/// shutdown): the attempt does not count, as it never ran to an end.
pub async fn release(
    db: &Db,
    ids: &[i64],
    worker: &str,
    now: DateTime<Utc>,
) -> Result<u64, JobError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let mut released = 0;
    let mut tx = db.begin().await?;
    for id in ids {
        released += on_tx!(&mut tx, ex => {
            sqlx::query(
                "UPDATE jobs SET state = 1, attempt = attempt - 1, run_at_us = $3,
                        locked_by = NULL, locked_until_us = NULL
                 WHERE id = $1 AND state = 3 AND locked_by = $2",
            )
            .bind(id)
            .bind(worker)
            .bind(micros(now))
            .execute(ex)
            .await?
            .rows_affected()
        });
    }
    tx.commit().await?;
    Ok(released)
}
