//! Asynchronous invoke: `POST /async-function/{name}[/{path}]` stores the invocation in
//! `SY_INVOCATIONS` and answers 202 once the server has acknowledged it;
//! `DELETE /async-function/{callId}` cancels a job.

use std::sync::Arc;

use async_nats::connection::State as ConnectionState;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use switchyard_broker::errors::error_chain;
use switchyard_broker::jobs::{
    delay, validate_call_id, JobRecord, JobStatus, Refused, Transition, TransitionError,
};
use switchyard_broker::networks::NetworkPolicy;
use switchyard_broker::{streams, subjects};
use tracing::Instrument;

use super::invoke_docs::{EnqueueAnswers, FunctionPath, FunctionSubPath, JobHeaders};
use super::request::{
    caller_call_id, new_call_id, read_invocation, registered_function, split_path, unix_nanos,
    Target,
};
use super::AppState;
use crate::error::ApiError;

#[utoipa::path(post, path = "/async-function/{name}", tag = "invoke", security(()),
    description = "Asynchronous invoke: the request is stored as a job and answered 202; the job runs with retries, and its answer goes to the callback URL.",
    params(FunctionPath, JobHeaders), request_body(content = Vec<u8>, content_type = "*/*"), responses(EnqueueAnswers))]
pub(crate) async fn enqueue(state: State<Arc<AppState>>, request: Request<Body>) -> Response {
    enqueue_any(state, request).await
}

#[utoipa::path(post, path = "/async-function/{name}/", tag = "invoke", security(()),
    params(FunctionPath, JobHeaders), request_body(content = Vec<u8>, content_type = "*/*"), responses(EnqueueAnswers))]
pub(crate) async fn enqueue_slash(state: State<Arc<AppState>>, request: Request<Body>) -> Response {
    enqueue_any(state, request).await
}

#[utoipa::path(post, path = "/async-function/{name}/{*path}", tag = "invoke", security(()),
    params(FunctionSubPath, JobHeaders), request_body(content = Vec<u8>, content_type = "*/*"), responses(EnqueueAnswers))]
pub(crate) async fn enqueue_path(state: State<Arc<AppState>>, request: Request<Body>) -> Response {
    enqueue_any(state, request).await
}

/// Every asynchronous invoke route.
async fn enqueue_any(State(state): State<Arc<AppState>>, request: Request<Body>) -> Response {
    let (name, path) = split_path("/async-function/", request.uri().path());
    enqueue_function(state, request, name, path).await
}

/// The job id a caller's key names on `function`: the key itself, unless it already names
/// another function's job; then its scoped form (`jobs::scoped_call_id`), looked up first so
/// that a retry finds the same job even after the other function's record is gone.
async fn scoped_call_id(state: &AppState, function: &str, key: &str) -> Result<String, ApiError> {
    let read = |id: String| async move {
        state
            .jobs
            .get(&id)
            .await
            .map_err(|e| ApiError::Unavailable(error_chain(&e)))
    };
    let scoped = switchyard_broker::jobs::scoped_call_id(&state.routing_key, function, key);
    if read(scoped.clone()).await?.is_some() {
        return Ok(scoped);
    }
    match read(key.to_string()).await? {
        Some(record) if record.function != function => Ok(scoped),
        _ => Ok(key.to_string()),
    }
}

/// Queues a job of function `name` (a reference) with `request`, the function seeing `path`:
/// what `/async-function/NAME/path` and asynchronous API routes do.
pub(crate) async fn enqueue_function(
    state: Arc<AppState>,
    request: Request<Body>,
    name: String,
    path: String,
) -> Response {
    let mut request = request;
    if let Err(refused) = crate::access::check_invoke(&state, &name, request.headers_mut()).await {
        return refused;
    }
    let chosen = caller_call_id(request.headers());
    let caller_chose = chosen.is_some();
    let call_id = match chosen {
        Some(id) => match validate_call_id(&id) {
            Ok(()) => id,
            Err(e) => return ApiError::BadRequest(e.to_string()).into_response(),
        },
        None => new_call_id(),
    };
    let span = tracing::info_span!("enqueue", call_id = %call_id, function = %name);
    let mut call_id = call_id;
    let result = async {
        let function = registered_function(&state, &name).await?.id();
        // A caller's key is scoped to its function (a generated id is new: no read).
        if caller_chose {
            call_id = scoped_call_id(&state, &function, &call_id).await?;
        }
        let callback_url = callback_url(&request, &state.config.callback_networks)?;
        let due = due_time(&request, state.config.max_delay)?;
        let target = Target {
            call_id: call_id.clone(),
            function,
            path,
            start_time: unix_nanos(),
            callback_url,
        };
        let invocation = read_invocation(&state, request, target).await?;
        store(&state, &invocation, due, caller_chose).await
    }
    .instrument(span)
    .await;
    match result {
        Ok(()) => {
            let mut response = StatusCode::ACCEPTED.into_response();
            if let Ok(value) = HeaderValue::from_str(&call_id) {
                response.headers_mut().insert("x-call-id", value);
            }
            response
        }
        Err(error) => error.into_response(),
    }
}

/// `X-Callback-Url`, which must be an absolute http(s) URL whose host, when it is an address,
/// is one callbacks may reach.
fn callback_url(
    request: &Request<Body>,
    networks: &NetworkPolicy,
) -> Result<Option<String>, ApiError> {
    let Some(value) = request.headers().get("x-callback-url") else {
        return Ok(None);
    };
    let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
    let valid = text.parse::<Uri>().ok().is_some_and(|uri| {
        matches!(uri.scheme_str(), Some("http" | "https"))
            && uri.host().is_some_and(|h| !h.is_empty())
    });
    if !valid {
        return Err(ApiError::BadRequest(format!(
            "X-Callback-Url must be an absolute http(s) URL, got `{text}`"
        )));
    }
    let host = text.parse::<Uri>().ok().and_then(|uri| {
        uri.host()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string())
    });
    if let Some(ip) = host.and_then(|h| h.parse::<std::net::IpAddr>().ok()) {
        if let Some(refusal) = networks.refusal(ip) {
            return Err(ApiError::BadRequest(format!(
                "X-Callback-Url `{text}`: {refusal} (SWITCHYARD_CALLBACK_ALLOW, SWITCHYARD_CALLBACK_DENY)"
            )));
        }
    }
    Ok(Some(text))
}

/// When the job is to run (`X-Delay`, `X-Not-Before`): `None` for now.
fn due_time(
    request: &Request<Body>,
    max_delay: std::time::Duration,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    delay::due_time(
        header(delay::DELAY_HEADER).as_deref(),
        header(delay::NOT_BEFORE_HEADER).as_deref(),
        Utc::now(),
        max_delay,
    )
    .map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// 503 while the delayed jobs held take `SWITCHYARD_QUEUE_MAX_BYTES` or more: their stream
/// cannot refuse a message itself (message schedules rule out discard-new).
async fn refuse_when_delayed_full(state: &AppState) -> Result<(), ApiError> {
    let held = streams::stored_bytes(&state.js, streams::DELAYED)
        .await
        .map_err(|e| ApiError::Unavailable(error_chain(&e)))?;
    let limit = state.config.retention.queue_max_bytes;
    if limit > 0 && held >= limit as u64 {
        return Err(ApiError::QueueFull);
    }
    Ok(())
}

/// Publishes the invocation with the call id as its deduplication id and waits for the server's ack, so a
/// 202 always means stored. A duplicate (the same call id again) is the same job. A job `due`
/// later is held by the stream until then (a message schedule) and recorded as scheduled.
async fn store(
    state: &AppState,
    invocation: &switchyard_broker::invocation::Invocation,
    due: Option<DateTime<Utc>>,
    caller_chose: bool,
) -> Result<(), ApiError> {
    if state.nats.connection_state() != ConnectionState::Connected {
        return Err(ApiError::Unavailable(
            "NATS is unreachable; the invocation was not accepted".into(),
        ));
    }
    if due.is_some() {
        refuse_when_delayed_full(state).await?;
    }
    let (subject, headers, payload) = match due {
        Some(due) => invocation.to_delayed_message(due),
        None => invocation.to_stored_message(),
    };
    let ack = streams::publish_acked(&state.js, subject, headers, payload)
        .await
        .map_err(|e| {
            if e.is_full() {
                ApiError::QueueFull
            } else {
                ApiError::Unavailable(format!(
                    "the invocation could not be stored: {}",
                    error_chain(&e)
                ))
            }
        })?;
    if ack.duplicate {
        tracing::info!("duplicate intake: same job");
        return Ok(());
    }
    let callback = invocation.callback_url.clone();
    let mut record = match due {
        Some(due) => JobRecord::scheduled(&invocation.call_id, &invocation.function, callback, due),
        None => JobRecord::queued(&invocation.call_id, &invocation.function, callback),
    };
    record.caller_chosen_id = caller_chose;
    if let Err(error) = state.jobs.create_queued(&record).await {
        // The invocation is stored; the worker writes the record when it takes the job.
        tracing::warn!(%error, "queued record not written");
    }
    tracing::debug!(sequence = ack.sequence, "invocation stored");
    Ok(())
}

#[utoipa::path(delete, path = "/async-function/{name}", tag = "invoke", security((), ("basic" = [])),
    description = "Cancels a queued or running job. Open for a generated call id; a caller-chosen one needs basic auth.",
    params(("name" = String, Path, description = "The job's call id")),
    responses(
        (status = 202, description = "Cancelled (also when it already was)"),
        (status = 400, body = String, content_type = "text/plain"),
        (status = 401, body = String, content_type = "text/plain"),
        (status = 404, body = String, content_type = "text/plain"),
        (status = 409, description = "It already succeeded or failed", body = String, content_type = "text/plain"),
    ))]
pub(crate) async fn cancel(
    State(state): State<Arc<AppState>>,
    Path(call_id): Path<String>,
    headers: axum::http::HeaderMap,
) -> Result<StatusCode, ApiError> {
    let outcome = cancel_job(&state, &call_id, &headers).await;
    // Cancels are changes: the audit log has them, whoever asked.
    let principal = crate::access::authenticate(&state, &headers)
        .await
        .unwrap_or_else(|_| switchyard_access::Principal {
            who: "anonymous".into(),
            subjects: Vec::new(),
            super_user: false,
            organization: None,
        });
    let status = match &outcome {
        Ok(status) => status.as_u16(),
        Err(error) => error.status().as_u16(),
    };
    crate::access::audit_change(
        &state,
        &principal,
        "DELETE",
        &format!("/async-function/{call_id}"),
        vec![format!("cancel job `{call_id}`")],
        status,
        caller_call_id(&headers).unwrap_or_else(new_call_id),
    )
    .await;
    outcome
}

async fn cancel_job(
    state: &AppState,
    call_id: &str,
    headers: &axum::http::HeaderMap,
) -> Result<StatusCode, ApiError> {
    let call_id = call_id.to_string();
    validate_call_id(&call_id).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    // A generated id is known only to whoever queued the job; a chosen one may be known to
    // others, so cancelling that job takes the admin's credentials.
    let record = super::jobs::job_record(state, &call_id).await?;
    let chosen = record.as_ref().is_some_and(|r| r.caller_chosen_id);
    if chosen && !crate::auth::authenticated(&state.config.credentials, headers) {
        return Err(ApiError::Unauthorized(format!(
            "job `{call_id}` has a caller-chosen id: cancelling it needs basic auth"
        )));
    }
    // A delayed job is taken out of the stream first: once the record says cancelled, nothing
    // may run it, and a record can expire before the job is due.
    if record
        .as_ref()
        .is_some_and(|r| r.status == JobStatus::Scheduled)
    {
        streams::purge_subject(&state.js, streams::DELAYED, &subjects::delayed(&call_id))
            .await
            .map_err(|e| ApiError::Unavailable(error_chain(&e)))?;
    }
    let cancel = Transition::Cancel { at: Utc::now() };
    match state.jobs.apply(&call_id, &cancel, record.as_ref()).await {
        Ok(_) => {}
        // Cancelling twice is not an error.
        Err(TransitionError::Refused {
            refused: Refused::Final(JobStatus::Cancelled),
            ..
        }) => return Ok(StatusCode::ACCEPTED),
        Err(TransitionError::Refused {
            refused: Refused::Final(status),
            ..
        }) => {
            return Err(ApiError::Conflict(format!(
                "job `{call_id}` already {}",
                status.as_str()
            )))
        }
        Err(TransitionError::Refused { .. }) => return Err(ApiError::JobNotFound(call_id)),
        Err(TransitionError::Store(error)) => return Err(ApiError::Unavailable(error.to_string())),
    }
    // A worker running the job aborts its call; one that takes it later skips it.
    if let Err(error) = state
        .nats
        .publish(subjects::cancel(&call_id), "".into())
        .await
    {
        tracing::warn!(call_id, %error, "cancel not announced; workers still skip the job");
    }
    tracing::info!(call_id, "job cancelled");
    Ok(StatusCode::ACCEPTED)
}
