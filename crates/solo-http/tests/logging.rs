//! The access log and redaction, captured from the real logging layer.
//! Own test binary: it installs the process-wide subscriber.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};

use common::{Options, spawn_app};
use solo_observe::{LogFormat, LogLayer, Redactor, init_logging};

#[tokio::test]
async fn access_lines_carry_the_request_id_and_credentials_never_reach_the_log() {
    let buffer: Arc<Mutex<Vec<u8>>> = Arc::new(Mutex::new(Vec::new()));
    // Debug, so the request-headers line is written too.
    init_logging(
        "debug",
        LogLayer::to_writer(LogFormat::Json, Redactor::new(), buffer.clone()),
    )
    .unwrap();
    let app = spawn_app(Options::default()).await;

    let secret = "s3cr3t-Zq8XbY0wTn";
    let response = app
        .client
        .get(app.url("/api/v1/test/log-headers?token=qs-t0ken-value"))
        .header("authorization", format!("Bearer {secret}"))
        .header("cookie", "solo_session=c00kie-value-123")
        .header("x-request-id", "redact-1")
        // Schemes the redactor has no pattern for: quoted cookie values and
        // a custom auth header.
        .header("x-auth", "Key cust0m-auth-k3y")
        .header("x-session", "\"qu0ted session\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let _ = app.get("/api/v1/test/panic").await;
    let missing = app
        .client
        .get(app.url("/no/such/route?token=qs-t0ken-value"))
        .header("x-request-id", "redact-2")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    let logs = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
    for leaked in [
        secret,
        "c00kie-value-123",
        "qs-t0ken-value",
        "cust0m-auth-k3y",
        "qu0ted session",
    ] {
        assert!(
            !logs.contains(leaked),
            "{leaked} leaked into the logs:\n{logs}"
        );
    }
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let handler_line = lines
        .iter()
        .find(|l| l["msg"] == "handler saw these headers")
        .expect("handler line");
    assert_eq!(
        handler_line["request_id"], "redact-1",
        "lines inside a request carry its id"
    );
    assert!(
        handler_line["headers"]
            .as_str()
            .unwrap()
            .contains("[REDACTED]")
    );

    let access = lines
        .iter()
        .find(|l| l["target"] == "solo::access" && l["request_id"] == "redact-1")
        .expect("access line");
    assert_eq!(access["method"], "GET");
    assert_eq!(access["route"], "/api/v1/test/log-headers");
    assert!(
        access.get("path").is_none(),
        "a matched request logs its route template, not its path: {access}"
    );
    let headers_line = lines
        .iter()
        .find(|l| l["msg"] == "request headers" && l["request_id"] == "redact-1")
        .expect("debug line with the request headers");
    let described = headers_line["headers"].as_str().unwrap();
    assert!(
        described.contains("accept: */*") && described.contains("x-auth: "),
        "names are listed, harmless values shown: {described}"
    );
    let unmatched = lines
        .iter()
        .find(|l| l["target"] == "solo::access" && l["request_id"] == "redact-2")
        .expect("access line of the 404");
    assert_eq!(unmatched["route"], "<unmatched>");
    assert_eq!(
        unmatched["path"], "/no/such/route",
        "unmatched paths are logged without their query"
    );
    assert_eq!(access["status"], 200);
    assert!(access["latency_ms"].as_f64().is_some());
    assert!(access["client"].as_str().unwrap().starts_with("127.0.0.1"));

    let panic_line = lines
        .iter()
        .find(|l| l["msg"] == "handler panicked")
        .expect("panic logged");
    assert_eq!(panic_line["level"], "error");
    assert!(
        panic_line["panic"]
            .as_str()
            .unwrap()
            .contains("exploded on purpose")
    );
    assert!(panic_line["request_id"].is_string());
}
