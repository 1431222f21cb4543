//! Layered settings: flags and `SOLO_*` variables over solo.toml over
//! defaults. Relative paths in solo.toml (`data_dir`, a `sqlite:` database
//! url, the TLS files) are relative to solo.toml's own directory; relative
//! paths on the command line and in `SOLO_*` variables to the working
//! directory. Both end up absolute.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Component, Path, PathBuf};

use solo_config::StackFile;
use solo_http::{HttpSettings, TlsFiles};
use solo_store::{DbOptions, DbTarget};

use crate::cli::GlobalArgs;
use crate::exit::{CliError, Exit};

pub const DEFAULT_CONFIG: &str = "solo.toml";
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 7070);
pub const DEFAULT_DATA_DIR: &str = ".solo";
pub const SQLITE_FILE: &str = "solo.db";

/// Everything a node needs to run, resolved.
#[derive(Debug)]
pub struct NodeSettings {
    pub config_path: PathBuf,
    pub stack: StackFile,
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub db: DbOptions,
    pub http: HttpSettings,
    /// `SOLO_JOBS_SIGNING_SECRET`, when a queue delivers over http.
    pub jobs_signing_secret: Option<String>,
}

impl NodeSettings {
    /// Where solo.toml is: relative paths in it (commands, files) start here.
    pub fn config_dir(&self) -> PathBuf {
        config_dir(&self.config_path)
    }
}

/// The stack file path the user meant.
pub fn config_path(global: &GlobalArgs) -> PathBuf {
    global
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG))
}

/// Reads and parses solo.toml; a missing file is an error that says what to do.
pub fn load_stack(global: &GlobalArgs) -> Result<(PathBuf, StackFile), CliError> {
    let path = config_path(global);
    if !path.exists() {
        return Err(CliError::new(
            Exit::Config,
            "config_missing",
            anyhow::anyhow!(
                "no stack file at {}: run `solo init` to create one, or point --config (SOLO_CONFIG) at yours",
                path.display()
            ),
        ));
    }
    let stack = solo_config::load(&path)?;
    Ok((path, stack))
}

/// Directory that relative paths in solo.toml are relative to.
pub fn config_dir(config_path: &Path) -> PathBuf {
    match config_path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// The address `solo up` listens on: the flag (or `SOLO_LISTEN`), solo.toml, the default.
fn listen(global: &GlobalArgs, stack: &StackFile) -> SocketAddr {
    global
        .listen
        .or_else(|| stack.node.listen.as_ref().map(|l| l.socket_addr()))
        .unwrap_or(DEFAULT_LISTEN)
}

/// The TLS files from solo.toml, relative to its directory.
fn tls_files(base: &Path, stack: &StackFile) -> Option<TlsFiles> {
    stack.http.tls.as_ref().map(|files| TlsFiles {
        cert: base.join(&files.cert),
        key: base.join(&files.key),
    })
}

/// What `solo status` needs to reach a node: its address, and the certificate to trust when
/// it serves HTTPS. Nothing about the database or the data directory, which a client neither
/// needs nor should trip over.
/// What a client of a running node needs from the settings: where it
/// listens, the certificate to trust, and the data directory holding the
/// node's local token. Nothing is validated: a bad database URL must not
/// stop `solo status`.
pub struct ClientSettings {
    pub listen: SocketAddr,
    pub tls_cert: Option<PathBuf>,
    pub data_dir: PathBuf,
}

/// The data directory (flag, else solo.toml relative to its directory,
/// else `.solo` beside it) and where that came from, for messages.
fn data_dir(global: &GlobalArgs, config_path: &Path, stack: &StackFile) -> (PathBuf, String) {
    let base = config_dir(config_path);
    match (&global.data_dir, &stack.node.data_dir) {
        (Some(flag), _) => (flag.clone(), DATA_DIR_FLAG.to_owned()),
        (None, Some(file)) => (
            base.join(file),
            format!("`data_dir` in {}", config_path.display()),
        ),
        (None, None) => (base.join(DEFAULT_DATA_DIR), "the default".to_owned()),
    }
}

pub fn client_settings(
    global: &GlobalArgs,
    config_path: &Path,
    stack: &StackFile,
) -> ClientSettings {
    let base = config_dir(config_path);
    let (data_dir, _) = data_dir(global, config_path, stack);
    ClientSettings {
        listen: listen(global, stack),
        tls_cert: tls_files(&base, stack).map(|files| files.cert),
        data_dir,
    }
}

pub fn resolve(
    global: &GlobalArgs,
    config_path: PathBuf,
    stack: StackFile,
) -> Result<NodeSettings, CliError> {
    let base = config_dir(&config_path);
    let listen = listen(global, &stack);
    let (data_dir, data_dir_from) = data_dir(global, &config_path, &stack);
    // Absolute, so logs and `solo status` name the file unambiguously.
    let data_dir = std::path::absolute(&data_dir).unwrap_or(data_dir);
    refuse_data_dir_holding_config(&data_dir, &config_path, &data_dir_from)?;
    // A relative SQLite path is relative to where it was written, like every other path: the
    // working directory for the flag and the variable, solo.toml's directory for the file.
    let target = match (&global.database_url, &stack.database.url) {
        (Some(url), _) => {
            let target = DbTarget::from_url(url)
                .map_err(|e| in_context(e, "--database-url / SOLO_DATABASE_URL"))?;
            anchor(target, Path::new(""))
        }
        (None, Some(url)) => {
            let target = DbTarget::from_url(url.as_str()).map_err(|e| {
                in_context(
                    e,
                    &format!("`url` in [database] of {}", config_path.display()),
                )
            })?;
            anchor(target, &base)
        }
        (None, None) => DbTarget::Sqlite {
            path: data_dir.join(SQLITE_FILE),
        },
    };
    let mut db = DbOptions::new(target);
    db.max_connections = stack.database.max_connections;
    db.statement_timeout = stack.database.statement_timeout.as_std();

    let http = HttpSettings {
        request_timeout: stack.http.request_timeout.as_std(),
        header_read_timeout: HttpSettings::default().header_read_timeout,
        max_connections: HttpSettings::default().max_connections,
        body_limit: usize::try_from(stack.http.body_limit.bytes()).unwrap_or(usize::MAX),
        cors_origins: stack
            .http
            .cors_origins
            .iter()
            .map(|o| o.as_str().to_owned())
            .collect(),
        shutdown_grace: stack.http.shutdown_grace.as_std(),
        tls: tls_files(&base, &stack),
        upload_paths: vec![solo_deploy::UPLOAD_PATH.to_owned()],
    };
    Ok(NodeSettings {
        config_path,
        stack,
        listen,
        data_dir,
        db,
        http,
        // Read by `solo up` only: other commands must not need it.
        jobs_signing_secret: None,
    })
}

/// How the data directory flag is named in messages.
pub const DATA_DIR_FLAG: &str = "--data-dir / SOLO_DATA_DIR";

/// A SQLite path made absolute against `base` (the working directory when `base` is empty).
fn anchor(target: DbTarget, base: &Path) -> DbTarget {
    match target {
        DbTarget::Sqlite { path } => {
            let path = base.join(path);
            DbTarget::Sqlite {
                path: std::path::absolute(&path).unwrap_or(path),
            }
        }
        postgres @ DbTarget::Postgres { .. } => postgres,
    }
}

/// A refused database URL, saying where it came from. The store's message never quotes the
/// URL, so no password reaches the terminal.
fn in_context(error: solo_store::StoreError, source: &str) -> CliError {
    let mut error = CliError::from(error);
    error.report = error.report.context(source.to_owned());
    error
}

/// solo makes its data directory private (0700), git-ignores everything in it and keeps its
/// database there: that must never be the project holding the stack file. `from` says where
/// the data directory came from, e.g. [`DATA_DIR_FLAG`].
pub fn refuse_data_dir_holding_config(
    data_dir: &Path,
    config_path: &Path,
    from: &str,
) -> Result<(), CliError> {
    let config_dir = real_path(&config_dir(config_path));
    let data = real_path(data_dir);
    if !config_dir.starts_with(&data) {
        return Ok(());
    }
    let relation = if data == config_dir {
        "is the directory that holds the stack file"
    } else {
        "is above the directory that holds the stack file"
    };
    Err(CliError::new(
        Exit::Config,
        "data_dir_invalid",
        anyhow::anyhow!(
            "the data directory {} (from {from}) {relation} {}: solo makes its data directory \
             private (0700) and git-ignores everything in it; give it a directory of its own, \
             like .solo next to the stack file (the default)",
            data.display(),
            config_path.display(),
        ),
    ))
}

/// `path` absolute, with symlinks resolved and `..` applied, whether or not it exists yet (a
/// missing part is taken as written).
fn real_path(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let mut out = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                // `..` of a symlink is the parent of where it points.
                out = std::fs::canonicalize(&out).unwrap_or(out);
                out.pop();
            }
            other => out.push(other),
        }
    }
    std::fs::canonicalize(&out).unwrap_or(out)
}

/// Where a client on this machine reaches a node listening on `listen`:
/// an unspecified address (0.0.0.0, ::) is reached over loopback.
pub fn client_address(listen: SocketAddr) -> SocketAddr {
    if listen.ip().is_unspecified() {
        let loopback = if listen.is_ipv4() {
            std::net::IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
        };
        SocketAddr::new(loopback, listen.port())
    } else {
        listen
    }
}

/// True when a database URL carries a password (`user:pass@` or `password=`).
pub fn url_has_password(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    let userinfo_password = authority
        .rsplit_once('@')
        .is_some_and(|(userinfo, _)| userinfo.contains(':'));
    let query_password = url.split_once('?').is_some_and(|(_, q)| {
        q.split('&')
            .any(|kv| kv.to_ascii_lowercase().starts_with("password="))
    });
    userinfo_password || query_password
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_passwords_in_urls() {
        assert!(url_has_password("postgres://solo:pw@db/solo"));
        assert!(url_has_password("postgres://db/solo?user=solo&password=pw"));
        assert!(!url_has_password("postgres://solo@db/solo"));
        assert!(!url_has_password("postgres://db:5432/solo"));
        assert!(!url_has_password("sqlite:///var/lib/solo.db"));
    }

    #[test]
    fn real_paths_apply_dot_dot_even_below_missing_directories() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        assert_eq!(real_path(&root.join("missing/..")), root);
        assert_eq!(real_path(&root.join("a/b/../../.")), root);
        assert_eq!(real_path(&root.join("missing")), root.join("missing"));
        std::fs::create_dir(root.join("real")).unwrap();
        std::os::unix::fs::symlink(root.join("real"), root.join("link")).unwrap();
        assert_eq!(real_path(&root.join("link")), root.join("real"));
    }

    #[test]
    fn unspecified_listen_is_reached_over_loopback() {
        assert_eq!(
            client_address("0.0.0.0:7070".parse().unwrap()),
            "127.0.0.1:7070".parse().unwrap()
        );
        assert_eq!(
            client_address("[::]:7070".parse().unwrap()),
            "[::1]:7070".parse().unwrap()
        );
        assert_eq!(
            client_address("10.0.0.5:80".parse().unwrap()),
            "10.0.0.5:80".parse().unwrap()
        );
    }
}
