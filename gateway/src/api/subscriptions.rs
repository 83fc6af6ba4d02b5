//! `GET|POST /system/subscriptions`, `GET|PUT|DELETE /system/subscriptions/{name}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use switchyard_broker::events::{replay, Subscription};
use switchyard_broker::streams;

use switchyard_access::{Authorized, Scope};
use switchyard_broker::records::{split_qualified, Action};

use super::AppState;
use crate::access::resolve::Kind;
use crate::access::Caller;
use crate::error::{ApiError, Record};

#[utoipa::path(get, path = "/system/subscriptions", tag = "events", responses((status = 200, body = Vec<Subscription>)))]
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Json<Vec<Subscription>> {
    let mut subscriptions = state.subscriptions.list();
    subscriptions.retain(|s| {
        caller.may(
            &state,
            Action::Read,
            &scope_of_function(&state, &s.function),
        )
    });
    Json(subscriptions)
}

#[utoipa::path(get, path = "/system/subscriptions/{name}", tag = "events", params(("name" = String, Path)),
    responses((status = 200, body = Subscription), (status = 404, body = String, content_type = "text/plain")))]
pub(crate) async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Subscription>, ApiError> {
    let current = existing(&state, &caller, Action::Read, name)?;
    Ok(Json(current.into_target().0))
}

#[utoipa::path(post, path = "/system/subscriptions", tag = "events", request_body = Subscription,
    responses((status = 201, body = Subscription), (status = 400, description = "What is wrong, by field", body = String, content_type = "text/plain"), (status = 409, description = "It exists", body = String, content_type = "text/plain")))]
pub(crate) async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<Subscription>), ApiError> {
    let mut subscription = checked(&state, &caller, &body).await?.into_target().0;
    subscription.created_at = Some(Utc::now());
    subscription.start_sequence = start_sequence(&state, &subscription, None).await?;
    // The replay before the record: once the router knows the subscription, it delivers only
    // from the start sequence on.
    replay::create(&state.js, &subscription)
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
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
    caller: Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Subscription>, ApiError> {
    // Both the subscription as it is and the function it will call must be the caller's.
    let current = existing(&state, &caller, Action::Write, name.clone())?
        .into_target()
        .0;
    let mut subscription = checked(&state, &caller, &body).await?.into_target().0;
    if subscription.name != name {
        return Err(ApiError::BadRequest(format!(
            "`name` `{}` differs from the path's `{name}`",
            subscription.name
        )));
    }
    subscription.created_at = current.created_at;
    subscription.start_sequence = start_sequence(&state, &subscription, Some(&current)).await?;
    if subscription.start_sequence != current.start_sequence {
        replay::create(&state.js, &subscription)
            .await
            .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    }
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
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let name = existing(&state, &caller, Action::Write, name)?
        .into_target()
        .0
        .name;
    state
        .subscriptions
        .delete(&name)
        .await
        .map_err(ApiError::from_table(Record::Subscription))?;
    if let Err(error) = replay::remove(&state.js, &name).await {
        // The dispatchers remove a replay whose subscription is gone.
        tracing::debug!(%error, "replay not removed");
    }
    tracing::info!(subscription = %name, "subscription removed");
    Ok(StatusCode::NO_CONTENT)
}

/// Where the router starts delivering to a subscription: the next event stored after this
/// answer (what a subscription asks for from before is replayed). Kept from `current` when an
/// update does not change the start point, so delivery carries on where it is.
async fn start_sequence(
    state: &AppState,
    subscription: &Subscription,
    current: Option<&Subscription>,
) -> Result<Option<u64>, ApiError> {
    if let Some(current) = current.filter(|c| c.start_at == subscription.start_at) {
        if current.start_sequence.is_some() {
            return Ok(current.start_sequence);
        }
    }
    streams::next_sequence(&state.js, streams::EVENTS)
        .await
        .map(Some)
        .map_err(|e| ApiError::Unavailable(format!("events unavailable: {e}")))
}

/// A subscription as a target: it lives in its function's namespace.
pub(crate) struct SubscriptionTarget(Subscription);

impl std::fmt::Display for SubscriptionTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "subscription `{}` of function `{}`",
            self.0.name, self.0.function
        )
    }
}

/// The scope of a stored function id (`name` or `name.namespace`).
fn scope_of_function(state: &AppState, function: &str) -> Scope {
    state.scope_of(split_qualified(function).1)
}

/// The stored subscription `name`, authorized for `action` in its function's namespace; 404
/// when there is none.
fn existing(
    state: &AppState,
    caller: &Caller,
    action: Action,
    name: String,
) -> Result<Authorized<SubscriptionTarget>, ApiError> {
    let current = state
        .subscriptions
        .get(&name)
        .ok_or(ApiError::SubscriptionNotFound(name))?;
    let scope = scope_of_function(state, &current.function);
    caller.authorize(state, action, &scope, SubscriptionTarget(current))
}

/// Parses and validates; resolves the function (it must exist) and authorizes writing in its
/// namespace. The stored `function` is the function's id.
async fn checked(
    state: &AppState,
    caller: &Caller,
    body: &[u8],
) -> Result<Authorized<SubscriptionTarget>, ApiError> {
    let mut subscription: Subscription = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("invalid subscription: {e}")))?;
    // Server-set fields are not the client's to choose.
    subscription.created_at = None;
    subscription.start_sequence = None;
    subscription
        .validate()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let (function, scope) = state
        .resolve(Kind::Function, &subscription.function, None)
        .await
        .map_err(|e| ApiError::BadRequest(format!("invalid subscription: `function`: {e}")))?;
    let function = caller.authorize(state, Action::Write, &scope, function)?;
    if !state.registry.contains(&function.id()) {
        return Err(ApiError::BadRequest(format!(
            "invalid subscription: `function`: function `{}` not found",
            subscription.function
        )));
    }
    Ok(function.map(|function| {
        subscription.function = function.id();
        SubscriptionTarget(subscription)
    }))
}
