//! `GET|POST /system/subscriptions`, `GET|PUT|DELETE /system/subscriptions/{name}`.

use std::sync::Arc;

use async_nats::jetstream::kv;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use switchyard_broker::events::{StartAt, Subscription};
use switchyard_broker::streams;

use super::AppState;
use crate::error::ApiError;

pub(crate) async fn list(State(state): State<Arc<AppState>>) -> Json<Vec<Subscription>> {
    let mut all: Vec<Subscription> = state
        .subscriptions
        .read(|map| map.values().cloned().collect());
    all.sort_by(|a, b| a.name.cmp(&b.name));
    Json(all)
}

pub(crate) async fn get(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Json<Subscription>, ApiError> {
    state
        .subscriptions
        .get(&name)
        .map(Json)
        .ok_or(ApiError::SubscriptionNotFound(name))
}

pub(crate) async fn create(
    State(state): State<Arc<AppState>>,
    body: Bytes,
) -> Result<(StatusCode, Json<Subscription>), ApiError> {
    let mut subscription = checked(&state, &body)?;
    subscription.created_at = Some(Utc::now());
    subscription.start_sequence = start_sequence(&state, &subscription, None).await?;
    let value = encode(&subscription)?;
    match state
        .subscription_store
        .create(&subscription.name, value)
        .await
    {
        Ok(_) => {}
        Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
            return Err(ApiError::Conflict(format!(
                "subscription `{}` already exists; update it with PUT",
                subscription.name
            )))
        }
        Err(e) => {
            return Err(ApiError::Unavailable(format!(
                "subscriptions unavailable: {e}"
            )))
        }
    }
    let name = subscription.name.clone();
    state
        .subscriptions
        .wait_until(std::time::Duration::from_secs(2), |map| {
            map.contains_key(&name)
        })
        .await;
    tracing::info!(subscription = %subscription.name, function = %subscription.function, "subscription created");
    Ok((StatusCode::CREATED, Json(subscription)))
}

pub(crate) async fn update(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Subscription>, ApiError> {
    let mut subscription = checked(&state, &body)?;
    if subscription.name != name {
        return Err(ApiError::BadRequest(format!(
            "`name` `{}` differs from the path's `{name}`",
            subscription.name
        )));
    }
    let current = state
        .subscriptions
        .get(&name)
        .ok_or_else(|| ApiError::SubscriptionNotFound(name.clone()))?;
    subscription.created_at = current.created_at;
    subscription.start_sequence = start_sequence(&state, &subscription, Some(&current)).await?;
    state
        .subscription_store
        .put(&name, encode(&subscription)?)
        .await
        .map_err(|e| ApiError::Unavailable(format!("subscriptions unavailable: {e}")))?;
    let expected = subscription.clone();
    state
        .subscriptions
        .wait_until(std::time::Duration::from_secs(2), |map| {
            map.get(&name) == Some(&expected)
        })
        .await;
    Ok(Json(subscription))
}

pub(crate) async fn remove(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !state.subscriptions.contains(&name) {
        return Err(ApiError::SubscriptionNotFound(name));
    }
    state
        .subscription_store
        .delete(&name)
        .await
        .map_err(|e| ApiError::Unavailable(format!("subscriptions unavailable: {e}")))?;
    state
        .subscriptions
        .wait_until(std::time::Duration::from_secs(2), |map| {
            !map.contains_key(&name)
        })
        .await;
    tracing::info!(subscription = %name, "subscription removed");
    Ok(StatusCode::NO_CONTENT)
}

/// Where a subscription that starts at `new` starts: the next event stored after this answer
/// (kept from `current` when an update does not change the start point, so its consumer
/// carries on where it is).
async fn start_sequence(
    state: &AppState,
    subscription: &Subscription,
    current: Option<&Subscription>,
) -> Result<Option<u64>, ApiError> {
    if subscription.start_at != StartAt::New {
        return Ok(None);
    }
    if let Some(current) = current.filter(|c| c.start_at == StartAt::New) {
        if current.start_sequence.is_some() {
            return Ok(current.start_sequence);
        }
    }
    streams::next_sequence(&state.js, streams::EVENTS)
        .await
        .map(Some)
        .map_err(|e| ApiError::Unavailable(format!("events unavailable: {e}")))
}

/// Parses and validates; the function must exist.
fn checked(state: &AppState, body: &[u8]) -> Result<Subscription, ApiError> {
    let mut subscription: Subscription = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("invalid subscription: {e}")))?;
    // Server-set fields are not the client's to choose.
    subscription.created_at = None;
    subscription.start_sequence = None;
    subscription
        .validate()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    if !state.registry.contains(&subscription.function) {
        return Err(ApiError::BadRequest(format!(
            "invalid subscription: `function`: function `{}` not found",
            subscription.function
        )));
    }
    Ok(subscription)
}

fn encode(subscription: &Subscription) -> Result<bytes::Bytes, ApiError> {
    serde_json::to_vec(subscription)
        .map(bytes::Bytes::from)
        .map_err(|e| ApiError::Internal(e.to_string()))
}
