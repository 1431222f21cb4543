//! API tokens for scripts and CI: `Authorization: Bearer solo_…`.
//! Shown once at creation; only a SHA-256 is kept.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::audit::{Actor, RequestMeta, record};
use crate::secret::{hash_token, random_token};
use crate::store::{self, TokenRow};
use crate::{Access, AccessError, Caller, Role, from_ms};

/// Every token starts with this, so secret scanners and people recognise
/// one in a leaked file.
pub const TOKEN_PREFIX: &str = "solo_";
const TOUCH_EVERY_MS: i64 = 60 * 1000;
/// Longer expiries are refused (and beyond chrono's range, they would
/// display as 1970).
const MAX_LIFETIME: std::time::Duration = std::time::Duration::from_secs(3650 * 86_400);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked: bool,
}

impl From<&TokenRow> for TokenInfo {
    fn from(row: &TokenRow) -> Self {
        TokenInfo {
            id: row.id.clone(),
            name: row.name.clone(),
            role: row.role,
            created_by: row.created_by.clone(),
            created_at: from_ms(row.created_at),
            expires_at: row.expires_at.map(from_ms),
            last_used_at: row.last_used_at.map(from_ms),
            revoked: row.revoked_at.is_some(),
        }
    }
}

/// A token just made. `token` is the only copy there will ever be.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NewToken {
    pub token: String,
    #[serde(flatten)]
    pub info: TokenInfo,
}

impl Access {
    pub async fn create_token(
        &self,
        actor: &Actor,
        name: &str,
        role: Role,
        expires_in: Option<std::time::Duration>,
        meta: &RequestMeta,
    ) -> Result<NewToken, AccessError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return Err(AccessError::invalid(
                "name",
                "give the token a name of 1 to 64 characters, like `ci`",
            ));
        }
        let now = self.now();
        let now_ms = now.timestamp_millis();
        let expires_at = match expires_in {
            Some(d) if d.is_zero() => {
                return Err(AccessError::invalid(
                    "expires",
                    "an expiry must be in the future",
                ));
            }
            Some(d) if d > MAX_LIFETIME => {
                return Err(AccessError::invalid(
                    "expires",
                    "at most 10 years; leave the expiry out for a token that does not expire",
                ));
            }
            Some(d) => Some(now_ms.saturating_add(crate::sessions::duration_ms(d))),
            None => None,
        };
        let token = format!("{TOKEN_PREFIX}{}", random_token()?);
        let row = TokenRow {
            id: uuid::Uuid::now_v7().simple().to_string(),
            name: name.to_owned(),
            role,
            created_by: crate::sessions::actor_name(actor).to_owned(),
            created_at: now_ms,
            expires_at,
            last_used_at: None,
            revoked_at: None,
        };
        let mut tx = self.db().begin().await?;
        store::insert_token(&mut tx, &row, &hash_token(&token)).await?;
        record(
            &mut tx,
            actor,
            "token.create",
            Some(name),
            json!({ "token_id": row.id, "role": role, "expires_at": expires_at.map(from_ms) }),
            meta,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(NewToken {
            token,
            info: TokenInfo::from(&row),
        })
    }

    /// A token for the CLI on this node's own machine (`solo status` and
    /// friends), replacing the one the node made at its previous start.
    /// The node writes it to its data directory (mode 0600): whoever can
    /// read that directory can read the SQLite database anyway.
    pub async fn issue_local_token(
        &self,
        node_id: &str,
        role: Role,
    ) -> Result<String, AccessError> {
        let name = format!("local:{node_id}");
        let actor = Actor::System {
            name: "node".into(),
        };
        let now = self.now();
        let token = format!("{TOKEN_PREFIX}{}", random_token()?);
        let row = TokenRow {
            id: uuid::Uuid::now_v7().simple().to_string(),
            name: name.clone(),
            role,
            created_by: "node".into(),
            created_at: now.timestamp_millis(),
            expires_at: None,
            last_used_at: None,
            revoked_at: None,
        };
        let mut tx = self.db().begin().await?;
        let replaced = store::revoke_tokens_named(&mut tx, &name, now.timestamp_millis()).await?;
        store::insert_token(&mut tx, &row, &hash_token(&token)).await?;
        record(
            &mut tx,
            &actor,
            "token.create",
            Some(&name),
            json!({ "token_id": row.id, "role": role, "replaced": replaced }),
            &RequestMeta::default(),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(token)
    }

    pub async fn list_tokens(&self) -> Result<Vec<TokenInfo>, AccessError> {
        Ok(store::list_tokens(self.db())
            .await?
            .iter()
            .map(TokenInfo::from)
            .collect())
    }

    pub async fn revoke_token(
        &self,
        actor: &Actor,
        id: &str,
        meta: &RequestMeta,
    ) -> Result<(), AccessError> {
        let now = self.now();
        let mut tx = self.db().begin().await?;
        if !store::revoke_token(&mut tx, id, now.timestamp_millis()).await? {
            return Err(AccessError::not_found(format!(
                "live token `{id}` (unknown or already revoked)"
            )));
        }
        record(
            &mut tx,
            actor,
            "token.revoke",
            Some(id),
            json!({ "token_id": id }),
            meta,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The caller behind a bearer token, or why not (None: not a token of
    /// ours at all, or unknown).
    pub async fn authenticate_token(&self, bearer: &str) -> Result<Option<Caller>, AccessError> {
        if !bearer.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        let Some(token) = store::token_by_hash(self.db(), &hash_token(bearer)).await? else {
            return Ok(None);
        };
        let now = self.now_ms();
        if token.revoked_at.is_some() || token.expires_at.is_some_and(|at| now >= at) {
            return Ok(None);
        }
        if token
            .last_used_at
            .is_none_or(|at| now - at >= TOUCH_EVERY_MS)
        {
            let mut tx = self.db().begin().await?;
            store::touch_token(&mut tx, &token.id, now).await?;
            tx.commit().await?;
        }
        Ok(Some(Caller {
            actor: Actor::Token {
                id: token.id,
                name: token.name,
            },
            role: token.role,
            user_id: None,
            session: None,
            mfa_required_but_missing: false,
        }))
    }
}
