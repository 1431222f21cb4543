//! The storage seam of the node registry: the only place that knows which
//! engine runs, and the only SQL of `cluster_nodes`.
//!
//! SQLite keeps times as unix milliseconds (INTEGER sorts and compares
//! cheaply); PostgreSQL as TIMESTAMPTZ.

use chrono::{DateTime, Utc};
use solo_store::Db;
use solo_store::sqlx::{self, Row};

use crate::{ClusterError, NodeInfo, NodeRecord};

pub(crate) async fn upsert(
    db: &Db,
    node: &NodeInfo,
    now: DateTime<Utc>,
) -> Result<(), ClusterError> {
    match db {
        Db::Sqlite(sqlite) => {
            sqlx::query(
                "INSERT INTO cluster_nodes
                    (node_id, hostname, version, listen, started_at_ms, heartbeat_at_ms, stopped_at_ms)
                 VALUES (?, ?, ?, ?, ?, ?, NULL)
                 ON CONFLICT (node_id) DO UPDATE SET
                    hostname = excluded.hostname, version = excluded.version,
                    listen = excluded.listen, started_at_ms = excluded.started_at_ms,
                    heartbeat_at_ms = excluded.heartbeat_at_ms, stopped_at_ms = NULL",
            )
            .bind(&node.node_id)
            .bind(&node.hostname)
            .bind(&node.version)
            .bind(&node.listen)
            .bind(node.started_at.timestamp_millis())
            .bind(now.timestamp_millis())
            .execute(sqlite.writer())
            .await?;
        }
        Db::Postgres(pool) => {
            sqlx::query(
                "INSERT INTO cluster_nodes
                    (node_id, hostname, version, listen, started_at, heartbeat_at, stopped_at)
                 VALUES ($1, $2, $3, $4, $5, $6, NULL)
                 ON CONFLICT (node_id) DO UPDATE SET
                    hostname = excluded.hostname, version = excluded.version,
                    listen = excluded.listen, started_at = excluded.started_at,
                    heartbeat_at = excluded.heartbeat_at, stopped_at = NULL",
            )
            .bind(&node.node_id)
            .bind(&node.hostname)
            .bind(&node.version)
            .bind(&node.listen)
            .bind(node.started_at)
            .bind(now)
            .execute(pool)
            .await?;
        }
    }
    Ok(())
}

pub(crate) async fn heartbeat(
    db: &Db,
    node_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, ClusterError> {
    let updated = match db {
        Db::Sqlite(sqlite) => sqlx::query(
            "UPDATE cluster_nodes SET heartbeat_at_ms = ?, stopped_at_ms = NULL WHERE node_id = ?",
        )
        .bind(now.timestamp_millis())
        .bind(node_id)
        .execute(sqlite.writer())
        .await?
        .rows_affected(),
        Db::Postgres(pool) => sqlx::query(
            "UPDATE cluster_nodes SET heartbeat_at = $1, stopped_at = NULL WHERE node_id = $2",
        )
        .bind(now)
        .bind(node_id)
        .execute(pool)
        .await?
        .rows_affected(),
    };
    Ok(updated > 0)
}

pub(crate) async fn stopped(
    db: &Db,
    node_id: &str,
    now: DateTime<Utc>,
) -> Result<(), ClusterError> {
    match db {
        Db::Sqlite(sqlite) => {
            sqlx::query("UPDATE cluster_nodes SET stopped_at_ms = ? WHERE node_id = ?")
                .bind(now.timestamp_millis())
                .bind(node_id)
                .execute(sqlite.writer())
                .await?;
        }
        Db::Postgres(pool) => {
            sqlx::query("UPDATE cluster_nodes SET stopped_at = $1 WHERE node_id = $2")
                .bind(now)
                .bind(node_id)
                .execute(pool)
                .await?;
        }
    }
    Ok(())
}

pub(crate) async fn list(db: &Db) -> Result<Vec<NodeRecord>, ClusterError> {
    let nodes = match db {
        Db::Sqlite(sqlite) => sqlx::query(
            "SELECT node_id, hostname, version, listen, started_at_ms, heartbeat_at_ms, stopped_at_ms
             FROM cluster_nodes ORDER BY started_at_ms DESC, node_id",
        )
        .fetch_all(sqlite.reader())
        .await?
        .iter()
        .map(|row| NodeRecord {
            node_id: row.get(0),
            hostname: row.get(1),
            version: row.get(2),
            listen: row.get(3),
            started_at: from_millis(row.get(4)),
            heartbeat_at: from_millis(row.get(5)),
            stopped_at: row.get::<Option<i64>, _>(6).map(from_millis),
        })
        .collect(),
        Db::Postgres(pool) => sqlx::query(
            "SELECT node_id, hostname, version, listen, started_at, heartbeat_at, stopped_at
             FROM cluster_nodes ORDER BY started_at DESC, node_id",
        )
        .fetch_all(pool)
        .await?
        .iter()
        .map(|row| NodeRecord {
            node_id: row.get(0),
            hostname: row.get(1),
            version: row.get(2),
            listen: row.get(3),
            started_at: row.get(4),
            heartbeat_at: row.get(5),
            stopped_at: row.get(6),
        })
        .collect(),
    };
    Ok(nodes)
}

pub(crate) async fn prune(db: &Db, before: DateTime<Utc>) -> Result<u64, ClusterError> {
    let deleted = match db {
        Db::Sqlite(sqlite) => sqlx::query("DELETE FROM cluster_nodes WHERE heartbeat_at_ms < ?")
            .bind(before.timestamp_millis())
            .execute(sqlite.writer())
            .await?
            .rows_affected(),
        Db::Postgres(pool) => sqlx::query("DELETE FROM cluster_nodes WHERE heartbeat_at < $1")
            .bind(before)
            .execute(pool)
            .await?
            .rows_affected(),
    };
    Ok(deleted)
}

fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
