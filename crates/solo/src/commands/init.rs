//! `solo init [DIR]`: a commented solo.toml and the data directory.

use std::fs;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::{CiProvider, GlobalArgs, InitArgs};
use crate::exit::{CliError, Exit, OrFail};
use crate::output;
use crate::settings::{
    DATA_DIR_FLAG, DEFAULT_CONFIG, DEFAULT_DATA_DIR, refuse_data_dir_holding_config,
};

#[derive(Serialize)]
struct Initialised {
    config: PathBuf,
    data_dir: PathBuf,
    /// `false` when the data directory was already there, and left as it was.
    data_dir_created: bool,
}

pub fn run(global: &GlobalArgs, args: &InitArgs) -> Result<(), CliError> {
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    if let Some(CiProvider::Github) = args.ci {
        return write_github_workflow(global, &dir, args.force);
    }
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
    let (data_dir, from) = match &global.data_dir {
        Some(flag) => (flag.clone(), DATA_DIR_FLAG),
        None => (dir.join(DEFAULT_DATA_DIR), "the default"),
    };
    // Before writing anything: a refused init leaves no trace.
    refuse_data_dir_holding_config(&data_dir, &config, from)?;

    fs::write(&config, solo_config::EXAMPLE_STACK)
        .or_fail(|| format!("cannot write {}", config.display()))?;
    let data_dir_created = create_data_dir(&data_dir)?;

    let result = Initialised {
        config: config.clone(),
        data_dir: data_dir.clone(),
        data_dir_created,
    };
    output::emit(global.json, &result, || {
        let cd = match args.dir.as_deref() {
            Some(d) if d != Path::new(".") => format!("cd {} && ", d.display()),
            _ => String::new(),
        };
        let data = if data_dir_created {
            format!(
                "Created {}/  solo's state (database, node id); git-ignored",
                data_dir.display()
            )
        } else {
            format!(
                "Using   {}/  solo's state; it already existed, so its permissions and contents \
                 are left as they are",
                data_dir.display()
            )
        };
        format!(
            "Created {config}  the stack: edit it, then `solo check`\n{data}\n\n\
             Next: {cd}solo up\n",
            config = config.display(),
        )
    });

    // The first admin: asked for at a terminal, explained otherwise.
    let interactive =
        !global.json && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let mut local = global.clone();
    local.config = Some(config.clone());
    if interactive {
        first_admin(&local)?;
    } else if !global.json {
        println!(
            "To sign in to the dashboard, create the first admin (it asks for a password):\n  \
             solo --config {} users add YOUR-NAME --role admin",
            config.display()
        );
    }
    Ok(())
}

/// Offers to create the first admin, at a terminal.
fn first_admin(global: &GlobalArgs) -> Result<(), CliError> {
    print!("Create the first admin now? Their name (empty to skip): ");
    std::io::stdout().flush().ok();
    let mut name = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut name)
        .or_fail(|| "cannot read the name".into())?;
    let name = name.trim();
    if name.is_empty() {
        println!("Skipped. Later: solo users add YOUR-NAME --role admin");
        return Ok(());
    }
    let password = super::prompt::new_password(name)?;
    let runtime = tokio::runtime::Runtime::new().or_fail(|| "cannot start the runtime".into())?;
    runtime.block_on(async {
        let (access, db) = super::local::access(global).await?;
        let created = access
            .create_user(
                &super::local::actor(),
                name,
                solo_access::Role::Admin,
                &password,
                &super::local::meta(),
            )
            .await
            .map_err(super::users::access_error);
        db.close().await;
        let user = created?;
        println!(
            "Added {} (admin). Sign in at the dashboard once `solo up` runs.",
            user.name
        );
        Ok(())
    })
}

/// The data directory holds the database and, later, the vault: a directory solo creates is
/// made private (0700) and gets a `.gitignore` of `*`, which keeps it out of the app's repo.
/// A directory that already exists is the operator's: its mode and contents are left alone.
/// Returns whether the directory was created.
pub fn create_data_dir(data_dir: &Path) -> Result<bool, CliError> {
    let exists = |data_dir: &Path| -> Result<bool, CliError> {
        match fs::metadata(data_dir) {
            Ok(meta) if meta.is_dir() => Ok(true),
            Ok(_) => Err(CliError::failure(anyhow::anyhow!(
                "the data directory {} exists but is not a directory; move it away, or point \
                 `data_dir` (or --data-dir) elsewhere",
                data_dir.display()
            ))),
            Err(_) => Ok(false),
        }
    };
    if exists(data_dir)? {
        return Ok(false);
    }
    if let Some(parent) = data_dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).or_fail(|| format!("cannot create {}", parent.display()))?;
    }
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    match builder.create(data_dir) {
        Ok(()) => {}
        // Made by someone else in the meantime: theirs, then.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && exists(data_dir)? => {
            return Ok(false);
        }
        Err(e) => {
            return Err(CliError::failure(
                anyhow::Error::new(e).context(format!("cannot create {}", data_dir.display())),
            ));
        }
    }
    #[cfg(unix)]
    {
        // Exactly 0700, whatever the umask took away.
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(data_dir, fs::Permissions::from_mode(0o700))
            .or_fail(|| format!("cannot restrict the permissions of {}", data_dir.display()))?;
    }
    let ignore = data_dir.join(".gitignore");
    fs::write(&ignore, "# solo's state: never commit it\n*\n")
        .or_fail(|| format!("cannot write {}", ignore.display()))?;
    Ok(true)
}

/// The workflow `solo init --ci github` writes: preflight (with the
/// `[app] test` command) on every push and pull request; on main, a deploy
/// to the node at the `SOLO_URL` secret with the `SOLO_TOKEN` secret (an
/// operator's API token).
pub const GITHUB_WORKFLOW: &str = r#"# Written by `solo init --ci github`.
# Secrets to set in the repository: SOLO_URL (the node's API, e.g.
# https://solo.example.com) and SOLO_TOKEN (`solo tokens create --role operator`).
name: solo

on:
  push:
    branches: [main]
  pull_request:

jobs:
  preflight:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
      - uses: dtolnay/rust-toolchain@stable
      - name: Install solo
        run: cargo install --locked --git https://github.com/solo-ops/solo solo
      - name: Preflight (debugging leftovers, secrets, env, the [app] test command)
        run: solo preflight

  deploy:
    needs: preflight
    if: github.event_name == 'push' && github.ref == 'refs/heads/main'
    runs-on: ubuntu-latest
    concurrency: deploy
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
      - uses: dtolnay/rust-toolchain@stable
      - name: Install solo
        run: cargo install --locked --git https://github.com/solo-ops/solo solo
      - name: Deploy
        run: solo deploy --remote "$SOLO_URL"
        env:
          SOLO_URL: ${{ secrets.SOLO_URL }}
          SOLO_TOKEN: ${{ secrets.SOLO_TOKEN }}
"#;

fn write_github_workflow(global: &GlobalArgs, dir: &Path, force: bool) -> Result<(), CliError> {
    let path = dir.join(".github/workflows/solo.yml");
    if path.exists() && !force {
        return Err(CliError::new(
            Exit::Failure,
            "workflow_exists",
            anyhow::anyhow!(
                "{} already exists; edit it, or pass --force to replace it",
                path.display()
            ),
        ));
    }
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).or_fail(|| format!("cannot create {}", parent.display()))?;
    }
    fs::write(&path, GITHUB_WORKFLOW).or_fail(|| format!("cannot write {}", path.display()))?;
    #[derive(Serialize)]
    struct Written {
        workflow: PathBuf,
    }
    output::emit(
        global.json,
        &Written {
            workflow: path.clone(),
        },
        || {
            format!(
                "Created {}: preflight on every push, deploy on push to main.\n\
             Set the repository secrets SOLO_URL (the node's API) and SOLO_TOKEN \
             (`solo tokens create --name ci --role operator`).\n",
                path.display()
            )
        },
    );
    Ok(())
}
