//! What the proxy measures, per release: request rate by status class and
//! a latency histogram (time to the answer's head). These feed `/metrics`,
//! the rollback watch, and later the alert rules.

use std::time::Duration;

use http::StatusCode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use solo_observe::MetricsRegistry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClassLabels {
    release: String,
    class: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReleaseLabel {
    release: String,
}

fn latency_histogram() -> Histogram {
    // 0.1 ms … ~100 s
    Histogram::new(exponential_buckets(0.0001, 2.0, 21))
}

/// The proxy's figures. `Default` is unregistered (tests, benchmarks).
#[derive(Debug, Clone)]
pub struct ProxyMetrics {
    requests: Family<ClassLabels, Counter>,
    latency: Family<ReleaseLabel, Histogram, fn() -> Histogram>,
}

impl Default for ProxyMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
        }
    }
}

impl ProxyMetrics {
    pub fn register(registry: &MetricsRegistry) -> Self {
        let metrics = Self::default();
        registry.register(
            "solo_proxy_requests",
            "Requests the proxy passed to the app, by release and status class",
            metrics.requests.clone(),
        );
        registry.register(
            "solo_proxy_request_duration_seconds",
            "Time from a request to the app's answer head, by release",
            metrics.latency.clone(),
        );
        metrics
    }

    /// One release's series, looked up once: the hot path then only
    /// touches its own counters.
    pub(crate) fn for_release(&self, release: &str) -> ReleaseMetrics {
        let class = |class| {
            self.requests.get_or_create_owned(&ClassLabels {
                release: release.to_owned(),
                class,
            })
        };
        ReleaseMetrics {
            classes: [
                class("1xx"),
                class("2xx"),
                class("3xx"),
                class("4xx"),
                class("5xx"),
            ],
            latency: self.latency.get_or_create_owned(&ReleaseLabel {
                release: release.to_owned(),
            }),
        }
    }
}

/// The series of one release (handles sharing the registered metrics).
pub(crate) struct ReleaseMetrics {
    classes: [Counter; 5],
    latency: Histogram,
}

impl ReleaseMetrics {
    pub(crate) fn record(&self, status: StatusCode, elapsed: Duration) {
        let class = match status.as_u16() {
            100..=199 => 0,
            200..=299 => 1,
            300..=399 => 2,
            400..=499 => 3,
            _ => 4,
        };
        self.classes[class].inc();
        self.latency.observe(elapsed.as_secs_f64());
    }
}
