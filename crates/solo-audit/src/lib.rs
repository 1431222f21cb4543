//! The audit chain: every change in solo appends one entry, hash-linked to
//! the one before, inside the transaction that makes the change.
//!
//! Owns `audit_log`. The database refuses UPDATE, DELETE (and TRUNCATE on
//! PostgreSQL) on it; [`verify`] walks the chain and names the first entry
//! that does not hold, so a change made behind solo's back (triggers
//! disabled, a hand-edited file) shows. Appends are serialised (the single
//! SQLite writer; a transaction-scoped advisory lock on PostgreSQL), so
//! concurrent writers never fork the chain.

mod canonical;
mod entry;
mod routes;
mod store;
mod verify;

use chrono::{DateTime, Utc};
use solo_store::{Db, Migration, MigrationSet, Tx};

pub use canonical::{GENESIS, canonical_json, entry_hash};
pub use entry::{Actor, AuditFilter, AuditRecord, NewEntry, Requester};
pub use routes::routes;
pub use verify::{BadEntry, VerifyReport, verify};

/// The `audit` component's migrations.
pub const MIGRATIONS: MigrationSet = MigrationSet {
    component: "audit",
    migrations: &[Migration {
        version: 1,
        name: "create_audit_log",
        sqlite: include_str!("../migrations/sqlite/0001_create_audit_log.sql"),
        postgres: include_str!("../migrations/postgres/0001_create_audit_log.sql"),
    }],
};

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("database error: {0}")]
    Db(#[from] solo_store::sqlx::Error),
    #[error("an audit entry is unreadable: {0}")]
    Corrupt(String),
}

/// Appends `entry` at `at` inside the caller's transaction: the entry
/// commits or rolls back with the change it records. Details are redacted
/// before they are hashed and stored.
pub async fn append(
    tx: &mut Tx,
    entry: NewEntry,
    at: DateTime<Utc>,
) -> Result<AuditRecord, AuditError> {
    let head = store::lock_head(tx).await?;
    let record = AuditRecord::chained(entry, at, head);
    store::insert(tx, &record).await?;
    Ok(record)
}

/// Appends in a transaction of its own, at the current time.
pub async fn append_now(db: &Db, entry: NewEntry) -> Result<AuditRecord, AuditError> {
    let mut tx = db.begin().await?;
    let record = append(&mut tx, entry, Utc::now()).await?;
    tx.commit().await?;
    Ok(record)
}

/// Entries matching `filter`, newest first.
pub async fn list(db: &Db, filter: &AuditFilter) -> Result<Vec<AuditRecord>, AuditError> {
    store::list(db, filter).await
}
