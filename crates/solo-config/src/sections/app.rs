use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::diagnose::Note;
use crate::values::Duration;

/// `[app]`: the web app solo deploys, supervises and serves through its proxy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSection {
    /// `name`: how releases and logs name the app.
    #[serde(deserialize_with = "super::names::name")]
    pub name: String,
    /// `build`: a shell command run in the repository before a release is made (none:
    /// nothing to build).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<String>,
    /// `files`: what a release keeps, paths relative to the repository (directories
    /// whole). Default: every file git tracks, plus what `build` made under them.
    #[serde(default, deserialize_with = "files")]
    pub files: Vec<String>,
    /// `start`: the shell command that runs the app in its release directory; it must
    /// listen on `127.0.0.1:$PORT`.
    #[serde(deserialize_with = "start")]
    pub start: String,
    /// `env`: plain environment variables for the app (secrets come from the vault).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// `required_env`: variables the app needs; preflight checks each is present.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_env: Vec<String>,
    /// `test`: the command preflight runs; a failure stops the deploy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<String>,
    /// `[app.health]`
    #[serde(default, deserialize_with = "super::table")]
    pub health: HealthSection,
    /// `drain_timeout`: after a switch, the old release's requests get this long to finish
    /// (default `30s`).
    #[serde(default = "default_drain", deserialize_with = "drain_timeout")]
    pub drain_timeout: Duration,
    /// `stop_timeout`: between SIGTERM and SIGKILL when a release is stopped (default `10s`).
    #[serde(default = "default_stop", deserialize_with = "stop_timeout")]
    pub stop_timeout: Duration,
    /// `keep_releases`: releases kept on disk, at least 2 (default 3).
    #[serde(default = "default_keep", deserialize_with = "keep_releases")]
    pub keep_releases: u32,
    /// `[app.watch]`
    #[serde(default, deserialize_with = "super::table")]
    pub watch: WatchSection,
    /// `[app.restart]`
    #[serde(default, deserialize_with = "super::table")]
    pub restart: RestartSection,
}

/// `[app.health]`: when a release counts as healthy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthSection {
    /// `path`: solo GETs it; a 2xx is a success (default `/`).
    #[serde(deserialize_with = "health_path")]
    pub path: String,
    /// `interval`: between checks (default `200ms`).
    #[serde(deserialize_with = "interval")]
    pub interval: Duration,
    /// `timeout`: one check's limit (default `2s`).
    #[serde(deserialize_with = "check_timeout")]
    pub timeout: Duration,
    /// `successes`: consecutive successes that make a release healthy (default 2).
    #[serde(deserialize_with = "successes")]
    pub successes: u32,
    /// `wait`: how long a new release may take to become healthy (default `60s`).
    #[serde(deserialize_with = "wait")]
    pub wait: Duration,
}

impl Default for HealthSection {
    fn default() -> Self {
        Self {
            path: "/".to_owned(),
            interval: Duration::from_millis(200),
            timeout: Duration::from_secs(2),
            successes: 2,
            wait: Duration::from_secs(60),
        }
    }
}

/// `[app.watch]`: after every switch, solo watches the new release through the proxy and
/// rolls back by itself when it goes bad.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WatchSection {
    /// `window`: how long the watch lasts (default `60s`; `0s` turns it off).
    pub window: Duration,
    /// `max_error_percent`: 5xx answers, in percent of requests, that trigger a rollback
    /// (default 5).
    #[serde(deserialize_with = "percent")]
    pub max_error_percent: u32,
    /// `min_requests`: the 5xx rate counts only after this many requests (default 20).
    pub min_requests: u32,
    /// `health_failures`: consecutive failed health checks that trigger a rollback
    /// (default 3).
    #[serde(deserialize_with = "successes")]
    pub health_failures: u32,
}

impl Default for WatchSection {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(60),
            max_error_percent: 5,
            min_requests: 20,
            health_failures: 3,
        }
    }
}

/// `[app.restart]`: a crashed release is restarted with backoff, until it crashes too often.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RestartSection {
    /// `max_restarts`: restarts within `window` that make a crash loop (default 5).
    pub max_restarts: u32,
    /// `window`: default `60s`.
    #[serde(deserialize_with = "restart_window")]
    pub window: Duration,
}

impl Default for RestartSection {
    fn default() -> Self {
        Self {
            max_restarts: 5,
            window: Duration::from_secs(60),
        }
    }
}

fn default_drain() -> Duration {
    Duration::from_secs(30)
}

fn default_stop() -> Duration {
    Duration::from_secs(10)
}

fn default_keep() -> u32 {
    3
}

fn start<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let start = String::deserialize(deserializer)?;
    if start.trim().is_empty() {
        return Err(serde::de::Error::custom(
            Note::new("`start` is empty").help(Some(
                "write the command that runs the app, e.g. `./target/release/shop` or `node server.js`"
                    .to_owned(),
            )),
        ));
    }
    Ok(start)
}

fn files<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let files = Vec::<String>::deserialize(deserializer)?;
    for file in &files {
        let path = std::path::Path::new(file);
        let escapes = path.is_absolute()
            || path
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir));
        if file.is_empty() || escapes {
            return Err(serde::de::Error::custom(
                Note::new(format!("`{file}` is not a path inside the repository")).help(Some(
                    "list paths relative to the directory holding solo.toml, without `..`"
                        .to_owned(),
                )),
            ));
        }
    }
    Ok(files)
}

fn health_path<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let path = String::deserialize(deserializer)?;
    if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(serde::de::Error::custom(
            Note::new(format!("`{path}` is not a request path")).help(Some(
                "write a path starting with `/`, like `/healthz`".to_owned(),
            )),
        ));
    }
    Ok(path)
}

fn keep_releases<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let keep = u32::deserialize(deserializer)?;
    if keep < 2 {
        return Err(serde::de::Error::custom(
            Note::new(format!("`keep_releases` is {keep}, but must be at least 2")).help(Some(
                "the current release and the one before it are always kept, so rollback has \
                 somewhere to go; the default is 3"
                    .to_owned(),
            )),
        ));
    }
    Ok(keep)
}

fn successes<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let n = u32::deserialize(deserializer)?;
    if n == 0 {
        return Err(serde::de::Error::custom(
            Note::new("the count must be at least 1").help(Some("the default is 2".to_owned())),
        ));
    }
    Ok(n)
}

fn percent<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let n = u32::deserialize(deserializer)?;
    if !(1..=100).contains(&n) {
        return Err(serde::de::Error::custom(
            Note::new(format!("{n} is not a percentage from 1 to 100"))
                .help(Some("the default is 5".to_owned())),
        ));
    }
    Ok(n)
}

macro_rules! positive {
    ($name:ident, $key:literal, $consequence:literal, $default:expr) => {
        fn $name<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
            super::positive_duration(deserializer, $key, $consequence, $default)
        }
    };
}

positive!(
    drain_timeout,
    "drain_timeout",
    "requests in flight on the old release would be cut off at every switch",
    default_drain()
);
positive!(
    stop_timeout,
    "stop_timeout",
    "a release would be killed without a chance to finish its work",
    default_stop()
);
positive!(
    interval,
    "interval",
    "health checks would run back to back",
    HealthSection::default().interval
);
positive!(
    check_timeout,
    "timeout",
    "every health check would time out at once",
    HealthSection::default().timeout
);
positive!(
    wait,
    "wait",
    "no release could ever become healthy",
    HealthSection::default().wait
);
positive!(
    restart_window,
    "window",
    "no crash loop could be seen",
    RestartSection::default().window
);
