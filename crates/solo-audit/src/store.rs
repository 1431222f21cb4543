//! The storage seam of the audit chain: the only SQL of `audit_log`.
//! Both engines take `$N` parameters and store the same column types, so
//! each statement is written once and run on the engine at hand.

use solo_store::sqlx::{self, Row};
use solo_store::{Db, Tx, on_reader};

use crate::AuditError;
use crate::entry::{Actor, AuditFilter, AuditRecord};

/// Key of the PostgreSQL advisory lock that serialises appends (cluster
/// wide). "solo" "audit" in ASCII, so it is recognisable in `pg_locks`.
pub const APPEND_LOCK_KEY: i64 = 0x736f_6c6f_6175_6474;

macro_rules! record_from_row {
    ($row:expr) => {{
        let row = $row;
        let details: String = row.try_get("details")?;
        AuditRecord {
            seq: row.try_get("seq")?,
            at_us: row.try_get("at_us")?,
            actor: Actor::from_parts(
                row.try_get::<String, _>("actor_kind")?.as_str(),
                row.try_get("actor_id")?,
                row.try_get("actor_name")?,
            )
            .map_err(AuditError::Corrupt)?,
            action: row.try_get("action")?,
            target: row.try_get("target")?,
            details: serde_json::from_str(&details)
                .map_err(|e| AuditError::Corrupt(format!("details are not JSON: {e}")))?,
            request_id: row.try_get("request_id")?,
            client: row.try_get("client")?,
            prev_hash: row.try_get("prev_hash")?,
            hash: row.try_get("hash")?,
        }
    }};
}

/// Takes the append lock (PostgreSQL; SQLite's IMMEDIATE transaction
/// already holds the database's write lock) and reads the chain's head.
pub(crate) async fn lock_head(tx: &mut Tx) -> Result<Option<(i64, String)>, AuditError> {
    const HEAD: &str = "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1";
    let head = match tx {
        Tx::Sqlite(tx) => sqlx::query(HEAD).fetch_optional(&mut **tx).await?,
        Tx::Postgres(tx) => {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(APPEND_LOCK_KEY)
                .execute(&mut **tx)
                .await?;
            return Ok(match sqlx::query(HEAD).fetch_optional(&mut **tx).await? {
                Some(row) => Some((row.try_get("seq")?, row.try_get("hash")?)),
                None => None,
            });
        }
    };
    Ok(match head {
        Some(row) => Some((row.try_get("seq")?, row.try_get("hash")?)),
        None => None,
    })
}

pub(crate) async fn insert(tx: &mut Tx, record: &AuditRecord) -> Result<(), AuditError> {
    const INSERT: &str = "INSERT INTO audit_log
        (seq, at_us, actor_kind, actor_id, actor_name, action, target, details, request_id,
         client, prev_hash, hash)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
    let (kind, id, name) = record.actor.parts();
    let details = crate::canonical::canonical_json(&record.details);
    macro_rules! run {
        ($ex:expr) => {{
            sqlx::query(INSERT)
                .bind(record.seq)
                .bind(record.at_us)
                .bind(kind)
                .bind(id)
                .bind(name)
                .bind(&record.action)
                .bind(record.target.as_deref())
                .bind(&details)
                .bind(record.request_id.as_deref())
                .bind(record.client.as_deref())
                .bind(&record.prev_hash)
                .bind(&record.hash)
                .execute($ex)
                .await?;
        }};
    }
    match tx {
        Tx::Sqlite(tx) => run!(&mut **tx),
        Tx::Postgres(tx) => run!(&mut **tx),
    }
    Ok(())
}

pub(crate) async fn list(db: &Db, filter: &AuditFilter) -> Result<Vec<AuditRecord>, AuditError> {
    const LIST: &str = "SELECT seq, at_us, actor_kind, actor_id, actor_name, action, target, \
        details, request_id, client, prev_hash, hash FROM audit_log
        WHERE ($1 IS NULL OR actor_name = $1)
          AND ($2 IS NULL OR action = $2)
          AND ($3 IS NULL OR action LIKE $3 ESCAPE '\\')
          AND ($4 IS NULL OR at_us >= $4)
          AND ($5 IS NULL OR at_us < $5)
          AND ($6 IS NULL OR seq < $6)
        ORDER BY seq DESC
        LIMIT $7";
    let (exact, prefix) = filter.action_match();
    let since = filter.since.map(|t| t.timestamp_micros());
    let until = filter.until.map(|t| t.timestamp_micros());
    on_reader!(db, ex => {
        let rows = sqlx::query(LIST)
            .bind(filter.actor.as_deref())
            .bind(exact.as_deref())
            .bind(prefix.as_deref())
            .bind(since)
            .bind(until)
            .bind(filter.before_seq)
            .bind(filter.limit())
            .fetch_all(ex)
            .await?;
        let mut records = Vec::with_capacity(rows.len());
        for row in &rows {
            records.push(record_from_row!(row));
        }
        Ok(records)
    })
}

/// Up to `limit` entries after `after_seq`, oldest first (for verify).
pub(crate) async fn page_after(
    db: &Db,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<Result<AuditRecord, AuditError>>, AuditError> {
    const PAGE: &str = "SELECT seq, at_us, actor_kind, actor_id, actor_name, action, target, \
        details, request_id, client, prev_hash, hash FROM audit_log
        WHERE seq > $1 ORDER BY seq LIMIT $2";
    on_reader!(db, ex => {
        let rows = sqlx::query(PAGE).bind(after_seq).bind(limit).fetch_all(ex).await?;
        // A row that cannot even be read is reported by verify, not fatal.
        let mut records = Vec::with_capacity(rows.len());
        for row in &rows {
            let read = (|| -> Result<AuditRecord, AuditError> { Ok(record_from_row!(row)) })();
            records.push(read);
        }
        Ok(records)
    })
}
