//! API errors: each becomes a status code and a plain-text message saying what was wrong.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use switchyard_broker::errors::error_chain;
use switchyard_broker::table::TableError;

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
    /// Something named in the path does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Credentials are needed for this.
    #[error("{0}")]
    Unauthorized(String),
    /// Known, not allowed.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("request body exceeds the limit of {0} bytes")]
    TooLarge(usize),
    /// A bounded resource (event viewers) is all in use.
    #[error("{0}")]
    TooMany(String),
    #[error("{0}")]
    Unavailable(String),
    /// The work queue is at its byte limit: try again later.
    #[error("the queue of asynchronous invocations is full (SWITCHYARD_QUEUE_MAX_BYTES); try again later")]
    QueueFull,
    #[error("{0}")]
    Timeout(String),
    /// The request's URI (its query) is longer than accepted.
    #[error("{0}")]
    UriTooLong(String),
    /// The client took too long sending its request.
    #[error("{0}")]
    RequestTimeout(String),
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
            | ApiError::ResultNotFound(_)
            | ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) | ApiError::QueueFull => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// How long a client should wait before retrying an invocation refused by a full queue.
const QUEUE_FULL_RETRY_AFTER_SECONDS: u64 = 5;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status().is_server_error() {
            tracing::warn!(error = %self, "request failed");
        }
        let mut response = (
            self.status(),
            [
                ("x-openfaas-internal", "switchyard"),
                ("content-type", "text/plain; charset=utf-8"),
            ],
            format!("{self}\n"),
        )
            .into_response();
        if matches!(self, ApiError::Unauthorized(_)) {
            response.headers_mut().insert(
                "www-authenticate",
                axum::http::HeaderValue::from_static("Basic realm=\"Restricted\""),
            );
        }
        if matches!(self, ApiError::QueueFull) {
            response.headers_mut().insert(
                "retry-after",
                axum::http::HeaderValue::from(QUEUE_FULL_RETRY_AFTER_SECONDS),
            );
        }
        response
    }
}

/// What a table holds, so that its errors say so.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Record {
    Function,
    Subscription,
    Source,
    Route,
    Host,
    Certificate,
    Organization,
    Policy,
    ServiceAccount,
    Token,
}

impl Record {
    fn noun(self) -> &'static str {
        match self {
            Record::Function => "function",
            Record::Subscription => "subscription",
            Record::Source => "event source",
            Record::Route => "route",
            Record::Host => "host",
            Record::Certificate => "certificate",
            Record::Organization => "organization",
            Record::Policy => "policy",
            Record::ServiceAccount => "service account",
            Record::Token => "token",
        }
    }

    /// What to do instead of creating it again.
    fn instead(self) -> &'static str {
        match self {
            Record::Function | Record::Subscription | Record::Route | Record::Policy => {
                "; update it with PUT"
            }
            Record::Certificate => "; delete it first",
            _ => "",
        }
    }
}

impl ApiError {
    /// Maps a table error about a record of `record`'s kind.
    pub(crate) fn from_table(record: Record) -> impl Fn(TableError) -> ApiError {
        move |error| match error {
            TableError::NotFound { key } => match record {
                Record::Function => ApiError::FunctionNotFound(key),
                Record::Subscription => ApiError::SubscriptionNotFound(key),
                Record::Source => ApiError::SourceNotFound(key),
                other => ApiError::NotFound(format!("{} `{key}` not found", other.noun())),
            },
            TableError::Exists { key } => ApiError::Conflict(format!(
                "{} `{key}` already exists{}",
                record.noun(),
                record.instead()
            )),
            other => ApiError::Unavailable(error_chain(&other)),
        }
    }
}
