//! Migrations: declared per crate, applied at start-up in one ordered sequence.
//!
//! Each capability crate owns its tables and declares a [`MigrationSet`]: its
//! component name and its migrations, each with one SQL text per engine. The
//! binary hands every set to one [`Migrator`] in a fixed order; pending
//! migrations run in that order, each in its own transaction together with its
//! row in the `solo_migrations` ledger.
//!
//! The ledger records a SHA-256 checksum of the SQL that ran. Start-up refuses
//! to go on when an applied migration's text has changed since (history was
//! rewritten), when the database holds a migration this binary does not know
//! (a newer solo migrated it), or when a migration was slipped in before one
//! already applied.

use std::collections::BTreeMap;
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::db::{Db, Engine};
use crate::error::StoreError;

/// One schema change, written once per engine.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// 1, 2, 3… within its component; never reused, never renumbered.
    pub version: u32,
    /// Short snake_case description, e.g. `create_nodes`.
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

impl Migration {
    fn sql(&self, engine: Engine) -> &'static str {
        match engine {
            Engine::Sqlite => self.sqlite,
            Engine::Postgres => self.postgres,
        }
    }

    /// SHA-256 of the SQL for `engine`, with line endings normalised so a
    /// checkout with CRLF endings does not look like tampering.
    pub fn checksum(&self, engine: Engine) -> String {
        let normalised = self.sql(engine).replace("\r\n", "\n");
        hex::encode(Sha256::digest(normalised.as_bytes()))
    }
}

/// The migrations of one component (one capability crate).
#[derive(Debug, Clone, Copy)]
pub struct MigrationSet {
    /// The owning component, e.g. `cluster`; unique across the binary.
    pub component: &'static str,
    pub migrations: &'static [Migration],
}

/// Where the database stands against this binary's migrations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaStatus {
    /// Migrations recorded as applied: the schema version.
    pub applied: u32,
    /// Migrations this binary knows.
    pub known: u32,
    /// Known but not applied, as `component/version_name`.
    pub pending: Vec<String>,
}

impl SchemaStatus {
    pub fn is_current(&self) -> bool {
        self.pending.is_empty()
    }
}

/// What [`Migrator::run`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// Newly applied, as `component/version_name`, in order.
    pub applied: Vec<String>,
    /// The schema version afterwards.
    pub schema_version: u32,
}

#[derive(Debug, Clone)]
struct AppliedRow {
    component: String,
    version: u32,
    name: String,
    checksum: String,
    solo_version: String,
}

/// Applies and checks the ordered sequence of every crate's migrations.
#[derive(Debug, Clone)]
pub struct Migrator {
    sets: Vec<MigrationSet>,
    binary_version: String,
}

impl Migrator {
    /// `binary_version` is recorded with each applied migration, to name the
    /// solo that applied it when a database turns out newer than a binary.
    pub fn new(sets: &[MigrationSet], binary_version: &str) -> Result<Self, StoreError> {
        let mut seen = std::collections::HashSet::new();
        for set in sets {
            let valid_name = !set.component.is_empty()
                && set
                    .component
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !valid_name {
                return Err(StoreError::InvalidMigrationSet(format!(
                    "component name `{}` must be lowercase letters, digits and _",
                    set.component
                )));
            }
            if !seen.insert(set.component) {
                return Err(StoreError::InvalidMigrationSet(format!(
                    "component `{}` is listed twice",
                    set.component
                )));
            }
            let mut last = 0;
            for m in set.migrations {
                if m.version <= last {
                    return Err(StoreError::InvalidMigrationSet(format!(
                        "{}: migration versions must start at 1 and increase (found {} after {})",
                        set.component, m.version, last
                    )));
                }
                if m.name.is_empty() || m.sqlite.trim().is_empty() || m.postgres.trim().is_empty() {
                    return Err(StoreError::InvalidMigrationSet(format!(
                        "{}/{:04} needs a name and SQL for both engines",
                        set.component, m.version
                    )));
                }
                last = m.version;
            }
        }
        Ok(Migrator {
            sets: sets.to_vec(),
            binary_version: binary_version.to_owned(),
        })
    }

    /// How many migrations this binary knows.
    pub fn known(&self) -> u32 {
        let n: usize = self.sets.iter().map(|s| s.migrations.len()).sum();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Checks the ledger against this binary without changing anything.
    pub async fn status(&self, db: &Db) -> Result<SchemaStatus, StoreError> {
        let applied = ledger::load(db).await?;
        self.check(db.engine(), &applied)?;
        let index = by_key(&applied);
        let pending = self
            .all()
            .filter(|(set, m)| !index.contains_key(&(set.component, m.version)))
            .map(|(set, m)| label(set, m))
            .collect();
        Ok(SchemaStatus {
            applied: u32::try_from(applied.len()).unwrap_or(u32::MAX),
            known: self.known(),
            pending,
        })
    }

    /// Applies every pending migration, in order, refusing a ledger that
    /// does not match this binary (see the module docs).
    ///
    /// The whole run (reading the ledger, the checks, every migration) holds
    /// the database's migration lock, so two nodes starting together never
    /// interleave: SQLite runs it in one `BEGIN IMMEDIATE` transaction (each
    /// migration in a savepoint), PostgreSQL on one
    /// dedicated connection holding a session advisory lock, with no
    /// statement or lock timeout (a long index build, or waiting for another
    /// node's run, is not an error), each migration in its own transaction.
    pub async fn run(&self, db: &Db) -> Result<MigrationReport, StoreError> {
        let engine = db.engine();
        let applied_now = match db {
            Db::Sqlite(sqlite) => {
                let mut tx = sqlite.begin_write().await?;
                ledger::create_sqlite(&mut tx).await?;
                let applied = ledger::load_sqlite(&mut tx).await?;
                self.check(engine, &applied)?;
                // Each migration in a savepoint: a failing one is undone
                // whole, the ones before it still commit (as on PostgreSQL).
                let mut newly = Vec::new();
                let mut failure = None;
                for (set, m) in self.pending(&applied) {
                    let started = Instant::now();
                    sqlx::raw_sql("SAVEPOINT migration")
                        .execute(&mut *tx)
                        .await?;
                    let row = self.row(set, m, engine);
                    match ledger::apply_sqlite(&mut tx, m.sql(engine), &row, started).await {
                        Ok(()) => {
                            sqlx::raw_sql("RELEASE migration").execute(&mut *tx).await?;
                            newly.push(applied_log(set, m, started));
                        }
                        Err(source) => {
                            sqlx::raw_sql("ROLLBACK TO migration; RELEASE migration")
                                .execute(&mut *tx)
                                .await?;
                            failure = Some(failed(set, m, source));
                            break;
                        }
                    }
                }
                tx.commit().await?;
                if let Some(error) = failure {
                    return Err(error);
                }
                newly
            }
            Db::Postgres(pool) => {
                // Detached: this connection's settings change for the run,
                // and it is closed after it (which also drops the lock),
                // never handed back to the pool.
                let mut conn = pool.acquire().await?.detach();
                let result = self.run_postgres(&mut conn).await;
                let _ = sqlx::Connection::close(conn).await;
                result?
            }
        };
        let status = self.status(db).await?;
        Ok(MigrationReport {
            applied: applied_now,
            schema_version: status.applied,
        })
    }

    async fn run_postgres(&self, conn: &mut sqlx::PgConnection) -> Result<Vec<String>, StoreError> {
        let engine = Engine::Postgres;
        ledger::lock_postgres_session(conn).await?;
        ledger::create_postgres(conn).await?;
        let applied = ledger::load_postgres(conn).await?;
        self.check(engine, &applied)?;
        let mut newly = Vec::new();
        for (set, m) in self.pending(&applied) {
            let started = Instant::now();
            ledger::apply_postgres(conn, m.sql(engine), &self.row(set, m, engine), started)
                .await
                .map_err(|source| failed(set, m, source))?;
            newly.push(applied_log(set, m, started));
        }
        Ok(newly)
    }

    /// Known but not applied, in order.
    fn pending<'a>(&'a self, applied: &[AppliedRow]) -> Vec<(&'a MigrationSet, &'a Migration)> {
        let index = by_key(applied);
        self.all()
            .filter(|(set, m)| !index.contains_key(&(set.component, m.version)))
            .collect()
    }

    fn row(&self, set: &MigrationSet, m: &Migration, engine: Engine) -> AppliedRow {
        AppliedRow {
            component: set.component.to_owned(),
            version: m.version,
            name: m.name.to_owned(),
            checksum: m.checksum(engine),
            solo_version: self.binary_version.clone(),
        }
    }

    fn all(&self) -> impl Iterator<Item = (&MigrationSet, &Migration)> {
        self.sets
            .iter()
            .flat_map(|set| set.migrations.iter().map(move |m| (set, m)))
    }

    /// Refuses a ledger that this binary must not run against.
    fn check(&self, engine: Engine, applied: &[AppliedRow]) -> Result<(), StoreError> {
        let known: BTreeMap<(&str, u32), &Migration> = self
            .all()
            .map(|(set, m)| ((set.component, m.version), m))
            .collect();
        for row in applied {
            let Some(m) = known.get(&(row.component.as_str(), row.version)) else {
                return Err(StoreError::DatabaseNewer {
                    component: row.component.clone(),
                    version: row.version,
                    name: row.name.clone(),
                    applied_by: row.solo_version.clone(),
                    this_version: self.binary_version.clone(),
                });
            };
            let current = m.checksum(engine);
            if current != row.checksum {
                return Err(StoreError::MigrationChanged {
                    component: row.component.clone(),
                    version: row.version,
                    name: row.name.clone(),
                    recorded: short(&row.checksum),
                    current: short(&current),
                });
            }
        }
        let index = by_key(applied);
        for set in &self.sets {
            let highest = applied
                .iter()
                .filter(|r| r.component == set.component)
                .map(|r| r.version)
                .max();
            if let Some(highest) = highest
                && let Some(missing) = set.migrations.iter().find(|m| {
                    m.version < highest && !index.contains_key(&(set.component, m.version))
                })
            {
                return Err(StoreError::MigrationGap {
                    component: set.component.to_owned(),
                    version: missing.version,
                });
            }
        }
        Ok(())
    }
}

fn failed(set: &MigrationSet, m: &Migration, source: sqlx::Error) -> StoreError {
    StoreError::MigrationFailed {
        component: set.component.to_owned(),
        version: m.version,
        name: m.name.to_owned(),
        source,
    }
}

/// Logs an applied migration; its label.
fn applied_log(set: &MigrationSet, m: &Migration, started: Instant) -> String {
    tracing::info!(
        migration = %label(set, m),
        duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "applied migration"
    );
    label(set, m)
}

fn by_key(applied: &[AppliedRow]) -> BTreeMap<(&str, u32), &AppliedRow> {
    applied
        .iter()
        .map(|r| ((r.component.as_str(), r.version), r))
        .collect()
}

fn label(set: &MigrationSet, m: &Migration) -> String {
    format!("{}/{:04}_{}", set.component, m.version, m.name)
}

fn short(checksum: &str) -> String {
    checksum.chars().take(12).collect()
}

/// The `solo_migrations` ledger: the only engine-specific SQL in this module.
mod ledger {
    use std::time::Instant;

    use sqlx::{PgConnection, Row, SqliteConnection};

    use super::AppliedRow;
    use crate::db::Db;
    use crate::error::StoreError;

    /// Key of PostgreSQL's session advisory lock held for a whole migration
    /// run, so nodes starting together migrate one at a time ("solomigr").
    const PG_MIGRATION_LOCK: i64 = 0x736f_6c6f_6d69_6772;

    const SELECT: &str = "SELECT component, version, name, checksum, solo_version \
                          FROM solo_migrations ORDER BY component, version";

    pub(super) async fn create_sqlite(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS solo_migrations (
                component    TEXT    NOT NULL,
                version      INTEGER NOT NULL,
                name         TEXT    NOT NULL,
                checksum     TEXT    NOT NULL,
                solo_version TEXT    NOT NULL,
                applied_at   TEXT    NOT NULL,
                duration_ms  INTEGER NOT NULL,
                PRIMARY KEY (component, version)
            )",
        )
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Waits, however long it takes, for the migration lock; this
    /// connection then runs without statement or lock timeouts.
    pub(super) async fn lock_postgres_session(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        sqlx::raw_sql("SET statement_timeout = 0; SET lock_timeout = 0")
            .execute(&mut *conn)
            .await?;
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(PG_MIGRATION_LOCK)
            .execute(conn)
            .await?;
        Ok(())
    }

    pub(super) async fn create_postgres(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS solo_migrations (
                component    TEXT        NOT NULL,
                version      INTEGER     NOT NULL,
                name         TEXT        NOT NULL,
                checksum     TEXT        NOT NULL,
                solo_version TEXT        NOT NULL,
                applied_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
                duration_ms  BIGINT      NOT NULL,
                PRIMARY KEY (component, version)
            )",
        )
        .execute(conn)
        .await?;
        Ok(())
    }

    pub(super) async fn load_sqlite(
        conn: &mut SqliteConnection,
    ) -> Result<Vec<AppliedRow>, StoreError> {
        Ok(sqlx::query(SELECT)
            .fetch_all(conn)
            .await?
            .iter()
            .map(|r| read_row(r.get(0), r.get::<i64, _>(1), r.get(2), r.get(3), r.get(4)))
            .collect())
    }

    pub(super) async fn load_postgres(
        conn: &mut PgConnection,
    ) -> Result<Vec<AppliedRow>, StoreError> {
        Ok(sqlx::query(SELECT)
            .fetch_all(conn)
            .await?
            .iter()
            .map(|r| {
                read_row(
                    r.get(0),
                    i64::from(r.get::<i32, _>(1)),
                    r.get(2),
                    r.get(3),
                    r.get(4),
                )
            })
            .collect())
    }

    /// Applied rows, read through the pools (for status); empty when the
    /// ledger does not exist yet.
    pub(super) async fn load(db: &Db) -> Result<Vec<AppliedRow>, StoreError> {
        match db {
            Db::Sqlite(sqlite) => {
                let exists: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'solo_migrations'",
                )
                .fetch_one(sqlite.reader())
                .await?;
                if exists == 0 {
                    return Ok(Vec::new());
                }
                let mut conn = sqlite.reader().acquire().await?;
                load_sqlite(&mut conn).await
            }
            Db::Postgres(pool) => {
                let exists: bool =
                    sqlx::query_scalar("SELECT to_regclass('solo_migrations') IS NOT NULL")
                        .fetch_one(pool)
                        .await?;
                if !exists {
                    return Ok(Vec::new());
                }
                let mut conn = pool.acquire().await?;
                load_postgres(&mut conn).await
            }
        }
    }

    fn read_row(
        component: String,
        version: i64,
        name: String,
        checksum: String,
        solo_version: String,
    ) -> AppliedRow {
        AppliedRow {
            component,
            version: u32::try_from(version).unwrap_or(u32::MAX),
            name,
            checksum,
            solo_version,
        }
    }

    /// Runs one migration and records it, inside the run's transaction.
    pub(super) async fn apply_sqlite(
        conn: &mut SqliteConnection,
        sql: &'static str,
        row: &AppliedRow,
        started: Instant,
    ) -> Result<(), sqlx::Error> {
        sqlx::raw_sql(sql).execute(&mut *conn).await?;
        sqlx::query(
            "INSERT INTO solo_migrations
                (component, version, name, checksum, solo_version, applied_at, duration_ms)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&row.component)
        .bind(i64::from(row.version))
        .bind(&row.name)
        .bind(&row.checksum)
        .bind(&row.solo_version)
        .bind(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .bind(elapsed_ms(started))
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Runs one migration and records it, in a transaction of its own.
    pub(super) async fn apply_postgres(
        conn: &mut PgConnection,
        sql: &'static str,
        row: &AppliedRow,
        started: Instant,
    ) -> Result<(), sqlx::Error> {
        let mut tx = sqlx::Connection::begin(conn).await?;
        sqlx::raw_sql(sql).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO solo_migrations
                (component, version, name, checksum, solo_version, duration_ms)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&row.component)
        .bind(i32::try_from(row.version).unwrap_or(i32::MAX))
        .bind(&row.name)
        .bind(&row.checksum)
        .bind(&row.solo_version)
        .bind(elapsed_ms(started))
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    fn elapsed_ms(started: Instant) -> i64 {
        i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX)
    }
}
