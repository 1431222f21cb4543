use std::str::FromStr;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::db::DbOptions;
use crate::error::StoreError;

pub(crate) async fn open(url: &str, options: &DbOptions) -> Result<PgPool, StoreError> {
    let target = describe_url(url);
    // sqlx's parse errors can quote the URL; say what is wrong without it.
    let connect = PgConnectOptions::from_str(url).map_err(|_| StoreError::InvalidUrl {
        reason: format!("cannot parse the PostgreSQL URL for {target}"),
    })?;
    let statement_timeout = format!("{}ms", options.statement_timeout.as_millis());
    let connect = connect.application_name("solo").options([
        ("statement_timeout", statement_timeout.as_str()),
        ("idle_in_transaction_session_timeout", "60s"),
    ]);
    PgPoolOptions::new()
        .max_connections(options.max_connections)
        .min_connections(1)
        .acquire_timeout(options.acquire_timeout)
        .connect_with(connect)
        .await
        .map_err(|source| StoreError::ConnectPostgres { target, source })
}

/// `host:port/database` of a PostgreSQL URL, never its user or password.
pub(crate) fn describe_url(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let rest = rest.split('?').next().unwrap_or(rest);
    format!("postgres://{rest}")
}
