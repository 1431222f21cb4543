//! Health checks: `GET <health.path>` straight to a release's port; a 2xx
//! within the time-out is a success.

use std::time::{Duration, Instant};

use axum::body::Body;
use http::{Method, Request, header};

use crate::process::AppProcess;
use crate::proxy::Upstream;
use crate::service::HealthSpec;

/// One check.
pub(crate) async fn check(upstream: &Upstream, spec: &HealthSpec) -> Result<(), String> {
    let uri = format!("http://{}{}", upstream.addr, spec.path);
    let request = Request::builder()
        .method(Method::GET)
        .uri(&uri)
        .header(header::USER_AGENT, "solo-health")
        .body(Body::empty())
        .map_err(|e| format!("bad health check request: {e}"))?;
    match tokio::time::timeout(spec.timeout, upstream.request(request)).await {
        Ok(Ok(response)) if response.status().is_success() => Ok(()),
        Ok(Ok(response)) => Err(format!("{} answered {}", spec.path, response.status())),
        Ok(Err(error)) => Err(format!("{} did not answer: {error}", spec.path)),
        Err(_) => Err(format!(
            "{} did not answer within {:?}",
            spec.path, spec.timeout
        )),
    }
}

/// Checks until `spec.successes` in a row pass (healthy), the process
/// exits, or `spec.wait` runs out. Ok carries how long it took.
pub(crate) async fn wait_healthy(
    upstream: &Upstream,
    process: &AppProcess,
    spec: &HealthSpec,
) -> Result<Duration, String> {
    let started = Instant::now();
    let mut in_a_row = 0;
    let mut last_error = String::from("no check answered yet");
    loop {
        if let Some(how) = process.exit_status() {
            return Err(format!("the release exited before it was healthy ({how})"));
        }
        match check(upstream, spec).await {
            Ok(()) => {
                in_a_row += 1;
                if in_a_row >= spec.successes {
                    return Ok(started.elapsed());
                }
            }
            Err(error) => {
                in_a_row = 0;
                last_error = error;
            }
        }
        if started.elapsed() >= spec.wait {
            return Err(format!("not healthy after {:?}: {last_error}", spec.wait));
        }
        tokio::time::sleep(spec.interval).await;
    }
}
