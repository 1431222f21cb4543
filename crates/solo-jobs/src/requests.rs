//! Idempotent enqueue requests: an `Idempotency-Key` names a request; its
//! answer is stored in the same transaction as its jobs, so a retried
//! request gets the first answer and enqueues nothing twice.

use chrono::{DateTime, Utc};
use solo_store::sqlx;
use solo_store::{Tx, on_tx};

use crate::{JobError, micros};

/// What an earlier request with the same key left.
pub(crate) enum Earlier {
    /// Same body: its stored answer.
    Same(serde_json::Value),
    /// The key was used for a different body.
    Different,
}

pub(crate) async fn find(
    tx: &mut Tx,
    key: &str,
    request_hash: &str,
) -> Result<Option<Earlier>, JobError> {
    let row: Option<(String, String)> = on_tx!(tx, ex => {
        sqlx::query_as("SELECT request_hash, response FROM jobs_requests WHERE idempotency_key = $1")
            .bind(key)
            .fetch_optional(ex)
            .await?
    });
    Ok(row.map(|(hash, response)| {
        if hash == request_hash {
            Earlier::Same(serde_json::from_str(&response).unwrap_or(serde_json::Value::Null))
        } else {
            Earlier::Different
        }
    }))
}

/// Stores the answer. A concurrent request with the same key makes this
/// fail on the primary key, rolling back that request's jobs.
pub(crate) async fn remember(
    tx: &mut Tx,
    key: &str,
    request_hash: &str,
    response: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), JobError> {
    on_tx!(tx, ex => {
        sqlx::query(
            "INSERT INTO jobs_requests (idempotency_key, request_hash, response, created_at_us)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(key)
        .bind(request_hash)
        .bind(response.to_string())
        .bind(micros(now))
        .execute(ex)
        .await
        .map_err(|e| match e.as_database_error() {
            Some(db) if db.is_unique_violation() => JobError::Conflict(
                "a request with this Idempotency-Key is being handled; retry it shortly".into(),
            ),
            _ => JobError::Db(e),
        })?;
    });
    Ok(())
}
