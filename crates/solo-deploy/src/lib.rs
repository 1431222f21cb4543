//! Deploys: immutable releases, the app's supervisor, solo's reverse proxy,
//! health-gated switches, drains, rollbacks (by hand and by the watch), and
//! the delivery figures. The design: `docs/design/deploys.md`.
//!
//! The node holds one [`Deploys`]: it owns the proxy's upstream, the
//! running release's process and the one-at-a-time pipeline. The CLI packs
//! a release with [`archive::pack`] and hands it to the node's API.

pub mod archive;
mod health;
mod logs;
mod metrics;
mod pipeline;
mod process;
mod proxy;
mod routes;
mod service;
mod stats;
mod store;
pub mod versions;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use solo_store::{Migration, MigrationSet};

pub use logs::{LogFiles, log_path};
pub use metrics::ProxyMetrics;
pub use pipeline::{Progress, ProgressSender, Requester, deploy_archive, rollback};
pub use proxy::{Proxy, enter_worker};
pub use routes::{UPLOAD_PATH, routes};
pub use service::{
    AppSpec, DeploySettings, Deploys, HealthSpec, RestartSpec, ServingStatus, WatchSpec,
};
pub use stats::DeliveryStats;

/// The `deploy` component's migrations.
pub const MIGRATIONS: MigrationSet = MigrationSet {
    component: "deploy",
    migrations: &[Migration {
        version: 1,
        name: "create_releases",
        sqlite: include_str!("../migrations/sqlite/0001_create_releases.sql"),
        postgres: include_str!("../migrations/postgres/0001_create_releases.sql"),
    }],
};

/// One immutable release of the app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Release {
    pub id: i64,
    pub app: String,
    pub version: String,
    pub commit: String,
    pub committed_at: Option<DateTime<Utc>>,
    /// The directory's name under `<data dir>/releases/<app>/`.
    pub dir: String,
    /// `sha256:<hex>` of the archive it came from.
    pub checksum: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// Its directory was removed (beyond `keep_releases`).
    pub pruned: bool,
}

/// Why a run happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    Deploy,
    Rollback,
    /// The watch saw the new release go bad and brought the previous back.
    AutoRollback,
}

impl RunKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Deploy => "deploy",
            RunKind::Rollback => "rollback",
            RunKind::AutoRollback => "auto_rollback",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "rollback" => RunKind::Rollback,
            "auto_rollback" => RunKind::AutoRollback,
            _ => RunKind::Deploy,
        }
    }
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Running,
    /// Its release serves.
    Live,
    /// Its release served, and a later run replaced it.
    Superseded,
    /// Its release never served (unhealthy, failed to start).
    Failed,
    /// solo stopped during the run; the release before it serves.
    Interrupted,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Live => "live",
            RunState::Superseded => "superseded",
            RunState::Failed => "failed",
            RunState::Interrupted => "interrupted",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "running" => RunState::Running,
            "live" => RunState::Live,
            "superseded" => RunState::Superseded,
            "interrupted" => RunState::Interrupted,
            _ => RunState::Failed,
        }
    }
}

/// One step of a run and how long it took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Step {
    pub name: String,
    pub ms: u64,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// One deploy, rollback or automatic rollback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Run {
    pub id: i64,
    pub app: String,
    pub kind: RunKind,
    pub version: String,
    pub previous_version: Option<String>,
    pub release_id: i64,
    pub previous_id: Option<i64>,
    pub actor: String,
    /// Why (an automatic rollback's trigger, a rollback's `--reason`).
    pub reason: Option<String>,
    pub state: RunState,
    pub steps: Vec<Step>,
    pub error: Option<String>,
    /// The release's last log lines, kept when it failed.
    pub log_tail: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("database error: {0}")]
    Store(#[from] solo_store::StoreError),
    #[error("database error: {0}")]
    Sql(#[from] solo_store::sqlx::Error),
    #[error("{0}")]
    Io(String),
    /// Input that cannot be deployed (a bad archive, an unknown version).
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{0}")]
    NotFound(String),
    /// Another deploy or rollback is running, or nothing to roll back to.
    #[error("{0}")]
    Conflict(String),
    /// No `[app]` in solo.toml.
    #[error("no app is configured: add an [app] section to solo.toml")]
    NoApp,
    #[error("audit: {0}")]
    Audit(String),
}

impl DeployError {
    pub(crate) fn io(context: impl std::fmt::Display, error: std::io::Error) -> Self {
        DeployError::Io(format!("{context}: {error}"))
    }

    pub(crate) fn invalid(field: &str, message: impl Into<String>) -> Self {
        DeployError::Invalid {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}
