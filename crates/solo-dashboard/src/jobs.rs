//! Jobs: queues at a glance, failed and discarded jobs with their errors,
//! cron entries, one job's page, and retry / cancel for operators.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use http::StatusCode;
use maud::{Markup, html};
use serde::Deserialize;
use solo_access::{Caller, RequestMeta, Role};
use solo_jobs::{Job, JobError, JobFilter, JobState, Operator};

use crate::Dashboard;
use crate::layout::{self, Nav, Notice, csrf, when};

fn state_pill(state: JobState) -> Markup {
    let class = match state {
        JobState::Completed => "pill ok",
        JobState::Discarded | JobState::Retryable => "pill bad",
        _ => "pill",
    };
    html! { span class=(class) { (state.as_str()) } }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(crate) struct JobsQuery {
    /// Only this queue.
    queue: Option<String>,
}

/// Queues at a glance, jobs that failed, and cron entries.
#[utoipa::path(get, path = "/jobs", tag = "dashboard", params(JobsQuery),
    responses((status = 200, description = "Jobs page", content_type = "text/html", body = String)))]
pub(crate) async fn page(
    State(dashboard): State<Dashboard>,
    caller: Caller,
    Query(query): Query<JobsQuery>,
) -> Markup {
    let jobs = &dashboard.jobs;
    let now = Utc::now();
    let queue = query.queue.filter(|q| !q.is_empty());
    let stats = solo_jobs::stats(jobs.db(), &jobs.queue_names(), now).await;
    let failing = |state| JobFilter {
        queue: queue.clone(),
        state: Some(state),
        ..JobFilter::default()
    };
    let retrying = solo_jobs::list(jobs.db(), &failing(JobState::Retryable), 50).await;
    let discarded = solo_jobs::list(jobs.db(), &failing(JobState::Discarded), 50).await;
    let cron = solo_jobs::cron_status(jobs.db(), &jobs.settings().cron, now).await;
    let body = html! {
        section.card {
            h2 { "Queues" }
            div.table-wrap { table {
                thead { tr {
                    th { "Queue" } th { "Delivery" } th { "Scheduled" } th { "Available" } th { "Running" }
                    th { "Completed" } th { "Discarded" } th { "Oldest wait" }
                } }
                tbody {
                    @match &stats {
                        Ok(stats) if stats.is_empty() => tr { td colspan="8" { "No queues yet: declare them in solo.toml's [[queues]]." } },
                        Ok(stats) => @for s in stats {
                            tr data-queue=(s.queue) {
                                td { a href={ "/jobs?queue=" (s.queue) } { (s.queue) } }
                                td { (jobs.queue(&s.queue).map_or("—", |q| q.delivery_name)) }
                                td { (s.scheduled) } td { (s.available) } td { (s.running) }
                                td { (s.completed) } td { (s.discarded) }
                                td { @if let Some(age) = s.oldest_available_s { (format!("{age:.1} s")) } @else { "—" } }
                            }
                        },
                        Err(error) => tr { td colspan="8" { "The queues could not be read: " (error.to_string()) } },
                    }
                }
            } }
        }
        (job_table("Failing, to be retried", &retrying, &caller))
        (job_table("Discarded", &discarded, &caller))
        section.card {
            h2 { "Cron" }
            div.table-wrap { table {
                thead { tr { th { "Name" } th { "Schedule" } th { "Queue" } th { "Next run" } th { "Last run" } } }
                tbody {
                    @match &cron {
                        Ok(entries) if entries.is_empty() => tr { td colspan="5" { "No [[cron]] entries in solo.toml." } },
                        Ok(entries) => @for c in entries {
                            tr {
                                td { (c.name) } td { code { (c.schedule) } } td { (c.queue) }
                                td { @if let Some(next) = c.next_runs.first() { (when(*next)) } @else { "never" } }
                                td {
                                    @match (&c.last_tick, &c.last_job) {
                                        (None, _) => span.muted { "never" },
                                        (Some(_), Some(job)) => { a href={ "/jobs/" (job.id) } { "job " (job.id) } " " (state_pill(job.state)) },
                                        (Some(tick), None) => { (when(*tick)) " (skipped or pruned)" },
                                    }
                                }
                            }
                        },
                        Err(error) => tr { td colspan="5" { "Cron could not be read: " (error.to_string()) } },
                    }
                }
            } }
        }
    };
    layout::page("Jobs", &caller, Nav::Jobs, None, body)
}

fn job_table(title: &str, jobs: &Result<Vec<Job>, JobError>, caller: &Caller) -> Markup {
    let operator = caller.role >= Role::Operator;
    html! {
        section.card {
            h2 { (title) }
            div.table-wrap { table {
                thead { tr { th { "Job" } th { "Queue" } th { "Kind" } th { "Attempt" } th { "Last error" } th { "" } } }
                tbody {
                    @match jobs {
                        Ok(jobs) if jobs.is_empty() => tr { td colspan="6" { span.muted { "None." } } },
                        Ok(jobs) => @for job in jobs {
                            tr data-job=(job.id) {
                                td { a href={ "/jobs/" (job.id) } { (job.id) } }
                                td { (job.queue) } td { (job.kind) }
                                td { (job.attempt) " / " (job.max_attempts) }
                                td { code { (job.last_error_summary(120)) } }
                                td { @if operator { (actions(job, caller)) } }
                            }
                        },
                        Err(error) => tr { td colspan="6" { "The jobs could not be read: " (error.to_string()) } },
                    }
                }
            } }
        }
    }
}

fn actions(job: &Job, caller: &Caller) -> Markup {
    let token = csrf(caller);
    html! {
        @if matches!(job.state, JobState::Retryable | JobState::Discarded | JobState::Cancelled) {
            form.inline method="post" action={ "/jobs/" (job.id) "/retry" } {
                input type="hidden" name="csrf_token" value=(token);
                button type="submit" { "Retry now" }
            }
        }
        @if !job.state.is_finished() {
            form.inline method="post" action={ "/jobs/" (job.id) "/cancel" } {
                input type="hidden" name="csrf_token" value=(token);
                button.danger type="submit" { "Cancel" }
            }
        }
    }
}

async fn render_job(
    dashboard: &Dashboard,
    caller: &Caller,
    id: i64,
    notice: Option<Notice>,
) -> Response {
    let job = match solo_jobs::get(dashboard.jobs.db(), id).await {
        Ok(Some(job)) => job,
        Ok(None) => {
            let body = html! { p { "No job has the id " (id) ". It may have been pruned after its retention." } };
            return (
                StatusCode::NOT_FOUND,
                layout::page("Job not found", caller, Nav::Jobs, notice, body),
            )
                .into_response();
        }
        Err(error) => {
            let body = html! { p { "The job could not be read: " (error.to_string()) } };
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                layout::page("Job", caller, Nav::Jobs, notice, body),
            )
                .into_response();
        }
    };
    let operator = caller.role >= Role::Operator;
    let body = html! {
        section.card {
            dl.facts {
                dt { "State" } dd { (state_pill(job.state)) }
                dt { "Queue" } dd { a href={ "/jobs?queue=" (job.queue) } { (job.queue) } }
                dt { "Kind" } dd { (job.kind) }
                dt { "Attempt" } dd { (job.attempt) " of " (job.max_attempts) }
                dt { "Priority" } dd { (job.priority) }
                dt { "Run at" } dd { (when(job.run_at)) }
                dt { "Created" } dd { (when(job.created_at)) }
                @if let Some(at) = job.finished_at { dt { "Finished" } dd { (when(at)) } }
                @if let Some(key) = &job.unique_key { dt { "Unique key" } dd { code { (key) } } }
                @if !job.tags.is_empty() { dt { "Tags" } dd { (job.tags.join(", ")) } }
            }
            h2 { "Payload" }
            pre { (serde_json::to_string_pretty(&job.payload).unwrap_or_default()) }
            @if let Some(output) = job.output.as_deref().filter(|o| !o.is_empty()) {
                h2 { "Output" }
                pre data-output { (output) }
            }
            @if operator { p { (actions(&job, caller)) } }
        }
        section.card {
            h2 { "Errors" }
            @if job.errors.is_empty() { p.muted { "None." } }
            @for error in job.errors.iter().rev() {
                div.error-entry {
                    p { "Attempt " (error.get("attempt").map(ToString::to_string).unwrap_or_default())
                        ", " (error.get("at").and_then(|v| v.as_str()).unwrap_or("?")) }
                    pre { (error.get("error").and_then(|v| v.as_str()).unwrap_or("")) }
                }
            }
        }
    };
    layout::page(&format!("Job {id}"), caller, Nav::Jobs, notice, body).into_response()
}

/// One job, with every error it met.
#[utoipa::path(get, path = "/jobs/{id}", tag = "dashboard",
    params(("id" = i64, Path, description = "Job id")),
    responses((status = 200, description = "Job page", content_type = "text/html", body = String)))]
pub(crate) async fn show(
    State(dashboard): State<Dashboard>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Response {
    render_job(&dashboard, &caller, id, None).await
}

async fn act(
    dashboard: &Dashboard,
    caller: &Caller,
    meta: &RequestMeta,
    id: i64,
    retry: bool,
) -> Response {
    let who = Operator {
        actor: caller.actor.clone(),
        request_id: meta.request_id.clone(),
        client: meta.client.clone(),
    };
    let db = dashboard.jobs.db();
    let outcome = if retry {
        solo_jobs::retry_job(db, id, &who).await
    } else {
        solo_jobs::cancel_job(db, id, &who).await
    };
    match outcome {
        Ok(_) => {
            dashboard.jobs.wake();
            let notice = if retry {
                "The job will run again now."
            } else {
                "The job is cancelled."
            };
            render_job(dashboard, caller, id, Some(Notice::Ok(notice.into()))).await
        }
        Err(error) => {
            let status = match error {
                JobError::NotFound(_) => StatusCode::NOT_FOUND,
                JobError::Conflict(_) => StatusCode::CONFLICT,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            let mut response = render_job(
                dashboard,
                caller,
                id,
                Some(Notice::Error(error.to_string())),
            )
            .await;
            *response.status_mut() = status;
            response
        }
    }
}

/// Runs a failed, discarded or cancelled job again now (operators).
#[utoipa::path(post, path = "/jobs/{id}/retry", tag = "dashboard",
    params(("id" = i64, Path, description = "Job id")),
    responses((status = 200, description = "Job page, with the outcome", content_type = "text/html", body = String)))]
pub(crate) async fn retry(
    State(dashboard): State<Dashboard>,
    caller: Caller,
    meta: RequestMeta,
    Path(id): Path<i64>,
) -> Response {
    act(&dashboard, &caller, &meta, id, true).await
}

/// Cancels a job that has not finished (operators).
#[utoipa::path(post, path = "/jobs/{id}/cancel", tag = "dashboard",
    params(("id" = i64, Path, description = "Job id")),
    responses((status = 200, description = "Job page, with the outcome", content_type = "text/html", body = String)))]
pub(crate) async fn cancel(
    State(dashboard): State<Dashboard>,
    caller: Caller,
    meta: RequestMeta,
    Path(id): Path<i64>,
) -> Response {
    act(&dashboard, &caller, &meta, id, false).await
}
