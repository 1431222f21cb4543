//! The overview: this node, its database, and the other nodes.

use axum::extract::State;
use maud::{Markup, html};
use solo_access::Caller;

use crate::Dashboard;
use crate::layout::{self, Nav, Notice, when};

fn uptime(seconds: f64) -> String {
    // Whole seconds are plenty on a dashboard.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let s = seconds.max(0.0) as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86_400 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} d {} h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// The overview page.
#[utoipa::path(get, path = "/", tag = "dashboard",
    responses((status = 200, description = "Overview", content_type = "text/html", body = String)))]
pub(crate) async fn page(State(dashboard): State<Dashboard>, caller: Caller) -> Markup {
    let status = dashboard.system.status().await;
    let db = &status.database;
    let nodes = dashboard.cluster.nodes().await;
    let silence = chrono::Duration::from_std(dashboard.silence_limit)
        .unwrap_or(chrono::Duration::seconds(30));
    let now = chrono::Utc::now();
    let notice = (!db.reachable).then(|| {
        Notice::Error(format!(
            "The database does not answer: {}",
            db.problem.as_deref().unwrap_or("unknown problem")
        ))
    });
    let body = html! {
        div.grid {
            section.card {
                h2 { "This node" }
                dl.facts {
                    dt { "Version" } dd { "solo " (status.version) }
                    dt { "Up for" } dd { (uptime(status.uptime_seconds)) }
                    dt { "Started" } dd { (when(status.started_at)) }
                    dt { "Listening on" } dd.mono { (status.listen) }
                    dt { "Node id" } dd.mono { (status.node_id) }
                }
            }
            section.card {
                h2 { "Database" }
                dl.facts {
                    dt { "Engine" } dd { (db.backend) }
                    dt { "Where" } dd.mono { (db.target) }
                    dt { "Schema" } dd {
                        (db.schema_version) " of " (db.schema_known) " migrations "
                        @if db.schema_current { span.pill.ok { "current" } }
                        @else { span.pill.bad { "behind" } }
                    }
                    dt { "Connections" } dd { (db.pool_open) " open, " (db.pool_idle) " idle, at most " (db.pool_max) }
                }
            }
        }
        section.card {
            h2 { "Nodes" }
            @match nodes {
                Ok(nodes) => {
                    div.table-wrap { table {
                        thead { tr { th { "Host" } th { "Version" } th { "Address" } th { "State" } th { "Last heartbeat" } } }
                        tbody {
                            @for node in &nodes {
                                @let state = node.state(now, silence);
                                tr {
                                    td { (node.hostname) }
                                    td { (node.version) }
                                    td.mono { (node.listen) }
                                    td { span.pill.ok[matches!(state, solo_cluster::NodeState::Up)] { (format!("{state:?}").to_lowercase()) } }
                                    td { (when(node.heartbeat_at)) }
                                }
                            }
                        }
                    } }
                }
                Err(error) => p.muted { "The node registry could not be read: " (error.to_string()) },
            }
        }
    };
    layout::page("Overview", &caller, Nav::Overview, notice, body)
}
