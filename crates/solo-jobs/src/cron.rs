//! Cron: entries that enqueue a job at each tick of a schedule.
//!
//! Every node runs a scheduler; no leader is elected. A scheduler owns a
//! tick by moving the entry's `last_tick_us` forward with one conditional
//! upsert, and enqueues the tick's job in the same transaction: of several
//! schedulers racing for a tick exactly one moves it, and a tick whose job
//! finished long ago cannot run again (a unique key alone could not promise
//! that: it only guards unfinished jobs). The SQL is the same on both
//! engines.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use solo_store::sqlx::{self, Row};
use solo_store::{Db, on_reader, on_tx};
use tokio::sync::watch;

use crate::{Enqueued, Job, JobError, NewJob, Wakeup, from_micros, get, micros, store};

/// When an entry ticks (the binary adapts `solo.toml`'s schedules to it).
pub trait Schedule: Send + Sync {
    /// The first tick strictly after `after`.
    fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>>;
    /// The last tick at or before `at`.
    fn latest_at_or_before(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>>;
}

/// A tick this much late still runs whatever the entry's missed-tick
/// policy: a node restarting for a deploy must not lose the tick that fell
/// in the gap.
pub const LATE_TOLERANCE: Duration = Duration::from_secs(60);

/// One `[[cron]]` entry.
#[derive(Clone)]
pub struct CronEntry {
    pub name: String,
    pub schedule: Arc<dyn Schedule>,
    /// As written, for `solo cron list`.
    pub schedule_text: String,
    pub queue: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub max_attempts: u16,
    /// After downtime, run the latest missed tick once (else skip it).
    pub run_missed_once: bool,
}

/// A tick this scheduler enqueued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronRun {
    pub name: String,
    pub tick: DateTime<Utc>,
    pub job_id: i64,
}

/// Enqueues the due tick of every entry, if no other scheduler did.
pub async fn cron_tick(
    db: &Db,
    entries: &[CronEntry],
    now: DateTime<Utc>,
) -> Result<Vec<CronRun>, JobError> {
    let mut runs = Vec::new();
    for entry in entries {
        if let Some(run) = tick_entry(db, entry, now).await? {
            runs.push(run);
        }
    }
    Ok(runs)
}

async fn tick_entry(
    db: &Db,
    entry: &CronEntry,
    now: DateTime<Utc>,
) -> Result<Option<CronRun>, JobError> {
    let Some(latest) = entry.schedule.latest_at_or_before(now) else {
        return Ok(None);
    };
    let tolerance = chrono::Duration::from_std(LATE_TOLERANCE).unwrap_or_default();
    let last_tick_us: Option<i64> = on_reader!(db, ex => {
        sqlx::query_scalar("SELECT last_tick_us FROM jobs_cron WHERE name = $1")
            .bind(&entry.name)
            .fetch_optional(ex)
            .await?
    });
    // An entry seen for the first time runs a tick that is not yet late,
    // never older ones.
    let last = last_tick_us.map_or(
        now - tolerance - chrono::Duration::microseconds(1),
        from_micros,
    );
    if latest <= last {
        return Ok(None);
    }
    let late = now - latest > tolerance;
    let fire = !late || (entry.run_missed_once && last_tick_us.is_some());
    let mut tx = db.begin().await?;
    let owned = on_tx!(&mut tx, ex => {
        sqlx::query(
            "INSERT INTO jobs_cron (name, last_tick_us) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET last_tick_us = excluded.last_tick_us
             WHERE jobs_cron.last_tick_us < excluded.last_tick_us",
        )
        .bind(&entry.name)
        .bind(micros(latest))
        .execute(ex)
        .await?
        .rows_affected()
    }) == 1;
    if !owned {
        // Another scheduler took this tick first.
        return Ok(None);
    }
    if !fire {
        tx.commit().await?;
        tracing::info!(cron = %entry.name, tick = %latest, "cron tick missed while no node ran: skipped");
        return Ok(None);
    }
    let mut job = NewJob::new(&entry.queue, &entry.kind, entry.payload.clone());
    job.max_attempts = entry.max_attempts;
    job.unique_key = Some(format!("cron:{}:{}", entry.name, micros(latest)));
    job.tags = vec![format!("cron:{}", entry.name)];
    let enqueued = store::insert_tx(&mut tx, std::slice::from_ref(&job), now).await?;
    let Some(Enqueued::Inserted(job_id)) = enqueued.first().copied() else {
        // An equal job is still unfinished: the tick is taken all the same.
        tx.commit().await?;
        return Ok(None);
    };
    on_tx!(&mut tx, ex => {
        sqlx::query("UPDATE jobs_cron SET last_job_id = $2 WHERE name = $1")
            .bind(&entry.name)
            .bind(job_id)
            .execute(ex)
            .await?;
    });
    tx.commit().await?;
    Ok(Some(CronRun {
        name: entry.name.clone(),
        tick: latest,
        job_id,
    }))
}

/// Runs [`cron_tick`] at every tick of every entry until `stop`.
pub async fn run_cron(
    db: Db,
    entries: Vec<CronEntry>,
    wakeup: Wakeup,
    mut stop: watch::Receiver<bool>,
) {
    if entries.is_empty() {
        return;
    }
    // Catch up at start: a tick missed while no node ran follows its policy.
    let mut wait = Duration::ZERO;
    loop {
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            return;
        }
        let now = Utc::now();
        match cron_tick(&db, &entries, now).await {
            Ok(runs) => {
                if !runs.is_empty() {
                    wakeup.notify();
                }
                for run in runs {
                    tracing::info!(cron = %run.name, tick = %run.tick, job_id = run.job_id, "cron tick enqueued");
                }
            }
            Err(error) => tracing::warn!(%error, "cron tick failed; trying again shortly"),
        }
        // Sleep to the next tick of any entry, at most a minute (a safety
        // net against clock jumps).
        let now = Utc::now();
        let next = entries
            .iter()
            .filter_map(|e| e.schedule.next_after(now))
            .min();
        wait = next
            .and_then(|next| (next - now).to_std().ok())
            .unwrap_or(Duration::from_secs(60))
            .min(Duration::from_secs(60));
    }
}

/// An entry's next runs and last outcome, for `solo cron list`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CronStatus {
    pub name: String,
    pub schedule: String,
    pub queue: String,
    pub kind: String,
    pub next_runs: Vec<DateTime<Utc>>,
    pub last_tick: Option<DateTime<Utc>>,
    /// The job of the last tick that ran (gone once pruned).
    pub last_job: Option<Job>,
}

pub async fn cron_status(
    db: &Db,
    entries: &[CronEntry],
    now: DateTime<Utc>,
) -> Result<Vec<CronStatus>, JobError> {
    let mut statuses = Vec::with_capacity(entries.len());
    for entry in entries {
        let (last_tick, last_job_id) = on_reader!(db, ex => {
            match sqlx::query("SELECT last_tick_us, last_job_id FROM jobs_cron WHERE name = $1")
                .bind(&entry.name)
                .fetch_optional(ex)
                .await?
            {
                Some(row) => (
                    Some(from_micros(row.try_get("last_tick_us")?)),
                    row.try_get::<Option<i64>, _>("last_job_id")?,
                ),
                None => (None, None),
            }
        });
        let last_job = match last_job_id {
            Some(id) => get(db, id).await?,
            None => None,
        };
        let mut next_runs = Vec::new();
        let mut after = now;
        while next_runs.len() < 3 {
            match entry.schedule.next_after(after) {
                Some(next) => {
                    next_runs.push(next);
                    after = next;
                }
                None => break,
            }
        }
        statuses.push(CronStatus {
            name: entry.name.clone(),
            schedule: entry.schedule_text.clone(),
            queue: entry.queue.clone(),
            kind: entry.kind.clone(),
            next_runs,
            last_tick,
            last_job,
        });
    }
    Ok(statuses)
}
