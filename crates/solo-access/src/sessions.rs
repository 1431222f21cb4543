//! Server-side sessions. The cookie holds a random 256-bit value; the
//! database holds its SHA-256. A session ends when revoked, when unused for
//! the idle timeout, or at its absolute lifetime, whichever comes first.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use solo_store::Tx;
use utoipa::ToSchema;

use crate::audit::{Actor, RequestMeta, record};
use crate::login::LoginStage;
use crate::secret::{hash_token, random_token};
use crate::store::{self, NewSessionRow, SessionRow, UserRow};
use crate::{Access, AccessError, Role, from_ms};

/// How long the password-passed, code-pending stage of a login may last.
pub(crate) const MFA_STAGE_LIFETIME_MS: i64 = 5 * 60 * 1000;
/// last_seen_at is written at most this often per session: idle timeouts
/// are minutes, and a write per request would make reads cost a write.
const TOUCH_EVERY_MS: i64 = 60 * 1000;

/// A session just made: the cookie value is here and nowhere else.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The cookie value. Shown once, never stored.
    pub token: String,
    pub session_id: String,
    pub csrf_token: String,
    pub stage: LoginStage,
    pub expires_at: DateTime<Utc>,
}

/// A session as its owner sees it on the account page.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionInfo {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub client: Option<String>,
    pub user_agent: Option<String>,
    /// The session this request came with.
    pub current: bool,
}

/// Who is calling, once authenticated: what the rules and handlers see.
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: Actor,
    pub role: Role,
    /// The user behind the call (None for API tokens).
    pub user_id: Option<String>,
    /// Set when the call came with a session cookie (CSRF applies).
    pub session: Option<SessionRef>,
    /// An admin without TOTP while MFA is required for admins: only the
    /// self-service routes (account, enrolment, sign-out) are open.
    pub mfa_required_but_missing: bool,
}

#[derive(Debug, Clone)]
pub struct SessionRef {
    pub id: String,
    pub csrf_token: String,
}

/// Why a session cookie was not accepted (for logs; callers get 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionRejected {
    #[error("unknown session")]
    Unknown,
    #[error("session revoked")]
    Revoked,
    #[error("session past its lifetime")]
    Expired,
    #[error("session idle too long")]
    Idle,
    #[error("sign-in not finished (code pending)")]
    MfaPending,
    #[error("user disabled")]
    UserDisabled,
}

impl Access {
    /// Creates a session for `user` inside `tx`.
    pub(crate) async fn open_session(
        &self,
        tx: &mut Tx,
        user: &UserRow,
        stage: LoginStage,
        meta: &RequestMeta,
    ) -> Result<NewSession, AccessError> {
        let now = self.now_ms();
        let token = random_token()?;
        let csrf_token = random_token()?;
        let session_id = uuid::Uuid::now_v7().simple().to_string();
        let expires_at = match stage {
            LoginStage::Active => now + duration_ms(self.settings().session_lifetime),
            LoginStage::MfaPending => now + MFA_STAGE_LIFETIME_MS,
        };
        store::insert_session(
            tx,
            &NewSessionRow {
                id: &session_id,
                token_hash: &hash_token(&token),
                user_id: &user.id,
                stage: stage.as_str(),
                csrf_token: &csrf_token,
                client: meta.client.as_deref(),
                user_agent: meta.user_agent.as_deref().map(|ua| truncate(ua, 200)),
                now,
                expires_at,
            },
        )
        .await?;
        Ok(NewSession {
            token,
            session_id,
            csrf_token,
            stage,
            expires_at: from_ms(expires_at),
        })
    }

    /// The caller behind a session cookie, if the session is live.
    pub async fn authenticate_session(
        &self,
        cookie_value: &str,
    ) -> Result<Result<Caller, SessionRejected>, AccessError> {
        let Some((session, user)) = self.live_session(cookie_value, LoginStage::Active).await?
        else {
            return Ok(Err(SessionRejected::Unknown));
        };
        let (session, user) = match (session, user) {
            (Ok(session), user) => (session, user),
            (Err(why), _) => return Ok(Err(why)),
        };
        let now = self.now_ms();
        if now - session.last_seen_at >= TOUCH_EVERY_MS {
            let mut tx = self.db().begin().await?;
            store::touch_session(&mut tx, &session.id, now).await?;
            tx.commit().await?;
        }
        let mfa_missing = self.settings().require_mfa_for_admins
            && user.role == Role::Admin
            && user.totp_secret.is_none();
        Ok(Ok(Caller {
            actor: Actor::User {
                id: user.id.clone(),
                name: user.name.clone(),
            },
            role: user.role,
            user_id: Some(user.id),
            session: Some(SessionRef {
                id: session.id,
                csrf_token: session.csrf_token,
            }),
            mfa_required_but_missing: mfa_missing,
        }))
    }

    /// The session and user behind a cookie, checked for `stage`. None for
    /// an unknown cookie.
    pub(crate) async fn live_session(
        &self,
        cookie_value: &str,
        stage: LoginStage,
    ) -> Result<Option<(Result<SessionRow, SessionRejected>, UserRow)>, AccessError> {
        let Some((session, user)) =
            store::session_and_user_by_token_hash(self.db(), &hash_token(cookie_value)).await?
        else {
            return Ok(None);
        };
        let now = self.now_ms();
        let idle_ms = duration_ms(self.settings().session_idle);
        let verdict = if session.revoked_at.is_some() {
            Err(SessionRejected::Revoked)
        } else if now >= session.expires_at {
            Err(SessionRejected::Expired)
        } else if session.stage != stage.as_str() {
            Err(SessionRejected::MfaPending)
        } else if stage == LoginStage::Active && now - session.last_seen_at >= idle_ms {
            Err(SessionRejected::Idle)
        } else if user.disabled_at.is_some() {
            Err(SessionRejected::UserDisabled)
        } else {
            Ok(session)
        };
        Ok(Some((verdict, user)))
    }

    /// Signs out one session (the caller's own).
    pub async fn logout(&self, caller: &Caller, meta: &RequestMeta) -> Result<(), AccessError> {
        let (Some(user_id), Some(session)) = (&caller.user_id, &caller.session) else {
            return Ok(());
        };
        let now = self.now();
        let mut tx = self.db().begin().await?;
        store::revoke_session(&mut tx, user_id, &session.id, now.timestamp_millis()).await?;
        record(
            &mut tx,
            &caller.actor,
            "session.logout",
            Some(actor_name(&caller.actor)),
            json!({ "session_id": session.id }),
            meta,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Signs out every session of the caller, this one included.
    pub async fn logout_everywhere(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
    ) -> Result<u64, AccessError> {
        let Some(user_id) = &caller.user_id else {
            return Ok(0);
        };
        let now = self.now();
        let mut tx = self.db().begin().await?;
        let ended = store::revoke_sessions_of(&mut tx, user_id, now.timestamp_millis()).await?;
        record(
            &mut tx,
            &caller.actor,
            "session.logout_everywhere",
            Some(actor_name(&caller.actor)),
            json!({ "ended": ended }),
            meta,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(ended)
    }

    /// Revokes one of the caller's own sessions by id.
    pub async fn revoke_own_session(
        &self,
        caller: &Caller,
        session_id: &str,
        meta: &RequestMeta,
    ) -> Result<(), AccessError> {
        let Some(user_id) = &caller.user_id else {
            return Err(AccessError::not_found("session"));
        };
        let now = self.now();
        let mut tx = self.db().begin().await?;
        if !store::revoke_session(&mut tx, user_id, session_id, now.timestamp_millis()).await? {
            return Err(AccessError::not_found(format!("session `{session_id}`")));
        }
        record(
            &mut tx,
            &caller.actor,
            "session.revoke",
            Some(actor_name(&caller.actor)),
            json!({ "session_id": session_id }),
            meta,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The caller's live sessions, newest use first.
    pub async fn sessions_of(&self, caller: &Caller) -> Result<Vec<SessionInfo>, AccessError> {
        let Some(user_id) = &caller.user_id else {
            return Ok(Vec::new());
        };
        let now = self.now_ms();
        let idle_ms = duration_ms(self.settings().session_idle);
        let current = caller.session.as_ref().map(|s| s.id.as_str());
        Ok(store::live_sessions_of(self.db(), user_id, now)
            .await?
            .into_iter()
            .filter(|s| now - s.last_seen_at < idle_ms)
            .map(|s| SessionInfo {
                current: current == Some(s.id.as_str()),
                id: s.id,
                created_at: from_ms(s.created_at),
                last_seen_at: from_ms(s.last_seen_at),
                expires_at: from_ms(s.expires_at),
                client: s.client,
                user_agent: s.user_agent,
            })
            .collect())
    }
}

/// Ends a user's sessions except `keep`; how many ended.
pub(crate) async fn end_sessions_except(
    tx: &mut Tx,
    user_id: &str,
    keep: Option<&str>,
    now: i64,
) -> Result<u64, AccessError> {
    // Session ids are never empty, so "" keeps none.
    Ok(store::revoke_sessions_of_except(tx, user_id, keep.unwrap_or(""), now).await?)
}

pub(crate) fn actor_name(actor: &Actor) -> &str {
    match actor {
        Actor::User { name, .. } | Actor::Token { name, .. } | Actor::System { name } => name,
    }
}

pub(crate) fn duration_ms(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
