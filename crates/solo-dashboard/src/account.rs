//! The caller's own account: password, two-factor sign-in, sessions.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use http::{StatusCode, header};
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;
use solo_access::cookie::clear_session_cookie;
use solo_access::{Caller, MfaEnrolment, RequestMeta};
use solo_http::ConnectionInfo;

use crate::layout::{self, Nav, Notice, csrf, when};
use crate::users::error_text;
use crate::{Dashboard, qr};

/// What the MFA section shows besides the usual.
enum MfaStep<'a> {
    Idle,
    Enrolling(&'a MfaEnrolment),
    Enrolled(&'a [String]),
}

async fn render(
    dashboard: &Dashboard,
    caller: &Caller,
    notice: Option<Notice>,
    step: MfaStep<'_>,
) -> Markup {
    let token = csrf(caller);
    let me = match caller.user_id.as_deref() {
        Some(id) => dashboard.access.find_user(id).await.ok(),
        None => None,
    };
    let sessions = dashboard
        .access
        .sessions_of(caller)
        .await
        .unwrap_or_default();
    let codes_left = dashboard
        .access
        .recovery_codes_left(caller)
        .await
        .unwrap_or(0);
    let body = html! {
        section.card {
            h2 { "Two-factor sign-in" }
            @match step {
                MfaStep::Enrolling(enrolment) => {
                    p { "Scan this with your authenticator app, or type the key in. Then enter the code it shows." }
                    @if let Some(svg) = qr::svg(&enrolment.uri) {
                        div.qr { (PreEscaped(svg)) }
                    }
                    p { "Key: " span.secret data-totp-secret { (enrolment.secret) } }
                    form.stack method="post" action="/account/mfa/confirm" {
                        input type="hidden" name="csrf_token" value=(token);
                        label { "Code from the app" input name="code" inputmode="numeric" autocomplete="one-time-code" required autofocus; }
                        button type="submit" { "Turn on" }
                    }
                }
                MfaStep::Enrolled(codes) => {
                    p { "Two-factor sign-in is on. Keep these recovery codes somewhere safe: each signs you in once if you lose your phone. They are shown only now." }
                    ul.codes data-recovery-codes { @for code in codes { li { (code) } } }
                }
                MfaStep::Idle => {
                    @if me.as_ref().is_some_and(|u| u.mfa) {
                        p { span.pill.ok { "on" } " " (codes_left) " recovery codes left." }
                        form.stack method="post" action="/account/mfa/disable" {
                            input type="hidden" name="csrf_token" value=(token);
                            label { "Current password" input name="current_password" type="password" required autocomplete="current-password"; }
                            button.danger type="submit" { "Turn off" }
                        }
                    } @else {
                        p { "Sign-ins ask only for your password. Add a code from an authenticator app." }
                        form.inline method="post" action="/account/mfa" {
                            input type="hidden" name="csrf_token" value=(token);
                            button type="submit" { "Set up two-factor sign-in" }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { "Password" }
            form.stack method="post" action="/account/password" {
                input type="hidden" name="csrf_token" value=(token);
                label { "Current password" input name="current_password" type="password" required autocomplete="current-password"; }
                label { "New password (12 characters or more)" input name="new_password" type="password" required minlength="12" autocomplete="new-password"; }
                button type="submit" { "Change password" }
            }
        }
        section.card {
            h2 { "Sessions" }
            div.table-wrap { table {
                thead { tr { th { "Signed in" } th { "Last seen" } th { "From" } th { "Browser" } th { "" } } }
                tbody {
                    @for session in &sessions {
                        tr {
                            td { (when(session.created_at)) }
                            td { (when(session.last_seen_at)) }
                            td.mono { (session.client.as_deref().unwrap_or("-")) }
                            td { (session.user_agent.as_deref().unwrap_or("-")) }
                            td {
                                @if session.current { span.pill { "this one" } }
                                @else {
                                    form.inline method="post" action={ "/account/sessions/" (session.id) "/revoke" } {
                                        input type="hidden" name="csrf_token" value=(token);
                                        button.quiet type="submit" { "Sign out" }
                                    }
                                }
                            }
                        }
                    }
                }
            } }
            form.inline method="post" action="/account/logout-everywhere" {
                input type="hidden" name="csrf_token" value=(token);
                button.danger type="submit" { "Sign out everywhere" }
            }
        }
    };
    layout::page("Account", caller, Nav::Account, notice, body)
}

fn outcome_page(markup: Markup, ok: bool) -> Response {
    if ok {
        markup.into_response()
    } else {
        (StatusCode::BAD_REQUEST, markup).into_response()
    }
}

/// The account page.
#[utoipa::path(get, path = "/account", tag = "dashboard",
    responses((status = 200, description = "Account page", content_type = "text/html", body = String)))]
pub(crate) async fn page(State(dashboard): State<Dashboard>, caller: Caller) -> Markup {
    render(&dashboard, &caller, None, MfaStep::Idle).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// Changes the password; other sessions end.
#[utoipa::path(post, path = "/account/password", tag = "dashboard",
    responses((status = 200, description = "Account page, with the outcome", content_type = "text/html", body = String)))]
pub(crate) async fn change_password(
    State(dashboard): State<Dashboard>,
    caller: Caller,
    meta: RequestMeta,
    Form(form): Form<PasswordChange>,
) -> Response {
    let Some(user_id) = caller.user_id.clone() else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let keep = caller.session.as_ref().map(|s| s.id.clone());
    let result = dashboard
        .access
        .change_password(
            &caller.actor,
            &user_id,
            &form.current_password,
            &form.new_password,
            keep.as_deref(),
            &meta,
        )
        .await;
    let (notice, ok) = match result {
        Ok(()) => (
            Notice::Ok("Password changed. Your other sessions were signed out.".into()),
            true,
        ),
        Err(error) => (Notice::Error(error_text(&error)), false),
    };
    outcome_page(
        render(&dashboard, &caller, Some(notice), MfaStep::Idle).await,
        ok,
    )
}

/// Starts two-factor enrolment: the QR code and key.
#[utoipa::path(post, path = "/account/mfa", tag = "dashboard",
    responses((status = 200, description = "Enrolment step", content_type = "text/html", body = String)))]
pub(crate) async fn start_mfa(
    State(dashboard): State<Dashboard>,
    caller: Caller,
    meta: RequestMeta,
) -> Response {
    match dashboard.access.start_mfa(&caller, &meta).await {
        Ok(enrolment) => render(&dashboard, &caller, None, MfaStep::Enrolling(&enrolment))
            .await
            .into_response(),
        Err(error) => outcome_page(
            render(
                &dashboard,
                &caller,
                Some(Notice::Error(error_text(&error))),
                MfaStep::Idle,
            )
            .await,
            false,
        ),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct CodeForm {
    code: String,
}

/// Confirms enrolment with a code; shows the recovery codes once.
#[utoipa::path(post, path = "/account/mfa/confirm", tag = "dashboard",
    responses((status = 200, description = "Recovery codes", content_type = "text/html", body = String)))]
pub(crate) async fn confirm_mfa(
    State(dashboard): State<Dashboard>,
    caller: Caller,
    meta: RequestMeta,
    Form(form): Form<CodeForm>,
) -> Response {
    match dashboard
        .access
        .confirm_mfa(&caller, &form.code, &meta)
        .await
    {
        Ok(codes) => render(
            &dashboard,
            &caller,
            Some(Notice::Ok("Two-factor sign-in is on.".into())),
            MfaStep::Enrolled(&codes),
        )
        .await
        .into_response(),
        Err(error) => outcome_page(
            render(
                &dashboard,
                &caller,
                Some(Notice::Error(error_text(&error))),
                MfaStep::Idle,
            )
            .await,
            false,
        ),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct PasswordForm {
    current_password: String,
}

/// Turns two-factor sign-in off (needs the password).
#[utoipa::path(post, path = "/account/mfa/disable", tag = "dashboard",
    responses((status = 200, description = "Account page, with the outcome", content_type = "text/html", body = String)))]
pub(crate) async fn disable_mfa(
    State(dashboard): State<Dashboard>,
    caller: Caller,
    meta: RequestMeta,
    Form(form): Form<PasswordForm>,
) -> Response {
    let (notice, ok) = match dashboard
        .access
        .disable_mfa(&caller, &form.current_password, &meta)
        .await
    {
        Ok(()) => (Notice::Ok("Two-factor sign-in is off.".into()), true),
        Err(error) => (Notice::Error(error_text(&error)), false),
    };
    outcome_page(
        render(&dashboard, &caller, Some(notice), MfaStep::Idle).await,
        ok,
    )
}

/// Signs out one of the caller's other sessions.
#[utoipa::path(post, path = "/account/sessions/{id}/revoke", tag = "dashboard",
    params(("id" = String, Path, description = "Session id")),
    responses((status = 200, description = "Account page, with the outcome", content_type = "text/html", body = String)))]
pub(crate) async fn revoke_session(
    State(dashboard): State<Dashboard>,
    caller: Caller,
    meta: RequestMeta,
    Path(id): Path<String>,
) -> Response {
    let (notice, ok) = match dashboard
        .access
        .revoke_own_session(&caller, &id, &meta)
        .await
    {
        Ok(()) => (Notice::Ok("That session is signed out.".into()), true),
        Err(error) => (Notice::Error(error_text(&error)), false),
    };
    outcome_page(
        render(&dashboard, &caller, Some(notice), MfaStep::Idle).await,
        ok,
    )
}

/// Signs out every session, this one included.
#[utoipa::path(post, path = "/account/logout-everywhere", tag = "dashboard",
    responses((status = 303, description = "Signed out everywhere")))]
pub(crate) async fn logout_everywhere(
    State(dashboard): State<Dashboard>,
    caller: Caller,
    meta: RequestMeta,
    connection: Option<Extension<ConnectionInfo>>,
) -> Response {
    if let Err(error) = dashboard.access.logout_everywhere(&caller, &meta).await {
        tracing::error!(%error, "signing out everywhere failed");
    }
    let secure = connection.is_some_and(|c| c.tls);
    (
        [(header::SET_COOKIE, clear_session_cookie(secure))],
        Redirect::to("/login"),
    )
        .into_response()
}
