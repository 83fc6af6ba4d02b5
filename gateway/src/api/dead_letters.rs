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
use serde::Deserialize;
use serde_json::{json, Value};
use switchyard_broker::errors::error_chain;
use switchyard_broker::invocation::Invocation;
use switchyard_broker::jobs::{DeadLetter, JobRecord, Redrive};
use switchyard_broker::streams;

use super::request::new_call_id;
use super::AppState;
use crate::error::ApiError;

/// How many of the most recent dead letters a listing or a bulk redrive looks at.
const SCAN: u64 = 10_000;

#[derive(Debug, Deserialize)]
pub(crate) struct Filter {
    function: Option<String>,
    since: Option<DateTime<Utc>>,
    limit: Option<usize>,
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

fn summary(stored: &Stored, redrive: Option<Redrive>) -> Value {
    json!({
        "id": stored.id,
        "callId": stored.invocation.as_ref().map(|i| i.call_id.clone()),
        "failure": stored.letter,
        "redrive": redrive,
    })
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

pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    Query(filter): Query<Filter>,
) -> Result<Json<Vec<Value>>, ApiError> {
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

pub(crate) async fn get(
    State(state): State<Arc<AppState>>,
    Path(id): Path<u64>,
) -> Result<Json<Value>, ApiError> {
    let stored = find(&state, id).await?;
    let redrive = state.redrives.get(&id.to_string()).await.ok().flatten();
    let mut shown = summary(&stored, redrive);
    if let Some(invocation) = &stored.invocation {
        shown["invocation"] = json!({
            "function": invocation.function,
            "method": invocation.method,
            "path": invocation.path,
            "query": invocation.query,
            "contentType": invocation.content_type,
            "headers": invocation.headers,
            "body": String::from_utf8_lossy(&invocation.body),
            "callbackUrl": invocation.callback_url,
        });
    }
    Ok(Json(shown))
}

pub(crate) async fn remove(
    State(state): State<Arc<AppState>>,
    Path(id): Path<u64>,
) -> Result<StatusCode, ApiError> {
    if !streams::delete(&state.js, streams::DEAD, id).await {
        return Err(ApiError::NotFound(format!("dead letter {id} not found")));
    }
    let _ = state.redrives.remove(&id.to_string()).await;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn redrive(
    State(state): State<Arc<AppState>>,
    Path(id): Path<u64>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let stored = find(&state, id).await?;
    let call_id = send_again(&state, &stored).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "id": id, "callId": call_id })),
    ))
}

pub(crate) async fn redrive_all(
    State(state): State<Arc<AppState>>,
    Query(filter): Query<Filter>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
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
        redriven.push(json!({ "id": stored.id, "callId": call_id }));
    }
    Ok((StatusCode::ACCEPTED, Json(json!({ "redriven": redriven }))))
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
