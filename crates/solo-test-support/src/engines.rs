//! One test body, both engines: [`storage_tests!`](crate::storage_tests)
//! turns each body into a `sqlite` and a `postgres` test, so a storage
//! behaviour can never be tested on one engine only.

use solo_store::{Db, DbOptions, DbTarget, MigrationSet, Migrator};
use tempfile::TempDir;

use crate::pg::PgCluster;

/// A fresh, empty database on one engine, alive as long as this value.
pub struct TestDb {
    pub db: Db,
    pub target: DbTarget,
    _dir: Option<TempDir>,
}

impl TestDb {
    /// A new SQLite file in its own temporary directory.
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir for SQLite");
        let target = DbTarget::Sqlite {
            path: dir.path().join("solo.db"),
        };
        let db = Db::open(&DbOptions::new(target.clone()))
            .await
            .expect("open test SQLite");
        TestDb {
            db,
            target,
            _dir: Some(dir),
        }
    }

    /// A new database in the shared throwaway PostgreSQL cluster; None when
    /// PostgreSQL is missing and not required (a loud notice was printed).
    pub async fn postgres(test_name: &str) -> Option<TestDb> {
        let cluster = PgCluster::shared(test_name)?;
        let url = cluster.create_database();
        let target = DbTarget::Postgres { url };
        let db = Db::open(&DbOptions::new(target.clone()))
            .await
            .expect("open test PostgreSQL database");
        Some(TestDb {
            db,
            target,
            _dir: None,
        })
    }
}

/// Applies `sets` (e.g. `&[solo_cluster::MIGRATIONS]`) to `db`.
pub async fn migrate(db: &Db, sets: &[MigrationSet]) {
    Migrator::new(sets, "test")
        .expect("valid migration sets")
        .run(db)
        .await
        .expect("migrations apply");
}

/// Declares storage tests that run once per engine.
///
/// ```text
/// solo_test_support::storage_tests! {
///     async fn registers_a_node(db: Db) {
///         migrate(&db, &[MIGRATIONS]).await;
///         // …
///     }
/// }
/// ```
///
/// expands to a module `registers_a_node` with the tests `sqlite` and
/// `postgres`. The body sees the enclosing module (`use super::*`).
///
/// A body that needs more handles to the same database (several nodes, other
/// options) also takes its target: `async fn name(db: Db, target: DbTarget)`.
#[macro_export]
macro_rules! storage_tests {
    ($( $(#[$meta:meta])* async fn $name:ident($db:ident : Db $(, $target:ident : DbTarget)? $(,)?) $body:block )*) => {
        $(
            $(#[$meta])*
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let test_db = $crate::engines::TestDb::sqlite().await;
                    let $db: ::solo_store::Db = test_db.db.clone();
                    $( let $target: ::solo_store::DbTarget = test_db.target.clone(); )?
                    $body
                    drop(test_db);
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let name = concat!(module_path!(), "::postgres");
                    let Some(test_db) = $crate::engines::TestDb::postgres(name).await else {
                        return;
                    };
                    let $db: ::solo_store::Db = test_db.db.clone();
                    $( let $target: ::solo_store::DbTarget = test_db.target.clone(); )?
                    $body
                    drop(test_db);
                }
            }
        )*
    };
}
