//! The one place access writes audit entries.

use chrono::{DateTime, Utc};
use solo_audit::NewEntry;
use solo_store::Tx;

use crate::AccessError;

pub use solo_audit::Actor;

/// Where a request came from, for the audit trail and session listings.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub request_id: Option<String>,
    pub client: Option<String>,
    pub user_agent: Option<String>,
}

/// Appends one entry inside `tx`: it commits or rolls back with the change.
pub(crate) async fn record(
    tx: &mut Tx,
    actor: &Actor,
    action: &str,
    target: Option<&str>,
    details: serde_json::Value,
    meta: &RequestMeta,
    at: DateTime<Utc>,
) -> Result<(), AccessError> {
    let mut entry = NewEntry::new(actor.clone(), action)
        .details(details)
        .request(meta.request_id.clone(), meta.client.clone());
    entry.target = target.map(str::to_owned);
    solo_audit::append(tx, entry, at)
        .await
        .map_err(|e| AccessError::Audit(e.to_string()))?;
    Ok(())
}
