//! `solo status`: ask a running node how it is.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use solo_cluster::{NodeState, NodeView};
use solo_http::NodeStatus;

use crate::cli::GlobalArgs;
use crate::exit::{CliError, Exit};
use crate::output;
use crate::settings;

const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Serialize)]
struct StatusReport {
    url: String,
    node: NodeStatus,
    nodes: Vec<NodeView>,
}

pub async fn run(global: &GlobalArgs) -> Result<(), CliError> {
    // solo.toml is optional here: status works from any directory with
    // --listen, and reads the file only to find the node.
    let config_path = settings::config_path(global);
    // Only the address, the certificate and the data directory (for the
    // local token): status talks to the node over HTTP, so the database URL
    // is none of its business.
    let (listen, tls_cert, data_dir) = if config_path.exists() {
        let (path, stack) = settings::load_stack(global)?;
        let client = settings::client_settings(global, &path, &stack);
        (client.listen, client.tls_cert, client.data_dir)
    } else {
        (
            global.listen.unwrap_or(settings::DEFAULT_LISTEN),
            None,
            global
                .data_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from(".solo")),
        )
    };
    let base = base_url(settings::client_address(listen), tls_cert.is_some());
    let client = client(tls_cert)?;
    // The local token is for this machine's node: never sent elsewhere.
    let token = api_token(
        &data_dir,
        settings::client_address(listen).ip().is_loopback(),
    );

    let node: NodeStatus = get_json(&client, &base, "/api/v1/status", &token).await?;
    let nodes: Vec<NodeView> = get_json(&client, &base, "/api/v1/nodes", &token).await?;
    let report = StatusReport {
        url: base,
        node,
        nodes,
    };
    output::emit(global.json, &report, || human(&report));
    Ok(())
}

fn base_url(addr: SocketAddr, tls: bool) -> String {
    if !tls {
        return format!("http://{addr}");
    }
    // Certificates name hosts, not loopback IPs.
    if addr.ip().is_loopback() {
        format!("https://localhost:{}", addr.port())
    } else {
        format!("https://{addr}")
    }
}

fn client(tls_cert: Option<PathBuf>) -> Result<reqwest::Client, CliError> {
    let mut builder = reqwest::Client::builder().timeout(TIMEOUT);
    if let Some(cert) = tls_cert {
        // Trust the node's own certificate, so a self-signed one works.
        let pem = std::fs::read(&cert).map_err(|e| {
            CliError::failure(
                anyhow::Error::new(e).context(format!("cannot read {}", cert.display())),
            )
        })?;
        let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| {
            CliError::failure(anyhow::Error::new(e).context("invalid TLS certificate"))
        })?;
        builder = builder.add_root_certificate(cert);
    }
    builder.build().map_err(|e| {
        CliError::failure(anyhow::Error::new(e).context("cannot build the HTTP client"))
    })
}

/// The token to call the API with: `SOLO_TOKEN`, else the local token the
/// node on this machine wrote into its data directory. Never a flag:
/// arguments are visible to every user of the machine.
struct ApiToken {
    token: Option<String>,
    /// Where it was looked for, for the hint when there is none.
    looked_at: PathBuf,
}

fn api_token(data_dir: &std::path::Path, local_node: bool) -> ApiToken {
    let looked_at = data_dir.join(crate::node::LOCAL_TOKEN_FILE);
    let token = std::env::var("SOLO_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty())
        .or_else(|| {
            local_node
                .then(|| std::fs::read_to_string(&looked_at).ok())
                .flatten()
        })
        .map(|t| t.trim().to_owned());
    ApiToken { token, looked_at }
}

async fn get_json<T: serde::de::DeserializeOwned>(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    token: &ApiToken,
) -> Result<T, CliError> {
    let url = format!("{base}{path}");
    let mut request = client.get(&url);
    if let Some(token) = &token.token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.map_err(|e| {
        let why = if e.is_timeout() {
            "timed out".to_owned()
        } else if e.is_connect() {
            "connection refused or host unreachable".to_owned()
        } else {
            e.to_string()
        };
        CliError::new(
            Exit::Unreachable,
            "unreachable",
            anyhow::anyhow!(
                "no solo node answers at {base} ({why}); start one with `solo up`, or point --listen (SOLO_LISTEN) at it"
            ),
        )
    })?;
    let status = response.status();
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return Err(CliError::new(
            Exit::Failure,
            "unauthorized",
            anyhow::anyhow!(
                "the node at {base} wants credentials: run this on the node's machine so solo can \
                 read its local token ({}), or set SOLO_TOKEN to an API token (`solo tokens create`)",
                token.looked_at.display()
            ),
        ));
    }
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        return Err(CliError::failure(anyhow::anyhow!(
            "{url} answered {status}: {body}"
        )));
    }
    response.json().await.map_err(|e| {
        CliError::failure(anyhow::Error::new(e).context(format!(
            "{url} answered something that is not a solo status; is it a solo node?"
        )))
    })
}

fn human(report: &StatusReport) -> String {
    let n = &report.node;
    let db = &n.database;
    let schema = if db.reachable {
        format!(
            "reachable, schema {}/{} {}",
            db.schema_version,
            db.schema_known,
            if db.schema_current {
                "current"
            } else {
                "NOT current"
            }
        )
    } else {
        format!(
            "UNREACHABLE: {}",
            db.problem.as_deref().unwrap_or("unknown problem")
        )
    };
    let up = report
        .nodes
        .iter()
        .filter(|v| v.state == NodeState::Up)
        .count();
    let mut out = format!(
        "solo {version} at {url}\n  node      {id}\n  uptime    {uptime} (since {since})\n  listen    {listen}\n  database  {backend} {target}: {schema}\n  pool      {open} open, {idle} idle, max {max}\n  nodes     {up} up of {total} known\n",
        version = n.version,
        url = report.url,
        id = n.node_id,
        uptime = human_duration(n.uptime_seconds),
        since = n.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
        listen = n.listen,
        backend = db.backend,
        target = db.target,
        open = db.pool_open,
        idle = db.pool_idle,
        max = db.pool_max,
        total = report.nodes.len(),
    );
    for view in report.nodes.iter().filter(|v| v.node.node_id != n.node_id) {
        out.push_str(&format!(
            "            {} {} on {} ({:?})\n",
            view.node.node_id, view.node.version, view.node.hostname, view.state
        ));
    }
    out
}

fn human_duration(seconds: f64) -> String {
    let total = seconds.max(0.0) as u64;
    let (d, h, m, s) = (
        total / 86_400,
        total / 3_600 % 24,
        total / 60 % 60,
        total % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_human_would_say_them() {
        assert_eq!(human_duration(4.2), "4s");
        assert_eq!(human_duration(133.0), "2m 13s");
        assert_eq!(human_duration(7_380.0), "2h 3m");
        assert_eq!(human_duration(90_000.0), "1d 1h");
    }
}
