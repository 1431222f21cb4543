//! The access API under `/api/v1`: sign-in, the caller's own account, and
//! (for admins) users and tokens. Each route's rule is in the binary's
//! access table.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};
use solo_http::{ApiError, ApiRoutes, ConnectionInfo};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::cookie::{clear_session_cookie, set_session_cookie};
use crate::guard::session_cookie;
use crate::{
    Access, AccessError, Caller, LoginError, LoginStage, MfaEnrolment, NewSession, NewToken,
    RequestMeta, Role, SessionInfo, TokenInfo, UserInfo,
};

/// The access routes, to nest under `/api/v1`.
pub fn routes(access: Access) -> ApiRoutes {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(login_mfa))
        .routes(routes!(logout))
        .routes(routes!(logout_everywhere))
        .routes(routes!(me))
        .routes(routes!(change_password))
        .routes(routes!(my_sessions))
        .routes(routes!(revoke_my_session))
        .routes(routes!(start_mfa))
        .routes(routes!(confirm_mfa))
        .routes(routes!(disable_mfa))
        .routes(routes!(list_users, create_user))
        .routes(routes!(update_user))
        .routes(routes!(reset_password))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
        .with_state(access)
}

/// Maps access errors to API errors; internal ones are logged, not shown.
pub fn api_error(error: AccessError) -> ApiError {
    match error {
        AccessError::NotFound { what } => ApiError::not_found(format!("{what} not found")),
        AccessError::Conflict(message) => ApiError::new(StatusCode::CONFLICT, "conflict", message),
        AccessError::Invalid { field, message } => ApiError::invalid_field(field, message),
        AccessError::Password(why) => ApiError::invalid_field("password", why.to_string()),
        AccessError::WrongPassword => {
            ApiError::invalid_field("current_password", "the current password is wrong")
        }
        AccessError::WrongCode => {
            ApiError::invalid_field("code", "the code is wrong or was already used")
        }
        other => {
            tracing::error!(error = %other, "access operation failed");
            ApiError::internal("the operation failed; the server log has the details")
        }
    }
}

fn login_error(error: LoginError) -> Response {
    match error {
        LoginError::Invalid => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "wrong name, password or code",
        )
        .into_response(),
        LoginError::Locked { retry_after_s } => {
            let mut response = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "locked_out",
                format!("too many failed sign-ins: try again in {retry_after_s} s"),
            )
            .into_response();
            if let Ok(value) = HeaderValue::from_str(&retry_after_s.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        LoginError::Internal(error) => api_error(error).into_response(),
    }
}

fn is_tls(connection: Option<&ConnectionInfo>) -> bool {
    connection.is_some_and(|c| c.tls)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub name: String,
    pub password: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LoginResponse {
    /// `active`: signed in. `mfa`: send a code to `/auth/mfa` next.
    pub stage: String,
    /// Send it as `X-CSRF-Token` with every change made with this session.
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

fn session_response(access: &Access, session: NewSession, tls: bool) -> Response {
    // To the nearest second: the cookie lives exactly as long as the session.
    let max_age = ((session.expires_at - access.now()).num_milliseconds() + 500) / 1000;
    let cookie = set_session_cookie(&session.token, max_age, tls);
    let body = LoginResponse {
        stage: match session.stage {
            LoginStage::Active => "active".into(),
            LoginStage::MfaPending => "mfa".into(),
        },
        csrf_token: session.csrf_token,
        expires_at: session.expires_at,
    };
    ([(header::SET_COOKIE, cookie)], Json(body)).into_response()
}

/// Signs in with a name and password; sets the session cookie.
#[utoipa::path(post, path = "/auth/login", tag = "access", request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in, or a code is needed next", body = LoginResponse),
        (status = 401, description = "Wrong name or password", body = solo_http::ErrorBody),
        (status = 429, description = "Locked out for a while", body = solo_http::ErrorBody),
    ))]
async fn login(
    State(access): State<Access>,
    meta: RequestMeta,
    connection: Option<axum::Extension<ConnectionInfo>>,
    Json(request): Json<LoginRequest>,
) -> Response {
    match access.login(&request.name, &request.password, &meta).await {
        Ok(session) => session_response(&access, session, is_tls(connection.as_deref())),
        Err(error) => login_error(error),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CodeRequest {
    /// A 6-digit TOTP code, or a recovery code.
    pub code: String,
}

/// Finishes a sign-in with a TOTP or recovery code.
#[utoipa::path(post, path = "/auth/mfa", tag = "access", request_body = CodeRequest,
    responses(
        (status = 200, description = "Signed in", body = LoginResponse),
        (status = 401, description = "Wrong code, or no sign-in pending", body = solo_http::ErrorBody),
    ))]
async fn login_mfa(
    State(access): State<Access>,
    meta: RequestMeta,
    headers: HeaderMap,
    connection: Option<axum::Extension<ConnectionInfo>>,
    Json(request): Json<CodeRequest>,
) -> Response {
    let Some(pending) = session_cookie(&headers) else {
        return login_error(LoginError::Invalid);
    };
    match access.login_mfa(&pending, &request.code, &meta).await {
        Ok(session) => session_response(&access, session, is_tls(connection.as_deref())),
        Err(error) => login_error(error),
    }
}

/// Signs out this session.
#[utoipa::path(post, path = "/auth/logout", tag = "access",
    responses((status = 204, description = "Signed out")))]
async fn logout(
    State(access): State<Access>,
    caller: Caller,
    meta: RequestMeta,
    connection: Option<axum::Extension<ConnectionInfo>>,
) -> Result<Response, ApiError> {
    access.logout(&caller, &meta).await.map_err(api_error)?;
    Ok((
        StatusCode::NO_CONTENT,
        [(
            header::SET_COOKIE,
            clear_session_cookie(is_tls(connection.as_deref())),
        )],
    )
        .into_response())
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Ended {
    pub sessions_ended: u64,
}

/// Signs out every session of the caller, this one included.
#[utoipa::path(post, path = "/auth/logout-everywhere", tag = "access",
    responses((status = 200, description = "Signed out everywhere", body = Ended)))]
async fn logout_everywhere(
    State(access): State<Access>,
    caller: Caller,
    meta: RequestMeta,
    connection: Option<axum::Extension<ConnectionInfo>>,
) -> Result<Response, ApiError> {
    let ended = access
        .logout_everywhere(&caller, &meta)
        .await
        .map_err(api_error)?;
    Ok((
        [(
            header::SET_COOKIE,
            clear_session_cookie(is_tls(connection.as_deref())),
        )],
        Json(Ended {
            sessions_ended: ended,
        }),
    )
        .into_response())
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Me {
    /// `user` or `token`.
    pub kind: String,
    pub name: String,
    pub role: Role,
    /// For users: TOTP is enrolled.
    pub mfa: Option<bool>,
    /// Admins must enrol TOTP before anything else.
    pub mfa_required: bool,
}

/// Who the caller is.
#[utoipa::path(get, path = "/me", tag = "access",
    responses((status = 200, description = "The caller", body = Me)))]
async fn me(State(access): State<Access>, caller: Caller) -> Result<Json<Me>, ApiError> {
    let (kind, name, mfa) = match &caller.actor {
        crate::Actor::User { name, .. } => {
            let user = access.find_user(name).await.map_err(api_error)?;
            ("user", name.clone(), Some(user.mfa))
        }
        crate::Actor::Token { name, .. } => ("token", name.clone(), None),
        crate::Actor::System { name } => ("system", name.clone(), None),
    };
    Ok(Json(Me {
        kind: kind.into(),
        name,
        role: caller.role,
        mfa,
        mfa_required: caller.mfa_required_but_missing,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ChangePassword {
    pub current_password: String,
    pub new_password: String,
}

/// Changes the caller's password; their other sessions end.
#[utoipa::path(put, path = "/me/password", tag = "access", request_body = ChangePassword,
    responses((status = 204, description = "Changed"), (status = 400, description = "Refused", body = solo_http::ErrorBody)))]
async fn change_password(
    State(access): State<Access>,
    caller: Caller,
    meta: RequestMeta,
    Json(request): Json<ChangePassword>,
) -> Result<StatusCode, ApiError> {
    let user_id = caller
        .user_id
        .clone()
        .ok_or_else(|| ApiError::invalid_field("caller", "API tokens have no password"))?;
    let keep = caller.session.as_ref().map(|s| s.id.as_str());
    access
        .change_password(
            &caller.actor,
            &user_id,
            &request.current_password,
            &request.new_password,
            keep,
            &meta,
        )
        .await
        .map_err(|e| match e {
            AccessError::Password(why) => ApiError::invalid_field("new_password", why.to_string()),
            other => api_error(other),
        })?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's live sessions.
#[utoipa::path(get, path = "/me/sessions", tag = "access",
    responses((status = 200, description = "Sessions", body = [SessionInfo])))]
async fn my_sessions(
    State(access): State<Access>,
    caller: Caller,
) -> Result<Json<Vec<SessionInfo>>, ApiError> {
    Ok(Json(access.sessions_of(&caller).await.map_err(api_error)?))
}

/// Ends one of the caller's sessions.
#[utoipa::path(delete, path = "/me/sessions/{id}", tag = "access",
    params(("id" = String, Path, description = "Session id")),
    responses((status = 204, description = "Ended"), (status = 404, description = "No such session", body = solo_http::ErrorBody)))]
async fn revoke_my_session(
    State(access): State<Access>,
    caller: Caller,
    meta: RequestMeta,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    access
        .revoke_own_session(&caller, &id, &meta)
        .await
        .map_err(api_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Starts TOTP enrolment: a new secret and its `otpauth://` URI.
#[utoipa::path(post, path = "/me/mfa", tag = "access",
    responses((status = 200, description = "Pending enrolment", body = MfaEnrolment)))]
async fn start_mfa(
    State(access): State<Access>,
    caller: Caller,
    meta: RequestMeta,
) -> Result<Json<MfaEnrolment>, ApiError> {
    Ok(Json(
        access.start_mfa(&caller, &meta).await.map_err(api_error)?,
    ))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RecoveryCodes {
    /// Each works once. Shown only now.
    pub recovery_codes: Vec<String>,
}

/// Confirms enrolment with a code from the app; returns recovery codes.
#[utoipa::path(post, path = "/me/mfa/confirm", tag = "access", request_body = CodeRequest,
    responses((status = 200, description = "Enrolled", body = RecoveryCodes), (status = 400, description = "Wrong code", body = solo_http::ErrorBody)))]
async fn confirm_mfa(
    State(access): State<Access>,
    caller: Caller,
    meta: RequestMeta,
    Json(request): Json<CodeRequest>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    let recovery_codes = access
        .confirm_mfa(&caller, &request.code, &meta)
        .await
        .map_err(api_error)?;
    Ok(Json(RecoveryCodes { recovery_codes }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordProof {
    pub current_password: String,
}

/// Turns TOTP off, proving the password.
#[utoipa::path(post, path = "/me/mfa/disable", tag = "access", request_body = PasswordProof,
    responses((status = 204, description = "Disabled"), (status = 400, description = "Wrong password", body = solo_http::ErrorBody)))]
async fn disable_mfa(
    State(access): State<Access>,
    caller: Caller,
    meta: RequestMeta,
    Json(request): Json<PasswordProof>,
) -> Result<StatusCode, ApiError> {
    access
        .disable_mfa(&caller, &request.current_password, &meta)
        .await
        .map_err(api_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every user.
#[utoipa::path(get, path = "/users", tag = "access",
    responses((status = 200, description = "Users", body = [UserInfo])))]
async fn list_users(State(access): State<Access>) -> Result<Json<Vec<UserInfo>>, ApiError> {
    Ok(Json(access.list_users().await.map_err(api_error)?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateUser {
    pub name: String,
    pub role: Role,
    pub password: String,
}

/// Creates a user.
#[utoipa::path(post, path = "/users", tag = "access", request_body = CreateUser,
    responses((status = 201, description = "Created", body = UserInfo), (status = 409, description = "Name taken", body = solo_http::ErrorBody)))]
async fn create_user(
    State(access): State<Access>,
    caller: Caller,
    meta: RequestMeta,
    Json(request): Json<CreateUser>,
) -> Result<(StatusCode, Json<UserInfo>), ApiError> {
    let user = access
        .create_user(
            &caller.actor,
            &request.name,
            request.role,
            &request.password,
            &meta,
        )
        .await
        .map_err(api_error)?;
    Ok((StatusCode::CREATED, Json(user)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateUser {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

/// Changes a user's role, or disables / re-enables them.
#[utoipa::path(patch, path = "/users/{id}", tag = "access", request_body = UpdateUser,
    params(("id" = String, Path, description = "User id or name")),
    responses((status = 200, description = "Updated", body = UserInfo), (status = 409, description = "Would leave no admin", body = solo_http::ErrorBody)))]
async fn update_user(
    State(access): State<Access>,
    caller: Caller,
    meta: RequestMeta,
    Path(id): Path<String>,
    Json(request): Json<UpdateUser>,
) -> Result<Json<UserInfo>, ApiError> {
    let mut user = access.find_user(&id).await.map_err(api_error)?;
    if let Some(role) = request.role {
        user = access
            .set_role(&caller.actor, &user.id, role, &meta)
            .await
            .map_err(api_error)?;
    }
    if let Some(disabled) = request.disabled {
        user = access
            .set_disabled(&caller.actor, &user.id, disabled, &meta)
            .await
            .map_err(api_error)?;
    }
    Ok(Json(user))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewPassword {
    pub password: String,
}

/// Sets a new password for a user; their sessions end.
#[utoipa::path(put, path = "/users/{id}/password", tag = "access", request_body = NewPassword,
    params(("id" = String, Path, description = "User id or name")),
    responses((status = 204, description = "Set"), (status = 400, description = "Refused", body = solo_http::ErrorBody)))]
async fn reset_password(
    State(access): State<Access>,
    caller: Caller,
    meta: RequestMeta,
    Path(id): Path<String>,
    Json(request): Json<NewPassword>,
) -> Result<StatusCode, ApiError> {
    access
        .reset_password(&caller.actor, &id, &request.password, &meta)
        .await
        .map_err(api_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every API token (never their values).
#[utoipa::path(get, path = "/tokens", tag = "access",
    responses((status = 200, description = "Tokens", body = [TokenInfo])))]
async fn list_tokens(State(access): State<Access>) -> Result<Json<Vec<TokenInfo>>, ApiError> {
    Ok(Json(access.list_tokens().await.map_err(api_error)?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateToken {
    pub name: String,
    pub role: Role,
    /// Lifetime in days; none for a token that does not expire.
    pub expires_in_days: Option<u32>,
}

/// Creates an API token. The response is the only time its value is shown.
#[utoipa::path(post, path = "/tokens", tag = "access", request_body = CreateToken,
    responses((status = 201, description = "Created", body = NewToken)))]
async fn create_token(
    State(access): State<Access>,
    caller: Caller,
    meta: RequestMeta,
    Json(request): Json<CreateToken>,
) -> Result<(StatusCode, Json<NewToken>), ApiError> {
    let expires = request
        .expires_in_days
        .map(|days| std::time::Duration::from_secs(u64::from(days) * 86_400));
    let token = access
        .create_token(&caller.actor, &request.name, request.role, expires, &meta)
        .await
        .map_err(|e| match e {
            AccessError::Invalid {
                field: "expires",
                message,
            } => ApiError::invalid_field("expires_in_days", message),
            other => api_error(other),
        })?;
    Ok((StatusCode::CREATED, Json(token)))
}

/// Revokes an API token.
#[utoipa::path(delete, path = "/tokens/{id}", tag = "access",
    params(("id" = String, Path, description = "Token id")),
    responses((status = 204, description = "Revoked"), (status = 404, description = "No live token with this id", body = solo_http::ErrorBody)))]
async fn revoke_token(
    State(access): State<Access>,
    caller: Caller,
    meta: RequestMeta,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    access
        .revoke_token(&caller.actor, &id, &meta)
        .await
        .map_err(api_error)?;
    Ok(StatusCode::NO_CONTENT)
}
