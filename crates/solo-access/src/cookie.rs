//! The session cookie's attributes, in one place.

use http::HeaderValue;

use crate::guard::SESSION_COOKIE;

/// `Set-Cookie` for a new session: HttpOnly (no script reads it),
/// SameSite=Strict (no other site sends it), Secure whenever solo is
/// reached over TLS, and no longer-lived than the session.
pub fn set_session_cookie(value: &str, max_age_s: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let header = format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        max_age_s.max(0)
    );
    HeaderValue::from_str(&header).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_session_cookie(secure: bool) -> HeaderValue {
    let header = if secure {
        "solo_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Secure"
    } else {
        "solo_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
    };
    HeaderValue::from_static(header)
}
