//! `GET|POST /system/event-sources`, `GET|DELETE /system/event-sources/{name}`. Credentials in a
//! source's configuration are write-only: answers never contain them.

use std::sync::Arc;

use async_nats::jetstream::kv;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use serde_json::{json, Value};
use switchyard_broker::records::{parse_rate, validate_function_name, EventSource};

use super::AppState;
use crate::error::ApiError;

/// The kinds that can be created today.
const KINDS: &[&str] = &["vcenter", "webhook"];

pub(crate) async fn list(State(state): State<Arc<AppState>>) -> Json<Vec<Value>> {
    let mut all: Vec<EventSource> = state.sources.read(|map| map.values().cloned().collect());
    all.sort_by(|a, b| a.name.cmp(&b.name));
    Json(all.iter().map(|s| shown(&state, s)).collect())
}

pub(crate) async fn get(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state
        .sources
        .get(&name)
        .map(|s| Json(shown(&state, &s)))
        .ok_or(ApiError::SourceNotFound(name))
}

pub(crate) async fn create(
    State(state): State<Arc<AppState>>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut source: EventSource = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("invalid event source: {e}")))?;
    if validate_function_name(&source.name).is_err() {
        return Err(ApiError::BadRequest(format!(
            "invalid event source: `name` `{}`: use 1 to 63 characters of a-z, A-Z, 0-9, `-` and `_`",
            source.name
        )));
    }
    if !KINDS.contains(&source.kind.as_str()) {
        return Err(ApiError::BadRequest(format!(
            "invalid event source: `kind` `{}` is not available; kinds: {}",
            source.kind,
            KINDS.join(", ")
        )));
    }
    validate_config(&source)
        .map_err(|e| ApiError::BadRequest(format!("invalid event source: {e}")))?;
    source.created_at = Some(Utc::now());
    let value = serde_json::to_vec(&source).map_err(|e| ApiError::Internal(e.to_string()))?;
    match state.source_store.create(&source.name, value.into()).await {
        Ok(_) => {}
        Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
            return Err(ApiError::Conflict(format!(
                "event source `{}` already exists",
                source.name
            )))
        }
        Err(e) => {
            return Err(ApiError::Unavailable(format!(
                "event sources unavailable: {e}"
            )))
        }
    }
    let name = source.name.clone();
    state
        .sources
        .wait_until(std::time::Duration::from_secs(2), |map| {
            map.contains_key(&name)
        })
        .await;
    tracing::info!(source = %source.name, kind = %source.kind, "event source created");
    Ok((StatusCode::CREATED, Json(shown(&state, &source))))
}

pub(crate) async fn remove(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !state.sources.contains(&name) {
        return Err(ApiError::SourceNotFound(name));
    }
    state
        .source_store
        .delete(&name)
        .await
        .map_err(|e| ApiError::Unavailable(format!("event sources unavailable: {e}")))?;
    // A source created again under this name starts afresh; its poller also clears these.
    let _ = state.checkpoint_store.delete(&name).await;
    let _ = state.source_status_store.delete(&name).await;
    state
        .sources
        .wait_until(std::time::Duration::from_secs(2), |map| {
            !map.contains_key(&name)
        })
        .await;
    Ok(StatusCode::NO_CONTENT)
}

fn validate_config(source: &EventSource) -> Result<(), String> {
    if source.kind == "vcenter" {
        let config = source.vcenter()?;
        return config.validate().map_err(|e| format!("`config`: {e}"));
    }
    let webhook = source.webhook()?;
    if let Some(rate) = &webhook.rate_limit {
        parse_rate(rate).map_err(|e| format!("`config.rateLimit`: {e}"))?;
    }
    Ok(())
}

/// The source without credentials, with its status: a webhook runs inside every ingester; a
/// poller reports its own (`starting` until one has).
fn shown(state: &AppState, source: &EventSource) -> Value {
    let mut value = serde_json::to_value(source.redacted()).unwrap_or_default();
    value["status"] = match source.kind.as_str() {
        "webhook" => json!({ "state": "running" }),
        _ => state
            .source_status
            .get(&source.name)
            .and_then(|status| serde_json::to_value(status).ok())
            .unwrap_or_else(|| json!({ "state": "starting" })),
    };
    value
}
