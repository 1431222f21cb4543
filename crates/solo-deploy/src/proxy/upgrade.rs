//! Upgrades (WebSocket and friends): the request asks, the app answers
//! 101, and from then on bytes flow both ways until either side closes.
//! The tunnel holds its lease, so a drain waits for it.

use http::HeaderMap;
use http::header::{self, HeaderValue};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use super::Lease;

/// The protocol an HTTP/1.1 request asks to upgrade to, if it asks.
pub(super) fn requested(headers: &HeaderMap) -> Option<HeaderValue> {
    let asks = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"));
    if asks {
        headers.get(header::UPGRADE).cloned()
    } else {
        None
    }
}

pub(super) async fn tunnel(client: OnUpgrade, upstream: OnUpgrade, lease: Lease) {
    let (client, upstream) = match tokio::try_join!(client, upstream) {
        Ok(both) => both,
        Err(error) => {
            tracing::debug!(%error, "an upgrade did not complete");
            return;
        }
    };
    let mut client = TokioIo::new(client);
    let mut upstream = TokioIo::new(upstream);
    if let Err(error) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
        tracing::debug!(%error, "an upgraded connection ended with an error");
    }
    drop(lease);
}
