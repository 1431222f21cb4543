//! Talking to a running node's API from the CLI: where it is, the
//! certificate to trust, and which token to send.
//!
//! The token is `SOLO_TOKEN` when set; otherwise, for a node on this
//! machine only, the local token the node wrote into its data directory
//! (viewer for reads, the operator one for deploys). Never a flag:
//! arguments are visible to every user of the machine.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::GlobalArgs;
use crate::exit::{CliError, Exit};
use crate::settings;

/// What a command needs the token for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Read,
    Operate,
}

pub struct NodeApi {
    pub base: String,
    pub http: reqwest::Client,
    token: Option<String>,
    /// Where the local token was looked for, for the hint when none works.
    looked_at: Option<PathBuf>,
}

impl NodeApi {
    /// The node solo.toml (or the flags) point at. `timeout`: none for
    /// calls that last as long as their work (a deploy).
    pub fn local(
        global: &GlobalArgs,
        need: Need,
        timeout: Option<Duration>,
    ) -> Result<Self, CliError> {
        let config_path = settings::config_path(global);
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
        let addr = settings::client_address(listen);
        let base = base_url(addr, tls_cert.is_some());
        let file = match need {
            Need::Read => crate::node::LOCAL_TOKEN_FILE,
            Need::Operate => crate::node::LOCAL_OPERATOR_TOKEN_FILE,
        };
        let looked_at = data_dir.join(file);
        // The local token is for this machine's node: never sent elsewhere.
        let local = addr
            .ip()
            .is_loopback()
            .then(|| read_token(&looked_at))
            .flatten();
        Ok(NodeApi {
            base,
            http: client(tls_cert.as_deref(), timeout)?,
            token: env_token().or(local),
            looked_at: Some(looked_at),
        })
    }

    /// A node elsewhere (`--remote URL`): only `SOLO_TOKEN` is sent.
    pub fn remote(url: &str, timeout: Option<Duration>) -> Result<Self, CliError> {
        let base = url.trim_end_matches('/').to_owned();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(CliError::new(
                Exit::Usage,
                "remote_url",
                anyhow::anyhow!("--remote wants a URL like https://solo.example.com, not `{url}`"),
            ));
        }
        Ok(NodeApi {
            base,
            http: client(None, timeout)?,
            token: env_token(),
            looked_at: None,
        })
    }

    /// A request to `path` (below the base URL), with the token.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Sends, and turns "nobody there" and "who are you" into errors
    /// that say what to do. Other statuses are the caller's to read.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, CliError> {
        let response = request.send().await.map_err(|e| self.unreachable(e))?;
        match response.status() {
            reqwest::StatusCode::UNAUTHORIZED => Err(self.unauthorized()),
            reqwest::StatusCode::FORBIDDEN => Err(CliError::new(
                Exit::Failure,
                "forbidden",
                anyhow::anyhow!(
                    "the token's role may not do this; use an operator's token (SOLO_TOKEN) — `solo tokens create --role operator`"
                ),
            )),
            _ => Ok(response),
        }
    }

    pub async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<T, CliError> {
        let response = self.send(self.request(reqwest::Method::GET, path)).await?;
        json_or_error(response, &format!("{}{path}", self.base)).await
    }

    pub fn unreachable(&self, e: reqwest::Error) -> CliError {
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
                "no solo node answers at {} ({why}); start one with `solo up`, or point --listen (SOLO_LISTEN) at it",
                self.base
            ),
        )
    }

    fn unauthorized(&self) -> CliError {
        let hint = match &self.looked_at {
            Some(path) => format!(
                "run this on the node's machine so solo can read its local token ({}), or set SOLO_TOKEN to an API token (`solo tokens create`)",
                path.display()
            ),
            None => "set SOLO_TOKEN to an API token of that node (`solo tokens create`)".to_owned(),
        };
        CliError::new(
            Exit::Failure,
            "unauthorized",
            anyhow::anyhow!("the node at {} wants credentials: {hint}", self.base),
        )
    }
}

/// The body as `T` on success; on an error status, the node's message.
pub async fn json_or_error<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    url: &str,
) -> Result<T, CliError> {
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        return Err(api_error(status, &body, url));
    }
    response.json().await.map_err(|e| {
        CliError::failure(anyhow::Error::new(e).context(format!(
            "{url} answered something solo cannot read; is it a solo node of this version?"
        )))
    })
}

/// An error answer, worded from its `{"error": {"message"}}` when it has one.
pub fn api_error(status: reqwest::StatusCode, body: &str, url: &str) -> CliError {
    let message = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| body.to_owned());
    CliError::failure(anyhow::anyhow!("{url} answered {status}: {message}"))
}

fn env_token() -> Option<String> {
    std::env::var("SOLO_TOKEN")
        .ok()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
}

fn read_token(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
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

fn client(tls_cert: Option<&Path>, timeout: Option<Duration>) -> Result<reqwest::Client, CliError> {
    let mut builder = reqwest::Client::builder().connect_timeout(Duration::from_secs(5));
    if let Some(timeout) = timeout {
        builder = builder.timeout(timeout);
    }
    if let Some(cert) = tls_cert {
        // Trust the node's own certificate, so a self-signed one works.
        let pem = std::fs::read(cert).map_err(|e| {
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
