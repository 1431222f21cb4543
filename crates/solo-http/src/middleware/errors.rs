//! One JSON error shape for every error response, and no dropped connection
//! when a handler panics.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use http::{HeaderValue, Method, StatusCode, header};

use crate::error::{ApiError, ErrorBody, ErrorDetail, code_for};
use crate::request_id::RequestId;

/// What the error messages quote.
#[derive(Debug, Clone)]
pub(crate) struct ErrorContext {
    pub body_limit: usize,
}

/// Framework error bodies (e.g. axum's JSON rejections) are short; anything
/// longer is not worth quoting.
const MAX_QUOTED_BODY: usize = 4096;

pub(crate) async fn render_errors(
    State(context): State<Arc<ErrorContext>>,
    request: Request,
    next: Next,
) -> Response {
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .cloned()
        .unwrap_or_else(RequestId::generate);
    let method = request.method().clone();
    let path = request.uri().path().to_owned();

    let response = match AssertUnwindSafe(next.run(request)).catch_unwind().await {
        Ok(response) => response,
        Err(panic) => {
            tracing::error!(panic = %panic_message(&*panic), "handler panicked");
            let error = ApiError::internal(
                "internal error: the server log has the details under this request_id",
            );
            return json_error(
                StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                error,
                &request_id,
            );
        }
    };

    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    if let Some(error) = response.extensions().get::<ApiError>().cloned() {
        return json_error(response, error, &request_id);
    }
    if is_rendered(&response) {
        return response;
    }
    // A framework response (404, 405, 413, a rejected body…): keep its
    // status and headers, say in words what happened.
    let (parts, body) = response.into_parts();
    let quoted = axum::body::to_bytes(body, MAX_QUOTED_BODY)
        .await
        .ok()
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .filter(|s| !s.is_empty());
    let message = default_message(status, &method, &path, &context).or(quoted);
    let message = message.unwrap_or_else(|| {
        status
            .canonical_reason()
            .unwrap_or("request failed")
            .to_owned()
    });
    let error = ApiError::new(status, code_for(status), message);
    json_error(
        Response::from_parts(parts, Body::empty()),
        error,
        &request_id,
    )
}

/// Bodies already meant for their reader (JSON, a dashboard page) stay.
fn is_rendered(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json") || ct.starts_with("text/html"))
}

fn default_message(
    status: StatusCode,
    method: &Method,
    path: &str,
    context: &ErrorContext,
) -> Option<String> {
    Some(match status {
        StatusCode::NOT_FOUND => {
            format!("no route for {method} {path}; the API is described at /api/v1/openapi.json")
        }
        StatusCode::METHOD_NOT_ALLOWED => format!("{method} is not allowed on {path}"),
        StatusCode::PAYLOAD_TOO_LARGE => format!(
            "the request body is larger than the limit of {} bytes (http.body_limit in solo.toml)",
            context.body_limit
        ),
        _ => return None,
    })
}

fn json_error(response: Response, error: ApiError, request_id: &RequestId) -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            code: error.code.into_owned(),
            message: error.message,
            request_id: request_id.to_string(),
            field: error.field,
        },
    };
    let json = serde_json::to_vec(&body).unwrap_or_default();
    let (mut parts, _) = response.into_parts();
    parts.status = error.status;
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.extensions.remove::<ApiError>();
    Response::from_parts(parts, Body::from(json))
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-text panic payload".to_owned()
    }
}
