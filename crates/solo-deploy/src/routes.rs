//! The deploys API under `/api/v1`: upload a release and make it live,
//! roll back, list releases and runs, the delivery figures. Each route's
//! rule is in the binary's access table; every change is audited.
//!
//! Deploy and rollback answer as they go when asked for
//! `application/x-ndjson` (one [`Progress`] line per step, then the run);
//! otherwise with the run at the end: 201 when it went live, 422 when the
//! new release failed and the old one kept serving.

use std::convert::Infallible;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use solo_access::{Caller, RequestMeta};
use solo_http::{ApiError, ApiRoutes};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::pipeline::{self, Progress, Requester};
use crate::service::ServingStatus;
use crate::stats::DeliveryStats;
use crate::{DeployError, Deploys, Release, Run, RunKind, RunState};

pub fn routes(deploys: Deploys) -> ApiRoutes {
    OpenApiRouter::new()
        .routes(routes!(create_deploy))
        .routes(routes!(show_run))
        .routes(routes!(list_releases))
        .routes(routes!(rollback))
        .routes(routes!(release_stats))
        .with_state(deploys)
}

/// The path of the upload route, for the HTTP stack's upload rules (its
/// own body limit, no request time limit).
pub const UPLOAD_PATH: &str = "/api/v1/deploys";

fn api_error(error: DeployError) -> ApiError {
    match error {
        DeployError::Invalid { field, message } => ApiError::invalid_field(field, message),
        DeployError::Conflict(message) => ApiError::new(StatusCode::CONFLICT, "conflict", message),
        DeployError::NotFound(message) => ApiError::not_found(message),
        DeployError::NoApp => ApiError::new(
            StatusCode::CONFLICT,
            "no_app",
            DeployError::NoApp.to_string(),
        ),
        other => {
            tracing::error!(error = %other, "a deploy operation failed");
            ApiError::internal("the operation failed; the server log has the details")
        }
    }
}

fn requester(caller: &Caller, meta: &RequestMeta) -> Requester {
    Requester {
        actor: caller.actor.clone(),
        request_id: meta.request_id.clone(),
        client: meta.client.clone(),
    }
}

fn wants_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/x-ndjson"))
}

/// Runs `work` and answers: a stream of progress lines then the run, or
/// the run alone with a status that says how it went.
async fn answer<F>(
    stream: bool,
    work: impl FnOnce(Option<pipeline::ProgressSender>) -> F,
) -> Response
where
    F: std::future::Future<Output = Result<Run, DeployError>> + Send + 'static,
{
    if !stream {
        return match work(None).await {
            Ok(run) => {
                let status = if run.state == RunState::Failed {
                    StatusCode::UNPROCESSABLE_ENTITY
                } else {
                    StatusCode::CREATED
                };
                (status, Json(run)).into_response()
            }
            Err(error) => api_error(error).into_response(),
        };
    }
    let (tx, rx) = mpsc::unbounded_channel::<Progress>();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let future = work(Some(tx));
    // The run goes on even if the client hangs up: a half-done switch
    // is worse than an unread answer.
    tokio::spawn(async move {
        let _ = done_tx.send(future.await);
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::from_stream(progress_lines(rx, done_rx)))
        .unwrap_or_default()
}

fn progress_lines(
    rx: mpsc::UnboundedReceiver<Progress>,
    done: tokio::sync::oneshot::Receiver<Result<Run, DeployError>>,
) -> impl futures_util::Stream<Item = Result<Bytes, Infallible>> + Send + 'static {
    let progress = futures_util::stream::unfold(rx, |mut rx| async move {
        let item = rx.recv().await?;
        let mut line = serde_json::to_vec(&item).unwrap_or_default();
        line.push(b'\n');
        Some((Ok::<_, Infallible>(Bytes::from(line)), rx))
    });
    let last = futures_util::stream::once(async move {
        let value = match done.await {
            Ok(Ok(run)) => serde_json::json!({ "run": run }),
            Ok(Err(error)) => {
                let api = api_error(error);
                serde_json::json!({ "error": { "code": api.code(), "message": api.message() } })
            }
            Err(_) => {
                serde_json::json!({ "error": { "code": "internal", "message": "the run stopped" } })
            }
        };
        let mut line = serde_json::to_vec(&value).unwrap_or_default();
        line.push(b'\n');
        Ok::<_, Infallible>(Bytes::from(line))
    });
    progress.chain(last)
}

/// A release archive: a gzipped tar with `.solo-release.json` (what
/// `solo deploy` makes).
#[utoipa::path(post, path = "/deploys", tag = "deploys",
    request_body(content = Vec<u8>, content_type = "application/gzip"),
    params(("X-Solo-Checksum" = Option<String>, Header, description = "sha256:<hex> of the body; refused when it does not match")),
    responses(
        (status = 201, description = "The new release serves", body = Run),
        (status = 422, description = "The new release failed; the old one serves", body = Run),
        (status = 200, description = "With Accept: application/x-ndjson: progress lines, then {\"run\": …}", content_type = "application/x-ndjson"),
        (status = 400, description = "A bad archive", body = solo_http::ErrorBody),
        (status = 409, description = "Another deploy is running, or no app is configured", body = solo_http::ErrorBody),
        (status = 413, description = "The archive is over the limit", body = solo_http::ErrorBody),
    ))]
async fn create_deploy(
    State(deploys): State<Deploys>,
    caller: Caller,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let app = deploys.app_or_err().map_err(api_error)?.clone();
    let expected = match headers.get("x-solo-checksum") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("sha256:"))
                .filter(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
                .map(str::to_ascii_lowercase)
                .ok_or_else(|| {
                    ApiError::invalid_field("X-Solo-Checksum", "write sha256: and 64 hex digits")
                })?,
        ),
    };
    let settings = &deploys.inner.settings;
    let root = settings.releases_root(&app.name);
    tokio::fs::create_dir_all(&root)
        .await
        .map_err(|e| api_error(DeployError::io("cannot create the releases directory", e)))?;
    let upload =
        Upload::new(root.join(format!(".upload-{}.tar.gz", uuid::Uuid::new_v4().simple())));
    let checksum = upload.receive(body, settings.max_archive_bytes).await?;
    if let Some(expected) = expected
        && expected != checksum
    {
        return Err(ApiError::invalid_field(
            "X-Solo-Checksum",
            format!(
                "the body's checksum is sha256:{checksum}; it was damaged or is not the archive you meant"
            ),
        ));
    }
    let who = requester(&caller, &meta);
    let stream = wants_stream(&headers);
    Ok(answer(stream, move |progress| async move {
        let checksum = format!("sha256:{checksum}");
        let result =
            pipeline::deploy_archive(&deploys, upload.path(), &checksum, &who, progress).await;
        drop(upload);
        result
    })
    .await)
}

/// An uploaded archive on disk, removed when dropped.
struct Upload {
    path: std::path::PathBuf,
}

impl Upload {
    fn new(path: std::path::PathBuf) -> Self {
        Upload { path }
    }

    fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Streams the body to the file, at most `limit` bytes; returns its
    /// SHA-256 in hex.
    async fn receive(&self, body: Body, limit: u64) -> Result<String, ApiError> {
        let io = |e: std::io::Error| api_error(DeployError::io("cannot store the upload", e));
        let mut file = tokio::fs::File::create(&self.path).await.map_err(io)?;
        let mut hasher = Sha256::new();
        let mut size = 0_u64;
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                ApiError::bad_request("upload_failed", format!("the upload broke off: {e}"))
            })?;
            size += chunk.len() as u64;
            if size > limit {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "archive_too_large",
                    format!(
                        "the archive is over {limit} bytes; keep fewer files in the release ([app] files)"
                    ),
                ));
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await.map_err(io)?;
        }
        file.flush().await.map_err(io)?;
        if size == 0 {
            return Err(ApiError::invalid_field("body", "the archive is empty"));
        }
        Ok(hex::encode(hasher.finalize()))
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[utoipa::path(get, path = "/deploys/{id}", tag = "deploys",
    params(("id" = i64, Path, description = "The run's id")),
    responses((status = 200, body = Run), (status = 404, body = solo_http::ErrorBody)))]
async fn show_run(
    State(deploys): State<Deploys>,
    Path(id): Path<i64>,
) -> Result<Json<Run>, ApiError> {
    deploys
        .run_by_id(id)
        .await
        .map_err(api_error)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no deploy has the id {id}")))
}

/// The app's releases and recent runs, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReleasesResponse {
    pub serving: Option<ServingStatus>,
    pub releases: Vec<Release>,
    pub runs: Vec<Run>,
}

#[utoipa::path(get, path = "/releases", tag = "deploys",
    responses((status = 200, body = ReleasesResponse), (status = 409, body = solo_http::ErrorBody)))]
async fn list_releases(State(deploys): State<Deploys>) -> Result<Json<ReleasesResponse>, ApiError> {
    let releases = deploys.releases().await.map_err(api_error)?;
    let runs = deploys.runs(50).await.map_err(api_error)?;
    Ok(Json(ReleasesResponse {
        serving: deploys.status(),
        releases,
        runs,
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// A kept release's version; default: the one that served before.
    pub to: Option<String>,
    /// Why, for the record.
    pub reason: Option<String>,
}

#[utoipa::path(post, path = "/releases/rollback", tag = "deploys",
    request_body = RollbackRequest,
    responses(
        (status = 201, description = "The release serves again", body = Run),
        (status = 422, description = "It did not become healthy; the current one serves", body = Run),
        (status = 404, body = solo_http::ErrorBody),
        (status = 409, description = "Nothing to roll back to, or a run is in progress", body = solo_http::ErrorBody),
    ))]
async fn rollback(
    State(deploys): State<Deploys>,
    caller: Caller,
    meta: RequestMeta,
    headers: HeaderMap,
    Json(request): Json<RollbackRequest>,
) -> Response {
    let who = requester(&caller, &meta);
    answer(wants_stream(&headers), move |progress| async move {
        pipeline::rollback(
            &deploys,
            request.to.as_deref(),
            RunKind::Rollback,
            &who,
            request.reason,
            progress,
        )
        .await
    })
    .await
}

#[utoipa::path(get, path = "/releases/stats", tag = "deploys",
    responses((status = 200, body = DeliveryStats), (status = 409, body = solo_http::ErrorBody)))]
async fn release_stats(State(deploys): State<Deploys>) -> Result<Json<DeliveryStats>, ApiError> {
    deploys.stats().await.map(Json).map_err(api_error)
}
