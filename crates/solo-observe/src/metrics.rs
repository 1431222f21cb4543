use std::sync::{Arc, Mutex};

use prometheus_client::encoding::text::encode;
use prometheus_client::registry::{Metric, Registry};

type ScrapeHook = Box<dyn Fn() + Send + Sync>;

/// The process's Prometheus registry, shared by every crate.
///
/// Crates register their metric families once at start-up. Figures that are
/// cheaper to read than to track (pool sizes, queue depths) are refreshed by
/// hooks that run just before each scrape.
#[derive(Clone, Default)]
pub struct MetricsRegistry {
    registry: Arc<Mutex<Registry>>,
    hooks: Arc<Mutex<Vec<ScrapeHook>>>,
}

impl std::fmt::Debug for MetricsRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsRegistry").finish_non_exhaustive()
    }
}

impl MetricsRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a metric family. `name` without the `solo_` prefix is a
    /// mistake the registry does not catch: keep every name `solo_…`.
    pub fn register(&self, name: &str, help: &str, metric: impl Metric) {
        if let Ok(mut registry) = self.registry.lock() {
            registry.register(name, help, metric);
        }
    }

    /// Runs `hook` before every scrape.
    pub fn on_scrape(&self, hook: impl Fn() + Send + Sync + 'static) {
        if let Ok(mut hooks) = self.hooks.lock() {
            hooks.push(Box::new(hook));
        }
    }

    /// The Prometheus text exposition of every registered family.
    pub fn encode(&self) -> String {
        if let Ok(hooks) = self.hooks.lock() {
            for hook in hooks.iter() {
                hook();
            }
        }
        let mut out = String::new();
        if let Ok(registry) = self.registry.lock() {
            // Writing into a String cannot fail.
            let _ = encode(&mut out, &registry);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::metrics::gauge::Gauge;

    use super::*;

    #[test]
    fn hooks_run_before_encoding() {
        let metrics = MetricsRegistry::new();
        let gauge: Gauge = Gauge::default();
        metrics.register("solo_test_value", "A test value", gauge.clone());
        metrics.on_scrape(move || {
            gauge.set(42);
        });
        let text = metrics.encode();
        assert!(text.contains("solo_test_value 42"), "{text}");
    }
}
