//! Observation plumbing shared by every crate: structured logs whose
//! redaction lives in the logging layer itself, and the Prometheus registry.
//!
//! Redaction belongs here, not at call sites: a call site that forgets to
//! scrub (a `?headers` in a debug line, an error that quotes a URL) must still
//! not leak a credential. The layer scrubs every field before it is written.

mod layer;
mod metrics;
mod panics;
mod redact;

pub use layer::{LogFormat, LogLayer, init_logging};
pub use metrics::MetricsRegistry;
pub use panics::log_panics;
pub use redact::{REDACTED, Redactor};

/// Re-exported so every crate registers metrics of one version.
pub use prometheus_client;
