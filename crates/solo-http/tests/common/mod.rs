//! Starts the real HTTP stack in-process on a loopback port, with a few
//! routes that misbehave on purpose.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::Query;
use axum::routing::{get, post};
use chrono::Utc;
use serde::Deserialize;
use solo_http::{ApiError, HttpMetrics, HttpSettings, NodeIdentity, SystemState};
use solo_observe::MetricsRegistry;
use solo_store::{Migration, MigrationSet, Migrator};
use solo_test_support::engines::TestDb;
use tokio::sync::oneshot;
use utoipa_axum::router::OpenApiRouter;

pub const FIXTURE: MigrationSet = MigrationSet {
    component: "fixture",
    migrations: &[Migration {
        version: 1,
        name: "create_things",
        sqlite: "CREATE TABLE things (id INTEGER PRIMARY KEY);",
        postgres: "CREATE TABLE things (id BIGSERIAL PRIMARY KEY);",
    }],
};

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    pub served: Option<tokio::task::JoinHandle<bool>>,
    pub db: TestDb,
}

pub struct Options {
    pub settings: HttpSettings,
    pub migrate: bool,
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            settings: HttpSettings::default(),
            migrate: true,
            tls: None,
        }
    }
}

#[derive(Deserialize)]
struct SlowQuery {
    ms: u64,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Thing {
    name: String,
    size: u32,
}

/// Routes that exercise the middleware.
fn test_routes() -> OpenApiRouter {
    OpenApiRouter::new()
        .route(
            "/test/slow",
            get(|Query(q): Query<SlowQuery>| async move {
                tokio::time::sleep(Duration::from_millis(q.ms)).await;
                "done"
            }),
        )
        .route(
            "/test/panic",
            get(|| async {
                if Instant::now().elapsed() < Duration::from_secs(3600) {
                    panic!("handler exploded on purpose");
                }
                "unreachable"
            }),
        )
        .route(
            "/test/field",
            get(|| async {
                Err::<(), _>(ApiError::invalid_field(
                    "payload.size",
                    "size must be at most 10",
                ))
            }),
        )
        .route(
            "/test/things",
            post(|Json(_thing): Json<Thing>| async { "ok" }),
        )
        .route(
            "/test/upload",
            post(|body: axum::body::Body| async move {
                // Streams the body and counts it, like an upload route.
                use futures_util::StreamExt;
                let mut stream = body.into_data_stream();
                let mut n = 0;
                while let Some(chunk) = stream.next().await {
                    n += chunk.map(|c| c.len()).unwrap_or(0);
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                n.to_string()
            }),
        )
        .route(
            "/test/log-headers",
            get(|headers: http::HeaderMap| async move {
                tracing::info!(headers = ?headers, "handler saw these headers");
                "logged"
            }),
        )
}

pub async fn spawn_app(options: Options) -> TestApp {
    let db = TestDb::sqlite().await;
    let migrator = Migrator::new(&[FIXTURE], "test").unwrap();
    if options.migrate {
        migrator.run(&db.db).await.unwrap();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let metrics = MetricsRegistry::new();
    let http_metrics = HttpMetrics::register(&metrics);
    let system = SystemState::new(
        db.db.clone(),
        migrator,
        metrics,
        NodeIdentity {
            node_id: "node-test".into(),
            version: "0.0.0-test".into(),
            started_at: Utc::now(),
            started: Instant::now(),
            listen: addr,
        },
        "test.db".into(),
    );
    let app = solo_http::build_app(test_routes(), system, &options.settings, http_metrics);
    let (tx, rx) = oneshot::channel::<()>();
    let settings = options.settings.clone();
    let served = tokio::spawn(async move {
        solo_http::serve(listener, options.tls, app, &settings, async {
            let _ = rx.await;
        })
        .await
    });
    TestApp {
        addr,
        client: reqwest::Client::new(),
        shutdown: Some(tx),
        served: Some(served),
        db,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// Signals shutdown and returns serve's verdict (true: drained in time).
    pub async fn shutdown(&mut self) -> bool {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.served.take().unwrap().await.unwrap()
    }

    pub fn trigger_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The error body, parsed; panics (with the body) if it is not the shape.
pub async fn error_body(response: reqwest::Response) -> (u16, String, serde_json::Value) {
    let status = response.status().as_u16();
    let header_id = response
        .headers()
        .get("x-request-id")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "application/json",
        "error responses are JSON"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    let error = &body["error"];
    assert!(error["code"].is_string(), "{body}");
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_eq!(
        error["request_id"],
        header_id.as_str(),
        "body and header carry the same id: {body}"
    );
    (status, header_id, body)
}
