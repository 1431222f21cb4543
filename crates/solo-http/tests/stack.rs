//! The HTTP stack over real loopback HTTP: request ids, the error shape,
//! security headers, CORS, limits, health, metrics, OpenAPI and shutdown.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Options, error_body, spawn_app};
use solo_http::HttpSettings;

#[tokio::test]
async fn request_id_is_kept_when_well_formed_and_made_otherwise() {
    let app = spawn_app(Options::default()).await;

    let kept = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "ci-run-42.step:7")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "ci-run-42.step:7");

    let made = app.get("/healthz").await;
    let id = made.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 32, "a fresh uuid: {id}");
    let other = app.get("/healthz").await;
    assert_ne!(
        other.headers()["x-request-id"].to_str().unwrap(),
        id,
        "one id per request"
    );

    for bad in ["has spaces", "<script>", &"x".repeat(200)] {
        let replaced = app
            .client
            .get(app.url("/healthz"))
            .header("x-request-id", bad)
            .send()
            .await
            .unwrap();
        let got = replaced.headers()["x-request-id"].to_str().unwrap();
        assert_ne!(got, bad);
        assert_eq!(got.len(), 32);
    }

    // The id of an error is the one in its body.
    let failed = app
        .client
        .get(app.url("/nope"))
        .header("x-request-id", "trace-me")
        .send()
        .await
        .unwrap();
    let (_, header_id, body) = error_body(failed).await;
    assert_eq!(header_id, "trace-me");
    assert_eq!(body["error"]["request_id"], "trace-me");
}

#[tokio::test]
async fn every_error_has_the_one_json_shape() {
    let app = spawn_app(Options {
        settings: HttpSettings {
            body_limit: 1024,
            request_timeout: Duration::from_millis(300),
            ..HttpSettings::default()
        },
        ..Options::default()
    })
    .await;

    let (status, _, body) = error_body(app.get("/api/v1/nope").await).await;
    assert_eq!(
        (status, body["error"]["code"].as_str().unwrap()),
        (404, "not_found")
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("GET /api/v1/nope"),
        "{body}"
    );

    let response = app.client.post(app.url("/healthz")).send().await.unwrap();
    assert!(
        response.headers().contains_key("allow"),
        "405 keeps its Allow header"
    );
    let (status, _, body) = error_body(response).await;
    assert_eq!(
        (status, body["error"]["code"].as_str().unwrap()),
        (405, "method_not_allowed")
    );

    let (status, _, body) = error_body(app.get("/api/v1/test/field").await).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "invalid_field");
    assert_eq!(body["error"]["field"], "payload.size");

    let malformed = app
        .client
        .post(app.url("/api/v1/test/things"))
        .header("content-type", "application/json")
        .body("{\"name\": 3}")
        .send()
        .await
        .unwrap();
    let (status, _, body) = error_body(malformed).await;
    assert_eq!(status, 422);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("name"),
        "says which field: {body}"
    );

    let not_json = app
        .client
        .post(app.url("/api/v1/test/things"))
        .body("name=x")
        .send()
        .await
        .unwrap();
    assert_eq!(error_body(not_json).await.0, 415);

    let big = app
        .client
        .post(app.url("/api/v1/test/things"))
        .header("content-type", "application/json")
        .body(vec![b' '; 4096])
        .send()
        .await
        .unwrap();
    let (status, _, body) = error_body(big).await;
    assert_eq!(
        (status, body["error"]["code"].as_str().unwrap()),
        (413, "payload_too_large")
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1024 bytes"),
        "{body}"
    );

    let (status, _, body) = error_body(app.get("/api/v1/test/slow?ms=2000").await).await;
    assert_eq!(
        (status, body["error"]["code"].as_str().unwrap()),
        (503, "request_timeout"),
        "an overrunning handler is the server's failure, not the client's"
    );
}

#[tokio::test]
async fn upload_routes_take_big_bodies_and_outlast_the_request_timeout_and_only_they() {
    let app = spawn_app(Options {
        settings: HttpSettings {
            body_limit: 1024,
            request_timeout: Duration::from_millis(300),
            upload_paths: vec!["/api/v1/test/upload".into()],
            ..HttpSettings::default()
        },
        ..Options::default()
    })
    .await;
    let response = app
        .client
        .post(app.url("/api/v1/test/upload"))
        .body(vec![b'x'; 100_000])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "no body limit, no 300 ms time limit"
    );
    assert_eq!(response.text().await.unwrap(), "100000");

    // Everything else keeps both limits, with or without a declared length.
    let streamed = reqwest::Body::wrap_stream(futures_util::stream::iter(
        (0..8).map(|_| Ok::<_, std::io::Error>(vec![b' '; 512])),
    ));
    let response = app
        .client
        .post(app.url("/api/v1/test/things"))
        .header("content-type", "application/json")
        .body(streamed)
        .send()
        .await
        .unwrap();
    assert_eq!(error_body(response).await.0, 413);
}

#[tokio::test]
async fn a_panicking_handler_answers_500_in_the_error_shape_and_the_server_lives_on() {
    let app = spawn_app(Options::default()).await;
    for _ in 0..3 {
        let response = app
            .client
            .get(app.url("/api/v1/test/panic"))
            .header("x-request-id", "boom-1")
            .send()
            .await
            .unwrap();
        let (status, _, body) = error_body(response).await;
        assert_eq!(status, 500);
        assert_eq!(body["error"]["code"], "internal");
        assert_eq!(body["error"]["request_id"], "boom-1");
        assert!(
            !body.to_string().contains("exploded"),
            "panic text stays in the log: {body}"
        );
    }
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn security_headers_are_on_every_response() {
    let app = spawn_app(Options::default()).await;
    for path in [
        "/healthz",
        "/metrics",
        "/api/v1/status",
        "/nope",
        "/api/v1/test/panic",
    ] {
        let response = app.get(path).await;
        let h = response.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert!(
            !h.contains_key("strict-transport-security"),
            "no HSTS over plain HTTP ({path})"
        );
    }
    assert_eq!(
        app.get("/api/v1/status").await.headers()["cache-control"],
        "no-store"
    );
}

#[tokio::test]
async fn cors_answers_only_configured_origins() {
    let closed = spawn_app(Options::default()).await;
    let response = closed
        .client
        .get(closed.url("/healthz"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );

    let open = spawn_app(Options {
        settings: HttpSettings {
            cors_origins: vec!["https://app.example.com".into()],
            ..HttpSettings::default()
        },
        ..Options::default()
    })
    .await;
    let allowed = open
        .client
        .get(open.url("/healthz"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert!(
        allowed.headers()["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .contains("x-request-id")
    );

    let preflight = open
        .client
        .request(reqwest::Method::OPTIONS, open.url("/api/v1/status"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );

    for other in [
        "https://evil.example",
        "https://app.example.com.evil.example",
        "http://app.example.com",
    ] {
        let refused = open
            .client
            .get(open.url("/healthz"))
            .header("origin", other)
            .send()
            .await
            .unwrap();
        assert!(
            !refused
                .headers()
                .contains_key("access-control-allow-origin"),
            "{other}"
        );
    }
}

#[tokio::test]
async fn readyz_is_ready_only_with_a_current_schema() {
    let app = spawn_app(Options::default()).await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["database"], "sqlite");
    assert_eq!(body["schema_version"], 1);

    let unmigrated = spawn_app(Options {
        migrate: false,
        ..Options::default()
    })
    .await;
    assert_eq!(
        unmigrated.get("/healthz").await.status(),
        200,
        "alive all the same"
    );
    let (status, _, body) = error_body(unmigrated.get("/readyz").await).await;
    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], "not_ready");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("fixture/0001_create_things"),
        "{body}"
    );

    // The database goes away: not ready once the last good answer (kept
    // half a second) has aged out, and the reason says so without the
    // driver's words (the endpoint is public).
    app.db.db.close().await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (status, _, body) = error_body(app.get("/readyz").await).await;
    assert_eq!(status, 503);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("database unreachable"),
        "{body}"
    );
    assert!(
        !body["error"]["message"].as_str().unwrap().contains("pool"),
        "no driver detail on a public endpoint: {body}"
    );
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = spawn_app(Options::default()).await;
    for _ in 0..3 {
        app.get("/healthz").await;
    }
    app.get("/nope/123").await;
    for method in ["FROBNICATE", "XYZZY"] {
        app.client
            .request(
                http::Method::from_bytes(method.as_bytes()).unwrap(),
                app.url("/nope"),
            )
            .send()
            .await
            .unwrap();
    }
    let response = app.get("/metrics").await;
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = response.text().await.unwrap();
    assert!(
        text.contains(r#"solo_http_requests_total{method="GET",route="/healthz",status="200"} 3"#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"solo_http_requests_total{method="GET",route="<unmatched>",status="404"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"solo_http_request_duration_seconds_bucket{le="0.0005",method="GET",route="/healthz",status="200"}"#)
        || text.contains(r#"solo_http_request_duration_seconds_bucket{method="GET",route="/healthz",status="200",le="0.0005"}"#), "{text}");
    assert!(text.contains("solo_http_requests_in_flight"), "{text}");
    assert!(
        !text.contains("FROBNICATE") && !text.contains("XYZZY"),
        "made-up methods must not mint series: {text}"
    );
    assert!(
        text.contains(
            r#"solo_http_requests_total{method="OTHER",route="<unmatched>",status="404"} 2"#
        ),
        "{text}"
    );
}

#[tokio::test]
async fn openapi_document_lists_the_routes_from_their_handlers() {
    let app = spawn_app(Options::default()).await;
    let doc: serde_json::Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    for path in ["/healthz", "/readyz", "/metrics", "/api/v1/status"] {
        assert!(
            doc["paths"][path]["get"].is_object(),
            "{path} missing from {doc}"
        );
    }
    assert!(
        doc["components"]["schemas"]["ErrorBody"].is_object(),
        "{doc}"
    );
    assert!(
        doc["components"]["schemas"]["NodeStatus"].is_object(),
        "{doc}"
    );
}

#[tokio::test]
async fn status_reports_the_node_and_its_database() {
    let app = spawn_app(Options::default()).await;
    let status: serde_json::Value = app.get("/api/v1/status").await.json().await.unwrap();
    assert_eq!(status["version"], "0.0.0-test");
    assert_eq!(status["node_id"], "node-test");
    assert_eq!(status["listen"], app.addr.to_string());
    assert_eq!(status["database"]["backend"], "sqlite");
    assert_eq!(status["database"]["reachable"], true);
    assert_eq!(status["database"]["schema_version"], 1);
    assert_eq!(status["database"]["schema_current"], true);
    assert!(status["uptime_seconds"].as_f64().unwrap() >= 0.0);
}

#[tokio::test]
async fn shutdown_finishes_in_flight_requests_and_stops_accepting() {
    let mut app = spawn_app(Options {
        settings: HttpSettings {
            shutdown_grace: Duration::from_secs(5),
            ..HttpSettings::default()
        },
        ..Options::default()
    })
    .await;
    let slow = {
        let (client, url) = (app.client.clone(), app.url("/api/v1/test/slow?ms=800"));
        tokio::spawn(async move { client.get(url).send().await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    app.trigger_shutdown();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Refused: the listener is closed.
    let fresh = reqwest::Client::new().get(app.url("/healthz")).send().await;
    assert!(
        fresh.is_err(),
        "new connections are refused after shutdown starts"
    );

    let response = slow.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "done");
    assert!(app.shutdown().await, "drained within the grace period");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn shutdown_gives_up_on_requests_that_outlast_the_grace() {
    let mut app = spawn_app(Options {
        settings: HttpSettings {
            shutdown_grace: Duration::from_millis(300),
            ..HttpSettings::default()
        },
        ..Options::default()
    })
    .await;
    let (client, url) = (app.client.clone(), app.url("/api/v1/test/slow?ms=10000"));
    let stuck = tokio::spawn(async move { client.get(url).send().await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    assert!(!app.shutdown().await, "reports that it did not drain");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "waited only the grace"
    );
    // The connection was closed, not left serving behind a returned serve().
    let outcome = tokio::time::timeout(Duration::from_secs(2), stuck)
        .await
        .expect("the stuck request ends once the server gives up on it")
        .unwrap();
    assert!(
        outcome.is_err(),
        "the client sees its connection closed, not a late answer"
    );
}
