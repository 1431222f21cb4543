//! `solo up`: run the node in the foreground until SIGINT or SIGTERM.

use solo_config::LogFormat as ConfigLogFormat;
use solo_observe::{LogFormat, LogLayer, Redactor, init_logging};

use crate::cli::GlobalArgs;
use crate::exit::{CliError, Exit};
use crate::node;
use crate::settings;

/// Libraries' chatter that an operator rarely wants at `info`.
const QUIET_DEPENDENCIES: &str = "sqlx=warn,hyper=warn,hyper_util=warn,h2=warn,rustls=warn";

pub async fn run(global: &GlobalArgs) -> Result<(), CliError> {
    let (path, stack) = settings::load_stack(global)?;
    let mut settings = settings::resolve(global, path, stack)?;
    settings.jobs_signing_secret = crate::jobs::signing_secret(&settings.stack)?;

    let format = match settings.stack.log.format {
        ConfigLogFormat::Auto => LogFormat::detect(),
        ConfigLogFormat::Json => LogFormat::Json,
        ConfigLogFormat::Pretty => LogFormat::Pretty,
    };
    // SOLO_LOG takes a full filter (`info,solo_http=debug`) for one-off digging.
    let filter = std::env::var("SOLO_LOG")
        .unwrap_or_else(|_| format!("{},{QUIET_DEPENDENCIES}", settings.stack.log.level));
    let redactor = Redactor::new();
    // A driver error that quotes the connection string must not leak it.
    if let Some(password) = settings.db.target.password() {
        redactor.register_secret(&password);
    }
    if let Some(secret) = &settings.jobs_signing_secret {
        redactor.register_secret(secret);
    }
    init_logging(&filter, LogLayer::stdout(format, redactor.clone()))
        .map_err(|e| CliError::new(Exit::Config, "log_filter", anyhow::anyhow!(e)))?;
    // Panics (a handler's included: those become 500s) are logged like
    // everything else: structured, with the request id, and redacted.
    solo_observe::log_panics();

    node::run(settings, redactor, node::shutdown_signal()).await
}
