//! Running jobs in this process: one claimer per queue hands jobs to
//! handlers, up to a concurrency limit, and one completer records the
//! outcomes in batches (one statement for many completions), so the hot
//! path costs two round trips per batch, not per job.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use solo_store::Db;
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio::task::JoinSet;

use crate::{FailOutcome, Job, JobError, JobMetrics, claim, complete, fail_with, release};

/// What a handler says about an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Done, with what it printed (kept with the job).
    Completed(String),
    /// Failed; retried after a backoff until out of attempts.
    Failed(String),
    /// Failed for good (a payload that can never work).
    Discard(String),
}

pub type HandlerFuture = Pin<Box<dyn Future<Output = Outcome> + Send>>;
/// A job kind's code.
pub type Handler = Arc<dyn Fn(Job) -> HandlerFuture + Send + Sync>;

/// How one queue is worked.
#[derive(Clone)]
pub struct WorkerConfig {
    pub queue: String,
    /// This node's name in `locked_by`.
    pub node: String,
    /// Jobs of this queue running at once on this node.
    pub concurrency: usize,
    pub lease: Duration,
    /// How often to look for work when nothing says there is some.
    pub poll: Duration,
    /// Handlers by kind; a kind without one is discarded.
    pub handlers: HashMap<String, Handler>,
    /// Used for every kind without a handler of its own (a queue's
    /// delivery to the app).
    pub fallback: Option<Handler>,
    /// The first wait after a failure (it doubles with each attempt).
    pub retry_base: Duration,
    /// At stop, running jobs get this long to finish; the rest are handed
    /// back to the queue.
    pub shutdown_grace: Duration,
    pub metrics: JobMetrics,
}

/// Wakes idle claimers when jobs are enqueued in this process.
#[derive(Clone, Default)]
pub struct Wakeup(Arc<Notify>);

impl Wakeup {
    pub fn new() -> Self {
        Self::default()
    }

    /// Call after enqueueing.
    pub fn notify(&self) {
        self.0.notify_waiters();
    }

    /// On PostgreSQL, also wakes on every node's enqueues: a task LISTENs
    /// on `solo_jobs` (the insert statement NOTIFYs) until `stop`. On
    /// SQLite there is one node, and its enqueues call [`notify`].
    ///
    /// [`notify`]: Wakeup::notify
    pub async fn listen(&self, db: &Db, mut stop: watch::Receiver<bool>) -> Result<(), JobError> {
        let Db::Postgres(pool) = db else {
            return Ok(());
        };
        let mut listener = solo_store::sqlx::postgres::PgListener::connect_with(pool).await?;
        listener.listen(CHANNEL).await?;
        let wakeup = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    // recv() reconnects by itself after a lost connection.
                    received = listener.recv() => match received {
                        Ok(_) => wakeup.notify(),
                        Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                    },
                    _ = stop.changed() => return,
                }
                if *stop.borrow() {
                    return;
                }
            }
        });
        Ok(())
    }
}

/// The NOTIFY channel enqueues signal on.
const CHANNEL: &str = "solo_jobs";

/// Works `config.queue` until `stop` turns true, then lets running jobs
/// finish (their outcomes recorded) and returns.
pub async fn run_worker(
    db: Db,
    config: WorkerConfig,
    wakeup: Wakeup,
    mut stop: watch::Receiver<bool>,
) -> Result<(), JobError> {
    // `slots`: handlers running at once (the queue's concurrency).
    // `held`: jobs claimed and not yet recorded, at most twice that: the
    // next batch runs while the last one is written, yet a slow database
    // slows claiming down instead of piling up finished jobs whose results
    // a crash would lose.
    let concurrency = config.concurrency.max(1);
    let slots = Arc::new(Semaphore::new(concurrency));
    let held = Arc::new(Semaphore::new(concurrency * 2));
    let (done_tx, done_rx) = mpsc::unbounded_channel::<Finished>();
    // Jobs held here until their outcome is recorded: their leases are
    // extended every lease/3, so a long job (or an outcome waiting out a
    // database restart) is not rescued from a live worker.
    let in_hand: Arc<Mutex<HashSet<i64>>> = Arc::default();
    let freed = Arc::new(Notify::new());
    let completer = tokio::spawn(completer(
        Recorder {
            db: db.clone(),
            node: config.node.clone(),
            queue: config.queue.clone(),
            retry_base: config.retry_base,
            metrics: config.metrics.clone(),
            in_hand: Arc::clone(&in_hand),
            freed: Arc::clone(&freed),
        },
        done_rx,
    ));
    let heartbeat = tokio::spawn(heartbeat(
        db.clone(),
        config.node.clone(),
        config.lease,
        Arc::clone(&in_hand),
    ));
    let mut running = JoinSet::new();
    loop {
        if *stop.borrow() {
            break;
        }
        while running.try_join_next().is_some() {}
        let free = slots.available_permits().min(held.available_permits());
        let claimed = if free > 0 {
            match claim(
                &db,
                &config.queue,
                u32::try_from(free).unwrap_or(u32::MAX),
                &config.node,
                Utc::now(),
                config.lease,
            )
            .await
            {
                Ok(claimed) => claimed,
                Err(error) => {
                    // The database is away (a restart, a failover): jobs in
                    // hand keep running, claiming resumes when it is back.
                    tracing::warn!(queue = %config.queue, %error, "claiming jobs failed; retrying in 1 s");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = stop.changed() => {}
                    }
                    continue;
                }
            }
        } else {
            Vec::new()
        };
        let got = claimed.len();
        let now = Utc::now();
        for job in claimed {
            let (Ok(slot), Ok(hold)) = (
                Arc::clone(&slots).try_acquire_owned(),
                Arc::clone(&held).try_acquire_owned(),
            ) else {
                break;
            };
            config.metrics.waited(
                &config.queue,
                (now - job.run_at.max(job.created_at))
                    .num_microseconds()
                    .unwrap_or(0)
                    .max(0) as f64
                    / 1e6,
            );
            let metrics = config.metrics.clone();
            let queue = config.queue.clone();
            let handler = config
                .handlers
                .get(&job.kind)
                .or(config.fallback.as_ref())
                .cloned();
            let done = done_tx.clone();
            lock(&in_hand).insert(job.id);
            running.spawn(async move {
                let id = job.id;
                let started = std::time::Instant::now();
                let outcome = match handler {
                    Some(handler) => handler(job).await,
                    None => Outcome::Discard(format!("no handler for the kind `{}`", job.kind)),
                };
                metrics.ran(&queue, started.elapsed().as_secs_f64());
                drop(slot);
                let _ = done.send((id, outcome, hold));
            });
        }
        if got == 0 || got < free {
            // Nothing more now: wait for an enqueue, a free slot, the poll
            // interval or the stop signal.
            let notified = wakeup.0.notified();
            tokio::select! {
                () = notified => {}
                () = freed.notified() => {}
                _ = running.join_next(), if !running.is_empty() => {}
                () = tokio::time::sleep(config.poll) => {}
                _ = stop.changed() => {}
            }
        }
    }
    // Running jobs get the grace period; the rest are cut off (a command's
    // process is killed with its task) and handed back below.
    let drained = tokio::time::timeout(config.shutdown_grace, async {
        while running.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        running.shutdown().await;
    }
    heartbeat.abort();
    drop(done_tx);
    let recorded = completer
        .await
        .map_err(|e| JobError::Corrupt(format!("the completer stopped: {e}")))?;
    let unfinished: Vec<i64> = lock(&in_hand).iter().copied().collect();
    if !unfinished.is_empty() {
        let released = release(&db, &unfinished, &config.node, Utc::now()).await?;
        tracing::info!(queue = %config.queue, released, "unfinished jobs handed back at shutdown");
    }
    recorded
}

fn lock(set: &Mutex<HashSet<i64>>) -> std::sync::MutexGuard<'_, HashSet<i64>> {
    set.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Extends the leases of the jobs in hand, every lease/3.
async fn heartbeat(db: Db, node: String, lease: Duration, in_hand: Arc<Mutex<HashSet<i64>>>) {
    let every = (lease / 3).max(Duration::from_millis(10));
    loop {
        tokio::time::sleep(every).await;
        let ids: Vec<i64> = lock(&in_hand).iter().copied().collect();
        if let Err(error) = crate::extend_leases(&db, &ids, &node, Utc::now(), lease).await {
            // The next beat tries again; a lease lost meanwhile is rescued.
            tracing::warn!(%error, "extending job leases failed");
        }
    }
}

/// Records outcomes: completions in batches (whatever arrived while the
/// last batch was written), failures one by one.
/// A job whose handler returned, holding its slot until recorded.
type Finished = (i64, Outcome, tokio::sync::OwnedSemaphorePermit);

/// What the completer needs to record outcomes.
struct Recorder {
    db: Db,
    node: String,
    queue: String,
    retry_base: Duration,
    metrics: JobMetrics,
    in_hand: Arc<Mutex<HashSet<i64>>>,
    /// Told when slots are freed, so the claimer claims again.
    freed: Arc<Notify>,
}

async fn completer(
    recorder: Recorder,
    mut done: mpsc::UnboundedReceiver<Finished>,
) -> Result<(), JobError> {
    let Recorder {
        db,
        node,
        queue,
        retry_base,
        metrics,
        in_hand,
        freed,
    } = recorder;
    let mut batch = Vec::with_capacity(512);
    while let Some(first) = done.recv().await {
        let mut outcomes = vec![first];
        while outcomes.len() < 1000 {
            match done.try_recv() {
                Ok(next) => outcomes.push(next),
                Err(_) => break,
            }
        }
        batch.clear();
        let mut recorded = Vec::with_capacity(outcomes.len());
        for (id, outcome, permit) in outcomes {
            recorded.push((id, permit));
            match outcome {
                Outcome::Done => batch.push(id),
                Outcome::Completed(output) => {
                    if let Some(completed) = persist(|| {
                        crate::store::complete_with_output(
                            &db,
                            id,
                            &node,
                            &output,
                            Utc::now().timestamp_micros(),
                        )
                    })
                    .await
                    {
                        metrics.completed(&queue, completed);
                    }
                }
                Outcome::Failed(error) => {
                    if let Some(outcome) =
                        persist(|| fail_with(&db, id, &node, &error, false, retry_base, Utc::now()))
                            .await
                    {
                        count_failure(&metrics, &queue, outcome);
                    }
                }
                Outcome::Discard(error) => {
                    if let Some(outcome) =
                        persist(|| fail_with(&db, id, &node, &error, true, retry_base, Utc::now()))
                            .await
                    {
                        count_failure(&metrics, &queue, outcome);
                    }
                }
            }
        }
        if !batch.is_empty()
            && let Some(completed) = persist(|| complete(&db, &batch, &node, Utc::now())).await
        {
            metrics.completed(&queue, completed);
        }
        // Recorded (or given up on): no more heartbeats for these.
        {
            let mut held = lock(&in_hand);
            for (id, _slot) in recorded {
                held.remove(&id);
            }
        }
        freed.notify_one();
    }
    Ok(())
}

/// Retries a write through a database outage for up to a minute. After
/// that the outcome is dropped: the job's lease runs out and it is run
/// again (at least once, never lost).
async fn persist<T, F, Fut>(mut write: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, JobError>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut pause = Duration::from_millis(100);
    loop {
        match write().await {
            Ok(value) => return Some(value),
            Err(error) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(%error, "recording job outcomes failed; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
            Err(error) => {
                tracing::error!(%error, "recording job outcomes failed for a minute; their leases will run out and they will run again");
                return None;
            }
        }
    }
}

fn count_failure(metrics: &JobMetrics, queue: &str, outcome: FailOutcome) {
    match outcome {
        FailOutcome::Retry(_) => metrics.failed(queue),
        FailOutcome::Discarded => metrics.discarded(queue),
        FailOutcome::NotHeld => {}
    }
}
