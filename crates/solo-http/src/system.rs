//! The routes every node serves whatever its stack: liveness, readiness,
//! metrics and node status.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use http::{HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};
use solo_observe::MetricsRegistry;
use solo_store::{Db, Migrator, SchemaStatus};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};

/// A readiness check that takes longer than this fails: a load balancer
/// waiting on a hung database is worse than a clear 503.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// Who this node is.
#[derive(Debug, Clone)]
pub struct NodeIdentity {
    pub node_id: String,
    pub version: String,
    pub started_at: DateTime<Utc>,
    pub started: Instant,
    /// The address actually bound (a `:0` listen resolved to its port).
    pub listen: SocketAddr,
}

/// What the system routes read.
#[derive(Clone)]
pub struct SystemState {
    inner: Arc<SystemInner>,
}

struct SystemInner {
    db: Db,
    migrator: Migrator,
    metrics: MetricsRegistry,
    node: NodeIdentity,
    database_target: String,
    probe: SchemaProbe,
}

impl SystemState {
    /// `database_target` describes the database without credentials.
    pub fn new(
        db: Db,
        migrator: Migrator,
        metrics: MetricsRegistry,
        node: NodeIdentity,
        database_target: String,
    ) -> Self {
        SystemState {
            inner: Arc::new(SystemInner {
                db,
                migrator,
                metrics,
                node,
                database_target,
                probe: SchemaProbe::default(),
            }),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// Always `ok`: the process answers.
    pub status: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Ready {
    /// `ready`.
    pub status: String,
    /// `sqlite` or `postgres`.
    pub database: String,
    pub schema_version: u32,
}

/// `GET /api/v1/status`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NodeStatus {
    pub version: String,
    pub node_id: String,
    pub started_at: DateTime<Utc>,
    pub uptime_seconds: f64,
    pub listen: String,
    pub database: DatabaseStatus,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DatabaseStatus {
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// The SQLite file, or `postgres://host:port/db` (never credentials).
    pub target: String,
    pub reachable: bool,
    /// Migrations applied.
    pub schema_version: u32,
    /// Migrations this binary knows.
    pub schema_known: u32,
    pub schema_current: bool,
    /// Why the database is unreachable or its schema unusable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    pub pool_open: u32,
    pub pool_idle: u32,
    pub pool_max: u32,
}

/// `/healthz`, `/readyz` and `/metrics`, served at the root.
pub(crate) fn root_routes(state: SystemState) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
        .with_state(state)
}

/// `/status`, served under `/api/v1`.
pub(crate) fn api_routes(state: SystemState) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(status))
        .with_state(state)
}

/// Liveness: the process is up and serving HTTP. Checks nothing else, so a
/// database outage never gets a healthy node restarted.
#[utoipa::path(get, path = "/healthz", tag = "system",
    responses((status = 200, description = "The node is alive", body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// Readiness: the database answers and its schema is what this binary expects.
#[utoipa::path(get, path = "/readyz", tag = "system",
    responses(
        (status = 200, description = "Ready to serve", body = Ready),
        (status = 503, description = "Not ready; `message` says why", body = ErrorBody),
    ))]
async fn readyz(State(state): State<SystemState>) -> Result<Json<Ready>, ApiError> {
    let not_ready =
        |message: String| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", message);
    let s = &state.inner;
    // /readyz is public: the reason is short, the driver's words go to the log.
    let schema = s.probe.check(&s.db, &s.migrator).await.map_err(|problem| {
        tracing::warn!(%problem, "not ready");
        not_ready(problem.public_message())
    })?;
    if !schema.is_current() {
        return Err(not_ready(format!(
            "{} migration(s) pending: {}",
            schema.pending.len(),
            schema.pending.join(", ")
        )));
    }
    Ok(Json(Ready {
        status: "ready".into(),
        database: s.db.engine().to_string(),
        schema_version: schema.applied,
    }))
}

/// Prometheus metrics in the OpenMetrics text format.
#[utoipa::path(get, path = "/metrics", tag = "system",
    responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text", body = String)))]
async fn metrics(State(state): State<SystemState>) -> Response {
    let mut response = state.inner.metrics.encode().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}

/// What this node is and how its database stands.
#[utoipa::path(get, path = "/status", tag = "system",
    responses((status = 200, description = "Node status", body = NodeStatus)))]
async fn status(State(state): State<SystemState>) -> Json<NodeStatus> {
    Json(state.status().await)
}

impl SystemState {
    /// What `GET /api/v1/status` answers: the node and its database.
    pub async fn status(&self) -> NodeStatus {
        let s = &self.inner;
        let schema = s.probe.check(&s.db, &s.migrator).await;
        let pool = s.db.pool_stats();
        let (reachable, schema_version, schema_current, problem) = match schema {
            Ok(schema) => (true, schema.applied, schema.is_current(), None),
            Err(problem) => (false, 0, false, Some(problem.to_string())),
        };
        NodeStatus {
            version: s.node.version.clone(),
            node_id: s.node.node_id.clone(),
            started_at: s.node.started_at,
            uptime_seconds: s.node.started.elapsed().as_secs_f64(),
            listen: s.node.listen.to_string(),
            database: DatabaseStatus {
                backend: s.db.engine().to_string(),
                target: s.database_target.clone(),
                reachable,
                schema_version,
                schema_known: s.migrator.known(),
                schema_current,
                problem,
                pool_open: pool.open,
                pool_idle: pool.idle,
                pool_max: pool.max,
            },
        }
    }
}

/// How long a good database check answers for later probes: a load
/// balancer (or a flood) probing /readyz costs at most one check per window.
/// Failures are not kept, so recovery shows at the next probe.
const PROBE_REUSE: Duration = Duration::from_millis(500);

/// The database check behind /readyz and /status: one at a time, a good
/// answer reused for [`PROBE_REUSE`].
#[derive(Default)]
struct SchemaProbe {
    last_good: tokio::sync::Mutex<Option<(Instant, SchemaStatus)>>,
}

#[derive(Debug)]
enum ProbeProblem {
    Unreachable(String),
    Schema(String),
    Slow,
}

impl ProbeProblem {
    /// For unauthenticated callers: what kind of problem, no driver detail.
    fn public_message(&self) -> String {
        match self {
            ProbeProblem::Unreachable(_) => {
                "database unreachable; the node's log has the details".to_owned()
            }
            ProbeProblem::Schema(_) => {
                "database schema unreadable; the node's log has the details".to_owned()
            }
            ProbeProblem::Slow => format!(
                "database did not answer within {}s",
                READY_TIMEOUT.as_secs()
            ),
        }
    }
}

impl std::fmt::Display for ProbeProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProbeProblem::Unreachable(why) => write!(f, "database unreachable: {why}"),
            ProbeProblem::Schema(why) => write!(f, "database schema unreadable: {why}"),
            ProbeProblem::Slow => write!(
                f,
                "database did not answer within {}s",
                READY_TIMEOUT.as_secs()
            ),
        }
    }
}

impl SchemaProbe {
    async fn check(&self, db: &Db, migrator: &Migrator) -> Result<SchemaStatus, ProbeProblem> {
        // Held across the check: concurrent probes wait for the one running
        // and then reuse its answer instead of piling onto the database.
        let mut last_good = self.last_good.lock().await;
        if let Some((at, schema)) = last_good.as_ref()
            && at.elapsed() < PROBE_REUSE
        {
            return Ok(schema.clone());
        }
        let checked = tokio::time::timeout(READY_TIMEOUT, async {
            db.ping()
                .await
                .map_err(|e| ProbeProblem::Unreachable(error_chain(&e)))?;
            migrator
                .status(db)
                .await
                .map_err(|e| ProbeProblem::Schema(error_chain(&e)))
        })
        .await
        .unwrap_or(Err(ProbeProblem::Slow));
        *last_good = match &checked {
            Ok(schema) => Some((Instant::now(), schema.clone())),
            Err(_) => None,
        };
        checked
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
