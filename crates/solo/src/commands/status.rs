//! `solo status`: ask a running node how it is.

use std::time::Duration;

use serde::Serialize;
use solo_cluster::{NodeState, NodeView};
use solo_http::NodeStatus;

use crate::cli::GlobalArgs;
use crate::commands::node_api::{Need, NodeApi};
use crate::exit::CliError;
use crate::output;

const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Serialize)]
struct StatusReport {
    url: String,
    node: NodeStatus,
    nodes: Vec<NodeView>,
}

pub async fn run(global: &GlobalArgs) -> Result<(), CliError> {
    // solo.toml is optional here: status works from any directory with
    // --listen, and reads the file only to find the node.
    let api = NodeApi::local(global, Need::Read, Some(TIMEOUT))?;
    let node: NodeStatus = api.get_json("/api/v1/status").await?;
    let nodes: Vec<NodeView> = api.get_json("/api/v1/nodes").await?;
    let report = StatusReport {
        url: api.base.clone(),
        node,
        nodes,
    };
    output::emit(global.json, &report, || human(&report));
    Ok(())
}

fn human(report: &StatusReport) -> String {
    let n = &report.node;
    let db = &n.database;
    let schema = if db.reachable {
        format!(
            "reachable, schema {}/{} {}",
            db.schema_version,
            db.schema_known,
            if db.schema_current {
                "current"
            } else {
                "NOT current"
            }
        )
    } else {
        format!(
            "UNREACHABLE: {}",
            db.problem.as_deref().unwrap_or("unknown problem")
        )
    };
    let up = report
        .nodes
        .iter()
        .filter(|v| v.state == NodeState::Up)
        .count();
    let mut out = format!(
        "solo {version} at {url}\n  node      {id}\n  uptime    {uptime} (since {since})\n  listen    {listen}\n  database  {backend} {target}: {schema}\n  pool      {open} open, {idle} idle, max {max}\n  nodes     {up} up of {total} known\n",
        version = n.version,
        url = report.url,
        id = n.node_id,
        uptime = human_duration(n.uptime_seconds),
        since = n.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
        listen = n.listen,
        backend = db.backend,
        target = db.target,
        open = db.pool_open,
        idle = db.pool_idle,
        max = db.pool_max,
        total = report.nodes.len(),
    );
    for view in report.nodes.iter().filter(|v| v.node.node_id != n.node_id) {
        out.push_str(&format!(
            "            {} {} on {} ({:?})\n",
            view.node.node_id, view.node.version, view.node.hostname, view.state
        ));
    }
    out
}

fn human_duration(seconds: f64) -> String {
    let total = seconds.max(0.0) as u64;
    let (d, h, m, s) = (
        total / 86_400,
        total / 3_600 % 24,
        total / 60 % 60,
        total % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_human_would_say_them() {
        assert_eq!(human_duration(4.2), "4s");
        assert_eq!(human_duration(133.0), "2m 13s");
        assert_eq!(human_duration(7_380.0), "2h 3m");
        assert_eq!(human_duration(90_000.0), "1d 1h");
    }
}
