//! The storage seam of access: the only SQL of the `access_*` tables.
//!
//! Both engines keep times as unix milliseconds and take `$N` parameters
//! (sqlx's SQLite driver reads them too), so each statement is written
//! once; solo-store's `on_reader!`/`on_tx!` run it on the engine at hand. Reads go to
//! SQLite's read pool, writes happen inside a [`Tx`].

use solo_store::sqlx::{self, Row};
use solo_store::{Db, Tx, on_reader, on_tx};

use crate::Role;

type Result<T> = std::result::Result<T, sqlx::Error>;

fn role(text: &str) -> Result<Role> {
    text.parse()
        .map_err(|e: crate::role::UnknownRole| sqlx::Error::Decode(e.into()))
}

// ---------------------------------------------------------------- users

#[derive(Debug, Clone)]
pub(crate) struct UserRow {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub password_hash: String,
    pub totp_secret: Option<String>,
    pub totp_pending: Option<String>,
    pub totp_last_step: Option<i64>,
    pub disabled_at: Option<i64>,
    pub created_at: i64,
}

macro_rules! user_columns {
    () => {
        "id, name, role, password_hash, totp_secret, totp_pending, totp_last_step, disabled_at, created_at"
    };
}

macro_rules! user_from_row {
    ($row:expr) => {{
        let row = $row;
        UserRow {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            role: role(row.try_get::<String, _>("role")?.as_str())?,
            password_hash: row.try_get("password_hash")?,
            totp_secret: row.try_get("totp_secret")?,
            totp_pending: row.try_get("totp_pending")?,
            totp_last_step: row.try_get("totp_last_step")?,
            disabled_at: row.try_get("disabled_at")?,
            created_at: row.try_get("created_at")?,
        }
    }};
}

pub(crate) async fn insert_user(
    tx: &mut Tx,
    id: &str,
    name: &str,
    role: Role,
    password_hash: &str,
    now: i64,
) -> Result<()> {
    on_tx!(tx, ex => {
        sqlx::query(
            "INSERT INTO access_users (id, name, name_key, role, password_hash, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(id)
        .bind(name)
        .bind(name.to_lowercase())
        .bind(role.as_str())
        .bind(password_hash)
        .bind(now)
        .execute(ex)
        .await?;
    });
    Ok(())
}

pub(crate) async fn user_by_name(db: &Db, name: &str) -> Result<Option<UserRow>> {
    let sql = concat!(
        "SELECT ",
        user_columns!(),
        " FROM access_users WHERE name_key = $1"
    );
    on_reader!(db, ex => {
        let row = sqlx::query(sql).bind(name.to_lowercase()).fetch_optional(ex).await?;
        Ok(match row { Some(row) => Some(user_from_row!(&row)), None => None })
    })
}

pub(crate) async fn user_by_id(db: &Db, id: &str) -> Result<Option<UserRow>> {
    let sql = concat!(
        "SELECT ",
        user_columns!(),
        " FROM access_users WHERE id = $1"
    );
    on_reader!(db, ex => {
        let row = sqlx::query(sql).bind(id).fetch_optional(ex).await?;
        Ok(match row { Some(row) => Some(user_from_row!(&row)), None => None })
    })
}

/// The user, read inside a write transaction (for checks that must hold
/// at commit).
pub(crate) async fn user_by_id_in(tx: &mut Tx, id: &str) -> Result<Option<UserRow>> {
    let sql = concat!(
        "SELECT ",
        user_columns!(),
        " FROM access_users WHERE id = $1"
    );
    on_tx!(tx, ex => {
        let row = sqlx::query(sql).bind(id).fetch_optional(ex).await?;
        Ok(match row { Some(row) => Some(user_from_row!(&row)), None => None })
    })
}

pub(crate) async fn list_users(db: &Db) -> Result<Vec<UserRow>> {
    let sql = concat!(
        "SELECT ",
        user_columns!(),
        " FROM access_users ORDER BY name_key"
    );
    on_reader!(db, ex => {
        let rows = sqlx::query(sql).fetch_all(ex).await?;
        let mut users = Vec::with_capacity(rows.len());
        for row in &rows {
            users.push(user_from_row!(row));
        }
        Ok(users)
    })
}

/// Serialises role and enable/disable changes (PostgreSQL: a transaction
/// advisory lock; SQLite's IMMEDIATE transaction is already exclusive), so
/// two admins demoting each other cannot both see "one other admin left".
pub(crate) async fn lock_roles(tx: &mut Tx) -> Result<()> {
    /// "solo" "role" in ASCII.
    const ROLE_LOCK: i64 = 0x736f_6c6f_726f_6c65;
    if let Tx::Postgres(tx) = tx {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(ROLE_LOCK)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Enabled admins, counted inside a write transaction so "the last admin
/// cannot be demoted or disabled" holds under concurrency.
pub(crate) async fn count_enabled_admins_in(tx: &mut Tx) -> Result<i64> {
    on_tx!(tx, ex => {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM access_users WHERE role = 'admin' AND disabled_at IS NULL",
        )
        .fetch_one(ex)
        .await
    })
}

pub(crate) async fn count_enabled_admins(db: &Db) -> Result<i64> {
    on_reader!(db, ex => {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM access_users WHERE role = 'admin' AND disabled_at IS NULL",
        )
        .fetch_one(ex)
        .await
    })
}

pub(crate) async fn set_role(tx: &mut Tx, id: &str, role: Role, now: i64) -> Result<bool> {
    on_tx!(tx, ex => {
        let done = sqlx::query("UPDATE access_users SET role = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(role.as_str())
            .bind(now)
            .execute(ex)
            .await?;
        Ok(done.rows_affected() == 1)
    })
}

pub(crate) async fn set_disabled(
    tx: &mut Tx,
    id: &str,
    disabled_at: Option<i64>,
    now: i64,
) -> Result<bool> {
    on_tx!(tx, ex => {
        let done = sqlx::query("UPDATE access_users SET disabled_at = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(disabled_at)
            .bind(now)
            .execute(ex)
            .await?;
        Ok(done.rows_affected() == 1)
    })
}

pub(crate) async fn set_password(
    tx: &mut Tx,
    id: &str,
    password_hash: &str,
    now: i64,
) -> Result<bool> {
    on_tx!(tx, ex => {
        let done = sqlx::query("UPDATE access_users SET password_hash = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(password_hash)
            .bind(now)
            .execute(ex)
            .await?;
        Ok(done.rows_affected() == 1)
    })
}

pub(crate) async fn set_totp_pending(
    tx: &mut Tx,
    id: &str,
    secret: Option<&str>,
    now: i64,
) -> Result<()> {
    on_tx!(tx, ex => {
        sqlx::query("UPDATE access_users SET totp_pending = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(secret)
            .bind(now)
            .execute(ex)
            .await?;
    });
    Ok(())
}

/// Makes the pending secret the active one, recording the step that
/// confirmed it (so that code cannot be replayed).
pub(crate) async fn confirm_totp(
    tx: &mut Tx,
    id: &str,
    secret: &str,
    step: i64,
    now: i64,
) -> Result<()> {
    on_tx!(tx, ex => {
        sqlx::query(
            "UPDATE access_users SET totp_secret = $2, totp_pending = NULL, totp_last_step = $3,
                    updated_at = $4
             WHERE id = $1",
        )
        .bind(id)
        .bind(secret)
        .bind(step)
        .bind(now)
        .execute(ex)
        .await?;
    });
    Ok(())
}

pub(crate) async fn clear_totp(tx: &mut Tx, id: &str, now: i64) -> Result<()> {
    on_tx!(tx, ex => {
        sqlx::query(
            "UPDATE access_users SET totp_secret = NULL, totp_pending = NULL, totp_last_step = NULL,
                    updated_at = $2
             WHERE id = $1",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *ex)
        .await?;
        sqlx::query("DELETE FROM access_recovery_codes WHERE user_id = $1")
            .bind(id)
            .execute(&mut *ex)
            .await?;
    });
    Ok(())
}

/// Records `step` as used, only if it is newer than the last one: two
/// concurrent logins with the same code cannot both pass.
pub(crate) async fn claim_totp_step(tx: &mut Tx, id: &str, step: i64) -> Result<bool> {
    on_tx!(tx, ex => {
        let done = sqlx::query(
            "UPDATE access_users SET totp_last_step = $2
             WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)",
        )
        .bind(id)
        .bind(step)
        .execute(ex)
        .await?;
        Ok(done.rows_affected() == 1)
    })
}

pub(crate) async fn replace_recovery_codes(
    tx: &mut Tx,
    user_id: &str,
    hashes: &[String],
) -> Result<()> {
    on_tx!(tx, ex => {
        sqlx::query("DELETE FROM access_recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *ex)
            .await?;
        for hash in hashes {
            sqlx::query("INSERT INTO access_recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                .bind(user_id)
                .bind(hash)
                .execute(&mut *ex)
                .await?;
        }
    });
    Ok(())
}

/// Marks an unused recovery code used; false when there is none such.
pub(crate) async fn use_recovery_code(
    tx: &mut Tx,
    user_id: &str,
    hash: &str,
    now: i64,
) -> Result<bool> {
    on_tx!(tx, ex => {
        let done = sqlx::query(
            "UPDATE access_recovery_codes SET used_at = $3
             WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
        )
        .bind(user_id)
        .bind(hash)
        .bind(now)
        .execute(ex)
        .await?;
        Ok(done.rows_affected() == 1)
    })
}

pub(crate) async fn unused_recovery_codes(db: &Db, user_id: &str) -> Result<i64> {
    on_reader!(db, ex => {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM access_recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id)
        .fetch_one(ex)
        .await
    })
}

// ---------------------------------------------------------------- sessions

#[derive(Debug, Clone)]
pub(crate) struct SessionRow {
    pub id: String,
    pub user_id: String,
    pub stage: String,
    pub csrf_token: String,
    pub client: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

macro_rules! session_columns {
    () => {
        "id, user_id, stage, csrf_token, client, user_agent, created_at, last_seen_at, expires_at, revoked_at"
    };
}

macro_rules! session_from_row {
    ($row:expr) => {{
        let row = $row;
        SessionRow {
            id: row.try_get("id")?,
            user_id: row.try_get("user_id")?,
            stage: row.try_get("stage")?,
            csrf_token: row.try_get("csrf_token")?,
            client: row.try_get("client")?,
            user_agent: row.try_get("user_agent")?,
            created_at: row.try_get("created_at")?,
            last_seen_at: row.try_get("last_seen_at")?,
            expires_at: row.try_get("expires_at")?,
            revoked_at: row.try_get("revoked_at")?,
        }
    }};
}

pub(crate) struct NewSessionRow<'a> {
    pub id: &'a str,
    pub token_hash: &'a str,
    pub user_id: &'a str,
    pub stage: &'a str,
    pub csrf_token: &'a str,
    pub client: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub now: i64,
    pub expires_at: i64,
}

pub(crate) async fn insert_session(tx: &mut Tx, session: &NewSessionRow<'_>) -> Result<()> {
    on_tx!(tx, ex => {
        sqlx::query(
            "INSERT INTO access_sessions
                (id, token_hash, user_id, stage, csrf_token, client, user_agent,
                 created_at, last_seen_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)",
        )
        .bind(session.id)
        .bind(session.token_hash)
        .bind(session.user_id)
        .bind(session.stage)
        .bind(session.csrf_token)
        .bind(session.client)
        .bind(session.user_agent)
        .bind(session.now)
        .bind(session.expires_at)
        .execute(ex)
        .await?;
    });
    Ok(())
}

/// A session and its user in one round trip (every cookie-authenticated
/// request asks this).
pub(crate) async fn session_and_user_by_token_hash(
    db: &Db,
    token_hash: &str,
) -> Result<Option<(SessionRow, UserRow)>> {
    const SQL: &str = "SELECT s.id, s.user_id, s.stage, s.csrf_token, s.client, s.user_agent,
               s.created_at, s.last_seen_at, s.expires_at, s.revoked_at,
               u.name, u.role, u.password_hash, u.totp_secret, u.totp_pending,
               u.totp_last_step, u.disabled_at, u.created_at AS user_created_at
        FROM access_sessions s JOIN access_users u ON u.id = s.user_id
        WHERE s.token_hash = $1";
    on_reader!(db, ex => {
        let row = sqlx::query(SQL).bind(token_hash).fetch_optional(ex).await?;
        Ok(match row {
            Some(row) => {
                let session = session_from_row!(&row);
                let user = UserRow {
                    id: session.user_id.clone(),
                    name: row.try_get("name")?,
                    role: role(row.try_get::<String, _>("role")?.as_str())?,
                    password_hash: row.try_get("password_hash")?,
                    totp_secret: row.try_get("totp_secret")?,
                    totp_pending: row.try_get("totp_pending")?,
                    totp_last_step: row.try_get("totp_last_step")?,
                    disabled_at: row.try_get("disabled_at")?,
                    created_at: row.try_get("user_created_at")?,
                };
                Some((session, user))
            }
            None => None,
        })
    })
}

/// The user's sessions that are neither revoked nor past their lifetime.
pub(crate) async fn live_sessions_of(db: &Db, user_id: &str, now: i64) -> Result<Vec<SessionRow>> {
    let sql = concat!(
        "SELECT ",
        session_columns!(),
        " FROM access_sessions
         WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 AND stage = 'active'
         ORDER BY last_seen_at DESC"
    );
    on_reader!(db, ex => {
        let rows = sqlx::query(sql).bind(user_id).bind(now).fetch_all(ex).await?;
        let mut sessions = Vec::with_capacity(rows.len());
        for row in &rows {
            sessions.push(session_from_row!(row));
        }
        Ok(sessions)
    })
}

pub(crate) async fn touch_session(tx: &mut Tx, id: &str, now: i64) -> Result<()> {
    on_tx!(tx, ex => {
        sqlx::query("UPDATE access_sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2")
            .bind(id)
            .bind(now)
            .execute(ex)
            .await?;
    });
    Ok(())
}

/// Revokes one session of `user_id`; false when it was not theirs or is gone.
pub(crate) async fn revoke_session(tx: &mut Tx, user_id: &str, id: &str, now: i64) -> Result<bool> {
    on_tx!(tx, ex => {
        let done = sqlx::query(
            "UPDATE access_sessions SET revoked_at = $3
             WHERE id = $2 AND user_id = $1 AND revoked_at IS NULL",
        )
        .bind(user_id)
        .bind(id)
        .bind(now)
        .execute(ex)
        .await?;
        Ok(done.rows_affected() == 1)
    })
}

/// Revokes every live session of a user; how many.
pub(crate) async fn revoke_sessions_of(tx: &mut Tx, user_id: &str, now: i64) -> Result<u64> {
    revoke_sessions_of_except(tx, user_id, "", now).await
}

/// Revokes every live session of a user but `except`; how many.
pub(crate) async fn revoke_sessions_of_except(
    tx: &mut Tx,
    user_id: &str,
    except: &str,
    now: i64,
) -> Result<u64> {
    on_tx!(tx, ex => {
        let done = sqlx::query(
            "UPDATE access_sessions SET revoked_at = $2
             WHERE user_id = $1 AND revoked_at IS NULL AND id <> $3",
        )
        .bind(user_id)
        .bind(now)
        .bind(except)
        .execute(ex)
        .await?;
        Ok(done.rows_affected())
    })
}

// ---------------------------------------------------------------- tokens

#[derive(Debug, Clone)]
pub(crate) struct TokenRow {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

macro_rules! token_columns {
    () => {
        "id, name, role, created_by, created_at, expires_at, last_used_at, revoked_at"
    };
}

macro_rules! token_from_row {
    ($row:expr) => {{
        let row = $row;
        TokenRow {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            role: role(row.try_get::<String, _>("role")?.as_str())?,
            created_by: row.try_get("created_by")?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
            last_used_at: row.try_get("last_used_at")?,
            revoked_at: row.try_get("revoked_at")?,
        }
    }};
}

pub(crate) async fn insert_token(tx: &mut Tx, token: &TokenRow, token_hash: &str) -> Result<()> {
    on_tx!(tx, ex => {
        sqlx::query(
            "INSERT INTO access_tokens (id, name, role, token_hash, created_by, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&token.id)
        .bind(&token.name)
        .bind(token.role.as_str())
        .bind(token_hash)
        .bind(&token.created_by)
        .bind(token.created_at)
        .bind(token.expires_at)
        .execute(ex)
        .await?;
    });
    Ok(())
}

pub(crate) async fn token_by_hash(db: &Db, token_hash: &str) -> Result<Option<TokenRow>> {
    let sql = concat!(
        "SELECT ",
        token_columns!(),
        " FROM access_tokens WHERE token_hash = $1"
    );
    on_reader!(db, ex => {
        let row = sqlx::query(sql).bind(token_hash).fetch_optional(ex).await?;
        Ok(match row { Some(row) => Some(token_from_row!(&row)), None => None })
    })
}

pub(crate) async fn list_tokens(db: &Db) -> Result<Vec<TokenRow>> {
    let sql = concat!(
        "SELECT ",
        token_columns!(),
        " FROM access_tokens ORDER BY created_at DESC, id"
    );
    on_reader!(db, ex => {
        let rows = sqlx::query(sql).fetch_all(ex).await?;
        let mut tokens = Vec::with_capacity(rows.len());
        for row in &rows {
            tokens.push(token_from_row!(row));
        }
        Ok(tokens)
    })
}

pub(crate) async fn revoke_token(tx: &mut Tx, id: &str, now: i64) -> Result<bool> {
    on_tx!(tx, ex => {
        let done = sqlx::query(
            "UPDATE access_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(now)
        .execute(ex)
        .await?;
        Ok(done.rows_affected() == 1)
    })
}

/// Revokes the live tokens of a name; how many.
pub(crate) async fn revoke_tokens_named(tx: &mut Tx, name: &str, now: i64) -> Result<u64> {
    on_tx!(tx, ex => {
        let done = sqlx::query(
            "UPDATE access_tokens SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL",
        )
        .bind(name)
        .bind(now)
        .execute(ex)
        .await?;
        Ok(done.rows_affected())
    })
}

pub(crate) async fn touch_token(tx: &mut Tx, id: &str, now: i64) -> Result<()> {
    on_tx!(tx, ex => {
        sqlx::query("UPDATE access_tokens SET last_used_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(ex)
            .await?;
    });
    Ok(())
}

// ---------------------------------------------------------------- throttle

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ThrottleRow {
    pub failures: i64,
    pub locked_until: i64,
    pub updated_at: i64,
}

macro_rules! throttle_row {
    ($ex:expr, $key:expr) => {{
        let row = sqlx::query(
            "SELECT failures, locked_until, updated_at FROM access_login_throttle WHERE key = $1",
        )
        .bind($key)
        .fetch_optional($ex)
        .await?;
        Ok(match row {
            Some(row) => Some(ThrottleRow {
                failures: row.try_get("failures")?,
                locked_until: row.try_get("locked_until")?,
                updated_at: row.try_get("updated_at")?,
            }),
            None => None,
        })
    }};
}

pub(crate) async fn throttle(db: &Db, key: &str) -> Result<Option<ThrottleRow>> {
    on_reader!(db, ex => throttle_row!(ex, key))
}

/// The same, read inside a write transaction (read-modify-write).
pub(crate) async fn throttle_in(tx: &mut Tx, key: &str) -> Result<Option<ThrottleRow>> {
    on_tx!(tx, ex => throttle_row!(ex, key))
}

pub(crate) async fn put_throttle(tx: &mut Tx, key: &str, row: ThrottleRow) -> Result<()> {
    on_tx!(tx, ex => {
        sqlx::query(
            "INSERT INTO access_login_throttle (key, failures, locked_until, updated_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (key) DO UPDATE SET failures = excluded.failures,
                 locked_until = excluded.locked_until, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(row.failures)
        .bind(row.locked_until)
        .bind(row.updated_at)
        .execute(ex)
        .await?;
    });
    Ok(())
}

pub(crate) async fn clear_throttle(tx: &mut Tx, key: &str) -> Result<()> {
    on_tx!(tx, ex => {
        sqlx::query("DELETE FROM access_login_throttle WHERE key = $1")
            .bind(key)
            .execute(ex)
            .await?;
    });
    Ok(())
}
