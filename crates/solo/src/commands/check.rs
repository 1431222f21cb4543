//! `solo check`: validate solo.toml (and the overrides) without running.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Serialize;

use crate::cli::GlobalArgs;
use crate::exit::CliError;
use crate::output;
use crate::settings;

#[derive(Serialize)]
struct Checked {
    valid: bool,
    file: PathBuf,
    version: u32,
    listen: SocketAddr,
    data_dir: PathBuf,
    database: String,
    database_backend: &'static str,
}

pub fn run(global: &GlobalArgs) -> Result<(), CliError> {
    let (path, stack) = settings::load_stack(global)?;
    let version = stack.version;
    let node = settings::resolve(global, path, stack)?;
    let backend = match node.db.target {
        solo_store::DbTarget::Sqlite { .. } => "sqlite",
        solo_store::DbTarget::Postgres { .. } => "postgres",
    };
    let checked = Checked {
        valid: true,
        file: node.config_path.clone(),
        version,
        listen: node.listen,
        data_dir: node.data_dir.clone(),
        database: node.db.target.describe(),
        database_backend: backend,
    };
    output::emit(global.json, &checked, || {
        format!(
            "{file} is valid (version {version})\n  listen    {listen}\n  data dir  {data}\n  database  {backend} {db}\n",
            file = checked.file.display(),
            listen = checked.listen,
            data = checked.data_dir.display(),
            db = checked.database,
        )
    });
    Ok(())
}
