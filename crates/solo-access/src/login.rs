//! Signing in: password, then (when enrolled) a TOTP or recovery code.
//!
//! Unknown user, wrong password and disabled account give the same answer
//! in about the same time (one argon2 verification each). Every failure is
//! counted per account and per client address, and audited.

use serde_json::json;

use crate::audit::{Actor, RequestMeta, record};
use crate::secret::hash_token;
use crate::store::{self, UserRow};
use crate::throttle::{ACCOUNT, CLIENT, account_key, client_key};
use crate::{Access, AccessError, NewSession, blocking, password, totp};

/// Where a sign-in stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginStage {
    /// Signed in.
    Active,
    /// Password accepted; a code is still needed.
    MfaPending,
}

impl LoginStage {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            LoginStage::Active => "active",
            LoginStage::MfaPending => "mfa",
        }
    }
}

pub type LoginOutcome = NewSession;

/// Why a sign-in failed. `Invalid` is deliberately vague.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("wrong name, password or code")]
    Invalid,
    #[error("too many failed sign-ins: try again in {retry_after_s} s")]
    Locked { retry_after_s: i64 },
    #[error(transparent)]
    Internal(#[from] AccessError),
}

const ANONYMOUS: &str = "anonymous";

impl Access {
    /// Checks a name and password. Returns an active session, or one in the
    /// `MfaPending` stage when the user has TOTP (finish with [`login_mfa`]).
    ///
    /// [`login_mfa`]: Access::login_mfa
    pub async fn login(
        &self,
        name: &str,
        password_attempt: &str,
        meta: &RequestMeta,
    ) -> Result<NewSession, LoginError> {
        // Names are at most 64 characters (see users.rs): anything longer
        // is no one's, and must not become a huge throttle key.
        let name: String = name.trim().chars().take(65).collect();
        let name = name.as_str();
        let account = account_key(name);
        let client = meta.client.as_deref().map(client_key);
        self.refuse_if_locked(&account, client.as_deref(), name)
            .await?;

        let user = store::user_by_name(self.db(), name)
            .await
            .map_err(AccessError::from)?;
        let attempt = password_attempt.to_owned();
        let stored = user.as_ref().map(|u| u.password_hash.clone());
        let matches = blocking(move || match stored {
            Some(hash) => password::verify(&attempt, &hash),
            None => {
                password::verify_dummy(&attempt);
                false
            }
        })
        .await?;
        let user = match user {
            Some(user) if matches && user.disabled_at.is_none() => user,
            other => {
                // The target is the account only when it exists: a password
                // typed into the name field must not stay in the log.
                let target = other.is_some().then_some(name);
                self.fail(
                    &account,
                    client.as_deref(),
                    target,
                    "wrong name or password",
                    meta,
                )
                .await?;
                return Err(LoginError::Invalid);
            }
        };

        let mut tx = self.db().begin().await.map_err(AccessError::from)?;
        // With TOTP the sign-in is not done yet: the count starts over only
        // when the code is right too, or the password step would reset the
        // lockout that guards the code.
        if user.totp_secret.is_none() {
            self.clear_failures(&mut tx, &account).await?;
        }
        let session = if user.totp_secret.is_some() {
            self.open_session(&mut tx, &user, LoginStage::MfaPending, meta)
                .await?
        } else {
            let session = self
                .open_session(&mut tx, &user, LoginStage::Active, meta)
                .await?;
            audit_login(&mut tx, self, &user, &session, "password", meta).await?;
            session
        };
        tx.commit().await.map_err(AccessError::from)?;
        Ok(session)
    }

    /// Finishes a sign-in with a TOTP code or a recovery code. The pending
    /// session is replaced by a new one (a new id at sign-in).
    pub async fn login_mfa(
        &self,
        pending_cookie: &str,
        code: &str,
        meta: &RequestMeta,
    ) -> Result<NewSession, LoginError> {
        let Some((Ok(pending), user)) = self
            .live_session(pending_cookie, LoginStage::MfaPending)
            .await?
        else {
            return Err(LoginError::Invalid);
        };
        let account = account_key(&user.name);
        let client = meta.client.as_deref().map(client_key);
        self.refuse_if_locked(&account, client.as_deref(), &user.name)
            .await?;
        let Some(secret) = user.totp_secret.clone() else {
            return Err(LoginError::Invalid);
        };

        let now = self.now();
        let mut tx = self.db().begin().await.map_err(AccessError::from)?;
        let method =
            if let Some(step) = totp::matching_step(&secret, code, now, user.totp_last_step)? {
                store::claim_totp_step(&mut tx, &user.id, step)
                    .await
                    .map_err(AccessError::from)?
                    .then_some("totp")
            } else {
                let hash = hash_token(&normalise_recovery_code(code));
                store::use_recovery_code(&mut tx, &user.id, &hash, now.timestamp_millis())
                    .await
                    .map_err(AccessError::from)?
                    .then_some("recovery_code")
            };
        let Some(method) = method else {
            drop(tx);
            self.fail(
                &account,
                client.as_deref(),
                Some(&user.name),
                "wrong code",
                meta,
            )
            .await?;
            return Err(LoginError::Invalid);
        };
        store::revoke_session(&mut tx, &user.id, &pending.id, now.timestamp_millis())
            .await
            .map_err(AccessError::from)?;
        self.clear_failures(&mut tx, &account).await?;
        let session = self
            .open_session(&mut tx, &user, LoginStage::Active, meta)
            .await?;
        audit_login(&mut tx, self, &user, &session, method, meta).await?;
        tx.commit().await.map_err(AccessError::from)?;
        Ok(session)
    }

    /// Re-checks a signed-in user's password (changing it, turning MFA
    /// off). Wrong answers count toward the account's lockout like sign-in
    /// failures, so a stolen session cannot guess the password.
    pub(crate) async fn check_current_password(
        &self,
        user: &UserRow,
        attempt: &str,
    ) -> Result<(), AccessError> {
        let account = account_key(&user.name);
        if self.locked_for(&account).await? > 0 {
            return Err(AccessError::Conflict(
                "too many wrong passwords: try again later".into(),
            ));
        }
        let (attempt, hash) = (attempt.to_owned(), user.password_hash.clone());
        if blocking(move || password::verify(&attempt, &hash)).await? {
            return Ok(());
        }
        let mut tx = self.db().begin().await?;
        self.record_failure(&mut tx, &account, ACCOUNT).await?;
        tx.commit().await?;
        Err(AccessError::WrongPassword)
    }

    async fn refuse_if_locked(
        &self,
        account: &str,
        client: Option<&str>,
        name: &str,
    ) -> Result<(), LoginError> {
        let mut wait = self.locked_for(account).await?;
        if let Some(client) = client {
            wait = wait.max(self.locked_for(client).await?);
        }
        if wait == 0 {
            return Ok(());
        }
        // Not audited one by one: the failure that started the lockout was,
        // and a flood of refusals must not grow a log that is never pruned.
        tracing::info!(account = %claimed(name), "sign-in refused during a lockout");
        Err(LoginError::Locked {
            retry_after_s: (wait + 999) / 1000,
        })
    }

    async fn fail(
        &self,
        account: &str,
        client: Option<&str>,
        known_user: Option<&str>,
        reason: &str,
        meta: &RequestMeta,
    ) -> Result<(), AccessError> {
        let now = self.now();
        let mut tx = self.db().begin().await?;
        self.record_failure(&mut tx, account, ACCOUNT).await?;
        if let Some(client) = client {
            self.record_failure(&mut tx, client, CLIENT).await?;
        }
        let target = known_user.map(claimed);
        record(
            &mut tx,
            &Actor::System {
                name: ANONYMOUS.into(),
            },
            "session.login_failed",
            target.as_deref(),
            json!({ "reason": reason, "known_user": target.is_some() }),
            meta,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn audit_login(
    tx: &mut solo_store::Tx,
    access: &Access,
    user: &UserRow,
    session: &NewSession,
    method: &str,
    meta: &RequestMeta,
) -> Result<(), AccessError> {
    record(
        tx,
        &Actor::User {
            id: user.id.clone(),
            name: user.name.clone(),
        },
        "session.login",
        Some(&user.name),
        json!({ "session_id": session.session_id, "method": method }),
        meta,
        access.now(),
    )
    .await
}

/// The name someone typed, safe to keep: short, printable.
fn claimed(name: &str) -> String {
    name.chars().filter(|c| !c.is_control()).take(64).collect()
}

/// Recovery codes are shown as `ABCDE-FGHIJ`; accept any case, with or
/// without the dash or spaces.
pub(crate) fn normalise_recovery_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}
