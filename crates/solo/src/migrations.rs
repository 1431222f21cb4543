//! Every component's migrations, in the one order they are applied.
//! A new capability crate appends its set here.

use solo_store::MigrationSet;

pub const ALL: &[MigrationSet] = &[
    solo_cluster::MIGRATIONS,
    solo_audit::MIGRATIONS,
    solo_access::MIGRATIONS,
    solo_jobs::MIGRATIONS,
    solo_deploy::MIGRATIONS,
];
