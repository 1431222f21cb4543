//! Layered settings: flags and `SOLO_*` variables over solo.toml over
//! defaults. Relative paths in solo.toml are relative to solo.toml's own
//! directory; relative paths on the command line to the working directory.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

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
fn config_dir(config_path: &Path) -> PathBuf {
    match config_path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    }
}

pub fn resolve(
    global: &GlobalArgs,
    config_path: PathBuf,
    stack: StackFile,
) -> Result<NodeSettings, CliError> {
    let base = config_dir(&config_path);
    let listen = global
        .listen
        .or_else(|| stack.node.listen.as_ref().map(|l| l.socket_addr()))
        .unwrap_or(DEFAULT_LISTEN);
    let data_dir = match (&global.data_dir, &stack.node.data_dir) {
        (Some(flag), _) => flag.clone(),
        (None, Some(file)) => base.join(file),
        (None, None) => base.join(DEFAULT_DATA_DIR),
    };
    // Absolute, so logs and `solo status` name the file unambiguously.
    let data_dir = std::path::absolute(&data_dir).unwrap_or(data_dir);
    let target = match (&global.database_url, &stack.database.url) {
        (Some(url), _) => DbTarget::from_url(url)?,
        (None, Some(url)) => DbTarget::from_url(url.as_str())?,
        (None, None) => DbTarget::Sqlite {
            path: data_dir.join(SQLITE_FILE),
        },
    };
    let mut db = DbOptions::new(target);
    db.max_connections = stack.database.max_connections;
    db.statement_timeout = stack.database.statement_timeout.as_std();

    let tls = stack.http.tls.as_ref().map(|files| TlsFiles {
        cert: base.join(&files.cert),
        key: base.join(&files.key),
    });
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
        tls,
    };
    Ok(NodeSettings {
        config_path,
        stack,
        listen,
        data_dir,
        db,
        http,
    })
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
