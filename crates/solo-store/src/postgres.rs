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
/// The password in a PostgreSQL URL, from its user info (`user:pw@host`,
/// split at the last `@`, as libpq does) or its `password=` query parameter.
pub(crate) fn url_password(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
    let from_userinfo = authority
        .rsplit_once('@')
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .map(|(_, password)| password);
    let from_query = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("password="));
    from_userinfo
        .or(from_query)
        .filter(|p| !p.is_empty())
        .map(percent_decode)
}

/// `%XX` escapes decoded; anything malformed is kept as it is.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn describe_url(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let rest = rest.split('?').next().unwrap_or(rest);
    format!("postgres://{rest}")
}
