use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::{Cluster, NodeInfo};

/// Nodes silent for this long are forgotten.
const FORGET_AFTER: chrono::Duration = chrono::Duration::days(7);

/// Heartbeats every `interval` until `stop` turns true, then marks the node
/// stopped. A failed heartbeat (database briefly away) is logged and retried
/// at the next tick; the node keeps serving.
pub fn spawn_heartbeat(
    cluster: Cluster,
    node: NodeInfo,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await; // the first tick is immediate; registration just happened
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop.wait_for(|stopped| *stopped) => break,
            }
            let now = Utc::now();
            match cluster.heartbeat(&node.node_id, now).await {
                Ok(true) => {}
                Ok(false) => {
                    if let Err(error) = cluster.register(&node, now).await {
                        tracing::warn!(error = %error, "node re-registration failed");
                    }
                }
                Err(error) => tracing::warn!(error = %error, "heartbeat failed; retrying"),
            }
            if let Err(error) = cluster.prune(now - FORGET_AFTER).await {
                tracing::debug!(error = %error, "pruning silent nodes failed");
            }
        }
        if let Err(error) = cluster.stopped(&node.node_id, Utc::now()).await {
            tracing::warn!(error = %error, "could not record the node as stopped");
        }
    })
}
