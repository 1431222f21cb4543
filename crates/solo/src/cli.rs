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
#[derive(Debug, Args)]
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
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directory to set up [default: the current directory]
    pub dir: Option<PathBuf>,

    /// Overwrite an existing solo.toml
    #[arg(long)]
    pub force: bool,
}
