use axum::Json;
use axum::extract::State;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use solo_http::{ApiError, ApiRoutes};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::{Cluster, NodeRecord, NodeState};

#[derive(Clone)]
struct RoutesState {
    cluster: Cluster,
    silence_limit: chrono::Duration,
}

/// A node in `GET /api/v1/nodes`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NodeView {
    #[serde(flatten)]
    pub node: NodeRecord,
    pub state: NodeState,
}

/// `GET /nodes`. `silence_limit`: how long without a heartbeat before a node
/// counts as silent (a few heartbeat intervals).
pub fn routes(cluster: Cluster, silence_limit: std::time::Duration) -> ApiRoutes {
    let silence_limit = chrono::Duration::from_std(silence_limit).unwrap_or(chrono::Duration::MAX);
    OpenApiRouter::new()
        .routes(routes!(list_nodes))
        .with_state(RoutesState {
            cluster,
            silence_limit,
        })
}

/// Every node that has run against this database, with its state.
#[utoipa::path(get, path = "/nodes", tag = "cluster",
    responses((status = 200, description = "Known nodes", body = [NodeView])))]
async fn list_nodes(State(state): State<RoutesState>) -> Result<Json<Vec<NodeView>>, ApiError> {
    let nodes = state.cluster.nodes().await.map_err(|error| {
        tracing::error!(error = %error, "listing nodes failed");
        ApiError::internal("could not read the node registry")
    })?;
    let now = Utc::now();
    Ok(Json(
        nodes
            .into_iter()
            .map(|node| NodeView {
                state: node.state(now, state.silence_limit),
                node,
            })
            .collect(),
    ))
}
