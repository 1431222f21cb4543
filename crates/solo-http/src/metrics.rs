use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use solo_observe::MetricsRegistry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    pub method: String,
    /// The route template (`/api/v1/jobs/{id}`), never the raw path: raw
    /// paths would make one series per id.
    pub route: String,
    pub status: u16,
}

type HistogramFamily = Family<RequestLabels, Histogram, fn() -> Histogram>;

/// Request figures of solo's own HTTP server.
#[derive(Debug, Clone)]
pub struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    duration: HistogramFamily,
    in_flight: Gauge,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms … ~16 s
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl HttpMetrics {
    pub fn register(registry: &MetricsRegistry) -> Self {
        let metrics = HttpMetrics {
            requests: Family::default(),
            duration: Family::new_with_constructor(latency_histogram),
            in_flight: Gauge::default(),
        };
        registry.register(
            "solo_http_requests",
            "HTTP requests served by solo, by method, route and status",
            metrics.requests.clone(),
        );
        registry.register(
            "solo_http_request_duration_seconds",
            "Time from request to response head, by method, route and status",
            metrics.duration.clone(),
        );
        registry.register(
            "solo_http_requests_in_flight",
            "HTTP requests being served now",
            metrics.in_flight.clone(),
        );
        metrics
    }

    pub(crate) fn started(&self) {
        self.in_flight.inc();
    }

    pub(crate) fn finished(&self, labels: RequestLabels, seconds: f64) {
        self.in_flight.dec();
        self.duration.get_or_create(&labels).observe(seconds);
        self.requests.get_or_create(&labels).inc();
    }
}

impl HttpMetrics {
    /// The client went away before the response was ready.
    pub(crate) fn abandoned(&self) {
        self.in_flight.dec();
    }
}
