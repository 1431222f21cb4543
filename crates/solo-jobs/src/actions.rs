//! Operator actions on jobs — enqueue, retry, cancel, purge — each with its
//! audit entry in the same transaction, for the API and the CLI alike.

use chrono::Utc;
use solo_store::{Db, Tx};

use crate::{Enqueued, Job, JobError, JobFilter, NewJob, store};

/// Who acts, for the audit log (the one shape every capability uses).
pub use solo_audit::Requester as Operator;

/// Appends `who`'s audit entry for `action` inside `tx`.
pub(crate) async fn record(
    tx: &mut Tx,
    who: &Operator,
    action: &str,
    target: Option<String>,
    details: serde_json::Value,
) -> Result<(), JobError> {
    solo_audit::append(tx, who.entry(action, target, details), Utc::now())
        .await
        .map(|_| ())
        .map_err(|e| JobError::Audit(e.to_string()))
}

/// Enqueues inside `tx` and records one audit entry for the request.
pub async fn enqueue_in(
    tx: &mut Tx,
    jobs: &[NewJob],
    who: &Operator,
) -> Result<Vec<Enqueued>, JobError> {
    crate::validate(jobs)?;
    let outcomes = store::insert_tx(tx, jobs, Utc::now()).await?;
    let mut queues: Vec<&str> = jobs.iter().map(|j| j.queue.as_str()).collect();
    queues.sort_unstable();
    queues.dedup();
    let inserted = outcomes
        .iter()
        .filter(|o| matches!(o, Enqueued::Inserted(_)))
        .count();
    record(
        tx,
        who,
        "jobs.enqueue",
        None,
        serde_json::json!({ "count": jobs.len(), "inserted": inserted, "queues": queues }),
    )
    .await?;
    Ok(outcomes)
}

/// Runs a retryable, discarded or cancelled job again now.
pub async fn retry_job(db: &Db, id: i64, who: &Operator) -> Result<Job, JobError> {
    act(db, id, who, "jobs.retry").await
}

/// Cancels a job that has not finished.
pub async fn cancel_job(db: &Db, id: i64, who: &Operator) -> Result<Job, JobError> {
    act(db, id, who, "jobs.cancel").await
}

async fn act(db: &Db, id: i64, who: &Operator, action: &str) -> Result<Job, JobError> {
    let Some(before) = crate::get(db, id).await? else {
        return Err(JobError::NotFound(format!("no job has the id {id}")));
    };
    let now = Utc::now();
    let mut tx = db.begin().await?;
    let retry = action == "jobs.retry";
    let changed = if retry {
        crate::retry_in(&mut tx, id, now).await?
    } else {
        crate::cancel_in(&mut tx, id, now).await?
    };
    if !changed {
        let state = before.state.as_str();
        return Err(JobError::Conflict(if retry {
            format!(
                "job {id} is {state}: only retryable, discarded or cancelled jobs can be retried"
            )
        } else {
            format!("job {id} is {state}: it has already finished")
        }));
    }
    record(
        &mut tx,
        who,
        action,
        Some(format!("job:{id}")),
        serde_json::json!({ "queue": before.queue, "kind": before.kind }),
    )
    .await?;
    tx.commit().await?;
    crate::get(db, id)
        .await?
        .ok_or_else(|| JobError::NotFound(format!("no job has the id {id}")))
}

/// Deletes finished jobs matching `filter`.
pub async fn purge_jobs(db: &Db, filter: &JobFilter, who: &Operator) -> Result<u64, JobError> {
    let mut tx = db.begin().await?;
    let purged = crate::purge(&mut tx, filter).await?;
    record(
        &mut tx,
        who,
        "jobs.purge",
        None,
        serde_json::json!({ "filter": filter, "purged": purged }),
    )
    .await?;
    tx.commit().await?;
    Ok(purged)
}
