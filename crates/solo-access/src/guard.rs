//! The guard: authenticates each request, applies its route's rule, and
//! refuses cross-site state changes. Plugged into the stack through
//! [`solo_http::RequestGuard`].
//!
//! Credentials, in order: `Authorization: Bearer solo_…` (API tokens; CSRF
//! does not apply: a browser never adds that header by itself), then the
//! session cookie. A cookie-authenticated request that changes state must
//! come from this origin (`Sec-Fetch-Site: same-origin`, or a matching
//! `Origin`) AND carry the session's CSRF token, in the `X-CSRF-Token`
//! header or the `csrf_token` form field.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use http::{HeaderMap, Method, StatusCode, header};
use solo_http::{ApiError, ConnectionInfo, RequestGuard};

use crate::rules::{AccessRules, Rule};
use crate::secret::constant_time_eq;
use crate::{Access, Caller};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "solo_session";
/// Header carrying the CSRF token on cookie-authenticated API calls.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Form field carrying the CSRF token on dashboard forms.
pub const CSRF_FIELD: &str = "csrf_token";
/// Largest form body the guard reads to find the token.
const MAX_FORM_BODY: usize = 1024 * 1024;

#[derive(Clone, Debug)]
pub struct Guard {
    access: Access,
    rules: Arc<AccessRules>,
}

impl Guard {
    pub fn new(access: Access, rules: AccessRules) -> Self {
        Guard {
            access,
            rules: Arc::new(rules),
        }
    }
}

/// What the request's credentials amount to.
enum Credentials {
    None,
    Valid(Caller),
    /// Presented but not accepted (unknown, expired, revoked…).
    Rejected(&'static str),
}

impl RequestGuard for Guard {
    async fn check(&self, request: Request, next: Next) -> Response {
        let Some(route) = request
            .extensions()
            .get::<MatchedPath>()
            .map(|m| m.as_str().to_owned())
        else {
            return next.run(request).await;
        };
        let method = request.method().clone();
        let page = wants_page(&route, request.headers());
        let Some(rule) = self.rules.rule_for(&method, &route) else {
            if self.rules.knows_path(&route) {
                // A method the route does not serve (OPTIONS, a typo): the
                // router's own answer, without an error in the log.
                return refuse(
                    page,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                    &format!("{method} is not allowed on {route}"),
                );
            }
            tracing::error!(%method, route, "route has no access rule; refused to everyone");
            return refuse(
                page,
                StatusCode::FORBIDDEN,
                "no_access_rule",
                "this route has no access rule yet, so nobody may use it",
            );
        };

        let credentials = match self.identify(request.headers()).await {
            Ok(credentials) => credentials,
            Err(error) => {
                tracing::error!(%error, "authenticating a request failed");
                return ApiError::internal("could not check credentials").into_response();
            }
        };
        let mut request = request;
        let caller = match (rule, credentials) {
            (Rule::Public, Credentials::Valid(caller)) => Some(caller),
            (Rule::Public, _) => None,
            (_, Credentials::None) => return unauthenticated(page, &route, "sign in first"),
            (_, Credentials::Rejected(why)) => return unauthenticated(page, &route, why),
            (Rule::SignedIn, Credentials::Valid(caller)) => Some(caller),
            (Rule::AtLeast(role), Credentials::Valid(caller)) => {
                if caller.mfa_required_but_missing {
                    return refuse(
                        page,
                        StatusCode::FORBIDDEN,
                        "mfa_required",
                        "admins must set up two-factor sign-in first: open your account page",
                    );
                }
                if caller.role < role {
                    return refuse(
                        page,
                        StatusCode::FORBIDDEN,
                        "forbidden",
                        &format!("this needs the {role} role; you are {}", caller.role),
                    );
                }
                Some(caller)
            }
        };

        // A bearer token is never sent by a browser on its own, so token
        // calls need no origin check (and CORS decides which origins may
        // make them from a page).
        let via_token = bearer(request.headers()).is_some();
        if is_state_changing(&method) && !via_token {
            let via_session = caller.as_ref().and_then(|c| c.session.clone());
            if let Err(why) = check_origin(&request, via_session.is_some()) {
                tracing::warn!(route, why, "cross-site request refused");
                return refuse(page, StatusCode::FORBIDDEN, "csrf", why);
            }
            if let Some(session) = via_session {
                match csrf_token_matches(request, &session.csrf_token, page).await {
                    Ok(rebuilt) => request = rebuilt,
                    Err(response) => return response,
                }
            }
        }
        if let Some(caller) = caller {
            request.extensions_mut().insert(caller);
        }
        next.run(request).await
    }
}

impl Guard {
    async fn identify(&self, headers: &HeaderMap) -> Result<Credentials, crate::AccessError> {
        if let Some(bearer) = bearer(headers) {
            return Ok(match self.access.authenticate_token(bearer).await? {
                Some(caller) => Credentials::Valid(caller),
                None => Credentials::Rejected("the API token is unknown, revoked or expired"),
            });
        }
        if let Some(cookie) = session_cookie(headers) {
            return Ok(match self.access.authenticate_session(&cookie).await? {
                Ok(caller) => Credentials::Valid(caller),
                Err(why) => {
                    tracing::debug!(%why, "session cookie not accepted");
                    Credentials::Rejected("your session has ended: sign in again")
                }
            });
        }
        Ok(Credentials::None)
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The session cookie's value, if the request has one.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
}

fn is_state_changing(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// The origin checks. With a session they are required; without one (a
/// sign-in form, a token call) a browser's headers, when present, must
/// still say same-origin.
fn check_origin(request: &Request, required: bool) -> Result<(), &'static str> {
    let headers = request.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return if site.eq_ignore_ascii_case("same-origin") {
            Ok(())
        } else {
            Err("the request came from another site (Sec-Fetch-Site)")
        };
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some(origin) => {
            if Some(origin) == expected_origin(request).as_deref() {
                Ok(())
            } else {
                Err("the request came from another origin (Origin)")
            }
        }
        None if required => Err("a signed-in change must say where it came from (Origin)"),
        None => Ok(()),
    }
}

/// `scheme://host[:port]` of this request as the browser addressed it.
fn expected_origin(request: &Request) -> Option<String> {
    let tls = request
        .extensions()
        .get::<ConnectionInfo>()
        .is_some_and(|c| c.tls);
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.to_string()))?;
    Some(format!("{}://{host}", if tls { "https" } else { "http" }))
}

/// Checks the CSRF token (header, or form field) and hands the request
/// back whole (a form body read to find the field is put back).
async fn csrf_token_matches(
    request: Request,
    expected: &str,
    page: bool,
) -> Result<Request, Response> {
    let refused = || {
        refuse(
            page,
            StatusCode::FORBIDDEN,
            "csrf",
            "the form or request is missing its CSRF token, or it is stale: reload the page and try again",
        )
    };
    if let Some(token) = request
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        return if constant_time_eq(token, expected) {
            Ok(request)
        } else {
            Err(refused())
        };
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(refused());
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BODY).await else {
        return Err(refuse(
            page,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the form is too large",
        ));
    };
    let token = form_urlencoded::parse(&bytes)
        .find(|(name, _)| name == CSRF_FIELD)
        .map(|(_, value)| value.into_owned());
    match token {
        Some(token) if constant_time_eq(&token, expected) => {
            Ok(Request::from_parts(parts, Body::from(bytes)))
        }
        _ => Err(refused()),
    }
}

/// A browser navigating to a dashboard page gets pages (a redirect to the
/// sign-in form, an HTML refusal); everything else gets the JSON error.
fn wants_page(route: &str, headers: &HeaderMap) -> bool {
    !route.starts_with("/api/")
        && headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"))
}

fn unauthenticated(page: bool, route: &str, why: &str) -> Response {
    if page {
        let next = if route == "/" {
            String::new()
        } else {
            format!("?next={route}")
        };
        return Redirect::to(&format!("/login{next}")).into_response();
    }
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        format!("{why}: sign in, or send `Authorization: Bearer <token>`"),
    )
    .into_response()
}

fn refuse(page: bool, status: StatusCode, code: &'static str, message: &str) -> Response {
    if page {
        let body = format!(
            "<!doctype html><meta charset=utf-8><title>solo</title>\
             <p style=\"font-family:system-ui;margin:3rem auto;max-width:32rem\">{}</p>\
             <p style=\"font-family:system-ui;margin:0 auto;max-width:32rem\"><a href=\"/\">Back to the overview</a></p>",
            html_escape(message)
        );
        return (status, Html(body)).into_response();
    }
    ApiError::new(status, code, message.to_owned()).into_response()
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
