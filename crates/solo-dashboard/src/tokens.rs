//! API tokens, for admins: list, create (shown once), revoke.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use maud::{Markup, html};
use serde::Deserialize;
use solo_access::{Caller, NewToken, RequestMeta, Role};

use crate::Dashboard;
use crate::layout::{self, Nav, Notice, csrf, when};
use crate::users::error_text;

async fn render(
    dashboard: &Dashboard,
    caller: &Caller,
    notice: Option<Notice>,
    created: Option<&NewToken>,
) -> Markup {
    let tokens = dashboard.access.list_tokens().await;
    let token = csrf(caller);
    let body = html! {
        @if let Some(created) = created {
            section.card {
                h2 { "Your new token" }
                p { "Copy it now: this is the only time it is shown." }
                p.secret data-token { (created.token) }
            }
        }
        section.card {
            div.table-wrap { table {
                thead { tr { th { "Name" } th { "Role" } th { "Last used" } th { "State" } th { "Created" } th { "" } } }
                tbody {
                    @match &tokens {
                        Ok(tokens) => @for t in tokens {
                            tr {
                                td { (t.name) }
                                td { (t.role) }
                                td { @if let Some(at) = t.last_used_at { (when(at)) } @else { span.muted { "never" } } }
                                td {
                                    @if t.revoked { span.pill.bad { "revoked" } }
                                    @else if let Some(at) = t.expires_at { "expires " (when(at)) }
                                    @else { "active" }
                                }
                                td { (when(t.created_at)) " by " (t.created_by) }
                                td {
                                    @if !t.revoked {
                                        form.inline method="post" action={ "/tokens/" (t.id) "/revoke" } {
                                            input type="hidden" name="csrf_token" value=(token);
                                            button.danger type="submit" { "Revoke" }
                                        }
                                    }
                                }
                            }
                        },
                        Err(error) => tr { td colspan="6" { "The tokens could not be read: " (error.to_string()) } },
                    }
                }
            } }
        }
        section.card {
            h2 { "Create a token" }
            form.stack method="post" action="/tokens" {
                input type="hidden" name="csrf_token" value=(token);
                label { "Name" input name="name" required placeholder="ci"; }
                label { "Role"
                    select name="role" { @for role in Role::ALL { option value=(role) { (role) } } }
                }
                label { "Expires after (days; empty for never)" input name="expires_in_days" type="number" min="1" value="90"; }
                button type="submit" { "Create token" }
            }
        }
    };
    layout::page("API tokens", caller, Nav::Tokens, notice, body)
}

/// API tokens, for admins.
#[utoipa::path(get, path = "/tokens", tag = "dashboard",
    responses((status = 200, description = "Tokens page", content_type = "text/html", body = String)))]
pub(crate) async fn page(State(dashboard): State<Dashboard>, caller: Caller) -> Markup {
    render(&dashboard, &caller, None, None).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct NewTokenForm {
    name: String,
    role: Role,
    expires_in_days: Option<String>,
}

/// Creates a token and shows it once.
#[utoipa::path(post, path = "/tokens", tag = "dashboard",
    responses((status = 200, description = "Tokens page with the new token", content_type = "text/html", body = String)))]
pub(crate) async fn create(
    State(dashboard): State<Dashboard>,
    caller: Caller,
    meta: RequestMeta,
    Form(form): Form<NewTokenForm>,
) -> Response {
    let days = match form.expires_in_days.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => match text.parse::<u64>() {
            Ok(days) if days > 0 => Some(std::time::Duration::from_secs(days * 86_400)),
            _ => {
                let notice =
                    Notice::Error("Expiry: give a whole number of days, or leave it empty.".into());
                return (
                    StatusCode::BAD_REQUEST,
                    render(&dashboard, &caller, Some(notice), None).await,
                )
                    .into_response();
            }
        },
    };
    match dashboard
        .access
        .create_token(&caller.actor, &form.name, form.role, days, &meta)
        .await
    {
        Ok(created) => render(&dashboard, &caller, None, Some(&created))
            .await
            .into_response(),
        Err(error) => (
            StatusCode::BAD_REQUEST,
            render(
                &dashboard,
                &caller,
                Some(Notice::Error(error_text(&error))),
                None,
            )
            .await,
        )
            .into_response(),
    }
}

/// Revokes a token.
#[utoipa::path(post, path = "/tokens/{id}/revoke", tag = "dashboard",
    params(("id" = String, Path, description = "Token id")),
    responses((status = 200, description = "Tokens page, with the outcome", content_type = "text/html", body = String)))]
pub(crate) async fn revoke(
    State(dashboard): State<Dashboard>,
    caller: Caller,
    meta: RequestMeta,
    Path(id): Path<String>,
) -> Response {
    match dashboard
        .access
        .revoke_token(&caller.actor, &id, &meta)
        .await
    {
        Ok(()) => render(
            &dashboard,
            &caller,
            Some(Notice::Ok("Token revoked.".into())),
            None,
        )
        .await
        .into_response(),
        Err(error) => (
            StatusCode::BAD_REQUEST,
            render(
                &dashboard,
                &caller,
                Some(Notice::Error(error_text(&error))),
                None,
            )
            .await,
        )
            .into_response(),
    }
}
