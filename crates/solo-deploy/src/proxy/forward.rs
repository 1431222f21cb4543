//! One request, forwarded: hop-by-hop headers dropped, `X-Forwarded-*` and
//! the request id set, a time limit on the answer's head, the answer's
//! body leased to the upstream until it ends.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{StatusCode, Uri, Version};
use solo_http::{ConnectionInfo, RequestId};

use super::body::LeasedBody;
use super::{Proxy, upgrade};

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Headers that describe one hop, not the message (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
];

pub(super) async fn forward(State(proxy): State<Proxy>, request: Request) -> Response {
    let started = Instant::now();
    let request_id = request
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .and_then(RequestId::parse)
        .unwrap_or_else(RequestId::generate);
    let Some(lease) = proxy.lease() else {
        return proxy_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_release",
            "no release of the app is serving yet; run `solo deploy`",
            &request_id,
        );
    };
    let upstream = std::sync::Arc::clone(lease.upstream());
    let limit = proxy.inner.body_limit;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return proxy_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            &format!("the request body is over {limit} bytes (proxy.body_limit in solo.toml)"),
            &request_id,
        );
    }
    let info = request.extensions().get::<ConnectionInfo>().copied();
    let (mut parts, body) = request.into_parts();
    let upgrade_to = upgrade::requested(&parts.headers);
    let client_upgrade = upgrade_to
        .as_ref()
        .and_then(|_| parts.extensions.remove::<hyper::upgrade::OnUpgrade>());

    let mut target = http::uri::Parts::default();
    target.scheme = Some(http::uri::Scheme::HTTP);
    target.authority = Some(upstream.authority.clone());
    target.path_and_query = Some(
        parts
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/")),
    );
    let uri = match Uri::from_parts(target) {
        Ok(uri) => uri,
        Err(_) => {
            return proxy_error(
                StatusCode::BAD_REQUEST,
                "bad_request_target",
                "the request target cannot be forwarded",
                &request_id,
            );
        }
    };
    let host = parts.headers.get(header::HOST).cloned().or_else(|| {
        parts
            .uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    });
    let mut headers = std::mem::take(&mut parts.headers);
    strip_hop_by_hop(&mut headers);
    headers.remove(header::UPGRADE);
    if let Some(host) = host {
        headers.insert(X_FORWARDED_HOST, host.clone());
        headers.insert(header::HOST, host);
    }
    if let Some(info) = info {
        // solo is the edge: what the client claims about earlier hops is
        // not passed on as if it were true.
        if let Ok(peer) = HeaderValue::from_str(&info.peer.ip().to_string()) {
            headers.insert(X_FORWARDED_FOR, peer);
        }
        headers.insert(
            X_FORWARDED_PROTO,
            HeaderValue::from_static(if info.tls { "https" } else { "http" }),
        );
    }
    if let Ok(id) = HeaderValue::from_str(request_id.as_str()) {
        headers.insert(X_REQUEST_ID, id);
    }
    if let Some(protocol) = &upgrade_to {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, protocol.clone());
    }

    // A body without a declared length is cut off at the limit.
    let body = Body::new(http_body_util::Limited::new(body, limit));
    let mut upstream_request = http::Request::new(body);
    *upstream_request.method_mut() = parts.method;
    *upstream_request.uri_mut() = uri;
    *upstream_request.version_mut() = Version::HTTP_11;
    *upstream_request.headers_mut() = headers;

    let sent = tokio::time::timeout(
        proxy.inner.request_timeout,
        upstream.client().request(upstream_request),
    )
    .await;
    let mut response = match sent {
        Ok(Ok(response)) => response,
        Ok(Err(error)) => {
            tracing::warn!(release = %upstream.version, %error, "the release did not answer");
            upstream.record(StatusCode::BAD_GATEWAY, started);
            return proxy_error(
                StatusCode::BAD_GATEWAY,
                "bad_gateway",
                "the app did not answer",
                &request_id,
            );
        }
        Err(_) => {
            upstream.record(StatusCode::GATEWAY_TIMEOUT, started);
            return proxy_error(
                StatusCode::GATEWAY_TIMEOUT,
                "gateway_timeout",
                "the app did not answer in time (proxy.request_timeout in solo.toml)",
                &request_id,
            );
        }
    };
    let status = response.status();
    upstream.record(status, started);

    if status == StatusCode::SWITCHING_PROTOCOLS {
        let Some(client_upgrade) = client_upgrade else {
            return proxy_error(
                StatusCode::BAD_GATEWAY,
                "bad_gateway",
                "the app switched protocols on a request that did not ask to",
                &request_id,
            );
        };
        let upstream_upgrade = hyper::upgrade::on(&mut response);
        let (mut head, _) = response.into_parts();
        tokio::spawn(upgrade::tunnel(client_upgrade, upstream_upgrade, lease));
        head.headers
            .insert(X_REQUEST_ID, request_id_value(&request_id));
        return Response::from_parts(head, Body::empty());
    }

    let (mut head, incoming) = response.into_parts();
    strip_hop_by_hop(&mut head.headers);
    head.headers.remove(header::UPGRADE);
    head.headers
        .entry(X_REQUEST_ID)
        .or_insert_with(|| request_id_value(&request_id));
    Response::from_parts(head, Body::new(LeasedBody::new(incoming, lease)))
}

fn request_id_value(id: &RequestId) -> HeaderValue {
    HeaderValue::from_str(id.as_str()).unwrap_or_else(|_| HeaderValue::from_static("-"))
}

/// Removes hop-by-hop headers, including any the `Connection` header names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// An answer the proxy itself gives, in solo's one error shape.
fn proxy_error(status: StatusCode, code: &str, message: &str, id: &RequestId) -> Response {
    let body = serde_json::json!({
        "error": { "code": code, "message": message, "request_id": id.as_str() }
    });
    let mut response = (status, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(X_REQUEST_ID, request_id_value(id));
    response
}
