//! `solo jobs …` and `solo cron list`: on the database directly, like
//! `solo users`, so jobs can be inspected and acted on with the node down.
//! Changes are audited as the OS user at the keyboard. A running node on
//! PostgreSQL is woken by the insert's NOTIFY; on SQLite its safety-net
//! poll picks the job up within a second.

use std::io::Read;

use chrono::{DateTime, Utc};
use serde::Serialize;
use solo_jobs::{Enqueued, Job, JobError, JobFilter, NewJob, Operator, QueueStats};

use crate::cli::{CronCommand, GlobalArgs, JobFilterArgs, JobsCommand};
use crate::commands::local;
use crate::exit::{CliError, Exit};
use crate::output;

fn job_error(error: JobError) -> CliError {
    match error {
        JobError::Invalid { field, message } => CliError::new(
            Exit::Usage,
            "invalid_job",
            anyhow::anyhow!("{field}: {message}"),
        ),
        JobError::NotFound(message) => {
            CliError::new(Exit::Failure, "not_found", anyhow::anyhow!(message))
        }
        JobError::Conflict(message) => {
            CliError::new(Exit::Failure, "conflict", anyhow::anyhow!(message))
        }
        other => CliError::failure(anyhow::Error::new(other).context("the jobs operation failed")),
    }
}

fn operator() -> Operator {
    let meta = local::meta();
    Operator {
        actor: local::actor(),
        request_id: None,
        client: meta.client,
    }
}

fn filter(args: JobFilterArgs) -> JobFilter {
    JobFilter {
        queue: args.queue,
        kind: args.kind,
        state: args.state,
        tag: args.tag,
        before_id: None,
    }
}

#[derive(Serialize)]
struct EnqueuedOut {
    id: Option<i64>,
    duplicate: bool,
}

#[derive(Serialize)]
struct Purged {
    purged: u64,
}

pub async fn run(global: &GlobalArgs, command: JobsCommand) -> Result<(), CliError> {
    let (node, db) = local::migrated_db(global).await?;
    let who = operator();
    let result = match command {
        JobsCommand::Enqueue {
            queue,
            kind,
            payload,
            priority,
            run_at,
            unique_key,
            max_attempts,
            tags,
        } => {
            let Some(spec) = node.stack.queues.iter().find(|q| q.name == queue) else {
                let known: Vec<&str> = node.stack.queues.iter().map(|q| q.name.as_str()).collect();
                db.close().await;
                return Err(CliError::new(
                    Exit::Usage,
                    "unknown_queue",
                    anyhow::anyhow!(
                        "no queue is named `{queue}` in solo.toml{}",
                        if known.is_empty() {
                            "; declare one in a [[queues]] entry".to_owned()
                        } else {
                            format!("; declared queues: {}", known.join(", "))
                        }
                    ),
                ));
            };
            let payload = read_payload(&payload)?;
            let mut job = NewJob::new(&queue, &kind, payload);
            job.priority = priority;
            job.run_at = run_at.as_deref().map(parse_when).transpose()?;
            job.unique_key = unique_key;
            job.max_attempts = max_attempts.unwrap_or(spec.max_attempts);
            job.tags = tags;
            let mut tx = db.begin().await.map_err(|e| job_error(JobError::Db(e)))?;
            let outcome = solo_jobs::enqueue_in(&mut tx, std::slice::from_ref(&job), &who)
                .await
                .map_err(job_error)?;
            tx.commit().await.map_err(|e| job_error(JobError::Db(e)))?;
            let out = match outcome.first() {
                Some(Enqueued::Inserted(id)) => EnqueuedOut {
                    id: Some(*id),
                    duplicate: false,
                },
                _ => EnqueuedOut {
                    id: None,
                    duplicate: true,
                },
            };
            output::emit(global.json, &out, || match out.id {
                Some(id) => format!("enqueued job {id} on `{queue}`"),
                None => "not enqueued: an unfinished job has the same unique key".to_owned(),
            });
            Ok(())
        }
        JobsCommand::List {
            filter: args,
            limit,
        } => {
            let jobs = solo_jobs::list(&db, &filter(args), limit)
                .await
                .map_err(job_error)?;
            output::emit(global.json, &jobs, || table(&jobs));
            Ok(())
        }
        JobsCommand::Show { id } => match solo_jobs::get(&db, id).await.map_err(job_error)? {
            Some(job) => {
                output::emit(global.json, &job, || show(&job));
                Ok(())
            }
            None => Err(job_error(JobError::NotFound(format!(
                "no job has the id {id}"
            )))),
        },
        JobsCommand::Retry { id } => solo_jobs::retry_job(&db, id, &who)
            .await
            .map(|job| output::emit(global.json, &job, || format!("job {id} is available again")))
            .map_err(job_error),
        JobsCommand::Cancel { id } => solo_jobs::cancel_job(&db, id, &who)
            .await
            .map(|job| output::emit(global.json, &job, || format!("job {id} cancelled")))
            .map_err(job_error),
        JobsCommand::Purge { filter: args } => {
            let purged = solo_jobs::purge_jobs(&db, &filter(args), &who)
                .await
                .map_err(job_error)?;
            output::emit(global.json, &Purged { purged }, || {
                format!("deleted {purged} finished job(s)")
            });
            Ok(())
        }
        JobsCommand::Stats => {
            let known: Vec<String> = node.stack.queues.iter().map(|q| q.name.clone()).collect();
            let stats = solo_jobs::stats(&db, &known, Utc::now())
                .await
                .map_err(job_error)?;
            output::emit(global.json, &stats, || stats_table(&stats));
            Ok(())
        }
    };
    db.close().await;
    result
}

pub async fn cron(global: &GlobalArgs, command: CronCommand) -> Result<(), CliError> {
    let CronCommand::List = command;
    let (node, db) = local::migrated_db(global).await?;
    let entries = crate::jobs::cron_entries(&node.stack);
    let result = solo_jobs::cron_status(&db, &entries, Utc::now())
        .await
        .map_err(job_error)
        .map(|statuses| {
            output::emit(global.json, &statuses, || {
                if statuses.is_empty() {
                    return "no [[cron]] entries in solo.toml".to_owned();
                }
                let mut out = format!(
                    "{:<24} {:<28} {:<12} {:<22} {}\n",
                    "NAME", "SCHEDULE", "QUEUE", "NEXT RUN", "LAST RUN"
                );
                for s in &statuses {
                    let next = s.next_runs.first().map_or("never".to_owned(), |t| {
                        t.format("%Y-%m-%d %H:%M:%S").to_string()
                    });
                    let last = match (&s.last_tick, &s.last_job) {
                        (None, _) => "never".to_owned(),
                        (Some(tick), Some(job)) => format!(
                            "{} job {} {}",
                            tick.format("%Y-%m-%d %H:%M:%S"),
                            job.id,
                            state(job)
                        ),
                        (Some(tick), None) => {
                            format!("{} (skipped or pruned)", tick.format("%Y-%m-%d %H:%M:%S"))
                        }
                    };
                    out.push_str(&format!(
                        "{:<24} {:<28} {:<12} {:<22} {}\n",
                        s.name, s.schedule, s.queue, next, last
                    ));
                }
                out
            });
        });
    db.close().await;
    result
}

fn read_payload(text: &str) -> Result<serde_json::Value, CliError> {
    let text = if text == "-" {
        let mut input = String::new();
        std::io::stdin().read_to_string(&mut input).map_err(|e| {
            CliError::failure(anyhow::Error::new(e).context("reading the payload from stdin"))
        })?;
        input
    } else {
        text.to_owned()
    };
    serde_json::from_str(&text).map_err(|e| {
        CliError::new(
            Exit::Usage,
            "invalid_payload",
            anyhow::anyhow!("--payload is not JSON ({e}); write it like '{{\"user_id\": 42}}'"),
        )
    })
}

/// An RFC 3339 time, or how long from now (`10m`).
fn parse_when(text: &str) -> Result<DateTime<Utc>, CliError> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    if let Ok(delay) = text.parse::<solo_config::Duration>()
        && let Ok(delay) = chrono::Duration::from_std(delay.as_std())
    {
        return Ok(Utc::now() + delay);
    }
    Err(CliError::new(
        Exit::Usage,
        "invalid_run_at",
        anyhow::anyhow!(
            "--run-at `{text}`: give a time (2026-11-23T09:00:00Z) or a delay (10m, 2h)"
        ),
    ))
}

fn state(job: &Job) -> &'static str {
    job.state.as_str()
}

fn table(jobs: &[Job]) -> String {
    if jobs.is_empty() {
        return "no jobs match".into();
    }
    let mut out = format!(
        "{:>8}  {:<14} {:<24} {:<10} {:>7}  {}\n",
        "ID", "QUEUE", "KIND", "STATE", "ATTEMPT", "LAST ERROR"
    );
    for job in jobs {
        let error = job.last_error_summary(60);
        out.push_str(&format!(
            "{:>8}  {:<14} {:<24} {:<10} {:>3}/{:<3}  {}\n",
            job.id,
            job.queue,
            job.kind,
            state(job),
            job.attempt,
            job.max_attempts,
            error
        ));
    }
    out
}

fn show(job: &Job) -> String {
    let mut out = format!(
        "job {}  {} / {}  {}\nattempt {} of {}, priority {}, run at {}\ncreated {}{}\npayload {}\n",
        job.id,
        job.queue,
        job.kind,
        state(job),
        job.attempt,
        job.max_attempts,
        job.priority,
        job.run_at.to_rfc3339(),
        job.created_at.to_rfc3339(),
        job.finished_at
            .map(|t| format!(", finished {}", t.to_rfc3339()))
            .unwrap_or_default(),
        job.payload
    );
    if !job.tags.is_empty() {
        out.push_str(&format!("tags {}\n", job.tags.join(", ")));
    }
    for error in &job.errors {
        out.push_str(&format!(
            "error (attempt {}, {}): {}\n",
            error.get("attempt").unwrap_or(&serde_json::Value::Null),
            error.get("at").and_then(|v| v.as_str()).unwrap_or("?"),
            error.get("error").and_then(|v| v.as_str()).unwrap_or("?")
        ));
    }
    if let Some(output) = job.output.as_deref().filter(|o| !o.is_empty()) {
        out.push_str("output:\n");
        for line in output.lines() {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out
}

fn stats_table(stats: &[QueueStats]) -> String {
    if stats.is_empty() {
        return "no queues: declare them in solo.toml's [[queues]]".into();
    }
    let mut out = format!(
        "{:<16} {:>9} {:>9} {:>8} {:>10} {:>9} {:>9} {:>12}\n",
        "QUEUE",
        "SCHEDULED",
        "AVAILABLE",
        "RUNNING",
        "COMPLETED",
        "DISCARDED",
        "CANCELLED",
        "OLDEST WAIT"
    );
    for s in stats {
        out.push_str(&format!(
            "{:<16} {:>9} {:>9} {:>8} {:>10} {:>9} {:>9} {:>12}\n",
            s.queue,
            s.scheduled,
            s.available,
            s.running,
            s.completed,
            s.discarded,
            s.cancelled,
            s.oldest_available_s
                .map_or("-".to_owned(), |s| format!("{s:.1}s"))
        ));
    }
    out
}
