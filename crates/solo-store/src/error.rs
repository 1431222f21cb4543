use std::path::PathBuf;

/// What can go wrong opening or migrating the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid database URL: {reason}")]
    InvalidUrl { reason: String },

    #[error("cannot open the SQLite database at {path}: {source}")]
    OpenSqlite {
        path: PathBuf,
        #[source]
        source: sqlx::Error,
    },

    #[error("cannot connect to PostgreSQL at {target}: {source}")]
    ConnectPostgres {
        /// host:port/database, never the password.
        target: String,
        #[source]
        source: sqlx::Error,
    },

    #[error(
        "migration {component}/{version:04} ({name}) was changed after it was applied \
         (recorded checksum {recorded}, this binary has {current}); applied migrations are \
         append-only: restore the original file and add a new migration instead"
    )]
    MigrationChanged {
        component: String,
        version: u32,
        name: String,
        recorded: String,
        current: String,
    },

    #[error(
        "the database has migration {component}/{version:04} ({name}) applied by solo {applied_by}, \
         which this solo ({this_version}) does not know: the database is newer than this binary; \
         run the newer solo, or restore a backup taken before the upgrade"
    )]
    DatabaseNewer {
        component: String,
        version: u32,
        name: String,
        applied_by: String,
        this_version: String,
    },

    #[error(
        "migration {component}/{version:04} is not applied but a later one of `{component}` is; \
         the migration history diverged (a migration was inserted into the middle of the sequence)"
    )]
    MigrationGap { component: String, version: u32 },

    #[error("migration {component}/{version:04} ({name}) failed: {source}")]
    MigrationFailed {
        component: String,
        version: u32,
        name: String,
        #[source]
        source: sqlx::Error,
    },

    #[error("invalid migration set: {0}")]
    InvalidMigrationSet(String),

    #[error(transparent)]
    Database(#[from] sqlx::Error),
}
