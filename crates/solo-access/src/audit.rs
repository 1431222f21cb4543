//! The one place access writes audit entries.

use chrono::{DateTime, Utc};
use solo_store::Tx;

use crate::AccessError;

// TEMP until solo-audit merges: the same shapes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Actor {
    User { id: String, name: String },
    Token { id: String, name: String },
    System { name: String },
}

/// Where a request came from, for the audit trail and session listings.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub request_id: Option<String>,
    pub client: Option<String>,
    pub user_agent: Option<String>,
}

/// Appends one entry inside `tx`.
pub(crate) async fn record(
    _tx: &mut Tx,
    _actor: &Actor,
    _action: &str,
    _target: Option<&str>,
    _details: serde_json::Value,
    _meta: &RequestMeta,
    _at: DateTime<Utc>,
) -> Result<(), AccessError> {
    Ok(())
}
