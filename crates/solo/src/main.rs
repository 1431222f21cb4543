//! The `solo` binary: parses the command line, composes the capability
//! crates, prints results and errors once, and exits with a code scripts can
//! trust. It is the only crate that reads the process environment.

mod access_rules;
mod api;
mod cli;
mod commands;
mod deploy;
mod exit;
mod jobs;
mod migrations;
mod node;
mod output;
mod settings;

use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};

use crate::cli::{Cli, Command};
use crate::exit::{CliError, Exit};

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    let json = cli.global.json;
    let url_from_flag = matches.value_source("database_url") == Some(ValueSource::CommandLine);
    let result = run(cli, url_from_flag);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            output::print_error(&error, json);
            ExitCode::from(error.exit as u8)
        }
    }
}

fn run(cli: Cli, url_from_flag: bool) -> Result<(), CliError> {
    if url_from_flag
        && let Some(url) = &cli.global.database_url
        && settings::url_has_password(url)
    {
        return Err(CliError::new(
            Exit::Usage,
            "password_in_argv",
            anyhow::anyhow!(
                "--database-url carries a password, and arguments are visible to every user of \
                 this machine (ps, /proc); set SOLO_DATABASE_URL in the environment instead"
            ),
        ));
    }
    match cli.command {
        Command::Init(args) => commands::init::run(&cli.global, &args),
        Command::Check => commands::check::run(&cli.global),
        Command::Status => runtime()?.block_on(commands::status::run(&cli.global)),
        Command::Up => runtime()?.block_on(commands::up::run(&cli.global)),
        Command::Users(command) => runtime()?.block_on(commands::users::run(&cli.global, command)),
        Command::Tokens(command) => {
            runtime()?.block_on(commands::tokens::run(&cli.global, command))
        }
        Command::Audit(command) => runtime()?.block_on(commands::audit::run(&cli.global, command)),
        Command::Jobs(command) => runtime()?.block_on(commands::jobs::run(&cli.global, command)),
        Command::Cron(command) => runtime()?.block_on(commands::jobs::cron(&cli.global, command)),
        Command::Preflight => commands::preflight::run(&cli.global),
        Command::Deploy(args) => runtime()?.block_on(commands::deploy::deploy(&cli.global, &args)),
        Command::Rollback(args) => {
            runtime()?.block_on(commands::deploy::rollback(&cli.global, &args))
        }
        Command::Releases(args) => {
            runtime()?.block_on(commands::deploy::releases(&cli.global, &args))
        }
        Command::Logs(args) => commands::logs::run(&cli.global, &args),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            CliError::failure(anyhow::Error::new(e).context("cannot start the async runtime"))
        })
}
