//! TOTP enrolment and recovery codes.

use data_encoding::BASE32_NOPAD;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::audit::{RequestMeta, record};
use crate::login::normalise_recovery_code;
use crate::secret::{hash_token, random_bytes};
use crate::sessions::actor_name;
use crate::{Access, AccessError, Caller, store, totp};

/// How many recovery codes a user gets.
pub const RECOVERY_CODES: usize = 10;

/// What an authenticator app needs to enrol: shown once, while pending.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MfaEnrolment {
    /// Base32, for typing in by hand.
    pub secret: String,
    /// `otpauth://` URI, for the QR code.
    pub uri: String,
}

impl Access {
    /// Starts (or restarts) enrolment: a new pending secret. Nothing changes
    /// for sign-in until [`confirm_mfa`](Access::confirm_mfa).
    pub async fn start_mfa(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
    ) -> Result<MfaEnrolment, AccessError> {
        let user = self.caller_user(caller).await?;
        if user.totp_secret.is_some() {
            // Replacing a second factor needs the password: a stolen
            // session alone must not be able to take it over.
            return Err(AccessError::Conflict(
                "two-factor sign-in is already on: turn it off first (that asks for your password)"
                    .into(),
            ));
        }
        let secret = totp::new_secret()?;
        let now = self.now();
        let mut tx = self.db().begin().await?;
        store::set_totp_pending(&mut tx, &user.id, Some(&secret), now.timestamp_millis()).await?;
        record(
            &mut tx,
            &caller.actor,
            "mfa.enrol_start",
            Some(&user.name),
            json!({}),
            meta,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(MfaEnrolment {
            uri: totp::provisioning_uri(&secret, &self.settings().issuer, &user.name),
            secret,
        })
    }

    /// Confirms enrolment with a code from the app; returns the recovery
    /// codes, shown once.
    pub async fn confirm_mfa(
        &self,
        caller: &Caller,
        code: &str,
        meta: &RequestMeta,
    ) -> Result<Vec<String>, AccessError> {
        let user = self.caller_user(caller).await?;
        let Some(pending) = user.totp_pending.clone() else {
            return Err(AccessError::Conflict(
                "no enrolment in progress: start one first".into(),
            ));
        };
        let now = self.now();
        let Some(step) = totp::matching_step(&pending, code, now, None)? else {
            return Err(AccessError::WrongCode);
        };
        let codes = new_recovery_codes()?;
        let hashes: Vec<String> = codes
            .iter()
            .map(|c| hash_token(&normalise_recovery_code(c)))
            .collect();
        let mut tx = self.db().begin().await?;
        store::confirm_totp(&mut tx, &user.id, &pending, step, now.timestamp_millis()).await?;
        store::replace_recovery_codes(&mut tx, &user.id, &hashes).await?;
        record(
            &mut tx,
            &caller.actor,
            "mfa.enable",
            Some(&user.name),
            json!({ "recovery_codes": codes.len() }),
            meta,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(codes)
    }

    /// Turns TOTP off, proving the password.
    pub async fn disable_mfa(
        &self,
        caller: &Caller,
        current_password: &str,
        meta: &RequestMeta,
    ) -> Result<(), AccessError> {
        let user = self.caller_user(caller).await?;
        self.check_current_password(&user, current_password).await?;
        let now = self.now();
        let mut tx = self.db().begin().await?;
        store::clear_totp(&mut tx, &user.id, now.timestamp_millis()).await?;
        record(
            &mut tx,
            &caller.actor,
            "mfa.disable",
            Some(actor_name(&caller.actor)),
            json!({}),
            meta,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Unused recovery codes of the caller.
    pub async fn recovery_codes_left(&self, caller: &Caller) -> Result<i64, AccessError> {
        let user = self.caller_user(caller).await?;
        Ok(store::unused_recovery_codes(self.db(), &user.id).await?)
    }

    pub(crate) async fn caller_user(&self, caller: &Caller) -> Result<store::UserRow, AccessError> {
        let Some(user_id) = &caller.user_id else {
            return Err(AccessError::invalid(
                "caller",
                "only a signed-in user has an account: API tokens do not",
            ));
        };
        store::user_by_id(self.db(), user_id)
            .await?
            .ok_or_else(|| AccessError::not_found("user"))
    }
}

/// `ABCDE-FGHIJ`: 50 bits each, easy to read aloud and type.
fn new_recovery_codes() -> Result<Vec<String>, AccessError> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let text = BASE32_NOPAD.encode(&random_bytes::<7>()?);
            Ok(format!("{}-{}", &text[..5], &text[5..10]))
        })
        .collect()
}
