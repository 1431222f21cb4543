//! [`Jobs`]: the jobs capability as a node runs it — its queues, cron
//! entries and subscriptions, enqueueing (with the wake-up that makes
//! pickup pushed, not polled), and the background tasks: one worker per
//! delivered queue, the rescuer, the pruner, the cron scheduler and the
//! backlog figures.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde::Serialize;
use solo_store::Db;
use tokio::sync::watch;
use tokio::task::JoinSet;
use utoipa::ToSchema;

use crate::{
    CronEntry, Enqueued, Handler, JobError, JobMetrics, NewJob, Wakeup, WorkerConfig, prune,
    rescue, run_cron, run_worker, stats,
};

/// One declared queue.
#[derive(Clone)]
pub struct QueueSpec {
    pub name: String,
    /// Jobs at once on this node.
    pub concurrency: usize,
    /// The default for jobs enqueued without their own.
    pub max_attempts: u16,
    /// The first wait after a failure; it doubles with each attempt.
    pub retry_base: Duration,
    /// How its jobs run here; None: the app pulls them over the API.
    pub delivery: Option<Handler>,
    /// `http`, `command` or `pull`, for people.
    pub delivery_name: &'static str,
}

/// `topic` events enqueue a `kind` job on `queue`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Subscription {
    pub topic: String,
    pub queue: String,
    pub kind: String,
}

/// Everything [`Jobs`] runs with.
#[derive(Clone)]
pub struct JobsSettings {
    pub node: String,
    pub queues: Vec<QueueSpec>,
    pub cron: Vec<CronEntry>,
    pub subscriptions: Vec<Subscription>,
    pub lease: Duration,
    pub retention: Duration,
    pub discarded_retention: Duration,
    pub shutdown_grace: Duration,
    /// solo's own kinds (monitors, backups…), run on the `solo` queue.
    pub builtin: HashMap<String, Handler>,
}

/// The queue solo's own work runs on.
pub const BUILTIN_QUEUE: &str = "solo";

struct Inner {
    db: Db,
    settings: JobsSettings,
    wakeup: Wakeup,
    metrics: JobMetrics,
}

/// The jobs capability of a node. Cheap to clone.
#[derive(Clone)]
pub struct Jobs(Arc<Inner>);

impl Jobs {
    pub fn new(db: Db, settings: JobsSettings, metrics: JobMetrics) -> Self {
        Jobs(Arc::new(Inner {
            db,
            settings,
            wakeup: Wakeup::new(),
            metrics,
        }))
    }

    pub fn db(&self) -> &Db {
        &self.0.db
    }

    pub fn settings(&self) -> &JobsSettings {
        &self.0.settings
    }

    pub fn queue(&self, name: &str) -> Option<&QueueSpec> {
        self.0.settings.queues.iter().find(|q| q.name == name)
    }

    /// Declared queue names (and `solo`'s own when it has kinds).
    pub fn queue_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .0
            .settings
            .queues
            .iter()
            .map(|q| q.name.clone())
            .collect();
        if !self.0.settings.builtin.is_empty() {
            names.push(BUILTIN_QUEUE.to_owned());
        }
        names
    }

    /// Checks that every job names a declared queue, and fills in the
    /// queue's attempts for jobs that left them at the default.
    pub fn prepare(&self, jobs: &mut [NewJob], explicit_attempts: &[bool]) -> Result<(), JobError> {
        for (index, job) in jobs.iter_mut().enumerate() {
            let Some(queue) = self.queue(&job.queue) else {
                let known = self.queue_names();
                return Err(JobError::Invalid {
                    field: "queue",
                    message: if known.is_empty() {
                        format!(
                            "no queue is named `{}`: declare queues in solo.toml's [[queues]]",
                            job.queue
                        )
                    } else {
                        format!(
                            "no queue is named `{}`; declared queues: {}",
                            job.queue,
                            known.join(", ")
                        )
                    },
                });
            };
            if !explicit_attempts.get(index).copied().unwrap_or(false) {
                job.max_attempts = queue.max_attempts;
            }
        }
        Ok(())
    }

    /// Enqueues jobs (one statement) and wakes this node's workers; other
    /// nodes are woken by the database (PostgreSQL NOTIFY).
    pub async fn enqueue(&self, jobs: &[NewJob]) -> Result<Vec<Enqueued>, JobError> {
        let outcomes = crate::enqueue(&self.0.db, jobs, Utc::now()).await?;
        self.enqueued(jobs, &outcomes);
        Ok(outcomes)
    }

    /// Wakes this node's idle workers (a job became available).
    pub fn wake(&self) {
        self.0.wakeup.notify();
    }

    /// Counts and wakes after an enqueue committed elsewhere (in a caller's
    /// transaction).
    pub(crate) fn enqueued(&self, jobs: &[NewJob], outcomes: &[Enqueued]) {
        let mut per_queue: HashMap<&str, u64> = HashMap::new();
        for (job, outcome) in jobs.iter().zip(outcomes) {
            if matches!(outcome, Enqueued::Inserted(_)) {
                *per_queue.entry(job.queue.as_str()).or_default() += 1;
            }
        }
        for (queue, count) in per_queue {
            self.0.metrics.enqueued(queue, count);
        }
        self.0.wakeup.notify();
    }

    /// The jobs an event on `topic` enqueues: one per subscription.
    pub fn fan_out(&self, topic: &str, payload: &serde_json::Value) -> Vec<NewJob> {
        self.0
            .settings
            .subscriptions
            .iter()
            .filter(|s| s.topic == topic)
            .map(|s| {
                let mut job = NewJob::new(&s.queue, &s.kind, payload.clone());
                job.max_attempts = self.queue(&s.queue).map_or(20, |q| q.max_attempts);
                job.tags = vec![format!("event:{topic}")];
                job
            })
            .collect()
    }

    /// Publishes an event: one job per subscription to `topic`, all in one
    /// statement. Returns the jobs' ids (none without subscribers).
    pub async fn publish(
        &self,
        topic: &str,
        payload: &serde_json::Value,
    ) -> Result<Vec<i64>, JobError> {
        let jobs = self.fan_out(topic, payload);
        let outcomes = self.enqueue(&jobs).await?;
        Ok(outcomes
            .into_iter()
            .filter_map(|o| match o {
                Enqueued::Inserted(id) => Some(id),
                Enqueued::Duplicate => None,
            })
            .collect())
    }

    /// Runs the node's side of jobs until `stop`: workers for delivered
    /// queues, the rescuer, the pruner, cron and the backlog figures. At
    /// stop, workers stop claiming, running jobs get the grace period, and
    /// the rest are handed back.
    pub async fn run(self, stop: watch::Receiver<bool>) -> Result<(), JobError> {
        let settings = &self.0.settings;
        let db = self.0.db.clone();
        self.0.wakeup.listen(&db, stop.clone()).await?;
        let mut tasks = JoinSet::new();
        let mut workers: Vec<WorkerConfig> = settings
            .queues
            .iter()
            .filter_map(|queue| {
                let handler = queue.delivery.clone()?;
                Some(self.worker_config(
                    &queue.name,
                    queue.concurrency,
                    queue.retry_base,
                    HashMap::new(),
                    Some(handler),
                ))
            })
            .collect();
        if !settings.builtin.is_empty() {
            workers.push(self.worker_config(
                BUILTIN_QUEUE,
                4,
                crate::DEFAULT_RETRY_BASE,
                settings.builtin.clone(),
                None,
            ));
        }
        for config in workers {
            let (db, wakeup, stop) = (db.clone(), self.0.wakeup.clone(), stop.clone());
            tasks.spawn(async move {
                let queue = config.queue.clone();
                // A database outage ends a worker's loop: start it again
                // until stopped (its jobs are safe in the table meanwhile).
                loop {
                    match run_worker(db.clone(), config.clone(), wakeup.clone(), stop.clone()).await {
                        Ok(()) => return,
                        Err(error) => {
                            tracing::warn!(%queue, %error, "job worker stopped on an error; restarting in 1 s");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                            if *stop.borrow() {
                                return;
                            }
                        }
                    }
                }
            });
        }
        tasks.spawn(run_cron(
            db.clone(),
            settings.cron.clone(),
            self.0.wakeup.clone(),
            stop.clone(),
        ));
        tasks.spawn(self.clone().housekeeping(stop.clone()));
        while tasks.join_next().await.is_some() {}
        Ok(())
    }

    fn worker_config(
        &self,
        queue: &str,
        concurrency: usize,
        retry_base: Duration,
        handlers: HashMap<String, Handler>,
        fallback: Option<Handler>,
    ) -> WorkerConfig {
        let settings = &self.0.settings;
        WorkerConfig {
            queue: queue.to_owned(),
            node: settings.node.clone(),
            concurrency,
            lease: settings.lease,
            poll: Duration::from_secs(1),
            handlers,
            fallback,
            retry_base,
            shutdown_grace: settings.shutdown_grace,
            metrics: self.0.metrics.clone(),
        }
    }

    /// The rescuer (every lease/2), backlog figures (every 5 s) and the
    /// pruner (every 10 min). Any node may run them: each is idempotent.
    async fn housekeeping(self, mut stop: watch::Receiver<bool>) {
        let settings = &self.0.settings;
        let db = &self.0.db;
        let rescue_every = (settings.lease / 2).max(Duration::from_millis(100));
        let mut rescue_tick = tokio::time::interval(rescue_every);
        let mut figures_tick = tokio::time::interval(Duration::from_secs(5));
        let mut prune_tick = tokio::time::interval(Duration::from_secs(600));
        for tick in [&mut rescue_tick, &mut figures_tick, &mut prune_tick] {
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        }
        loop {
            tokio::select! {
                _ = stop.changed() => {
                    if *stop.borrow() {
                        return;
                    }
                }
                _ = rescue_tick.tick() => match rescue(db, Utc::now()).await {
                    Ok(0) => {}
                    Ok(rescued) => {
                        tracing::info!(rescued, "jobs whose lease ran out returned to their queues");
                        self.0.wakeup.notify();
                    }
                    Err(error) => tracing::warn!(%error, "rescuing expired jobs failed"),
                },
                _ = figures_tick.tick() => match stats(db, &self.queue_names(), Utc::now()).await {
                    Ok(stats) => self.0.metrics.backlog(&stats),
                    Err(error) => tracing::debug!(%error, "reading queue figures failed"),
                },
                _ = prune_tick.tick() => {
                    let now = Utc::now();
                    let before = |keep: Duration| now - chrono::Duration::from_std(keep).unwrap_or(chrono::Duration::days(7));
                    match prune(db, before(settings.retention), before(settings.discarded_retention)).await {
                        Ok(0) => {}
                        Ok(pruned) => tracing::info!(pruned, "finished jobs past their retention deleted"),
                        Err(error) => tracing::warn!(%error, "pruning finished jobs failed"),
                    }
                }
            }
        }
    }
}
