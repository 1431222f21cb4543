//! The command line, declared with clap's derive API.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::exit::EXIT_CODES_HELP;

/// solo — the one-person operating system.
///
/// One binary, one config file (solo.toml), one database: jobs and cron,
/// deploys and rollbacks, monitoring, backups, secrets, access and audit for
/// a developer who runs a web business alone.
#[derive(Debug, Parser)]
#[command(name = "solo", version, about, long_about, after_help = EXIT_CODES_HELP)]
#[command(propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Settings an operator changes per machine. Each has a flag and a `SOLO_*`
/// variable; both override solo.toml.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// The stack file [default: ./solo.toml]
    #[arg(
        long,
        short = 'c',
        global = true,
        env = "SOLO_CONFIG",
        value_name = "FILE"
    )]
    pub config: Option<PathBuf>,

    /// Address the node serves its API and dashboard on [default: 127.0.0.1:7070]
    #[arg(long, global = true, env = "SOLO_LISTEN", value_name = "IP:PORT")]
    pub listen: Option<SocketAddr>,

    /// Where solo keeps its state: the SQLite database, node id, logs
    /// [default: .solo next to solo.toml]
    #[arg(long, global = true, env = "SOLO_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// PostgreSQL to use instead of the embedded SQLite (postgres://…).
    /// Pass a URL with a password through the environment, never the flag:
    /// arguments are visible to every user of the machine.
    #[arg(
        long,
        global = true,
        env = "SOLO_DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database_url: Option<String>,

    /// Print machine-readable JSON instead of text
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented example solo.toml and create the data directory
    Init(InitArgs),
    /// Run the node: migrate the database, then serve until SIGINT or SIGTERM
    Up,
    /// Validate solo.toml without running anything
    Check,
    /// Show a running node: version, uptime, database, schema, address
    Status,
    /// Manage the people who sign in to the dashboard and API
    #[command(subcommand)]
    Users(UsersCommand),
    /// Manage API tokens for scripts and CI
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Read and check the audit log
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Enqueue, inspect and act on background jobs
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Scheduled jobs from solo.toml's [[cron]]
    #[command(subcommand)]
    Cron(CronCommand),
    /// Check the code before it ships: debugging leftovers, secrets, uncommitted changes, env, tests
    Preflight,
    /// Build the app, make a release and switch to it with zero downtime
    Deploy(DeployArgs),
    /// Bring back the release before the current one (or a named one)
    Rollback(RollbackArgs),
    /// The app's releases and deploys
    Releases(ReleasesArgs),
    /// The app's output (stdout and stderr), secrets redacted
    Logs(LogsArgs),
}

#[derive(Debug, Clone, Args)]
pub struct DeployArgs {
    /// Deploy to the node at this URL (with SOLO_TOKEN) instead of this machine's
    #[arg(long, value_name = "URL")]
    pub remote: Option<String>,
    /// Skip the preflight checks (recorded in the audit log)
    #[arg(long)]
    pub skip_preflight: bool,
    /// Tag the deployed commit `v<version>` once it is live
    #[arg(long)]
    pub tag: bool,
}

#[derive(Debug, Clone, Args)]
pub struct RollbackArgs {
    /// The kept release to bring back [default: the one before the current]
    #[arg(long, value_name = "VERSION")]
    pub to: Option<String>,
    /// Why, for the record
    #[arg(long)]
    pub reason: Option<String>,
    #[arg(long, value_name = "URL")]
    pub remote: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ReleasesArgs {
    #[command(subcommand)]
    pub command: Option<ReleasesCommand>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum ReleasesCommand {
    /// Delivery figures: deploy frequency, change failure rate, time to restore, lead time
    Stats,
}

#[derive(Debug, Clone, Args)]
pub struct LogsArgs {
    /// Keep printing new lines as they come
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// A release's version [default: the newest]
    #[arg(long, value_name = "VERSION")]
    pub release: Option<String>,
    /// How many lines from the end to start with
    #[arg(long, short = 'n', default_value_t = 100)]
    pub lines: usize,
}

/// Filters shared by `solo jobs list` and `solo jobs purge`.
#[derive(Debug, Clone, clap::Args)]
pub struct JobFilterArgs {
    #[arg(long)]
    pub queue: Option<String>,
    #[arg(long)]
    pub kind: Option<String>,
    /// scheduled, available, retryable, running, completed, discarded or cancelled
    #[arg(long, value_parser = parse_job_state)]
    pub state: Option<solo_jobs::JobState>,
    #[arg(long)]
    pub tag: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Enqueue a job on a queue declared in solo.toml
    Enqueue {
        #[arg(long)]
        queue: String,
        #[arg(long)]
        kind: String,
        /// JSON; `-` reads it from standard input
        #[arg(long, default_value = "{}")]
        payload: String,
        /// Lower runs first
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        priority: i16,
        /// Not before this time (RFC 3339) or this long from now (`10m`)
        #[arg(long, value_name = "WHEN")]
        run_at: Option<String>,
        /// Refused while an unfinished job has the same key
        #[arg(long)]
        unique_key: Option<String>,
        /// Default: the queue's max_attempts
        #[arg(long)]
        max_attempts: Option<u16>,
        /// Repeat for several
        #[arg(long = "tag")]
        tags: Vec<String>,
    },
    /// List jobs, newest first
    List {
        #[command(flatten)]
        filter: JobFilterArgs,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// One job, with every error it met
    Show { id: i64 },
    /// Run a retryable, discarded or cancelled job again now
    Retry { id: i64 },
    /// Cancel a job that has not finished
    Cancel { id: i64 },
    /// Delete finished jobs (completed, discarded, cancelled) matching the filters
    Purge {
        #[command(flatten)]
        filter: JobFilterArgs,
    },
    /// Every queue at a glance
    Stats,
}

#[derive(Debug, Subcommand)]
pub enum CronCommand {
    /// Each entry's schedule, next runs and last outcome
    List,
}

fn parse_job_state(text: &str) -> Result<solo_jobs::JobState, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).map_err(|_| {
        "expected scheduled, available, retryable, running, completed, discarded or cancelled"
            .to_owned()
    })
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the whole chain; name the first entry that does not hold (exit 1)
    Verify,
    /// List entries, newest first
    List {
        /// Only this actor (a user, token or system name)
        #[arg(long)]
        actor: Option<String>,
        /// Only this action, or a prefix like `user.*`
        #[arg(long)]
        action: Option<String>,
        /// Only entries since a time (RFC 3339, or a date) or for a while (`24h`, `7d`)
        #[arg(long, value_name = "WHEN")]
        since: Option<String>,
        /// At most this many
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

/// Passwords are read from a prompt at a terminal, else from the first line
/// of standard input; never from arguments, which every user of the machine
/// can see.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user
    Add {
        /// The name they sign in with
        name: String,
        /// viewer (reads), operator (also operates), admin (also manages)
        #[arg(long, value_parser = parse_role)]
        role: solo_access::Role,
    },
    /// List users
    List,
    /// Change a user's role
    SetRole {
        name: String,
        #[arg(value_parser = parse_role)]
        role: solo_access::Role,
    },
    /// Disable a user: their sessions end and they can no longer sign in
    Disable { name: String },
    /// Re-enable a disabled user
    Enable { name: String },
    /// Set a new password for a user (their sessions end)
    ResetPassword { name: String },
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create an API token; it is printed once and never again
    Create {
        /// What it is for, like `ci`
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: solo_access::Role,
        /// Lifetime, like `90d` or `12h`; without it the token does not expire
        #[arg(long, value_name = "DURATION")]
        expires: Option<solo_config::Duration>,
    },
    /// List tokens (never their values)
    List,
    /// Revoke a token by id
    Revoke { id: String },
}

fn parse_role(text: &str) -> Result<solo_access::Role, String> {
    text.parse()
        .map_err(|e: solo_access::UnknownRole| e.to_string())
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directory to set up [default: the current directory]
    pub dir: Option<PathBuf>,

    /// Overwrite an existing solo.toml (or, with --ci, an existing workflow)
    #[arg(long)]
    pub force: bool,

    /// Write a CI workflow that runs the tests and deploys on push to main
    /// (into an existing project: solo.toml is left as it is)
    #[arg(long, value_enum, value_name = "PROVIDER")]
    pub ci: Option<CiProvider>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CiProvider {
    Github,
}
