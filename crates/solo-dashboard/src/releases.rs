//! Releases: what serves, the delivery figures, every kept release with a
//! rollback button for operators, and the recent deploys and rollbacks.

use axum::Form;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use maud::{Markup, html};
use serde::Deserialize;
use solo_access::{Caller, RequestMeta, Role};
use solo_deploy::{DeployError, Requester, RunKind, RunState};

use crate::Dashboard;
use crate::layout::{self, Nav, Notice, csrf, when};

fn run_pill(state: RunState) -> Markup {
    let class = match state {
        RunState::Live => "pill ok",
        RunState::Failed | RunState::Interrupted => "pill bad",
        _ => "pill",
    };
    html! { span class=(class) { (state.as_str()) } }
}

fn ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

async fn render(dashboard: &Dashboard, caller: &Caller, notice: Option<Notice>) -> Markup {
    let deploys = &dashboard.deploys;
    let Some(status) = deploys.status() else {
        let body = html! { section.card { p { "No app is configured: add an [app] section to solo.toml to deploy with solo." } } };
        return layout::page("Releases", caller, Nav::Releases, notice, body);
    };
    let releases = deploys.releases().await;
    let runs = deploys.runs(30).await;
    let stats = deploys.stats().await;
    let operator = caller.role >= Role::Operator;
    let serving = status.version.clone();
    let body = html! {
        section.card {
            dl.facts {
                dt { "App" } dd { (status.app) }
                dt { "Serving" } dd data-serving=(serving.clone().unwrap_or_default()) {
                    @match &serving { Some(v) => (v), None => span.muted { "nothing yet: run `solo deploy`" } }
                }
                @if status.crash_loop {
                    dt { "Health" } dd { span.pill.bad { "crash loop" } " solo stopped restarting it: deploy a fix or roll back." }
                }
            }
        }
        section.card {
            h2 { "Delivery, last 30 days" }
            @match &stats {
                Ok(s) => dl.facts {
                    dt { "Deploys" } dd data-stat="deploys" { (s.deploys) " (" (s.live) " live, " (format!("{:.1}", s.per_week)) " a week)" }
                    dt { "Change failure rate" } dd data-stat="change-failure-rate" {
                        @match s.change_failure_rate { Some(r) => (format!("{:.0}%", r * 100.0)), None => "—" }
                        " (" (s.failed_or_rolled_back) " failed or rolled back)"
                    }
                    dt { "Time to restore" } dd { @match s.time_to_restore_ms { Some(t) => (ms(t)), None => "—" } " (" (s.rollbacks) " rollbacks)" }
                    dt { "Lead time" } dd { @match s.lead_time_s { Some(t) => (ms(t as u64 * 1000)), None => "—" } " from commit to live" }
                },
                Err(error) => p { "The figures could not be read: " (error.to_string()) },
            }
        }
        section.card {
            h2 { "Releases" }
            div.table-wrap { table {
                thead { tr { th { "Version" } th { "Commit" } th { "Created" } th { "By" } th { "" } } }
                tbody {
                    @match &releases {
                        Ok(list) if list.is_empty() => tr { td colspan="5" { span.muted { "None yet." } } },
                        Ok(list) => @for r in list {
                            tr data-release=(r.version) {
                                td { (r.version) }
                                td { code { (r.commit.chars().take(7).collect::<String>()) } }
                                td { (when(r.created_at)) }
                                td { (r.created_by) }
                                td {
                                    @if Some(&r.version) == serving.as_ref() { span.pill.ok { "serving" } }
                                    @else if r.pruned { span.muted { "pruned" } }
                                    @else if operator {
                                        form.inline method="post" action="/releases/rollback" {
                                            input type="hidden" name="csrf_token" value=(csrf(caller));
                                            input type="hidden" name="to" value=(r.version);
                                            button type="submit" { "Roll back to " (r.version) }
                                        }
                                    }
                                }
                            }
                        },
                        Err(error) => tr { td colspan="5" { "The releases could not be read: " (error.to_string()) } },
                    }
                }
            } }
        }
        section.card {
            h2 { "Deploys and rollbacks" }
            div.table-wrap { table {
                thead { tr { th { "Run" } th { "Kind" } th { "Version" } th { "State" } th { "Started" } th { "Took" } th { "By" } th { "Why / error" } } }
                tbody {
                    @match &runs {
                        Ok(list) if list.is_empty() => tr { td colspan="8" { span.muted { "None yet." } } },
                        Ok(list) => @for run in list {
                            tr data-run=(run.id) {
                                td { (run.id) }
                                td { (run.kind.as_str()) }
                                td { (run.version) }
                                td { (run_pill(run.state)) }
                                td { (when(run.started_at)) }
                                td { (ms(run.steps.iter().map(|s| s.ms).sum())) }
                                td { (run.actor) }
                                td {
                                    @if let Some(reason) = &run.reason { (reason) }
                                    @if let Some(error) = &run.error { code { (error) } }
                                    @if let Some(tail) = run.log_tail.as_deref().filter(|t| !t.is_empty()) {
                                        details { summary { "last log lines" } pre { (tail) } }
                                    }
                                }
                            }
                        },
                        Err(error) => tr { td colspan="8" { "The runs could not be read: " (error.to_string()) } },
                    }
                }
            } }
        }
    };
    layout::page("Releases", caller, Nav::Releases, notice, body)
}

/// The app's releases, deploys and delivery figures.
#[utoipa::path(get, path = "/releases", tag = "dashboard",
    responses((status = 200, description = "Releases page", content_type = "text/html", body = String)))]
pub(crate) async fn page(State(dashboard): State<Dashboard>, caller: Caller) -> Markup {
    render(&dashboard, &caller, None).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct RollbackForm {
    to: String,
}

/// Brings a kept release back (operators); answers when it serves, or
/// with why it did not.
#[utoipa::path(post, path = "/releases/rollback", tag = "dashboard",
    request_body(content = RollbackForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Releases page, with the outcome", content_type = "text/html", body = String)))]
pub(crate) async fn rollback(
    State(dashboard): State<Dashboard>,
    caller: Caller,
    meta: RequestMeta,
    Form(form): Form<RollbackForm>,
) -> Response {
    let who = Requester {
        actor: caller.actor.clone(),
        request_id: meta.request_id.clone(),
        client: meta.client.clone(),
    };
    let outcome = solo_deploy::rollback(
        &dashboard.deploys,
        Some(&form.to),
        RunKind::Rollback,
        &who,
        Some("from the dashboard".into()),
        None,
    )
    .await;
    let (status, notice) = match outcome {
        Ok(run) if run.state == RunState::Live => (
            StatusCode::OK,
            Notice::Ok(format!("{} serves again.", run.version)),
        ),
        Ok(run) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Notice::Error(format!(
                "{} did not become healthy: {}. The release before it still serves.",
                run.version,
                run.error.unwrap_or_default()
            )),
        ),
        Err(error) => {
            let status = match error {
                DeployError::NotFound(_) => StatusCode::NOT_FOUND,
                DeployError::Conflict(_) | DeployError::NoApp => StatusCode::CONFLICT,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            (status, Notice::Error(error.to_string()))
        }
    };
    let mut response = render(&dashboard, &caller, Some(notice))
        .await
        .into_response();
    *response.status_mut() = status;
    response
}
