//! `[jobs]`, `[[queues]]`, `[[cron]]` and `[[subscriptions]]`: what they parse to, and
//! every mistake pointing at its place.

use solo_config::{
    ConfigError, Duration, JobsSection, MissedTicks, QueueDelivery, QueueSection, StackFile, parse,
};

fn ok(source: &str) -> StackFile {
    parse(source, "solo.toml").unwrap_or_else(|err| panic!("{err}"))
}

fn error(source: &str) -> ConfigError {
    match parse(source, "solo.toml") {
        Ok(stack) => panic!("expected an error, got {stack:?}"),
        Err(err) => err,
    }
}

const FULL: &str = r#"version = 1

[jobs]
lease = "1m"
retention = "1d"

[[queues]]
name = "emails"
deliver = "http"
url = "http://127.0.0.1:3000/jobs"
timeout = "10s"
discard_statuses = [400, 422]

[[queues]]
name = "reports"
deliver = "command"
command = ["bin/report", "--quiet"]
concurrency = 2
max_attempts = 3

[[queues]]
name = "billing"
deliver = "pull"

[[cron]]
name = "nightly-report"
schedule = "0 3 * * *"
timezone = "Europe/Berlin"
queue = "reports"
payload = { format = "pdf", pages = 3 }
missed = "run_once"

[[cron]]
name = "heartbeat"
schedule = "rate(30 seconds)"
queue = "emails"
kind = "ping"

[[subscriptions]]
topic = "invoice.created"
queue = "billing"
"#;

#[test]
fn a_full_jobs_setup_parses() {
    let stack = ok(FULL);
    assert_eq!(stack.jobs.lease, Duration::from_secs(60));
    assert_eq!(stack.jobs.retention, Duration::from_secs(86_400));
    assert_eq!(
        stack.jobs.shutdown_grace,
        JobsSection::default().shutdown_grace
    );
    assert_eq!(stack.queues.len(), 3);
    assert_eq!(
        stack.queues[0].delivery,
        QueueDelivery::Http {
            url: "http://127.0.0.1:3000/jobs".into(),
            timeout: Duration::from_secs(10),
            discard_statuses: vec![400, 422],
        }
    );
    assert_eq!(
        stack.queues[0].concurrency,
        QueueSection::DEFAULT_CONCURRENCY
    );
    assert_eq!(
        stack.queues[1].delivery,
        QueueDelivery::Command {
            command: vec!["bin/report".into(), "--quiet".into()],
            timeout: QueueSection::DEFAULT_TIMEOUT,
        }
    );
    assert_eq!(
        (stack.queues[1].concurrency, stack.queues[1].max_attempts),
        (2, 3)
    );
    assert_eq!(stack.queues[2].delivery, QueueDelivery::Pull);
    let nightly = &stack.cron[0];
    assert_eq!(nightly.kind(), "nightly-report");
    assert_eq!(nightly.timezone.to_string(), "Europe/Berlin");
    assert_eq!(nightly.missed, MissedTicks::RunOnce);
    assert_eq!(
        nightly.payload,
        serde_json::json!({"format": "pdf", "pages": 3})
    );
    assert_eq!(stack.cron[1].kind(), "ping");
    assert_eq!(stack.cron[1].missed, MissedTicks::Skip);
    assert_eq!(stack.cron[1].payload, serde_json::json!({}));
    assert_eq!(stack.subscriptions[0].kind(), "invoice.created");
}

#[test]
fn no_jobs_sections_means_no_queues() {
    let stack = ok("version = 1\n");
    assert!(stack.queues.is_empty() && stack.cron.is_empty() && stack.subscriptions.is_empty());
    assert_eq!(stack.jobs, JobsSection::default());
}

/// (the mistake, the line and column the report must point at, a word the help must say)
const MISTAKES: &[(&str, &str, (usize, usize), &str)] = &[
    (
        "http_without_url",
        "version = 1\n[[queues]]\nname = \"a\"\ndeliver = \"http\"\n",
        (4, 1),
        "url",
    ),
    (
        "command_key_on_http_queue",
        "version = 1\n[[queues]]\nname = \"a\"\ndeliver = \"http\"\nurl = \"http://x/\"\ncommand = [\"x\"]\n",
        (6, 1),
        "remove",
    ),
    (
        "bad_url",
        "version = 1\n[[queues]]\nname = \"a\"\ndeliver = \"http\"\nurl = \"ftp://x/\"\n",
        (5, 1),
        "http://",
    ),
    (
        "success_status_discards",
        "version = 1\n[[queues]]\nname = \"a\"\ndeliver = \"http\"\nurl = \"http://x/\"\ndiscard_statuses = [204]\n",
        (6, 1),
        "failure",
    ),
    (
        "empty_command",
        "version = 1\n[[queues]]\nname = \"a\"\ndeliver = \"command\"\ncommand = []\n",
        (5, 1),
        "program",
    ),
    (
        "unknown_delivery",
        "version = 1\n[[queues]]\nname = \"a\"\ndeliver = \"smoke\"\n",
        (4, 11),
        "http",
    ),
    (
        "zero_concurrency",
        "version = 1\n[[queues]]\nname = \"a\"\ndeliver = \"pull\"\nconcurrency = 0\n",
        (5, 1),
        "at once",
    ),
    (
        "reserved_queue_name",
        "version = 1\n[[queues]]\nname = \"solo\"\ndeliver = \"pull\"\n",
        (3, 1),
        "another",
    ),
    (
        "uppercase_queue_name",
        "version = 1\n[[queues]]\nname = \"Emails\"\ndeliver = \"pull\"\n",
        (3, 8),
        "lowercase",
    ),
    (
        "duplicate_queue",
        "version = 1\n[[queues]]\nname = \"a\"\ndeliver = \"pull\"\n[[queues]]\nname = \"a\"\ndeliver = \"pull\"\n",
        (6, 8),
        "own name",
    ),
    (
        "cron_on_unknown_queue",
        "version = 1\n[[queues]]\nname = \"emails\"\ndeliver = \"pull\"\n[[cron]]\nname = \"c\"\nschedule = \"* * * * *\"\nqueue = \"email\"\n",
        (8, 9),
        "emails",
    ),
    (
        "subscription_without_queues",
        "version = 1\n[[subscriptions]]\ntopic = \"t\"\nqueue = \"q\"\n",
        (4, 9),
        "[[queues]]",
    ),
    (
        "bad_cron_expression",
        "version = 1\n[[queues]]\nname = \"q\"\ndeliver = \"pull\"\n[[cron]]\nname = \"c\"\nschedule = \"61 * * * *\"\nqueue = \"q\"\n",
        (7, 12),
        "rate(",
    ),
    (
        "bad_rate",
        "version = 1\n[[queues]]\nname = \"q\"\ndeliver = \"pull\"\n[[cron]]\nname = \"c\"\nschedule = \"rate(5 fortnights)\"\nqueue = \"q\"\n",
        (7, 12),
        "minutes",
    ),
    (
        "unknown_time_zone",
        "version = 1\n[[queues]]\nname = \"q\"\ndeliver = \"pull\"\n[[cron]]\nname = \"c\"\nschedule = \"* * * * *\"\ntimezone = \"Mars/Base\"\nqueue = \"q\"\n",
        (8, 12),
        "IANA",
    ),
    (
        "unknown_missed_policy",
        "version = 1\n[[queues]]\nname = \"q\"\ndeliver = \"pull\"\n[[cron]]\nname = \"c\"\nschedule = \"* * * * *\"\nqueue = \"q\"\nmissed = \"catch_up\"\n",
        (9, 10),
        "run_once",
    ),
    (
        "zero_lease",
        "version = 1\n[jobs]\nlease = \"0s\"\n",
        (3, 9),
        "default",
    ),
];

#[test]
fn every_mistake_points_at_its_place() {
    for (name, source, (line, column), help_word) in MISTAKES {
        let err = error(source);
        let help = err.help().unwrap_or_default().to_owned();
        assert_eq!(
            (err.line(), err.column()),
            (Some(*line), Some(*column)),
            "{name}: {err}"
        );
        assert!(
            help.contains(help_word) || err.message().contains(help_word),
            "{name}: help should mention `{help_word}`:\n{err}"
        );
        insta::assert_snapshot!(*name, err.to_string());
    }
}
