//! `GET /system/dead-letters?function=&since=&limit=`, `GET|DELETE /system/dead-letters/{id}`,
//! `POST /system/dead-letters/{id}/redrive`, `POST /system/dead-letters/redrive?function=&since=`.
//!
//! A dead letter's id is its `SY_DEAD` sequence. Redriving stores the same invocation again as a
//! new job (a new call id) and records the redrive in KV `sy_redrives`; the dead letter stays
//! until it is purged or ages out.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchyard_broker::errors::error_chain;
use switchyard_broker::invocation::Invocation;
use switchyard_broker::jobs::{Attempt, DeadLetter, JobRecord, Redrive};
use switchyard_broker::streams;
use utoipa::{IntoParams, ToSchema};

use super::request::new_call_id;
use super::AppState;
use crate::access::Caller;
use crate::error::ApiError;

/// How many of the most recent dead letters a listing or a bulk redrive looks at.
const SCAN: u64 = 10_000;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Filter {
    /// Only this function's (its id: `name` or `name.namespace`).
    function: Option<String>,
    /// Only those that died at or after this time (RFC 3339).
    since: Option<DateTime<Utc>>,
    /// At most this many, 1 to 1000 (default 100); ignored by the bulk redrive.
    limit: Option<usize>,
}

/// A dead letter: its id (the `SY_DEAD` sequence), why it died, and its redrive if any.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeadLetterView {
    id: u64,
    call_id: Option<String>,
    failure: DeadLetter,
    redrive: Option<Redrive>,
    /// In `GET /system/dead-letters/{id}` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    invocation: Option<InvocationView>,
    /// In `GET /system/dead-letters/{id}` only, while the job's record is kept: every attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    attempts: Option<Vec<Attempt>>,
}

/// The invocation a dead letter carries, as it will be sent again.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InvocationView {
    function: String,
    method: String,
    path: String,
    query: Option<String>,
    content_type: Option<String>,
    /// `[name, value]` pairs.
    headers: Vec<(String, String)>,
    /// The body as text (invalid UTF-8 replaced).
    body: String,
    callback_url: Option<String>,
}

/// A dead letter sent again, as the job `callId`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Redriven {
    id: u64,
    call_id: String,
}

/// What a bulk redrive sent again.
#[derive(Serialize, ToSchema)]
pub(crate) struct BulkRedrive {
    redriven: Vec<Redriven>,
}

/// One dead letter as read back: its failure, and the invocation it carries.
struct Stored {
    id: u64,
    letter: DeadLetter,
    invocation: Option<Invocation>,
}

fn read(message: &async_nats::jetstream::message::StreamMessage) -> Option<Stored> {
    let letter = DeadLetter::from_message(&message.subject, Some(&message.headers)).ok()?;
    Some(Stored {
        id: message.sequence,
        letter,
        invocation: Invocation::from_message(Some(&message.headers), message.payload.clone()).ok(),
    })
}

fn unavailable(error: impl std::error::Error) -> ApiError {
    ApiError::Unavailable(format!("dead letters unavailable: {}", error_chain(&error)))
}

fn summary(stored: &Stored, redrive: Option<Redrive>) -> DeadLetterView {
    DeadLetterView {
        id: stored.id,
        call_id: stored.invocation.as_ref().map(|i| i.call_id.clone()),
        failure: stored.letter.clone(),
        redrive,
        invocation: None,
        attempts: None,
    }
}

async fn matching(state: &AppState, filter: &Filter) -> Result<Vec<Stored>, ApiError> {
    let messages = streams::recent(&state.js, streams::DEAD, SCAN)
        .await
        .map_err(unavailable)?;
    Ok(messages
        .iter()
        .filter_map(read)
        .filter(|s| {
            filter
                .function
                .as_ref()
                .is_none_or(|f| &s.letter.function == f)
        })
        .filter(|s| filter.since.is_none_or(|since| s.letter.time >= since))
        .collect())
}

#[utoipa::path(get, path = "/system/dead-letters", tag = "dead letters", params(Filter),
    description = "Dead letters, newest first, among the last 10,000.",
    responses(
        (status = 200, body = Vec<DeadLetterView>),
        (status = 400, description = "A bad filter", body = String, content_type = "text/plain"),
    ))]
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(filter): Query<Filter>,
) -> Result<Json<Vec<DeadLetterView>>, ApiError> {
    caller.operator(&state, "the dead letters of every function")?;
    let limit = filter.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "`limit` must be 1 to 1000, got {limit}"
        )));
    }
    let mut shown = Vec::new();
    for stored in matching(&state, &filter).await?.into_iter().take(limit) {
        let redrive = state
            .redrives
            .get(&stored.id.to_string())
            .await
            .ok()
            .flatten();
        shown.push(summary(&stored, redrive));
    }
    Ok(Json(shown))
}

async fn find(state: &AppState, id: u64) -> Result<Stored, ApiError> {
    streams::message(&state.js, streams::DEAD, id)
        .await
        .map_err(unavailable)?
        .as_ref()
        .and_then(read)
        .ok_or_else(|| ApiError::NotFound(format!("dead letter {id} not found")))
}

#[utoipa::path(get, path = "/system/dead-letters/{id}", tag = "dead letters",
    params(("id" = u64, Path, description = "The dead letter's id")),
    responses(
        (status = 200, description = "The dead letter, its invocation and every attempt", body = DeadLetterView),
        (status = 404, body = String, content_type = "text/plain"),
    ))]
pub(crate) async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<u64>,
) -> Result<Json<DeadLetterView>, ApiError> {
    caller.operator(&state, "the dead letters of every function")?;
    let stored = find(&state, id).await?;
    let redrive = state.redrives.get(&id.to_string()).await.ok().flatten();
    let mut shown = summary(&stored, redrive);
    shown.invocation = stored.invocation.as_ref().map(|invocation| InvocationView {
        function: invocation.function.clone(),
        method: invocation.method.clone(),
        path: invocation.path.clone(),
        query: invocation.query.clone(),
        content_type: invocation.content_type.clone(),
        headers: invocation.headers.clone(),
        body: String::from_utf8_lossy(&invocation.body).into_owned(),
        callback_url: invocation.callback_url.clone(),
    });
    if let Some(call_id) = &shown.call_id {
        shown.attempts = state
            .jobs
            .get(call_id)
            .await
            .ok()
            .flatten()
            .map(|record| record.history);
    }
    Ok(Json(shown))
}

#[utoipa::path(delete, path = "/system/dead-letters/{id}", tag = "dead letters",
    description = "Purges a dead letter.",
    params(("id" = u64, Path, description = "The dead letter's id")),
    responses(
        (status = 204, description = "Purged"),
        (status = 404, body = String, content_type = "text/plain"),
    ))]
pub(crate) async fn remove(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<u64>,
) -> Result<StatusCode, ApiError> {
    caller.operator(&state, "the dead letters of every function")?;
    if !streams::delete(&state.js, streams::DEAD, id).await {
        return Err(ApiError::NotFound(format!("dead letter {id} not found")));
    }
    let _ = state.redrives.remove(&id.to_string()).await;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/system/dead-letters/{id}/redrive", tag = "dead letters",
    description = "Stores the same invocation again as a new job, and records the redrive on the dead letter.",
    params(("id" = u64, Path, description = "The dead letter's id")),
    responses(
        (status = 202, body = Redriven),
        (status = 404, body = String, content_type = "text/plain"),
        (status = 409, description = "The function no longer exists", body = String, content_type = "text/plain"),
        (status = 503, description = "The queue is full or NATS unavailable", body = String, content_type = "text/plain"),
    ))]
pub(crate) async fn redrive(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<u64>,
) -> Result<(StatusCode, Json<Redriven>), ApiError> {
    caller.operator(&state, "the dead letters of every function")?;
    let stored = find(&state, id).await?;
    let call_id = send_again(&state, &stored).await?;
    Ok((StatusCode::ACCEPTED, Json(Redriven { id, call_id })))
}

#[utoipa::path(post, path = "/system/dead-letters/redrive", tag = "dead letters",
    description = "Redrives every matching dead letter not redriven yet.",
    params(Filter),
    responses(
        (status = 202, body = BulkRedrive),
        (status = 409, description = "A matching dead letter's function no longer exists", body = String, content_type = "text/plain"),
        (status = 503, body = String, content_type = "text/plain"),
    ))]
pub(crate) async fn redrive_all(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(filter): Query<Filter>,
) -> Result<(StatusCode, Json<BulkRedrive>), ApiError> {
    caller.operator(&state, "the dead letters of every function")?;
    let mut redriven = Vec::new();
    for stored in matching(&state, &filter).await? {
        if state
            .redrives
            .get(&stored.id.to_string())
            .await
            .ok()
            .flatten()
            .is_some()
        {
            continue;
        }
        let call_id = send_again(&state, &stored).await?;
        redriven.push(Redriven {
            id: stored.id,
            call_id,
        });
    }
    Ok((StatusCode::ACCEPTED, Json(BulkRedrive { redriven })))
}

/// Stores the dead letter's invocation again as a new job and records the redrive.
async fn send_again(state: &AppState, stored: &Stored) -> Result<String, ApiError> {
    let Some(original) = &stored.invocation else {
        return Err(ApiError::Conflict(format!(
            "dead letter {} holds no readable invocation (reason: {})",
            stored.id,
            stored.letter.reason.as_str()
        )));
    };
    if !state.registry.contains(&original.function) {
        return Err(ApiError::Conflict(format!(
            "function `{}` no longer exists",
            original.function
        )));
    }
    // A namespace deleted and made again (perhaps by another organization) is not the one
    // this invocation was for: its function must not receive it.
    let namespace = switchyard_broker::records::split_qualified(&original.function).1;
    if !state.namespace_holds(namespace, original.time) {
        return Err(ApiError::Conflict(format!(
            "dead letter {} was for namespace `{namespace}` as it was before it was deleted and made again",
            stored.id
        )));
    }
    let mut invocation = original.clone();
    invocation.call_id = new_call_id();
    invocation.time = Utc::now();
    let (subject, headers, payload) = invocation.to_stored_message();
    streams::publish_acked(&state.js, subject, headers, payload)
        .await
        .map_err(|e| {
            if e.is_full() {
                ApiError::QueueFull
            } else {
                unavailable(e)
            }
        })?;
    let record = JobRecord::queued(
        &invocation.call_id,
        &invocation.function,
        invocation.callback_url.clone(),
    );
    let _ = state.jobs.create_queued(&record).await;
    let redrive = Redrive {
        call_id: invocation.call_id.clone(),
        at: Utc::now(),
    };
    let _ = state.redrives.put(&stored.id.to_string(), &redrive).await;
    tracing::info!(dead_letter = stored.id, call_id = %invocation.call_id, function = %invocation.function, "dead letter redriven");
    Ok(invocation.call_id)
}
