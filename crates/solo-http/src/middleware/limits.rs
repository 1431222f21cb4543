//! The body limit and the request time limit, with the exception upload
//! routes need. A handler that overruns is the server's failure, not the
//! client's: it answers 503 (code `request_timeout`), not 408.
//!
//! Upload routes (`HttpSettings::upload_paths`, e.g. a release archive)
//! stream their body and bound it themselves, and their work (a deploy)
//! outlasts any sensible request timeout: neither limit applies to them.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use http_body_util::Limited;

use crate::error::ApiError;

pub(crate) struct Limits {
    pub body_limit: usize,
    pub request_timeout: Duration,
    pub upload_paths: Vec<String>,
}

pub(crate) async fn limits(
    State(limits): State<Arc<Limits>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if limits.upload_paths.iter().any(|p| p == path) {
        return next.run(request).await;
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.body_limit as u64) {
        // The errors middleware words it (and names the setting).
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    }
    let request = request.map(|body| Body::new(Limited::new(body, limits.body_limit)));
    match tokio::time::timeout(limits.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "request_timeout",
            format!(
                "the request took longer than {}s and was stopped (http.request_timeout in solo.toml)",
                limits.request_timeout.as_secs_f64()
            ),
        )
        .into_response(),
    }
}
