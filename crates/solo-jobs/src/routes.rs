//! The jobs API under `/api/v1`: enqueue (idempotent), list, show, retry,
//! cancel, purge, queue figures, cron status, events, and the pull API for
//! apps that run their own worker loop. Each route's rule is in the
//! binary's access table; operator actions append an audit entry in the
//! same transaction as the change.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use solo_access::{Caller, RequestMeta};
use solo_http::{ApiError, ApiRoutes};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::requests::{self, Earlier};
use crate::{
    CronStatus, Enqueued, FailOutcome, Job, JobError, JobFilter, JobState, Jobs, NewJob, Operator,
    QueueStats, cron_status, store,
};

pub fn routes(jobs: Jobs) -> ApiRoutes {
    OpenApiRouter::new()
        .routes(routes!(list_jobs, enqueue_jobs))
        .routes(routes!(show_job))
        .routes(routes!(retry_job))
        .routes(routes!(cancel_job))
        .routes(routes!(purge_jobs))
        .routes(routes!(list_queues))
        .routes(routes!(list_cron))
        .routes(routes!(publish_event))
        .routes(routes!(claim_jobs))
        .routes(routes!(heartbeat_jobs))
        .routes(routes!(complete_jobs))
        .routes(routes!(fail_job))
        .with_state(jobs)
}

pub(crate) fn api_error(error: JobError) -> ApiError {
    match error {
        JobError::Invalid { field, message } => ApiError::invalid_field(field, message),
        JobError::Conflict(message) => ApiError::new(StatusCode::CONFLICT, "conflict", message),
        JobError::NotFound(message) => ApiError::not_found(message),
        other => {
            tracing::error!(error = %other, "a jobs operation failed");
            ApiError::internal("the operation failed; the server log has the details")
        }
    }
}

fn db_error(error: solo_store::sqlx::Error) -> ApiError {
    api_error(JobError::Db(error))
}

fn operator(caller: &Caller, meta: &RequestMeta) -> Operator {
    Operator {
        actor: caller.actor.clone(),
        request_id: meta.request_id.clone(),
        client: meta.client.clone(),
    }
}

/// A job to enqueue.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
    /// A queue declared in solo.toml.
    pub queue: String,
    pub kind: String,
    #[serde(default)]
    pub payload: serde_json::Value,
    /// Lower runs first (default 0).
    #[serde(default)]
    pub priority: i16,
    /// RFC 3339: not before this time.
    pub run_at: Option<DateTime<Utc>>,
    /// Default: the queue's `max_attempts`.
    pub max_attempts: Option<u16>,
    /// Refused as a duplicate while an equal job is unfinished.
    pub unique_key: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// One job, or many in one statement.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnqueueRequest {
    /// At most 10,000.
    pub jobs: Vec<JobRequest>,
}

/// What became of each job, in request order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EnqueueResponse {
    pub jobs: Vec<EnqueuedJob>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EnqueuedJob {
    /// The new job's id; null for a duplicate.
    pub id: Option<i64>,
    /// An unfinished job with the same unique key exists.
    pub duplicate: bool,
}

const MAX_BATCH: usize = 10_000;

fn to_new_jobs(requests: &[JobRequest]) -> Result<(Vec<NewJob>, Vec<bool>), ApiError> {
    if requests.is_empty() {
        return Err(ApiError::invalid_field("jobs", "send at least one job"));
    }
    if requests.len() > MAX_BATCH {
        return Err(ApiError::invalid_field(
            "jobs",
            format!("at most {MAX_BATCH} jobs per request; split the batch"),
        ));
    }
    let mut jobs = Vec::with_capacity(requests.len());
    let mut explicit = Vec::with_capacity(requests.len());
    for (index, request) in requests.iter().enumerate() {
        let field = |name: &str| format!("jobs[{index}].{name}");
        if request.kind.trim().is_empty() {
            return Err(ApiError::invalid_field(field("kind"), "must not be empty"));
        }
        if request.max_attempts == Some(0) {
            return Err(ApiError::invalid_field(
                field("max_attempts"),
                "must be at least 1",
            ));
        }
        let mut job = NewJob::new(&request.queue, &request.kind, request.payload.clone());
        job.priority = request.priority;
        job.run_at = request.run_at;
        job.max_attempts = request.max_attempts.unwrap_or(job.max_attempts);
        job.unique_key.clone_from(&request.unique_key);
        job.tags.clone_from(&request.tags);
        jobs.push(job);
        explicit.push(request.max_attempts.is_some());
    }
    Ok((jobs, explicit))
}

fn respond(outcomes: &[Enqueued]) -> EnqueueResponse {
    EnqueueResponse {
        jobs: outcomes
            .iter()
            .map(|o| match o {
                Enqueued::Inserted(id) => EnqueuedJob {
                    id: Some(*id),
                    duplicate: false,
                },
                Enqueued::Duplicate => EnqueuedJob {
                    id: None,
                    duplicate: true,
                },
            })
            .collect(),
    }
}

/// Enqueues jobs. With an `Idempotency-Key` header, a retry of the same
/// request returns the first answer (header `Idempotent-Replayed: true`)
/// and enqueues nothing again; the same key with another body is refused.
#[utoipa::path(post, path = "/jobs", tag = "jobs", request_body = EnqueueRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry of this request safe (at most 200 characters)")),
    responses(
        (status = 201, description = "Enqueued", body = EnqueueResponse),
        (status = 200, description = "A replay of an earlier request with this Idempotency-Key", body = EnqueueResponse),
        (status = 409, description = "The key was used for another body, or is in flight", body = solo_http::ErrorBody),
        (status = 400, description = "A bad job", body = solo_http::ErrorBody),
    ))]
async fn enqueue_jobs(
    State(jobs): State<Jobs>,
    caller: Caller,
    meta: RequestMeta,
    headers: HeaderMap,
    Json(request): Json<EnqueueRequest>,
) -> Result<Response, ApiError> {
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(value) => {
            let key = value
                .to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= 200);
            Some(key.ok_or_else(|| {
                ApiError::invalid_field(
                    "Idempotency-Key",
                    "must be 1 to 200 visible ASCII characters",
                )
            })?)
        }
    };
    let (mut new_jobs, explicit) = to_new_jobs(&request.jobs)?;
    jobs.prepare(&mut new_jobs, &explicit)
        .map_err(|e| match e {
            JobError::Invalid { field, message } => {
                ApiError::invalid_field(format!("jobs.{field}"), message)
            }
            other => api_error(other),
        })?;
    let hash = hex::encode(Sha256::digest(
        serde_json::to_vec(&request.jobs).unwrap_or_default(),
    ));
    let now = Utc::now();
    let mut tx = jobs.db().begin().await.map_err(db_error)?;
    if let Some(key) = key {
        match requests::find(&mut tx, key, &hash)
            .await
            .map_err(api_error)?
        {
            Some(Earlier::Same(response)) => {
                return Ok((
                    StatusCode::OK,
                    [("idempotent-replayed", "true")],
                    Json(response),
                )
                    .into_response());
            }
            Some(Earlier::Different) => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "idempotency_key_reused",
                    "this Idempotency-Key was used for a different request; use a new key for new jobs",
                ));
            }
            None => {}
        }
    }
    let outcomes = crate::enqueue_in(&mut tx, &new_jobs, &operator(&caller, &meta))
        .await
        .map_err(api_error)?;
    let response = respond(&outcomes);
    let body = serde_json::to_value(&response).unwrap_or_default();
    if let Some(key) = key {
        requests::remember(&mut tx, key, &hash, &body, now)
            .await
            .map_err(api_error)?;
    }
    tx.commit().await.map_err(db_error)?;
    jobs.enqueued(&new_jobs, &outcomes);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Filters, all optional.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    queue: Option<String>,
    kind: Option<String>,
    /// scheduled, available, retryable, running, completed, discarded or cancelled.
    state: Option<JobState>,
    tag: Option<String>,
    /// Jobs with a smaller id (the next page).
    before: Option<i64>,
    /// At most this many (default 100, at most 1000).
    limit: Option<u32>,
}

impl ListQuery {
    fn filter(self) -> JobFilter {
        JobFilter {
            queue: self.queue.filter(|v| !v.is_empty()),
            kind: self.kind.filter(|v| !v.is_empty()),
            state: self.state,
            tag: self.tag.filter(|v| !v.is_empty()),
            before_id: self.before,
        }
    }
}

/// Jobs, newest first.
#[utoipa::path(get, path = "/jobs", tag = "jobs", params(ListQuery),
    responses((status = 200, description = "Jobs", body = [Job])))]
async fn list_jobs(
    State(jobs): State<Jobs>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<Job>>, ApiError> {
    if query.limit == Some(0) {
        return Err(ApiError::invalid_field("limit", "must be at least 1"));
    }
    let limit = query.limit.unwrap_or(100);
    crate::list(jobs.db(), &query.filter(), limit)
        .await
        .map(Json)
        .map_err(api_error)
}

/// One job, with its errors.
#[utoipa::path(get, path = "/jobs/{id}", tag = "jobs",
    params(("id" = i64, Path, description = "Job id")),
    responses((status = 200, description = "The job", body = Job),
              (status = 404, description = "No such job", body = solo_http::ErrorBody)))]
async fn show_job(State(jobs): State<Jobs>, Path(id): Path<i64>) -> Result<Json<Job>, ApiError> {
    crate::get(jobs.db(), id)
        .await
        .map_err(api_error)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no job has the id {id}")))
}

/// Runs a retryable, discarded or cancelled job again now.
#[utoipa::path(post, path = "/jobs/{id}/retry", tag = "jobs",
    params(("id" = i64, Path, description = "Job id")),
    responses((status = 200, description = "The job, available again", body = Job),
              (status = 404, description = "No such job", body = solo_http::ErrorBody),
              (status = 409, description = "The job is not retryable, discarded or cancelled", body = solo_http::ErrorBody)))]
async fn retry_job(
    State(jobs): State<Jobs>,
    caller: Caller,
    meta: RequestMeta,
    Path(id): Path<i64>,
) -> Result<Json<Job>, ApiError> {
    operator_action(&jobs, &caller, &meta, id, "jobs.retry").await
}

/// Cancels a job that has not finished (a running one's outcome is ignored).
#[utoipa::path(post, path = "/jobs/{id}/cancel", tag = "jobs",
    params(("id" = i64, Path, description = "Job id")),
    responses((status = 200, description = "The job, cancelled", body = Job),
              (status = 404, description = "No such job", body = solo_http::ErrorBody),
              (status = 409, description = "The job already finished", body = solo_http::ErrorBody)))]
async fn cancel_job(
    State(jobs): State<Jobs>,
    caller: Caller,
    meta: RequestMeta,
    Path(id): Path<i64>,
) -> Result<Json<Job>, ApiError> {
    operator_action(&jobs, &caller, &meta, id, "jobs.cancel").await
}

async fn operator_action(
    jobs: &Jobs,
    caller: &Caller,
    meta: &RequestMeta,
    id: i64,
    action: &str,
) -> Result<Json<Job>, ApiError> {
    let who = operator(caller, meta);
    let job = if action == "jobs.retry" {
        crate::retry_job(jobs.db(), id, &who).await
    } else {
        crate::cancel_job(jobs.db(), id, &who).await
    }
    .map_err(api_error)?;
    jobs.wake();
    Ok(Json(job))
}

/// Which finished jobs to delete; at least one field.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurgeRequest {
    queue: Option<String>,
    kind: Option<String>,
    /// completed, discarded or cancelled (default: all three).
    state: Option<JobState>,
    tag: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PurgeResponse {
    pub purged: u64,
}

/// Deletes finished jobs matching the filter (never unfinished ones).
#[utoipa::path(post, path = "/jobs/purge", tag = "jobs", request_body = PurgeRequest,
    responses((status = 200, description = "Deleted", body = PurgeResponse),
              (status = 400, description = "A bad filter", body = solo_http::ErrorBody)))]
async fn purge_jobs(
    State(jobs): State<Jobs>,
    caller: Caller,
    meta: RequestMeta,
    Json(request): Json<PurgeRequest>,
) -> Result<Json<PurgeResponse>, ApiError> {
    let filter = JobFilter {
        queue: request.queue,
        kind: request.kind,
        state: request.state,
        tag: request.tag,
        before_id: None,
    };
    let purged = crate::purge_jobs(jobs.db(), &filter, &operator(&caller, &meta))
        .await
        .map_err(api_error)?;
    Ok(Json(PurgeResponse { purged }))
}

/// A queue: how it delivers, and its figures.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QueueView {
    #[serde(flatten)]
    pub stats: QueueStats,
    /// http, command or pull (null: not declared in solo.toml any more).
    pub delivery: Option<String>,
    pub concurrency: Option<usize>,
}

/// Every queue at a glance (`solo jobs stats`).
#[utoipa::path(get, path = "/queues", tag = "jobs",
    responses((status = 200, description = "Queues", body = [QueueView])))]
async fn list_queues(State(jobs): State<Jobs>) -> Result<Json<Vec<QueueView>>, ApiError> {
    let stats = crate::stats(jobs.db(), &jobs.queue_names(), Utc::now())
        .await
        .map_err(api_error)?;
    Ok(Json(
        stats
            .into_iter()
            .map(|stats| {
                let spec = jobs.queue(&stats.queue);
                QueueView {
                    delivery: spec.map(|q| q.delivery_name.to_owned()),
                    concurrency: spec.map(|q| q.concurrency),
                    stats,
                }
            })
            .collect(),
    ))
}

/// Cron entries: next runs and the last outcome (`solo cron list`).
#[utoipa::path(get, path = "/cron", tag = "jobs",
    responses((status = 200, description = "Entries", body = [CronStatus])))]
async fn list_cron(State(jobs): State<Jobs>) -> Result<Json<Vec<CronStatus>>, ApiError> {
    cron_status(jobs.db(), &jobs.settings().cron, Utc::now())
        .await
        .map(Json)
        .map_err(api_error)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventRequest {
    pub topic: String,
    #[serde(default)]
    pub payload: serde_json::Value,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventResponse {
    /// One job per subscription to the topic (none without subscribers).
    pub jobs: Vec<i64>,
}

/// Publishes an event: one job per subscription, in one transaction.
#[utoipa::path(post, path = "/events", tag = "jobs", request_body = EventRequest,
    responses((status = 202, description = "Jobs enqueued", body = EventResponse),
              (status = 400, description = "A bad event", body = solo_http::ErrorBody)))]
async fn publish_event(
    State(jobs): State<Jobs>,
    caller: Caller,
    meta: RequestMeta,
    Json(event): Json<EventRequest>,
) -> Result<(StatusCode, Json<EventResponse>), ApiError> {
    if event.topic.trim().is_empty() {
        return Err(ApiError::invalid_field("topic", "must not be empty"));
    }
    let new_jobs = jobs.fan_out(&event.topic, &event.payload);
    let mut tx = jobs.db().begin().await.map_err(db_error)?;
    let outcomes = store::insert_tx(&mut tx, &new_jobs, Utc::now())
        .await
        .map_err(api_error)?;
    crate::actions::record(
        &mut tx,
        &operator(&caller, &meta),
        "event.publish",
        Some(event.topic.clone()),
        serde_json::json!({ "jobs": outcomes.len() }),
    )
    .await
    .map_err(api_error)?;
    tx.commit().await.map_err(db_error)?;
    jobs.enqueued(&new_jobs, &outcomes);
    let ids = outcomes
        .into_iter()
        .filter_map(|o| match o {
            Enqueued::Inserted(id) => Some(id),
            Enqueued::Duplicate => None,
        })
        .collect();
    Ok((StatusCode::ACCEPTED, Json(EventResponse { jobs: ids })))
}

/// The pull API's worker name: `locked_by` is `api:<worker>`, so an app's
/// worker can never complete a job one of solo's nodes holds.
fn pull_worker(queue: &str, jobs: &Jobs, worker: &str) -> Result<String, ApiError> {
    match jobs.queue(queue) {
        None => return Err(ApiError::not_found(format!("no queue is named `{queue}`"))),
        Some(spec) if spec.delivery.is_some() => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "not_a_pull_queue",
                format!(
                    "queue `{queue}` is delivered by solo ({}); set `deliver = \"pull\"` in solo.toml to claim its jobs over the API",
                    spec.delivery_name
                ),
            ));
        }
        Some(_) => {}
    }
    if worker.is_empty() || worker.len() > 100 {
        return Err(ApiError::invalid_field(
            "worker",
            "must be 1 to 100 characters",
        ));
    }
    Ok(format!("api:{worker}"))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    /// Names this worker: pass the same in heartbeat, complete and fail.
    pub worker: String,
    /// At most this many jobs (default 1, at most 1000).
    pub limit: Option<u32>,
    /// How long the jobs are this worker's unless it heartbeats (default:
    /// the node's `[jobs] lease`; at most 1 hour).
    pub lease_s: Option<u64>,
}

/// Claims jobs of a pull queue.
#[utoipa::path(post, path = "/queues/{queue}/claim", tag = "jobs", request_body = ClaimRequest,
    params(("queue" = String, Path, description = "A pull queue")),
    responses((status = 200, description = "Claimed jobs (maybe none)", body = [Job]),
              (status = 409, description = "Not a pull queue", body = solo_http::ErrorBody)))]
async fn claim_jobs(
    State(jobs): State<Jobs>,
    Path(queue): Path<String>,
    Json(request): Json<ClaimRequest>,
) -> Result<Json<Vec<Job>>, ApiError> {
    let worker = pull_worker(&queue, &jobs, &request.worker)?;
    let limit = request.limit.unwrap_or(1);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            "must be between 1 and 1000",
        ));
    }
    let lease = lease(&jobs, request.lease_s)?;
    crate::claim(jobs.db(), &queue, limit, &worker, Utc::now(), lease)
        .await
        .map(Json)
        .map_err(api_error)
}

fn lease(jobs: &Jobs, lease_s: Option<u64>) -> Result<std::time::Duration, ApiError> {
    match lease_s {
        None => Ok(jobs.settings().lease),
        Some(s) if (1..=3600).contains(&s) => Ok(std::time::Duration::from_secs(s)),
        Some(_) => Err(ApiError::invalid_field(
            "lease_s",
            "must be between 1 and 3600",
        )),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeldRequest {
    pub worker: String,
    pub ids: Vec<i64>,
    /// For heartbeat: extend to this many seconds from now (default: the
    /// node's lease).
    pub lease_s: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HeldResponse {
    /// Jobs this worker still held (the others were rescued or cancelled:
    /// stop working on them).
    pub held: u64,
}

/// Extends the leases of jobs this worker holds.
#[utoipa::path(post, path = "/queues/{queue}/heartbeat", tag = "jobs", request_body = HeldRequest,
    params(("queue" = String, Path, description = "A pull queue")),
    responses((status = 200, description = "Extended", body = HeldResponse)))]
async fn heartbeat_jobs(
    State(jobs): State<Jobs>,
    Path(queue): Path<String>,
    Json(request): Json<HeldRequest>,
) -> Result<Json<HeldResponse>, ApiError> {
    let worker = pull_worker(&queue, &jobs, &request.worker)?;
    let lease = lease(&jobs, request.lease_s)?;
    let held = crate::extend_leases(jobs.db(), &request.ids, &worker, Utc::now(), lease)
        .await
        .map_err(api_error)?;
    Ok(Json(HeldResponse { held }))
}

/// Completes jobs this worker holds.
#[utoipa::path(post, path = "/queues/{queue}/complete", tag = "jobs", request_body = HeldRequest,
    params(("queue" = String, Path, description = "A pull queue")),
    responses((status = 200, description = "Completed", body = HeldResponse)))]
async fn complete_jobs(
    State(jobs): State<Jobs>,
    Path(queue): Path<String>,
    Json(request): Json<HeldRequest>,
) -> Result<Json<HeldResponse>, ApiError> {
    let worker = pull_worker(&queue, &jobs, &request.worker)?;
    if request.ids.len() > 1000 {
        return Err(ApiError::invalid_field("ids", "at most 1000 per call"));
    }
    let held = crate::complete(jobs.db(), &request.ids, &worker, Utc::now())
        .await
        .map_err(api_error)?;
    Ok(Json(HeldResponse { held }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FailRequest {
    pub worker: String,
    pub id: i64,
    /// Kept with the attempt.
    pub error: String,
    /// Never retry this job (default false).
    #[serde(default)]
    pub discard: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FailResponse {
    /// retry, discarded, or not_held (the lease was lost).
    pub outcome: String,
    pub retry_at: Option<DateTime<Utc>>,
}

/// Records a failed attempt of a job this worker holds.
#[utoipa::path(post, path = "/queues/{queue}/fail", tag = "jobs", request_body = FailRequest,
    params(("queue" = String, Path, description = "A pull queue")),
    responses((status = 200, description = "Recorded", body = FailResponse)))]
async fn fail_job(
    State(jobs): State<Jobs>,
    Path(queue): Path<String>,
    Json(request): Json<FailRequest>,
) -> Result<Json<FailResponse>, ApiError> {
    let worker = pull_worker(&queue, &jobs, &request.worker)?;
    let retry_base = jobs
        .queue(&queue)
        .map_or(crate::DEFAULT_RETRY_BASE, |q| q.retry_base);
    let outcome = crate::fail_with(
        jobs.db(),
        request.id,
        &worker,
        &request.error,
        request.discard,
        retry_base,
        Utc::now(),
    )
    .await
    .map_err(api_error)?;
    Ok(Json(match outcome {
        FailOutcome::Retry(at) => FailResponse {
            outcome: "retry".into(),
            retry_at: Some(at),
        },
        FailOutcome::Discarded => FailResponse {
            outcome: "discarded".into(),
            retry_at: None,
        },
        FailOutcome::NotHeld => FailResponse {
            outcome: "not_held".into(),
            retry_at: None,
        },
    }))
}
