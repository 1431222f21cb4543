//! Users, for admins: list, add, change role, disable.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use maud::{Markup, html};
use serde::Deserialize;
use solo_access::{Caller, RequestMeta, Role};

use crate::Dashboard;
use crate::layout::{self, Nav, Notice, csrf, when};

async fn render(dashboard: &Dashboard, caller: &Caller, notice: Option<Notice>) -> Markup {
    let users = dashboard.access.list_users().await;
    let token = csrf(caller);
    let body = html! {
        section.card {
            div.table-wrap { table {
                thead { tr { th { "Name" } th { "Role" } th { "Two-factor" } th { "State" } th { "Since" } th { "" } } }
                tbody {
                    @match &users {
                        Ok(users) => @for user in users {
                            tr {
                                td { (user.name) }
                                td {
                                    form.inline method="post" action={ "/users/" (user.id) } {
                                        input type="hidden" name="csrf_token" value=(token);
                                        input type="hidden" name="action" value="role";
                                        select name="role" aria-label={ "Role of " (user.name) } {
                                            @for role in Role::ALL {
                                                option value=(role) selected[role == user.role] { (role) }
                                            }
                                        }
                                        button.quiet type="submit" { "Set" }
                                    }
                                }
                                td { @if user.mfa { span.pill.ok { "on" } } @else { span.pill { "off" } } }
                                td { @if user.disabled { span.pill.bad { "disabled" } } @else { "active" } }
                                td { (when(user.created_at)) }
                                td {
                                    form.inline method="post" action={ "/users/" (user.id) } {
                                        input type="hidden" name="csrf_token" value=(token);
                                        @if user.disabled {
                                            input type="hidden" name="action" value="enable";
                                            button.quiet type="submit" { "Enable" }
                                        } @else {
                                            input type="hidden" name="action" value="disable";
                                            button.danger type="submit" { "Disable" }
                                        }
                                    }
                                }
                            }
                        },
                        Err(error) => tr { td colspan="6" { "The users could not be read: " (error.to_string()) } },
                    }
                }
            } }
        }
        section.card {
            h2 { "Add a user" }
            form.stack method="post" action="/users" {
                input type="hidden" name="csrf_token" value=(token);
                label { "Name" input name="name" required autocomplete="off"; }
                label { "Role"
                    select name="role" {
                        option value="viewer" { "viewer: reads everything but secret values" }
                        option value="operator" { "operator: also deploys, runs jobs and backups" }
                        option value="admin" { "admin: also users, tokens, secrets, the stack" }
                    }
                }
                label { "Password (12 characters or more)" input name="password" type="password" required autocomplete="new-password" minlength="12"; }
                button type="submit" { "Add user" }
            }
        }
    };
    layout::page("Users", caller, Nav::Users, notice, body)
}

/// Users, for admins.
#[utoipa::path(get, path = "/users", tag = "dashboard",
    responses((status = 200, description = "Users page", content_type = "text/html", body = String)))]
pub(crate) async fn page(State(dashboard): State<Dashboard>, caller: Caller) -> Markup {
    render(&dashboard, &caller, None).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct NewUser {
    name: String,
    role: Role,
    password: String,
}

/// Adds a user.
#[utoipa::path(post, path = "/users", tag = "dashboard",
    responses((status = 200, description = "Users page, with the outcome", content_type = "text/html", body = String)))]
pub(crate) async fn create(
    State(dashboard): State<Dashboard>,
    caller: Caller,
    meta: RequestMeta,
    Form(form): Form<NewUser>,
) -> Response {
    let outcome = dashboard
        .access
        .create_user(&caller.actor, &form.name, form.role, &form.password, &meta)
        .await;
    respond(
        &dashboard,
        &caller,
        outcome.map(|u| format!("Added {} ({}).", u.name, u.role)),
    )
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct Change {
    action: String,
    role: Option<Role>,
}

/// Changes a user's role, or disables / enables them.
#[utoipa::path(post, path = "/users/{id}", tag = "dashboard",
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, description = "Users page, with the outcome", content_type = "text/html", body = String)))]
pub(crate) async fn update(
    State(dashboard): State<Dashboard>,
    caller: Caller,
    meta: RequestMeta,
    Path(id): Path<String>,
    Form(form): Form<Change>,
) -> Response {
    let access = &dashboard.access;
    let outcome = match (form.action.as_str(), form.role) {
        ("role", Some(role)) => access
            .set_role(&caller.actor, &id, role, &meta)
            .await
            .map(|u| format!("{} is now {}.", u.name, u.role)),
        ("disable", _) => access
            .set_disabled(&caller.actor, &id, true, &meta)
            .await
            .map(|u| format!("Disabled {}; their sessions ended.", u.name)),
        ("enable", _) => access
            .set_disabled(&caller.actor, &id, false, &meta)
            .await
            .map(|u| format!("Enabled {}.", u.name)),
        _ => Err(solo_access::AccessError::Invalid {
            field: "action",
            message: "unknown change".into(),
        }),
    };
    respond(&dashboard, &caller, outcome).await
}

async fn respond(
    dashboard: &Dashboard,
    caller: &Caller,
    outcome: Result<String, solo_access::AccessError>,
) -> Response {
    match outcome {
        Ok(message) => render(dashboard, caller, Some(Notice::Ok(message)))
            .await
            .into_response(),
        Err(error) => (
            StatusCode::BAD_REQUEST,
            render(dashboard, caller, Some(Notice::Error(error_text(&error)))).await,
        )
            .into_response(),
    }
}

/// What a person should read: internal failures stay in the log.
pub(crate) fn error_text(error: &solo_access::AccessError) -> String {
    if !error.is_callers() {
        tracing::error!(%error, "dashboard action failed");
        return "That did not work; the server log has the details.".into();
    }
    let text = error.to_string();
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().collect::<String>() + chars.as_str() + ".")
        .unwrap_or_default()
}
