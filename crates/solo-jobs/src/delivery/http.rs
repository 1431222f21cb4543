//! `deliver = "http"`: each job is POSTed to the app, signed; 2xx
//! completes it, a listed status discards it, anything else (or no answer
//! in time) fails the attempt.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde::Serialize;

use super::{DeliveryError, SigningSecret, excerpt, sign};
use crate::{Handler, Job, Outcome};

/// Where and how to POST a queue's jobs.
#[derive(Debug, Clone)]
pub struct HttpDelivery {
    pub url: String,
    pub timeout: Duration,
    /// Answers that discard the job at once (a request that can never work).
    pub discard_statuses: Vec<u16>,
    pub signing_secret: SigningSecret,
}

/// The body the app receives.
#[derive(Serialize)]
struct Envelope<'a> {
    id: i64,
    queue: &'a str,
    kind: &'a str,
    attempt: i64,
    max_attempts: i64,
    payload: &'a serde_json::Value,
    tags: &'a [String],
    created_at: String,
}

/// How much of an error answer's body is kept with the attempt.
const KEPT_BODY: usize = 1024;

impl HttpDelivery {
    pub(crate) fn handler(self) -> Result<Handler, DeliveryError> {
        let url = reqwest::Url::parse(&self.url)
            .map_err(|e| DeliveryError(format!("invalid URL `{}`: {e}", self.url)))?;
        // One client per queue: connections to the app are reused.
        let client = reqwest::Client::builder()
            .timeout(self.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("solo/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| DeliveryError(format!("cannot set up an HTTP client: {e}")))?;
        let shared = Arc::new((self, url, client));
        Ok(Arc::new(move |job: Job| {
            let shared = Arc::clone(&shared);
            Box::pin(async move {
                let (delivery, url, client) = &*shared;
                delivery.deliver(client, url, &job).await
            })
        }))
    }

    async fn deliver(&self, client: &reqwest::Client, url: &reqwest::Url, job: &Job) -> Outcome {
        let body = match serde_json::to_vec(&Envelope {
            id: job.id,
            queue: &job.queue,
            kind: &job.kind,
            attempt: job.attempt,
            max_attempts: job.max_attempts,
            payload: &job.payload,
            tags: &job.tags,
            created_at: job.created_at.to_rfc3339(),
        }) {
            Ok(body) => body,
            Err(e) => return Outcome::Discard(format!("the job cannot be encoded: {e}")),
        };
        let signature = sign(&self.signing_secret, Utc::now().timestamp(), &body);
        let sent = client
            .post(url.clone())
            .header("content-type", "application/json")
            .header("solo-job-id", job.id)
            .header("solo-job-attempt", job.attempt)
            .header("solo-job-queue", &job.queue)
            .header("solo-job-kind", &job.kind)
            .header("solo-signature", signature)
            .body(body)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(e) if e.is_timeout() => {
                return Outcome::Failed(format!(
                    "no answer from {} within {:?}",
                    self.url, self.timeout
                ));
            }
            // reqwest's errors name the URL, never headers: no secret in them.
            Err(e) => return Outcome::Failed(format!("could not reach the app: {e}")),
        };
        let status = response.status();
        if status.is_success() {
            return Outcome::Done;
        }
        let text = response.text().await.unwrap_or_default();
        let message = format!("HTTP {status}: {}", excerpt(text.trim(), KEPT_BODY));
        if self.discard_statuses.contains(&status.as_u16()) {
            Outcome::Discard(message)
        } else {
            Outcome::Failed(message)
        }
    }
}
