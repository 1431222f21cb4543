//! Request id, the `request` span, metrics and the access log line.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, Method};
use tracing::Instrument;

use crate::conn::ConnectionInfo;
use crate::metrics::{HttpMetrics, RequestLabels};
use crate::request_id::{HEADER, RequestId};

/// Route label of requests that matched no route.
const UNMATCHED: &str = "<unmatched>";
/// Longest unmatched path written to the access log.
const MAX_LOGGED_PATH: usize = 200;
/// Headers whose values are safe to log: they describe the request, never
/// the caller's credentials.
const LOGGED_HEADER_VALUES: &[&str] = &[
    "accept",
    "accept-encoding",
    "accept-language",
    "content-length",
    "content-type",
    "host",
    "origin",
    "referer",
    "sec-fetch-dest",
    "sec-fetch-mode",
    "sec-fetch-site",
    "user-agent",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-request-id",
];

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
    // Matched requests log their route template only: concrete paths can
    // carry tokens (an invite link, a signed URL). Unmatched ones log the
    // path, without its query, cut short: that is what a 404 hunt needs.
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .is_none()
        .then(|| truncate(request.uri().path(), MAX_LOGGED_PATH).to_owned());
    let client = request
        .extensions()
        .get::<ConnectionInfo>()
        .map(|c| c.peer.ip().to_string());

    let span = tracing::info_span!("request", request_id = %request_id);
    // For digging (SOLO_LOG=debug): every header's name, but only the values
    // of headers known to carry no credentials. A redactor can't know every
    // scheme a custom auth header uses; an allow-list can't leak one.
    span.in_scope(|| {
        if tracing::enabled!(tracing::Level::DEBUG) {
            tracing::debug!(headers = %describe_headers(request.headers()), "request headers");
        }
    });
    let guard = InFlight::start(&metrics);
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status();
    guard.finish(
        RequestLabels {
            method: method_label(&method).to_owned(),
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
            path = path.as_deref(),
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

/// The method as a metrics label: the standard ones by name, anything else
/// as `OTHER`, so a client can't mint a series per made-up method.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

/// `name: value` for allow-listed headers, `name: <hidden>` for the rest.
fn describe_headers(headers: &HeaderMap) -> String {
    let mut out = String::new();
    for (name, value) in headers {
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push_str(name.as_str());
        out.push_str(": ");
        match value.to_str() {
            Ok(value) if LOGGED_HEADER_VALUES.contains(&name.as_str()) => {
                out.push_str(truncate(value, 200));
            }
            _ => out.push_str("<hidden>"),
        }
    }
    out
}

/// At most `max` bytes of `text`, cut on a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_up_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        let odd = Method::from_bytes(b"FROBNICATE").unwrap();
        assert_eq!(method_label(&odd), "OTHER");
    }

    #[test]
    fn only_allow_listed_header_values_are_described() {
        let mut headers = HeaderMap::new();
        headers.insert("user-agent", "curl/8".parse().unwrap());
        headers.insert("x-auth", "Key abc123".parse().unwrap());
        headers.insert("cookie", "sid=\"q w e\"".parse().unwrap());
        let text = describe_headers(&headers);
        assert!(text.contains("user-agent: curl/8"), "{text}");
        assert!(text.contains("x-auth: <hidden>"), "{text}");
        assert!(text.contains("cookie: <hidden>"), "{text}");
        assert!(
            !text.contains("abc123") && !text.contains("q w e"),
            "{text}"
        );
    }

    #[test]
    fn truncate_respects_characters() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
