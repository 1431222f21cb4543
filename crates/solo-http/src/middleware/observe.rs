//! Request id, the `request` span, metrics and the access log line.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderValue;
use tracing::Instrument;

use crate::conn::ConnectionInfo;
use crate::metrics::{HttpMetrics, RequestLabels};
use crate::request_id::{HEADER, RequestId};

/// Route label of requests that matched no route.
const UNMATCHED: &str = "<unmatched>";

pub(crate) async fn observe(
    State(metrics): State<Arc<HttpMetrics>>,
    mut request: Request,
    next: Next,
) -> Response {
    let request_id = request
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(RequestId::parse)
        .unwrap_or_else(RequestId::generate);
    request.extensions_mut().insert(request_id.clone());

    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| UNMATCHED.to_owned(), |m| m.as_str().to_owned());
    // The path without its query: queries can carry tokens.
    let path = request.uri().path().to_owned();
    let client = request
        .extensions()
        .get::<ConnectionInfo>()
        .map(|c| c.peer.ip().to_string());

    let span = tracing::info_span!("request", request_id = %request_id);
    // For digging (SOLO_LOG=debug). Credentials in them are scrubbed by the
    // log layer's redactor, like every other field.
    span.in_scope(|| tracing::debug!(headers = ?request.headers(), "request headers"));
    let guard = InFlight::start(&metrics);
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status();
    guard.finish(
        RequestLabels {
            method: method.to_string(),
            route: route.clone(),
            status: status.as_u16(),
        },
        elapsed.as_secs_f64(),
    );
    span.in_scope(|| {
        tracing::info!(
            target: "solo::access",
            method = %method,
            route = %route,
            path = %path,
            status = status.as_u16(),
            latency_ms = (elapsed.as_secs_f64() * 1e6).round() / 1e3,
            client = client.as_deref().unwrap_or("-"),
            "request"
        );
    });
    if let Ok(value) = HeaderValue::from_str(request_id.as_str()) {
        response.headers_mut().insert(HEADER, value);
    }
    response
}

/// Keeps the in-flight gauge right even when the client goes away and the
/// request future is dropped half-way.
struct InFlight<'a> {
    metrics: &'a HttpMetrics,
    done: bool,
}

impl<'a> InFlight<'a> {
    fn start(metrics: &'a HttpMetrics) -> Self {
        metrics.started();
        InFlight {
            metrics,
            done: false,
        }
    }

    fn finish(mut self, labels: RequestLabels, seconds: f64) {
        self.done = true;
        self.metrics.finished(labels, seconds);
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.metrics.abandoned();
        }
    }
}
