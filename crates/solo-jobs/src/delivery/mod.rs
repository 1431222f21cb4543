//! Delivery to the app: a queue's jobs go out over HTTP (signed) or to a
//! command, each as a [`Handler`] the queue's worker runs for every kind.

mod command;
mod http;
mod signature;

use std::fmt;

pub use command::CommandDelivery;
pub use http::HttpDelivery;
pub use signature::{sign, verify_signature};

use crate::Handler;

/// How a queue's jobs reach the app.
#[derive(Debug, Clone)]
pub enum Delivery {
    Http(HttpDelivery),
    Command(CommandDelivery),
}

/// Why a delivery cannot be set up.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DeliveryError(pub(crate) String);

impl Delivery {
    /// The handler the queue's worker runs for each job.
    pub fn handler(self) -> Result<Handler, DeliveryError> {
        match self {
            Delivery::Http(http) => http.handler(),
            Delivery::Command(command) => Ok(command.handler()),
        }
    }
}

/// The key HTTP deliveries are signed with. Never printed.
#[derive(Clone)]
pub struct SigningSecret(Vec<u8>);

impl SigningSecret {
    pub fn new(bytes: Vec<u8>) -> Self {
        SigningSecret(bytes)
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(***)")
    }
}

/// Keeps the start and the end of a long text, marking the cut.
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let half = max / 2;
    let mut head_end = half;
    while !text.is_char_boundary(head_end) {
        head_end -= 1;
    }
    let mut tail_start = text.len() - half;
    while !text.is_char_boundary(tail_start) {
        tail_start += 1;
    }
    format!(
        "{}\n… [{} bytes cut] …\n{}",
        &text[..head_end],
        tail_start - head_end,
        &text[tail_start..]
    )
}
