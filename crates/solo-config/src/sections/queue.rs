use serde::{Deserialize, Serialize};

use crate::diagnose::Note;
use crate::values::{Duration, show};

/// One `[[queues]]` entry: a queue of jobs and how they reach the app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawQueue", into = "RawQueue")]
pub struct QueueSection {
    /// `name`: how jobs, the API and the CLI name the queue.
    pub name: String,
    /// `concurrency`: jobs of this queue running at once on each node (default 10).
    pub concurrency: u32,
    /// `max_attempts`: attempts before a job is discarded (default 20).
    pub max_attempts: u16,
    /// `retry_base`: the wait after a first failure; it doubles with each
    /// attempt, with jitter, up to a day (default `15s`).
    pub retry_base: Duration,
    /// `deliver` and its keys.
    pub delivery: QueueDelivery,
}

/// How a queue's jobs reach the app (`deliver = "http" | "command" | "pull"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueDelivery {
    /// solo POSTs each job to `url`, signed; 2xx completes it.
    Http {
        url: String,
        timeout: Duration,
        /// Statuses that discard the job at once instead of retrying it.
        discard_statuses: Vec<u16>,
    },
    /// solo runs `command` (no shell) with the payload on stdin; exit 0 completes it.
    Command {
        command: Vec<String>,
        timeout: Duration,
    },
    /// The app's own worker claims jobs over the API.
    Pull,
}

impl QueueDelivery {
    /// `http`, `command` or `pull`.
    pub fn name(&self) -> &'static str {
        match self {
            QueueDelivery::Http { .. } => "http",
            QueueDelivery::Command { .. } => "command",
            QueueDelivery::Pull => "pull",
        }
    }
}

impl QueueSection {
    pub const DEFAULT_CONCURRENCY: u32 = 10;
    pub const DEFAULT_MAX_ATTEMPTS: u16 = 20;
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
    pub const DEFAULT_RETRY_BASE: Duration = Duration::from_secs(15);
    /// Queue names solo keeps for its own work (monitors, backups, alerts).
    pub const RESERVED: &'static str = "solo";
}

/// The table as written; [`QueueSection`] is what it means once checked.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQueue {
    #[serde(deserialize_with = "super::names::name")]
    name: String,
    #[serde(default)]
    concurrency: Option<u32>,
    #[serde(default)]
    max_attempts: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry_base: Option<Duration>,
    deliver: Deliver,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    discard_statuses: Option<Vec<u16>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    command: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Deliver {
    Http,
    Command,
    Pull,
}

impl TryFrom<RawQueue> for QueueSection {
    type Error = Note;

    fn try_from(raw: RawQueue) -> Result<Self, Note> {
        if raw.name == QueueSection::RESERVED {
            return Err(Note::new("the queue name `solo` is solo's own")
                .help(Some("pick another name".to_owned()))
                .key("name"));
        }
        let concurrency = raw.concurrency.unwrap_or(QueueSection::DEFAULT_CONCURRENCY);
        if !(1..=10_000).contains(&concurrency) {
            return Err(Note::new(format!(
                "`concurrency` must be between 1 and 10000, found {concurrency}"
            ))
            .help(Some(
                "it is how many jobs of this queue run at once on each node".to_owned(),
            ))
            .key("concurrency"));
        }
        let max_attempts = raw
            .max_attempts
            .unwrap_or(QueueSection::DEFAULT_MAX_ATTEMPTS);
        if max_attempts == 0 {
            return Err(Note::new("`max_attempts` must be at least 1")
                .help(Some("1 means a job is never retried".to_owned()))
                .key("max_attempts"));
        }
        let retry_base = raw.retry_base.unwrap_or(QueueSection::DEFAULT_RETRY_BASE);
        if retry_base.as_std().is_zero() {
            return Err(Note::new("`retry_base` must be longer than zero")
                .help(Some(format!(
                    "at zero, a failing job would retry in a tight loop; write a duration like `{}` (the default)",
                    QueueSection::DEFAULT_RETRY_BASE
                )))
                .key("retry_base"));
        }
        let timeout = match raw.timeout {
            Some(t) if t.as_std().is_zero() => {
                return Err(Note::new("`timeout` must be longer than zero")
                    .help(Some(format!(
                        "write a duration like `{}` (the default)",
                        QueueSection::DEFAULT_TIMEOUT
                    )))
                    .key("timeout"));
            }
            Some(t) => t,
            None => QueueSection::DEFAULT_TIMEOUT,
        };
        let only_for = |key: &str, deliver: &str, present: bool| -> Result<(), Note> {
            if present {
                return Err(Note::new(format!(
                    "`{key}` only applies to `deliver = \"{deliver}\"`"
                ))
                .help(Some(format!(
                    "remove `{key}`, or set `deliver = \"{deliver}\"`"
                )))
                .key(key));
            }
            Ok(())
        };
        let delivery = match raw.deliver {
            Deliver::Http => {
                only_for("command", "command", raw.command.is_some())?;
                let url = raw.url.ok_or_else(|| {
                    Note::new("`deliver = \"http\"` needs a `url`")
                        .help(Some(
                            "add the app's endpoint, like `url = \"http://127.0.0.1:3000/jobs\"`"
                                .to_owned(),
                        ))
                        .key("deliver")
                })?;
                check_url(&url)?;
                let discard_statuses = raw.discard_statuses.unwrap_or_default();
                if let Some(bad) = discard_statuses.iter().find(|s| !(100..=599).contains(*s)) {
                    return Err(Note::new(format!("{bad} is not an HTTP status"))
                        .help(Some(
                            "statuses are 100 to 599, like `[400, 422]`".to_owned(),
                        ))
                        .key("discard_statuses"));
                }
                if let Some(ok) = discard_statuses.iter().find(|s| (200..=299).contains(*s)) {
                    return Err(Note::new(format!(
                        "{ok} is a success: it completes the job and cannot discard it"
                    ))
                    .help(Some(
                        "list failure statuses only, like `[400, 422]`".to_owned(),
                    ))
                    .key("discard_statuses"));
                }
                QueueDelivery::Http {
                    url,
                    timeout,
                    discard_statuses,
                }
            }
            Deliver::Command => {
                only_for("url", "http", raw.url.is_some())?;
                only_for("discard_statuses", "http", raw.discard_statuses.is_some())?;
                let written = raw.command.is_some();
                let command = raw.command.unwrap_or_default();
                if command.first().is_none_or(String::is_empty) {
                    return Err(Note::new("`deliver = \"command\"` needs a `command`")
                        .help(Some(
                            "write the program and its arguments, like `command = [\"bin/run-job\", \"--quiet\"]` (no shell)"
                                .to_owned(),
                        ))
                        .key(if written { "command" } else { "deliver" }));
                }
                QueueDelivery::Command { command, timeout }
            }
            Deliver::Pull => {
                only_for("url", "http", raw.url.is_some())?;
                only_for("discard_statuses", "http", raw.discard_statuses.is_some())?;
                only_for("command", "command", raw.command.is_some())?;
                if raw.timeout.is_some() {
                    return Err(Note::new("`timeout` does not apply to `deliver = \"pull\"`")
                        .help(Some(
                            "a pulled job is the app's until its lease runs out; set `lease` in [jobs]"
                                .to_owned(),
                        ))
                        .key("timeout"));
                }
                QueueDelivery::Pull
            }
        };
        Ok(QueueSection {
            name: raw.name,
            concurrency,
            max_attempts,
            retry_base,
            delivery,
        })
    }
}

fn check_url(url: &str) -> Result<(), Note> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or_default());
    match host {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) && !host.contains('@') => Ok(()),
        _ => Err(Note::new(format!("invalid URL `{}`", show(url)))
            .help(Some(
                "write an http:// or https:// URL with a host, like `http://127.0.0.1:3000/jobs` (no credentials in it)"
                    .to_owned(),
            ))
            .key("url")),
    }
}

impl From<QueueSection> for RawQueue {
    fn from(queue: QueueSection) -> Self {
        let (deliver, url, timeout, discard_statuses, command) = match queue.delivery {
            QueueDelivery::Http {
                url,
                timeout,
                discard_statuses,
            } => (
                Deliver::Http,
                Some(url),
                Some(timeout),
                Some(discard_statuses),
                None,
            ),
            QueueDelivery::Command { command, timeout } => {
                (Deliver::Command, None, Some(timeout), None, Some(command))
            }
            QueueDelivery::Pull => (Deliver::Pull, None, None, None, None),
        };
        RawQueue {
            name: queue.name,
            concurrency: Some(queue.concurrency),
            max_attempts: Some(queue.max_attempts),
            retry_base: Some(queue.retry_base),
            deliver,
            url,
            timeout,
            discard_statuses,
            command,
        }
    }
}
