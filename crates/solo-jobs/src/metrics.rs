//! Per-queue figures on `/metrics`. Counters and histograms count what
//! this node did; backlog gauges are read from the table by
//! [`crate::Jobs::run`] every few seconds (the same on every node).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use solo_observe::MetricsRegistry;

use crate::QueueStats;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabel {
    queue: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BacklogLabels {
    queue: String,
    state: &'static str,
}

type Histograms = Family<QueueLabel, Histogram, fn() -> Histogram>;

fn seconds_histogram() -> Histogram {
    // 0.1 ms … ~30 min
    Histogram::new(exponential_buckets(0.0001, 2.5, 18))
}

/// The job figures of this process. `Default` is unregistered (tests,
/// benchmarks): it counts, but nothing shows it.
#[derive(Debug, Clone)]
pub struct JobMetrics {
    enqueued: Family<QueueLabel, Counter>,
    completed: Family<QueueLabel, Counter>,
    failed: Family<QueueLabel, Counter>,
    discarded: Family<QueueLabel, Counter>,
    wait: Histograms,
    run: Histograms,
    backlog: Family<BacklogLabels, Gauge>,
    oldest: Family<QueueLabel, Gauge<f64, std::sync::atomic::AtomicU64>>,
}

impl Default for JobMetrics {
    fn default() -> Self {
        Self {
            enqueued: Family::default(),
            completed: Family::default(),
            failed: Family::default(),
            discarded: Family::default(),
            wait: Family::new_with_constructor(seconds_histogram),
            run: Family::new_with_constructor(seconds_histogram),
            backlog: Family::default(),
            oldest: Family::default(),
        }
    }
}

impl JobMetrics {
    pub fn register(registry: &MetricsRegistry) -> Self {
        let metrics = Self::default();
        registry.register(
            "solo_jobs_enqueued",
            "Jobs enqueued through this node, by queue",
            metrics.enqueued.clone(),
        );
        registry.register(
            "solo_jobs_completed",
            "Jobs completed by this node's workers, by queue",
            metrics.completed.clone(),
        );
        registry.register(
            "solo_jobs_failed",
            "Failed attempts (to be retried) on this node, by queue",
            metrics.failed.clone(),
        );
        registry.register(
            "solo_jobs_discarded",
            "Jobs discarded on this node (out of attempts, or refused), by queue",
            metrics.discarded.clone(),
        );
        registry.register(
            "solo_jobs_wait_seconds",
            "Time from a job's run-at to its start on this node, by queue",
            metrics.wait.clone(),
        );
        registry.register(
            "solo_jobs_run_seconds",
            "Time a job's attempt ran on this node, by queue",
            metrics.run.clone(),
        );
        registry.register(
            "solo_jobs_backlog",
            "Jobs in the table by queue and state (scheduled, available, running)",
            metrics.backlog.clone(),
        );
        registry.register(
            "solo_jobs_oldest_available_seconds",
            "Age of the oldest job ready to run, by queue",
            metrics.oldest.clone(),
        );
        metrics
    }

    fn label(queue: &str) -> QueueLabel {
        QueueLabel {
            queue: queue.to_owned(),
        }
    }

    pub(crate) fn enqueued(&self, queue: &str, count: u64) {
        self.enqueued
            .get_or_create(&Self::label(queue))
            .inc_by(count);
    }

    pub(crate) fn completed(&self, queue: &str, count: u64) {
        self.completed
            .get_or_create(&Self::label(queue))
            .inc_by(count);
    }

    pub(crate) fn failed(&self, queue: &str) {
        self.failed.get_or_create(&Self::label(queue)).inc();
    }

    pub(crate) fn discarded(&self, queue: &str) {
        self.discarded.get_or_create(&Self::label(queue)).inc();
    }

    pub(crate) fn waited(&self, queue: &str, seconds: f64) {
        self.wait
            .get_or_create(&Self::label(queue))
            .observe(seconds);
    }

    pub(crate) fn ran(&self, queue: &str, seconds: f64) {
        self.run.get_or_create(&Self::label(queue)).observe(seconds);
    }

    pub(crate) fn backlog(&self, stats: &[QueueStats]) {
        for queue in stats {
            for (state, count) in [
                ("scheduled", queue.scheduled),
                ("available", queue.available),
                ("running", queue.running),
            ] {
                self.backlog
                    .get_or_create(&BacklogLabels {
                        queue: queue.queue.clone(),
                        state,
                    })
                    .set(count);
            }
            self.oldest
                .get_or_create(&Self::label(&queue.queue))
                .set(queue.oldest_available_s.unwrap_or(0.0));
        }
    }
}
