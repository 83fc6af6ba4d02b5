//! `GET|POST /system/subscriptions`, `GET|PUT|DELETE /system/subscriptions/{name}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use switchyard_broker::events::{StartAt, Subscription};
use switchyard_broker::streams;

use super::AppState;
use crate::error::{ApiError, Record};

#[utoipa::path(get, path = "/system/subscriptions", tag = "events", responses((status = 200, body = Vec<Subscription>)))]
pub(crate) async fn list(State(state): State<Arc<AppState>>) -> Json<Vec<Subscription>> {
    Json(state.subscriptions.list())
}

#[utoipa::path(get, path = "/system/subscriptions/{name}", tag = "events", params(("name" = String, Path)),
    responses((status = 200, body = Subscription), (status = 404, body = String, content_type = "text/plain")))]
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

#[utoipa::path(post, path = "/system/subscriptions", tag = "events", request_body = Subscription,
    responses((status = 201, body = Subscription), (status = 400, description = "What is wrong, by field", body = String, content_type = "text/plain"), (status = 409, description = "It exists", body = String, content_type = "text/plain")))]
pub(crate) async fn create(
    State(state): State<Arc<AppState>>,
    body: Bytes,
) -> Result<(StatusCode, Json<Subscription>), ApiError> {
    let mut subscription = checked(&state, &body)?;
    subscription.created_at = Some(Utc::now());
    subscription.start_sequence = start_sequence(&state, &subscription, None).await?;
    state
        .subscriptions
        .create(&subscription.name, &subscription)
        .await
        .map_err(ApiError::from_table(Record::Subscription))?;
    tracing::info!(subscription = %subscription.name, function = %subscription.function, "subscription created");
    Ok((StatusCode::CREATED, Json(subscription)))
}

#[utoipa::path(put, path = "/system/subscriptions/{name}", tag = "events", request_body = Subscription, params(("name" = String, Path)),
    responses((status = 200, body = Subscription), (status = 400, body = String, content_type = "text/plain"), (status = 404, body = String, content_type = "text/plain")))]
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
        .subscriptions
        .put(&name, &subscription)
        .await
        .map_err(ApiError::from_table(Record::Subscription))?;
    Ok(Json(subscription))
}

#[utoipa::path(delete, path = "/system/subscriptions/{name}", tag = "events", params(("name" = String, Path)),
    responses((status = 204, description = "Removed"), (status = 404, body = String, content_type = "text/plain")))]
pub(crate) async fn remove(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .subscriptions
        .delete(&name)
        .await
        .map_err(ApiError::from_table(Record::Subscription))?;
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
