//! What the invoke routes document in common: their parameters and answers. There is one
//! handler per path (`/function/{name}`, `…/`, `…/{path}`, `/`), all answering alike.

// These types describe requests and answers for the OpenAPI document only.
#![allow(dead_code)]

/// The function a path names.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct FunctionPath {
    /// `name` or `name.namespace`.
    name: String,
}

/// The function a path names, and the rest of the path.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct FunctionSubPath {
    /// `name` or `name.namespace`.
    name: String,
    /// The rest of the path, which the function sees.
    path: String,
}

/// The headers an asynchronous invoke reads.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub(crate) struct JobHeaders {
    /// Where the answer is POSTed when the job ends.
    #[param(rename = "X-Callback-Url")]
    callback_url: Option<String>,
    /// The caller's own call id (or `Idempotency-Key`): the same id again is the same job.
    #[param(rename = "X-Call-Id")]
    call_id: Option<String>,
    /// Run the job this long from now (seconds, or a Go duration such as `90s`, `5m`); it is
    /// `scheduled` until then.
    #[param(rename = "X-Delay")]
    delay: Option<String>,
    /// Run the job at this time (RFC 3339), not before; instead of `X-Delay`.
    #[param(rename = "X-Not-Before")]
    not_before: Option<String>,
}

/// A synchronous invoke's answers.
#[derive(utoipa::IntoResponses)]
pub(crate) enum InvokeAnswers {
    /// The function's answer (any status it gives), with `X-Call-Id`, `X-Start-Time` and
    /// `X-Duration-Seconds`.
    #[response(status = 200, content_type = "*/*")]
    Answer(Vec<u8>),
    /// Unknown function.
    #[response(status = 404, content_type = "text/plain")]
    Unknown(String),
    /// Body over the limit.
    #[response(status = 413, content_type = "text/plain")]
    TooLarge(String),
    /// The function is unreachable.
    #[response(status = 502, content_type = "text/plain")]
    Unreachable(String),
    /// No ready replica, no dispatcher, or NATS unreachable.
    #[response(status = 503, content_type = "text/plain")]
    Unavailable(String),
    /// Timeout.
    #[response(status = 504, content_type = "text/plain")]
    Timeout(String),
}

/// An asynchronous invoke's answers.
#[derive(utoipa::IntoResponses)]
pub(crate) enum EnqueueAnswers {
    /// Stored: JetStream acknowledged it. `X-Call-Id` names the job: the caller's key, or its
    /// form scoped to this function when another function's job holds the key.
    #[response(status = 202, headers(("x-call-id" = String)))]
    Accepted,
    /// A bad callback URL or call id.
    #[response(status = 400, content_type = "text/plain")]
    BadRequest(String),
    /// Unknown function.
    #[response(status = 404, content_type = "text/plain")]
    Unknown(String),
    /// Body over the limit.
    #[response(status = 413, content_type = "text/plain")]
    TooLarge(String),
    /// NATS cannot take it, or the queue is full (with `Retry-After`).
    #[response(status = 503, content_type = "text/plain")]
    Unavailable(String),
}
