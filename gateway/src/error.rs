//! API errors: each becomes a status code and a plain-text message saying what was wrong.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("function `{0}` not found")]
    FunctionNotFound(String),
    #[error("job `{0}` not found")]
    JobNotFound(String),
    #[error("subscription `{0}` not found")]
    SubscriptionNotFound(String),
    #[error("event source `{0}` not found")]
    SourceNotFound(String),
    #[error("no stored result for job `{0}`: it has not finished, its result was too large, or it expired")]
    ResultNotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("request body exceeds the limit of {0} bytes")]
    TooLarge(usize),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::FunctionNotFound(_)
            | ApiError::JobNotFound(_)
            | ApiError::SubscriptionNotFound(_)
            | ApiError::SourceNotFound(_)
            | ApiError::ResultNotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status().is_server_error() {
            tracing::warn!(error = %self, "request failed");
        }
        (
            self.status(),
            [
                ("x-openfaas-internal", "switchyard"),
                ("content-type", "text/plain; charset=utf-8"),
            ],
            format!("{self}\n"),
        )
            .into_response()
    }
}

impl From<crate::registry::RegistryError> for ApiError {
    fn from(error: crate::registry::RegistryError) -> Self {
        use crate::registry::RegistryError;
        match error {
            RegistryError::NotFound(name) => ApiError::FunctionNotFound(name),
            RegistryError::Exists(name) => ApiError::Conflict(format!(
                "function `{name}` already exists; update it with PUT"
            )),
            RegistryError::Nats(message) => {
                ApiError::Unavailable(format!("function registry unavailable: {message}"))
            }
        }
    }
}
