//! `solo init [DIR]`: a commented solo.toml and the data directory.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::{GlobalArgs, InitArgs};
use crate::exit::{CliError, Exit, OrFail};
use crate::output;
use crate::settings::{DEFAULT_CONFIG, DEFAULT_DATA_DIR};

#[derive(Serialize)]
struct Initialised {
    config: PathBuf,
    data_dir: PathBuf,
}

pub fn run(global: &GlobalArgs, args: &InitArgs) -> Result<(), CliError> {
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    fs::create_dir_all(&dir).or_fail(|| format!("cannot create {}", dir.display()))?;
    let config = global
        .config
        .clone()
        .unwrap_or_else(|| dir.join(DEFAULT_CONFIG));
    if config.exists() && !args.force {
        return Err(CliError::new(
            Exit::Failure,
            "config_exists",
            anyhow::anyhow!(
                "{} already exists; edit it, or pass --force to replace it with the example",
                config.display()
            ),
        ));
    }
    fs::write(&config, solo_config::EXAMPLE_STACK)
        .or_fail(|| format!("cannot write {}", config.display()))?;

    let data_dir = global
        .data_dir
        .clone()
        .unwrap_or_else(|| dir.join(DEFAULT_DATA_DIR));
    create_data_dir(&data_dir)?;

    let result = Initialised {
        config: config.clone(),
        data_dir: data_dir.clone(),
    };
    output::emit(global.json, &result, || {
        let cd = match args.dir.as_deref() {
            Some(d) if d != Path::new(".") => format!("cd {} && ", d.display()),
            _ => String::new(),
        };
        format!(
            "Created {config}  the stack: edit it, then `solo check`\n\
             Created {data}/  solo's state (database, node id); git-ignored\n\n\
             Next: {cd}solo up\n",
            config = config.display(),
            data = data_dir.display(),
        )
    });
    Ok(())
}

/// The data directory holds the database and, later, the vault: only its
/// owner may read it. A `.gitignore` of `*` keeps it out of the app's repo.
pub fn create_data_dir(data_dir: &Path) -> Result<(), CliError> {
    fs::create_dir_all(data_dir).or_fail(|| format!("cannot create {}", data_dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(data_dir, fs::Permissions::from_mode(0o700))
            .or_fail(|| format!("cannot restrict the permissions of {}", data_dir.display()))?;
    }
    let ignore = data_dir.join(".gitignore");
    if !ignore.exists() {
        fs::write(&ignore, "# solo's state: never commit it\n*\n")
            .or_fail(|| format!("cannot write {}", ignore.display()))?;
    }
    Ok(())
}
