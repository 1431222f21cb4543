//! Signing in (password, then a code when enrolled) and out.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use http::{HeaderMap, StatusCode, header};
use maud::{Markup, html};
use serde::Deserialize;
use solo_access::cookie::{clear_session_cookie, set_session_cookie};
use solo_access::guard::session_cookie;
use solo_access::{Caller, LoginError, LoginStage, NewSession, RequestMeta};
use solo_http::ConnectionInfo;

use crate::Dashboard;
use crate::layout::{Notice, bare};

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Next {
    next: Option<String>,
}

/// Only paths on this site: never an open redirect.
fn safe_next(next: Option<&str>) -> &str {
    // A bare path on this site. Browsers drop tabs and newlines from URLs
    // (`/\t/evil` becomes `//evil`), so no whitespace or control characters.
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(|c| c.is_control() || c.is_whitespace()) =>
        {
            path
        }
        _ => "/",
    }
}

fn tls(connection: Option<&Extension<ConnectionInfo>>) -> bool {
    connection.is_some_and(|c| c.tls)
}

fn setup_page() -> Markup {
    bare(
        "Create the first admin",
        None,
        html! {
            div.card {
                p { "Nobody can sign in yet. On the server, in the directory of solo.toml, run:" }
                pre.secret { "solo users add YOUR-NAME --role admin" }
                p.muted { "It asks for a password (12 characters or more). Then reload this page." }
            }
        },
    )
}

fn login_page(next: &str, notice: Option<Notice>) -> Markup {
    bare(
        "Sign in",
        notice,
        html! {
            form.stack.card method="post" action="/login" {
                input type="hidden" name="next" value=(next);
                label { "Name" input name="name" autocomplete="username" required autofocus; }
                label { "Password" input name="password" type="password" autocomplete="current-password" required; }
                button type="submit" { "Sign in" }
            }
        },
    )
}

/// The sign-in form (or, before any admin exists, how to create one).
#[utoipa::path(get, path = "/login", tag = "dashboard",
    responses((status = 200, description = "Sign-in page", content_type = "text/html", body = String)))]
pub(crate) async fn form(
    State(dashboard): State<Dashboard>,
    caller: Option<Caller>,
    Query(query): Query<Next>,
) -> Response {
    match dashboard.access.admin_exists().await {
        Ok(false) => return setup_page().into_response(),
        Ok(true) => {}
        Err(error) => {
            tracing::error!(%error, "checking for an admin failed");
        }
    }
    let next = safe_next(query.next.as_deref());
    if caller.is_some() {
        return Redirect::to(next).into_response();
    }
    login_page(next, None).into_response()
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct Credentials {
    name: String,
    password: String,
    next: Option<String>,
}

fn signed_in(dashboard: &Dashboard, session: NewSession, secure: bool, next: &str) -> Response {
    let max_age = ((session.expires_at - dashboard.access.now()).num_milliseconds() + 500) / 1000;
    let cookie = set_session_cookie(&session.token, max_age, secure);
    let to = match session.stage {
        LoginStage::Active => next.to_owned(),
        LoginStage::MfaPending => {
            let query: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("next", next)
                .finish();
            format!("/login/mfa?{query}")
        }
    };
    ([(header::SET_COOKIE, cookie)], Redirect::to(&to)).into_response()
}

fn failed(error: LoginError, page: impl Fn(Notice) -> Markup) -> Response {
    match error {
        LoginError::Invalid => (
            StatusCode::UNAUTHORIZED,
            page(Notice::Error("Wrong name, password or code.".into())),
        )
            .into_response(),
        LoginError::Locked { retry_after_s } => (
            StatusCode::TOO_MANY_REQUESTS,
            page(Notice::Error(format!(
                "Too many failed sign-ins. Try again in {retry_after_s} seconds."
            ))),
        )
            .into_response(),
        LoginError::Internal(error) => {
            tracing::error!(%error, "sign-in failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                page(Notice::Error(
                    "Signing in failed; the server log has the details.".into(),
                )),
            )
                .into_response()
        }
    }
}

/// Checks the password; on to the code step when the user has TOTP.
#[utoipa::path(post, path = "/login", tag = "dashboard",
    responses((status = 303, description = "Signed in, or on to the code step")))]
pub(crate) async fn submit(
    State(dashboard): State<Dashboard>,
    meta: RequestMeta,
    connection: Option<Extension<ConnectionInfo>>,
    Form(form): Form<Credentials>,
) -> Response {
    let next = safe_next(form.next.as_deref()).to_owned();
    match dashboard
        .access
        .login(&form.name, &form.password, &meta)
        .await
    {
        Ok(session) => signed_in(&dashboard, session, tls(connection.as_ref()), &next),
        Err(error) => failed(error, |notice| login_page(&next, Some(notice))),
    }
}

fn mfa_page(next: &str, notice: Option<Notice>) -> Markup {
    bare(
        "Enter your code",
        notice,
        html! {
            form.stack.card method="post" action="/login/mfa" {
                input type="hidden" name="next" value=(next);
                label { "Code from your authenticator app, or a recovery code"
                    input name="code" autocomplete="one-time-code" inputmode="text" required autofocus;
                }
                button type="submit" { "Continue" }
            }
            p.muted { a href="/login" { "Start over" } }
        },
    )
}

/// The second step: a TOTP or recovery code.
#[utoipa::path(get, path = "/login/mfa", tag = "dashboard",
    responses((status = 200, description = "Code page", content_type = "text/html", body = String)))]
pub(crate) async fn mfa_form(Query(query): Query<Next>) -> Markup {
    mfa_page(safe_next(query.next.as_deref()), None)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct Code {
    code: String,
    next: Option<String>,
}

/// Checks the code and signs in.
#[utoipa::path(post, path = "/login/mfa", tag = "dashboard",
    responses((status = 303, description = "Signed in")))]
pub(crate) async fn mfa_submit(
    State(dashboard): State<Dashboard>,
    meta: RequestMeta,
    headers: HeaderMap,
    connection: Option<Extension<ConnectionInfo>>,
    Form(form): Form<Code>,
) -> Response {
    let next = safe_next(form.next.as_deref()).to_owned();
    let Some(pending) = session_cookie(&headers) else {
        return Redirect::to("/login").into_response();
    };
    match dashboard
        .access
        .login_mfa(&pending, &form.code, &meta)
        .await
    {
        Ok(session) => signed_in(&dashboard, session, tls(connection.as_ref()), &next),
        Err(error) => failed(error, |notice| mfa_page(&next, Some(notice))),
    }
}

/// Signs out.
#[utoipa::path(post, path = "/logout", tag = "dashboard",
    responses((status = 303, description = "Signed out")))]
pub(crate) async fn logout(
    State(dashboard): State<Dashboard>,
    caller: Caller,
    meta: RequestMeta,
    connection: Option<Extension<ConnectionInfo>>,
) -> Response {
    if let Err(error) = dashboard.access.logout(&caller, &meta).await {
        tracing::error!(%error, "sign-out failed");
    }
    (
        [(
            header::SET_COOKIE,
            clear_session_cookie(tls(connection.as_ref())),
        )],
        Redirect::to("/login"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_never_leaves_the_site() {
        assert_eq!(safe_next(Some("/audit")), "/audit");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "audit",
            "/\t/evil.example",
            "/\n/evil.example",
            "/ /evil.example",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
