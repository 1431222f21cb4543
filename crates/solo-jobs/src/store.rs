//! The storage seam of jobs: the only SQL of the `jobs` table. Claiming,
//! bulk insert and id lists differ per engine (SKIP LOCKED and arrays on
//! PostgreSQL; the single writer and JSON on SQLite); the rest is shared.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use solo_store::sqlx::{self, Row};
use solo_store::{Db, Tx, on_reader, on_tx};

use crate::{Enqueued, FailOutcome, Job, JobError, JobState, NewJob, backoff, from_micros, micros};

macro_rules! columns {
    () => {
        "id, queue, kind, payload, priority, run_at_us, state, attempt, max_attempts, unique_key, \
         tags, errors, output, locked_by, locked_until_us, created_at_us, finished_at_us"
    };
}

macro_rules! job_from_row {
    ($row:expr) => {{
        let row = $row;
        let payload: String = row.try_get("payload")?;
        let tags: String = row.try_get("tags")?;
        let errors: String = row.try_get("errors")?;
        Job {
            id: row.try_get("id")?,
            queue: row.try_get("queue")?,
            kind: row.try_get("kind")?,
            payload: serde_json::from_str(&payload)
                .map_err(|e| JobError::Corrupt(format!("payload: {e}")))?,
            priority: row.try_get("priority")?,
            run_at: from_micros(row.try_get("run_at_us")?),
            state: JobState::from_code(row.try_get("state")?)?,
            attempt: row.try_get("attempt")?,
            max_attempts: row.try_get("max_attempts")?,
            unique_key: row.try_get("unique_key")?,
            tags: tags
                .split(',')
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
            errors: serde_json::from_str(&errors)
                .map_err(|e| JobError::Corrupt(format!("errors: {e}")))?,
            output: row.try_get("output")?,
            locked_by: row.try_get("locked_by")?,
            locked_until: row
                .try_get::<Option<i64>, _>("locked_until_us")?
                .map(from_micros),
            created_at: from_micros(row.try_get("created_at_us")?),
            finished_at: row
                .try_get::<Option<i64>, _>("finished_at_us")?
                .map(from_micros),
        }
    }};
}

pub(crate) use {columns, job_from_row};

/// A row to insert, with its state decided.
struct Prepared<'a> {
    job: &'a NewJob,
    payload: String,
    run_at_us: i64,
    state: i64,
    tags: String,
}

fn prepare(job: &NewJob, now_us: i64) -> Prepared<'_> {
    let run_at_us = job.run_at.map_or(now_us, micros);
    let state = if run_at_us > now_us {
        JobState::Scheduled
    } else {
        JobState::Available
    };
    Prepared {
        job,
        payload: job.payload.to_string(),
        run_at_us,
        state: state.code(),
        tags: job.tags.join(","),
    }
}

pub(crate) async fn insert(
    db: &Db,
    jobs: &[NewJob],
    now: DateTime<Utc>,
) -> Result<Vec<Enqueued>, JobError> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let now_us = micros(now);
    let rows: Vec<Prepared<'_>> = jobs.iter().map(|j| prepare(j, now_us)).collect();
    let returned = match db {
        Db::Sqlite(sqlite) => insert_sqlite(sqlite.writer(), &rows, now_us).await?,
        Db::Postgres(pool) => insert_postgres(pool, &rows, now_us).await?,
    };
    Ok(match_inserted(jobs, returned))
}

/// [`insert`] inside a caller's transaction (cron ticks, idempotent requests).
pub(crate) async fn insert_tx(
    tx: &mut Tx,
    jobs: &[NewJob],
    now: DateTime<Utc>,
) -> Result<Vec<Enqueued>, JobError> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let now_us = micros(now);
    let rows: Vec<Prepared<'_>> = jobs.iter().map(|j| prepare(j, now_us)).collect();
    let returned = match tx {
        Tx::Sqlite(tx) => insert_sqlite(&mut **tx, &rows, now_us).await?,
        Tx::Postgres(tx) => insert_postgres(&mut **tx, &rows, now_us).await?,
    };
    Ok(match_inserted(jobs, returned))
}

/// (id, unique key) of each inserted row.
type Inserted = Vec<(i64, Option<String>)>;

/// Where a unique key refuses a row: equal key, job not finished.
macro_rules! unique_key_conflict {
    () => {
        "ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state <= 3 DO NOTHING"
    };
}

/// `ON CONFLICT` makes every row a speculative insertion (a lock and,
/// on PostgreSQL, an extra WAL record each); a batch without unique
/// keys cannot conflict, so it takes the statement without the clause.
fn with_or_without_keys(
    rows: &[Prepared<'_>],
    with_keys: &'static str,
    without: &'static str,
) -> &'static str {
    if rows.iter().any(|r| r.job.unique_key.is_some()) {
        with_keys
    } else {
        without
    }
}

/// The SQLite bulk insert; the unique-key clause only when the batch
/// has keys (as on PostgreSQL, rows that cannot conflict skip it).
macro_rules! insert_sqlite_sql {
    ($conflict:expr) => {
        concat!(
            "INSERT INTO jobs (queue, kind, payload, priority, run_at_us, state, max_attempts,
                               unique_key, tags, created_at_us)
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4,
                    value ->> 5, value ->> 6, value ->> 7, value ->> 8, $2
             FROM json_each($1) WHERE true
             ORDER BY key ",
            $conflict,
            " RETURNING id, unique_key"
        )
    };
}
const INSERT_SQLITE_UNIQUE: &str = insert_sqlite_sql!(unique_key_conflict!());
const INSERT_SQLITE_PLAIN: &str = insert_sqlite_sql!("");

async fn insert_sqlite<'e, E>(
    ex: E,
    rows: &[Prepared<'_>],
    now_us: i64,
) -> Result<Inserted, JobError>
where
    E: sqlx::Executor<'e, Database = sqlx::Sqlite>,
{
    // The batch travels as one JSON array of arrays (SQLite reads array
    // elements faster than object keys), written straight from borrowed
    // fields (no intermediate `Value` per row).
    type Row<'r> = (
        &'r str,
        &'r str,
        &'r str,
        i16,
        i64,
        i64,
        u16,
        Option<&'r str>,
        &'r str,
    );
    let batch: Vec<Row<'_>> = rows
        .iter()
        .map(|r| {
            (
                r.job.queue.as_str(),
                r.job.kind.as_str(),
                r.payload.as_str(),
                r.job.priority,
                r.run_at_us,
                r.state,
                r.job.max_attempts,
                r.job.unique_key.as_deref(),
                r.tags.as_str(),
            )
        })
        .collect();
    let sql = with_or_without_keys(rows, INSERT_SQLITE_UNIQUE, INSERT_SQLITE_PLAIN);
    Ok(sqlx::query(sql)
        .bind(serde_json::to_string(&batch).map_err(|e| sqlx::Error::Encode(Box::new(e)))?)
        .bind(now_us)
        .fetch_all(ex)
        .await?
        .iter()
        .map(|row| Ok((row.try_get("id")?, row.try_get("unique_key")?)))
        .collect::<Result<_, sqlx::Error>>()?)
}

/// The PostgreSQL bulk insert; `{conflict}` is where the unique-key
/// clause goes.
macro_rules! insert_postgres_sql {
    ($conflict:expr) => {
        concat!(
            "WITH inserted AS (
                 INSERT INTO jobs (queue, kind, payload, priority, run_at_us, state, max_attempts,
                                   unique_key, tags, created_at_us)
                 SELECT q, k, p, pr, r, s, m, u, t, $10
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[],
                             $6::bigint[], $7::bigint[], $8::text[], $9::text[])
                      WITH ORDINALITY AS input (q, k, p, pr, r, s, m, u, t, ord)
                 ORDER BY ord ",
            $conflict,
            "
                 RETURNING id, unique_key, queue
             )
             SELECT i.id, i.unique_key
             FROM inserted i,
                  (SELECT count(pg_notify('solo_jobs', d.queue)) AS woken
                   FROM (SELECT DISTINCT queue FROM inserted) d) n"
        )
    };
}
const INSERT_POSTGRES_UNIQUE: &str = insert_postgres_sql!(unique_key_conflict!());
const INSERT_POSTGRES_PLAIN: &str = insert_postgres_sql!("");

async fn insert_postgres<'e, E>(
    ex: E,
    rows: &[Prepared<'_>],
    now_us: i64,
) -> Result<Inserted, JobError>
where
    E: sqlx::Executor<'e, Database = sqlx::Postgres>,
{
    let column = |f: &dyn Fn(&Prepared<'_>) -> String| rows.iter().map(f).collect::<Vec<_>>();
    let number = |f: &dyn Fn(&Prepared<'_>) -> i64| rows.iter().map(f).collect::<Vec<_>>();
    // One statement: insert, then wake every node's claimer of the
    // queues that got work (NOTIFY is delivered at commit). The
    // cross join with a one-row aggregate makes the notify run.
    let sql = with_or_without_keys(rows, INSERT_POSTGRES_UNIQUE, INSERT_POSTGRES_PLAIN);
    Ok(sqlx::query(sql)
        .bind(column(&|r| r.job.queue.clone()))
        .bind(column(&|r| r.job.kind.clone()))
        .bind(column(&|r| r.payload.clone()))
        .bind(number(&|r| i64::from(r.job.priority)))
        .bind(number(&|r| r.run_at_us))
        .bind(number(&|r| r.state))
        .bind(number(&|r| i64::from(r.job.max_attempts)))
        .bind(
            rows.iter()
                .map(|r| r.job.unique_key.clone())
                .collect::<Vec<_>>(),
        )
        .bind(column(&|r| r.tags.clone()))
        .bind(now_us)
        .fetch_all(ex)
        .await?
        .iter()
        .map(|row| Ok((row.try_get("id")?, row.try_get("unique_key")?)))
        .collect::<Result<_, sqlx::Error>>()?)
}

/// Ids are handed out in input order, so the sorted ids belong, in
/// order, to the inputs that were inserted: every job without a key,
/// and the first job of each key that came back.
fn match_inserted(jobs: &[NewJob], returned: Inserted) -> Vec<Enqueued> {
    let mut ids: Vec<i64> = returned.iter().map(|(id, _)| *id).collect();
    ids.sort_unstable();
    let mut inserted_keys: HashSet<String> =
        returned.into_iter().filter_map(|(_, key)| key).collect();
    let mut ids = ids.into_iter();
    let mut outcomes = Vec::with_capacity(jobs.len());
    for job in jobs {
        let inserted = match &job.unique_key {
            None => true,
            Some(key) => inserted_keys.remove(key),
        };
        outcomes.push(match (inserted, inserted.then(|| ids.next()).flatten()) {
            (true, Some(id)) => Enqueued::Inserted(id),
            _ => Enqueued::Duplicate,
        });
    }
    outcomes
}

pub(crate) async fn claim(
    db: &Db,
    queue: &str,
    limit: i64,
    worker: &str,
    now_us: i64,
    until_us: i64,
) -> Result<Vec<Job>, JobError> {
    let rows = match db {
        Db::Sqlite(sqlite) => {
            // The single writer serialises claims: no row can be taken twice.
            sqlx::query(concat!(
                "UPDATE jobs SET state = 3, attempt = attempt + 1, locked_by = $3, locked_until_us = $5
                 WHERE id IN (SELECT id FROM jobs
                              WHERE state <= 2 AND queue = $1 AND run_at_us <= $4
                              ORDER BY priority, run_at_us, id LIMIT $2)
                 RETURNING ",
                columns!()
            ))
            .bind(queue)
            .bind(limit)
            .bind(worker)
            .bind(now_us)
            .bind(until_us)
            .fetch_all(sqlite.writer())
            .await?
            .iter()
            .map(|row| Ok(job_from_row!(row)))
            .collect::<Result<Vec<Job>, JobError>>()?
        }
        Db::Postgres(pool) => {
            // A claim is a lease, and losing one to a server crash only
            // means the job runs again (at-least-once): it need not wait
            // for its WAL to reach the disk. The job's completion does,
            // and flushes the claim with it.
            // The claim must walk `jobs_claim` in order and stop at the
            // limit. Right after a bulk enqueue the table's statistics lag
            // (a few rows where there are thousands), and the planner
            // would rather fetch every claimable job and sort them, for
            // each claim: tens of milliseconds instead of one.
            let mut tx = pool.begin().await?;
            sqlx::query(
                "SELECT set_config('synchronous_commit', 'off', true),
                        set_config('enable_bitmapscan', 'off', true),
                        set_config('enable_sort', 'off', true)",
            )
            .execute(&mut *tx)
            .await?;
            let rows = sqlx::query(concat!(
                "UPDATE jobs SET state = 3, attempt = attempt + 1, locked_by = $3, locked_until_us = $5
                 WHERE id = ANY(ARRAY(SELECT id FROM jobs
                                      WHERE state <= 2 AND queue = $1 AND run_at_us <= $4
                                      ORDER BY priority, run_at_us, id LIMIT $2
                                      FOR UPDATE SKIP LOCKED))
                 RETURNING ",
                columns!()
            ))
            .bind(queue)
            .bind(limit)
            .bind(worker)
            .bind(now_us)
            .bind(until_us)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|row| Ok(job_from_row!(row)))
            .collect::<Result<Vec<Job>, JobError>>()?;
            tx.commit().await?;
            rows
        }
    };
    let mut jobs = rows;
    jobs.sort_by_key(|j| (j.priority, j.run_at, j.id));
    Ok(jobs)
}

pub(crate) async fn complete(
    db: &Db,
    ids: &[i64],
    worker: &str,
    now_us: i64,
) -> Result<u64, JobError> {
    let done = match db {
        Db::Sqlite(sqlite) => {
            sqlx::query(
                "UPDATE jobs SET state = 4, finished_at_us = $3, locked_by = NULL, locked_until_us = NULL
                 WHERE state = 3 AND locked_by = $2 AND id IN (SELECT value FROM json_each($1))",
            )
            .bind(serde_json::to_string(ids).unwrap_or_else(|_| "[]".into()))
            .bind(worker)
            .bind(now_us)
            .execute(sqlite.writer())
            .await?
            .rows_affected()
        }
        Db::Postgres(pool) => {
            sqlx::query(
                "UPDATE jobs SET state = 4, finished_at_us = $3, locked_by = NULL, locked_until_us = NULL
                 WHERE state = 3 AND locked_by = $2 AND id = ANY($1)",
            )
            .bind(ids)
            .bind(worker)
            .bind(now_us)
            .execute(pool)
            .await?
            .rows_affected()
        }
    };
    Ok(done)
}

/// Completes one job `worker` holds, keeping what it printed.
pub(crate) async fn complete_with_output(
    db: &Db,
    id: i64,
    worker: &str,
    output: &str,
    now_us: i64,
) -> Result<u64, JobError> {
    let mut tx = db.begin().await?;
    let done = on_tx!(&mut tx, ex => {
        sqlx::query(
            "UPDATE jobs SET state = 4, finished_at_us = $4, output = $3, locked_by = NULL, locked_until_us = NULL
             WHERE id = $1 AND state = 3 AND locked_by = $2",
        )
        .bind(id)
        .bind(worker)
        .bind(output)
        .bind(now_us)
        .execute(ex)
        .await?
        .rows_affected()
    });
    tx.commit().await?;
    Ok(done)
}

/// Extends the leases of the jobs `worker` still holds; how many.
pub(crate) async fn extend_leases(
    db: &Db,
    ids: &[i64],
    worker: &str,
    until_us: i64,
) -> Result<u64, JobError> {
    let extended = match db {
        Db::Sqlite(sqlite) => sqlx::query(
            "UPDATE jobs SET locked_until_us = $3
             WHERE state = 3 AND locked_by = $2 AND id IN (SELECT value FROM json_each($1))",
        )
        .bind(serde_json::to_string(ids).unwrap_or_else(|_| "[]".into()))
        .bind(worker)
        .bind(until_us)
        .execute(sqlite.writer())
        .await?
        .rows_affected(),
        Db::Postgres(pool) => sqlx::query(
            "UPDATE jobs SET locked_until_us = $3
             WHERE state = 3 AND locked_by = $2 AND id = ANY($1)",
        )
        .bind(ids)
        .bind(worker)
        .bind(until_us)
        .execute(pool)
        .await?
        .rows_affected(),
    };
    Ok(extended)
}

/// A failed attempt. `worker`: the holder that failed it; None: the rescuer,
/// which may only take jobs whose lease has run out.
pub(crate) async fn fail(
    db: &Db,
    id: i64,
    worker: Option<&str>,
    error: &str,
    discard: bool,
    retry_base: std::time::Duration,
    now: DateTime<Utc>,
) -> Result<FailOutcome, JobError> {
    let now_us = micros(now);
    let mut tx = db.begin().await?;
    let held = held_row(&mut tx, id, worker, now_us).await?;
    let Some((attempt, max_attempts, errors)) = held else {
        return Ok(FailOutcome::NotHeld);
    };
    let mut errors: Vec<serde_json::Value> = serde_json::from_str(&errors).unwrap_or_default();
    errors.push(serde_json::json!({
        "attempt": attempt,
        "at": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "error": crate::delivery::excerpt(error, 16 * 1024),
    }));
    let errors = serde_json::Value::Array(errors).to_string();
    let outcome = if discard || attempt >= max_attempts {
        FailOutcome::Discarded
    } else {
        let wait = chrono::Duration::from_std(backoff(attempt, retry_base))
            .unwrap_or(chrono::Duration::days(1));
        FailOutcome::Retry(now + wait)
    };
    let (state, run_at_us, finished_at_us) = match outcome {
        FailOutcome::Retry(at) => (JobState::Retryable.code(), Some(micros(at)), None),
        _ => (JobState::Discarded.code(), None, Some(now_us)),
    };
    on_tx!(&mut tx, ex => {
        sqlx::query(
            "UPDATE jobs SET state = $2, errors = $3, run_at_us = COALESCE($4, run_at_us),
                    finished_at_us = $5, locked_by = NULL, locked_until_us = NULL
             WHERE id = $1",
        )
        .bind(id)
        .bind(state)
        .bind(&errors)
        .bind(run_at_us)
        .bind(finished_at_us)
        .execute(ex)
        .await?;
    });
    tx.commit().await?;
    Ok(outcome)
}

/// (attempt, max_attempts, errors) of a running job that `worker` holds
/// (or, for the rescuer, whose lease has expired), locked for this tx.
async fn held_row(
    tx: &mut Tx,
    id: i64,
    worker: Option<&str>,
    now_us: i64,
) -> Result<Option<(i64, i64, String)>, JobError> {
    const HELD: &str = "SELECT attempt, max_attempts, errors FROM jobs
        WHERE id = $1 AND state = 3
          AND (($2 IS NOT NULL AND locked_by = $2) OR ($2 IS NULL AND locked_until_us < $3))";
    macro_rules! read {
        ($row:expr) => {
            match $row {
                Some(row) => Some((
                    row.try_get("attempt")?,
                    row.try_get("max_attempts")?,
                    row.try_get("errors")?,
                )),
                None => None,
            }
        };
    }
    Ok(match tx {
        Tx::Sqlite(tx) => read!(
            sqlx::query(HELD)
                .bind(id)
                .bind(worker)
                .bind(now_us)
                .fetch_optional(&mut **tx)
                .await?
        ),
        Tx::Postgres(tx) => read!(
            sqlx::query(concat!(
                "SELECT attempt, max_attempts, errors FROM jobs
                 WHERE id = $1 AND state = 3
                   AND (($2::text IS NOT NULL AND locked_by = $2) OR ($2::text IS NULL AND locked_until_us < $3))",
                " FOR UPDATE"
            ))
            .bind(id)
            .bind(worker)
            .bind(now_us)
            .fetch_optional(&mut **tx)
            .await?
        ),
    })
}

pub(crate) async fn rescue(db: &Db, now: DateTime<Utc>) -> Result<u64, JobError> {
    let now_us = micros(now);
    let expired: Vec<i64> = on_reader!(db, ex => {
        sqlx::query_scalar("SELECT id FROM jobs WHERE state = 3 AND locked_until_us < $1 ORDER BY id LIMIT 1000")
            .bind(now_us)
            .fetch_all(ex)
            .await?
    });
    let mut rescued = 0;
    for id in expired {
        // Re-checked under the row lock: a job completed meanwhile stays so.
        if fail(
            db,
            id,
            None,
            "lease expired: the worker stopped without finishing",
            false,
            // Not the job's fault: it runs again at once.
            std::time::Duration::ZERO,
            now,
        )
        .await?
            != FailOutcome::NotHeld
        {
            rescued += 1;
        }
    }
    Ok(rescued)
}

pub(crate) async fn cancel(tx: &mut Tx, id: i64, now_us: i64) -> Result<bool, JobError> {
    let done = on_tx!(tx, ex => {
        sqlx::query(
            "UPDATE jobs SET state = 6, finished_at_us = $2, locked_by = NULL, locked_until_us = NULL
             WHERE id = $1 AND state <= 3",
        )
        .bind(id)
        .bind(now_us)
        .execute(ex)
        .await?
        .rows_affected()
    });
    Ok(done == 1)
}

pub(crate) async fn retry(tx: &mut Tx, id: i64, now_us: i64) -> Result<bool, JobError> {
    let done = on_tx!(tx, ex => {
        sqlx::query(
            "UPDATE jobs SET state = 1, run_at_us = $2, finished_at_us = NULL,
                    max_attempts = CASE WHEN attempt >= max_attempts THEN attempt + 1 ELSE max_attempts END
             WHERE id = $1 AND state IN (2, 5, 6)",
        )
        .bind(id)
        .bind(now_us)
        .execute(ex)
        .await
        .map_err(|e| match e.as_database_error() {
            // The unique index covers unfinished jobs only: a retried job
            // may collide with a newer equal one.
            Some(db) if db.is_unique_violation() => JobError::Conflict(
                "an unfinished job with the same unique key exists".into(),
            ),
            _ => JobError::Db(e),
        })?
        .rows_affected()
    });
    Ok(done == 1)
}

pub(crate) async fn get(db: &Db, id: i64) -> Result<Option<Job>, JobError> {
    on_reader!(db, ex => {
        let row = sqlx::query(concat!("SELECT ", columns!(), " FROM jobs WHERE id = $1"))
            .bind(id)
            .fetch_optional(ex)
            .await?;
        match row {
            Some(row) => Ok(Some(job_from_row!(&row))),
            None => Ok(None),
        }
    })
}
