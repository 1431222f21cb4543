//! One write transaction over either engine, so crates can compose writes:
//! a capability changes its own tables and appends its audit entry in the
//! same transaction, each crate's SQL staying in its own storage seam.

use sqlx::{Postgres, Sqlite, Transaction};

use crate::db::{Db, Engine};

/// A write transaction. Capability crates match on it in their storage
/// seam, exactly as they match on [`Db`]. Dropped without
/// [`commit`](Tx::commit), it rolls back.
#[derive(Debug)]
pub enum Tx {
    /// On the single writer, begun with `BEGIN IMMEDIATE`: the write lock is
    /// taken up front, so read-then-write never fails half-way.
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Db {
    /// Begins a write transaction.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        match self {
            Db::Sqlite(db) => Ok(Tx::Sqlite(db.begin_write().await?)),
            Db::Postgres(pool) => Ok(Tx::Postgres(pool.begin().await?)),
        }
    }
}

impl Tx {
    pub fn engine(&self) -> Engine {
        match self {
            Tx::Sqlite(_) => Engine::Sqlite,
            Tx::Postgres(_) => Engine::Postgres,
        }
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        }
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.rollback().await,
            Tx::Postgres(tx) => tx.rollback().await,
        }
    }
}
