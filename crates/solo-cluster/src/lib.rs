//! The node registry: every solo node against this database registers,
//! heartbeats, and marks itself stopped on a clean exit, so `solo status`
//! and the API can show which nodes run and which went silent.
//!
//! Owns the `cluster_nodes` table. Later capabilities (job leases, cron,
//! monitor checks spread across nodes) name nodes by the id kept here.

mod heartbeat;
mod routes;
mod store;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use solo_store::{Db, Migration, MigrationSet};

pub use heartbeat::spawn_heartbeat;
pub use routes::{NodeView, routes};

/// The `cluster` component's migrations.
pub const MIGRATIONS: MigrationSet = MigrationSet {
    component: "cluster",
    migrations: &[Migration {
        version: 1,
        name: "create_nodes",
        sqlite: include_str!("../migrations/sqlite/0001_create_nodes.sql"),
        postgres: include_str!("../migrations/postgres/0001_create_nodes.sql"),
    }],
};

/// What a node says about itself when it registers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    pub node_id: String,
    pub hostname: String,
    pub version: String,
    pub listen: String,
    pub started_at: DateTime<Utc>,
}

/// A node as the registry knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NodeRecord {
    pub node_id: String,
    pub hostname: String,
    pub version: String,
    pub listen: String,
    pub started_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
    /// Set when the node shut down cleanly.
    pub stopped_at: Option<DateTime<Utc>>,
}

/// A node's state, judged from its last heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum NodeState {
    /// Heartbeating.
    Up,
    /// Shut down cleanly.
    Stopped,
    /// No heartbeat for longer than the silence limit: crashed or cut off.
    Silent,
}

impl NodeRecord {
    pub fn state(&self, now: DateTime<Utc>, silence_limit: chrono::Duration) -> NodeState {
        if self.stopped_at.is_some() {
            NodeState::Stopped
        } else if now - self.heartbeat_at > silence_limit {
            NodeState::Silent
        } else {
            NodeState::Up
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("node registry: {0}")]
pub struct ClusterError(#[from] solo_store::sqlx::Error);

/// The registry over one database.
#[derive(Debug, Clone)]
pub struct Cluster {
    db: Db,
}

impl Cluster {
    pub fn new(db: Db) -> Self {
        Cluster { db }
    }

    /// Records the node as up (a restart of a known node starts it afresh).
    pub async fn register(&self, node: &NodeInfo, now: DateTime<Utc>) -> Result<(), ClusterError> {
        store::upsert(&self.db, node, now).await
    }

    /// Records a heartbeat; false when the node is not registered (its row
    /// was pruned while it was cut off), so the caller can register again.
    pub async fn heartbeat(&self, node_id: &str, now: DateTime<Utc>) -> Result<bool, ClusterError> {
        store::heartbeat(&self.db, node_id, now).await
    }

    /// Marks the node as stopped after a clean shutdown.
    pub async fn stopped(&self, node_id: &str, now: DateTime<Utc>) -> Result<(), ClusterError> {
        store::stopped(&self.db, node_id, now).await
    }

    /// Every known node, most recently started first.
    pub async fn nodes(&self) -> Result<Vec<NodeRecord>, ClusterError> {
        store::list(&self.db).await
    }

    /// Forgets nodes not heard from since `before`; returns how many.
    pub async fn prune(&self, before: DateTime<Utc>) -> Result<u64, ClusterError> {
        store::prune(&self.db, before).await
    }
}
