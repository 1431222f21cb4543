//! The request timeout. A handler that overruns is the server's failure,
//! not the client's: it answers 503 (code `request_timeout`), not 408.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

use crate::error::ApiError;

pub(crate) async fn time_limit(
    State(limit): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "request_timeout",
            format!(
                "the request took longer than {}s and was stopped (http.request_timeout in solo.toml)",
                limit.as_secs_f64()
            ),
        )
        .into_response(),
    }
}
