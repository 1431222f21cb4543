//! Composes the jobs capability from `solo.toml`: queues with their
//! delivery, cron entries with their schedules, subscriptions.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use solo_config::{CronSection, QueueDelivery, Schedule, StackFile, TimeZone};
use solo_jobs::{
    CommandDelivery, CronEntry, Delivery, HttpDelivery, JobsSettings, QueueSpec, SigningSecret,
    Subscription,
};

use crate::exit::{CliError, Exit};

/// The environment variable holding the key http deliveries are signed
/// with; the app verifies `Solo-Signature` with the same value.
pub const SIGNING_SECRET_ENV: &str = "SOLO_JOBS_SIGNING_SECRET";

/// The signing secret, required (and checked) when a queue delivers over http.
pub fn signing_secret(stack: &StackFile) -> Result<Option<String>, CliError> {
    let needed = stack
        .queues
        .iter()
        .any(|q| matches!(q.delivery, QueueDelivery::Http { .. }));
    if !needed {
        return Ok(None);
    }
    match std::env::var(SIGNING_SECRET_ENV) {
        Ok(secret) if secret.len() >= 32 => Ok(Some(secret)),
        Ok(_) => Err(CliError::new(
            Exit::Config,
            "jobs_signing_secret",
            anyhow::anyhow!(
                "{SIGNING_SECRET_ENV} is shorter than 32 characters; make a strong one with `openssl rand -hex 32`"
            ),
        )),
        Err(_) => Err(CliError::new(
            Exit::Config,
            "jobs_signing_secret",
            anyhow::anyhow!(
                "a queue delivers over http, so solo signs each request: set {SIGNING_SECRET_ENV} (e.g. `openssl rand -hex 32`) in solo's environment and give the app the same value to verify the Solo-Signature header"
            ),
        )),
    }
}

/// solo.toml's cron schedule, as the jobs crate reads schedules.
struct ConfigSchedule {
    schedule: Schedule,
    zone: TimeZone,
}

impl solo_jobs::Schedule for ConfigSchedule {
    fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.schedule.next_after(after, self.zone)
    }

    fn latest_at_or_before(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.schedule.latest_at_or_before(at, self.zone)
    }
}

/// The `[[cron]]` entries, as the scheduler and `solo cron list` read them.
pub fn cron_entries(stack: &StackFile) -> Vec<CronEntry> {
    stack.cron.iter().map(|c| cron_entry(stack, c)).collect()
}

fn cron_entry(stack: &StackFile, cron: &CronSection) -> CronEntry {
    let max_attempts = stack
        .queues
        .iter()
        .find(|q| q.name == cron.queue)
        .map_or(20, |q| q.max_attempts);
    CronEntry {
        name: cron.name.clone(),
        schedule: Arc::new(ConfigSchedule {
            schedule: cron.schedule.clone(),
            zone: cron.timezone,
        }),
        schedule_text: if cron.timezone == TimeZone::UTC {
            cron.schedule.to_string()
        } else {
            format!("{} ({})", cron.schedule, cron.timezone)
        },
        queue: cron.queue.clone(),
        kind: cron.kind().to_owned(),
        payload: cron.payload.clone(),
        max_attempts,
        run_missed_once: cron.missed == solo_config::MissedTicks::RunOnce,
    }
}

pub fn settings(
    stack: &StackFile,
    config_dir: &Path,
    node: &str,
    signing_secret: Option<&str>,
) -> Result<JobsSettings, CliError> {
    let mut queues = Vec::with_capacity(stack.queues.len());
    for queue in &stack.queues {
        let delivery = match &queue.delivery {
            QueueDelivery::Http {
                url,
                timeout,
                discard_statuses,
            } => {
                let secret = signing_secret.ok_or_else(|| {
                    CliError::new(
                        Exit::Config,
                        "jobs_signing_secret",
                        anyhow::anyhow!("{SIGNING_SECRET_ENV} is not set"),
                    )
                })?;
                Some(Delivery::Http(HttpDelivery {
                    url: url.clone(),
                    timeout: timeout.as_std(),
                    discard_statuses: discard_statuses.clone(),
                    signing_secret: SigningSecret::new(secret.as_bytes().to_vec()),
                }))
            }
            QueueDelivery::Command { command, timeout } => {
                let (program, args) = command.split_first().ok_or_else(|| {
                    CliError::new(
                        Exit::Config,
                        "queues",
                        anyhow::anyhow!("queue `{}` has an empty command", queue.name),
                    )
                })?;
                Some(Delivery::Command(CommandDelivery {
                    program: program.clone(),
                    args: args.to_vec(),
                    timeout: timeout.as_std(),
                    working_dir: Some(config_dir.to_owned()),
                    env: Vec::new(),
                }))
            }
            QueueDelivery::Pull => None,
        };
        let handler = delivery.map(|d| d.handler()).transpose().map_err(|e| {
            CliError::new(
                Exit::Config,
                "queues",
                anyhow::anyhow!("queue `{}`: {e}", queue.name),
            )
        })?;
        queues.push(QueueSpec {
            name: queue.name.clone(),
            concurrency: usize::try_from(queue.concurrency).unwrap_or(10),
            max_attempts: queue.max_attempts,
            retry_base: queue.retry_base.as_std(),
            delivery: handler,
            delivery_name: queue.delivery.name(),
        });
    }
    Ok(JobsSettings {
        node: node.to_owned(),
        queues,
        cron: cron_entries(stack),
        subscriptions: stack
            .subscriptions
            .iter()
            .map(|s| Subscription {
                topic: s.topic.clone(),
                queue: s.queue.clone(),
                kind: s.kind().to_owned(),
            })
            .collect(),
        lease: stack.jobs.lease.as_std(),
        retention: stack.jobs.retention.as_std(),
        discarded_retention: stack.jobs.discarded_retention.as_std(),
        shutdown_grace: stack.jobs.shutdown_grace.as_std(),
        builtin: Default::default(),
    })
}
