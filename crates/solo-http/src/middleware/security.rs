//! Security headers on every response.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderName, HeaderValue, header};

use crate::conn::ConnectionInfo;

/// Pages load their own scripts, styles and images only, post forms only to
/// solo, and are never framed.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Two years, the HSTS preload list's minimum.
const HSTS: &str = "max-age=63072000; includeSubDomains";

pub(crate) async fn security_headers(request: Request, next: Next) -> Response {
    let tls = request
        .extensions()
        .get::<ConnectionInfo>()
        .is_some_and(|c| c.tls);
    let is_asset = request.uri().path().starts_with("/assets/");
    let mut response = next.run(request).await;
    let caching_set = response.headers().contains_key(header::CACHE_CONTROL);
    let headers = response.headers_mut();
    let mut set = |name: HeaderName, value: &'static str| {
        // A handler that set its own value (a page with a stricter CSP) wins.
        headers
            .entry(name)
            .or_insert_with(|| HeaderValue::from_static(value));
    };
    set(header::CONTENT_SECURITY_POLICY, CSP);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "no-referrer");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set(
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    );
    set(
        HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    );
    if !is_asset && !caching_set {
        // Answers and pages can hold private data (a new token, recovery
        // codes, a CSRF token): no shared or browser caches, no back button
        // after sign-out. Static assets set their own caching.
        set(header::CACHE_CONTROL, "no-store");
    }
    if tls {
        set(header::STRICT_TRANSPORT_SECURITY, HSTS);
    }
    response
}
