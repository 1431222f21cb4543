//! Users: create, list, change role, disable, passwords.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::audit::{Actor, RequestMeta, record};
use crate::store::{self, UserRow};
use crate::{Access, AccessError, Role, blocking, from_ms, password};

/// A user as shown to admins: never a hash or a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserInfo {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    /// TOTP is enrolled.
    pub mfa: bool,
    pub created_at: DateTime<Utc>,
}

impl From<&UserRow> for UserInfo {
    fn from(row: &UserRow) -> Self {
        UserInfo {
            id: row.id.clone(),
            name: row.name.clone(),
            role: row.role,
            disabled: row.disabled_at.is_some(),
            mfa: row.totp_secret.is_some(),
            created_at: from_ms(row.created_at),
        }
    }
}

/// Names are what people type at the login form: short, no spaces.
fn check_name(name: &str) -> Result<(), AccessError> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if name.is_empty() || name.chars().count() > 64 || !ok_chars {
        return Err(AccessError::invalid(
            "name",
            "use 1 to 64 letters, digits, '.', '_', '-' or '@'",
        ));
    }
    Ok(())
}

impl Access {
    /// Creates a user; the password must pass the policy.
    pub async fn create_user(
        &self,
        actor: &Actor,
        name: &str,
        role: Role,
        new_password: &str,
        meta: &RequestMeta,
    ) -> Result<UserInfo, AccessError> {
        let name = name.trim();
        check_name(name)?;
        password::check_policy(new_password, name)?;
        if store::user_by_name(self.db(), name).await?.is_some() {
            return Err(AccessError::Conflict(format!(
                "a user named `{name}` already exists"
            )));
        }
        let owned = new_password.to_owned();
        let hash = blocking(move || password::hash(&owned)).await??;
        let id = uuid::Uuid::now_v7().simple().to_string();
        let now = self.now();
        let mut tx = self.db().begin().await?;
        store::insert_user(&mut tx, &id, name, role, &hash, now.timestamp_millis())
            .await
            .map_err(|e| unique_to_conflict(e, name))?;
        record(
            &mut tx,
            actor,
            "user.create",
            Some(name),
            json!({ "user_id": id, "role": role }),
            meta,
            now,
        )
        .await?;
        let user = store::user_by_id_in(&mut tx, &id)
            .await?
            .ok_or_else(|| AccessError::Internal("the new user vanished".into()))?;
        tx.commit().await?;
        Ok(UserInfo::from(&user))
    }

    pub async fn list_users(&self) -> Result<Vec<UserInfo>, AccessError> {
        Ok(store::list_users(self.db())
            .await?
            .iter()
            .map(UserInfo::from)
            .collect())
    }

    /// A user by name (case-insensitive) or id.
    pub async fn find_user(&self, name_or_id: &str) -> Result<UserInfo, AccessError> {
        Ok(UserInfo::from(&self.user_row(name_or_id).await?))
    }

    pub(crate) async fn user_row(&self, name_or_id: &str) -> Result<UserRow, AccessError> {
        // Ids first: a user named like another's id must not stand in for it.
        if let Some(user) = store::user_by_id(self.db(), name_or_id).await? {
            return Ok(user);
        }
        store::user_by_name(self.db(), name_or_id)
            .await?
            .ok_or_else(|| AccessError::not_found(format!("user `{name_or_id}`")))
    }

    /// True once an enabled admin exists: until then the dashboard only
    /// explains how to create one.
    pub async fn admin_exists(&self) -> Result<bool, AccessError> {
        Ok(store::count_enabled_admins(self.db()).await? > 0)
    }

    pub async fn set_role(
        &self,
        actor: &Actor,
        name_or_id: &str,
        role: Role,
        meta: &RequestMeta,
    ) -> Result<UserInfo, AccessError> {
        let user = self.user_row(name_or_id).await?;
        let now = self.now();
        let mut tx = self.db().begin().await?;
        store::lock_roles(&mut tx).await?;
        let current = store::user_by_id_in(&mut tx, &user.id)
            .await?
            .ok_or_else(|| AccessError::not_found(format!("user `{name_or_id}`")))?;
        if role != Role::Admin {
            refuse_leaving_no_admin(&mut tx, &current).await?;
        }
        store::set_role(&mut tx, &user.id, role, now.timestamp_millis()).await?;
        record(
            &mut tx,
            actor,
            "user.set_role",
            Some(&user.name),
            json!({ "user_id": user.id, "from": current.role, "to": role }),
            meta,
            now,
        )
        .await?;
        let updated = store::user_by_id_in(&mut tx, &user.id)
            .await?
            .ok_or_else(|| AccessError::not_found(format!("user `{name_or_id}`")))?;
        tx.commit().await?;
        Ok(UserInfo::from(&updated))
    }

    /// Disables (or re-enables) a user. Disabling ends their sessions.
    pub async fn set_disabled(
        &self,
        actor: &Actor,
        name_or_id: &str,
        disabled: bool,
        meta: &RequestMeta,
    ) -> Result<UserInfo, AccessError> {
        let user = self.user_row(name_or_id).await?;
        let now = self.now();
        let now_ms = now.timestamp_millis();
        let mut tx = self.db().begin().await?;
        store::lock_roles(&mut tx).await?;
        let current = store::user_by_id_in(&mut tx, &user.id)
            .await?
            .ok_or_else(|| AccessError::not_found(format!("user `{name_or_id}`")))?;
        if disabled {
            refuse_leaving_no_admin(&mut tx, &current).await?;
        }
        store::set_disabled(&mut tx, &user.id, disabled.then_some(now_ms), now_ms).await?;
        let ended = if disabled {
            store::revoke_sessions_of(&mut tx, &user.id, now_ms).await?
        } else {
            0
        };
        let action = if disabled {
            "user.disable"
        } else {
            "user.enable"
        };
        record(
            &mut tx,
            actor,
            action,
            Some(&user.name),
            json!({ "user_id": user.id, "ended": ended }),
            meta,
            now,
        )
        .await?;
        let updated = store::user_by_id_in(&mut tx, &user.id)
            .await?
            .ok_or_else(|| AccessError::not_found(format!("user `{name_or_id}`")))?;
        tx.commit().await?;
        Ok(UserInfo::from(&updated))
    }

    /// An admin sets a new password for someone; their sessions end.
    pub async fn reset_password(
        &self,
        actor: &Actor,
        name_or_id: &str,
        new_password: &str,
        meta: &RequestMeta,
    ) -> Result<(), AccessError> {
        let user = self.user_row(name_or_id).await?;
        password::check_policy(new_password, &user.name)?;
        self.store_password(
            actor,
            &user,
            new_password,
            "user.reset_password",
            None,
            meta,
        )
        .await
    }

    /// A user changes their own password, proving the current one. Their
    /// other sessions end; `keep_session` (the one in use) stays.
    pub async fn change_password(
        &self,
        actor: &Actor,
        user_id: &str,
        current_password: &str,
        new_password: &str,
        keep_session: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<(), AccessError> {
        let user = self.user_row(user_id).await?;
        self.check_current_password(&user, current_password).await?;
        password::check_policy(new_password, &user.name)?;
        self.store_password(
            actor,
            &user,
            new_password,
            "user.change_password",
            keep_session,
            meta,
        )
        .await
    }

    async fn store_password(
        &self,
        actor: &Actor,
        user: &UserRow,
        new_password: &str,
        action: &str,
        keep_session: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<(), AccessError> {
        let owned = new_password.to_owned();
        let hash = blocking(move || password::hash(&owned)).await??;
        let now = self.now();
        let now_ms = now.timestamp_millis();
        let mut tx = self.db().begin().await?;
        store::set_password(&mut tx, &user.id, &hash, now_ms).await?;
        let ended =
            crate::sessions::end_sessions_except(&mut tx, &user.id, keep_session, now_ms).await?;
        record(
            &mut tx,
            actor,
            action,
            Some(&user.name),
            json!({ "user_id": user.id, "ended": ended }),
            meta,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Refuses to take `user` out of the enabled admins when they are the last
/// one (call inside the role lock, so the count holds at commit).
async fn refuse_leaving_no_admin(
    tx: &mut solo_store::Tx,
    user: &UserRow,
) -> Result<(), AccessError> {
    if user.role == Role::Admin
        && user.disabled_at.is_none()
        && store::count_enabled_admins_in(tx).await? <= 1
    {
        return Err(AccessError::Conflict(
            "this is the last enabled admin: make another user admin first".into(),
        ));
    }
    Ok(())
}

fn unique_to_conflict(error: solo_store::sqlx::Error, name: &str) -> AccessError {
    match &error {
        solo_store::sqlx::Error::Database(db) if db.is_unique_violation() => {
            AccessError::Conflict(format!("a user named `{name}` already exists"))
        }
        _ => AccessError::Db(error),
    }
}
