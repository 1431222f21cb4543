//! `POST /api/v1/config/check`: validates a solo.toml against this node's
//! solo, so CI can learn whether the production node will accept a stack
//! file before deploying it.

use axum::Json;
use serde::{Deserialize, Serialize};
use solo_http::ApiRoutes;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> ApiRoutes {
    OpenApiRouter::new().routes(routes!(check_config))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConfigCheck {
    pub valid: bool,
    /// The stack file's `version`, when valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// What is wrong, when invalid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<ConfigProblem>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConfigProblem {
    pub message: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub help: Option<String>,
    /// The full diagnostic with the offending line and a caret.
    pub rendered: String,
}

/// Validate a solo.toml (the request body, as text) without applying it.
#[utoipa::path(post, path = "/config/check", tag = "config",
    request_body(content = String, content_type = "application/toml", description = "A solo.toml"),
    responses(
        (status = 200, description = "The verdict; `valid` says whether the file is accepted", body = ConfigCheck),
        (status = 400, description = "The body is not UTF-8 text", body = solo_http::ErrorBody),
        (status = 413, description = "The body is over the limit", body = solo_http::ErrorBody),
    ))]
async fn check_config(body: String) -> Json<ConfigCheck> {
    Json(match solo_config::parse(&body, "solo.toml") {
        Ok(stack) => ConfigCheck {
            valid: true,
            version: Some(stack.version),
            problem: None,
        },
        Err(error) => ConfigCheck {
            valid: false,
            version: None,
            problem: Some(ConfigProblem {
                message: error.message().to_owned(),
                line: error.line(),
                column: error.column(),
                help: error.help().map(str::to_owned),
                rendered: error.to_string(),
            }),
        },
    })
}
