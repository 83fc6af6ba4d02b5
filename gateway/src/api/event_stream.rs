//! `GET /system/events/stream`: the live event viewer's feed. Every event stored in `SY_EVENTS`
//! from the moment of the request, as server-sent events (`event: cloudevent`, `id:` the
//! stream sequence, `data:` the CloudEvent in structured JSON), filtered by type, source and
//! ingress. At most [`MAX_VIEWERS`] at once; a comment every 15 s keeps proxies from closing it.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use cloudevents::{AttributesReader, Event};
use futures::StreamExt;
use serde::Deserialize;
use switchyard_broker::events::{self, INGRESS_EXTENSION};
use tokio::sync::Semaphore;

use super::AppState;
use crate::access::Caller;
use crate::error::ApiError;

/// Viewers one gateway serves at once; more get 429.
pub(crate) const MAX_VIEWERS: usize = 32;

/// Which events a viewer wants; every given filter must match.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct StreamFilter {
    /// Events whose `type` starts with this.
    #[serde(rename = "type")]
    event_type: Option<String>,
    /// Events whose `source` starts with this.
    source: Option<String>,
    /// Events taken in by this ingress (a webhook or vCenter source's name, or `reply`).
    ingress: Option<String>,
}

impl StreamFilter {
    fn matches(&self, event: &Event) -> bool {
        let starts = |want: &Option<String>, have: &str| {
            want.as_deref()
                .filter(|w| !w.is_empty())
                .is_none_or(|w| have.starts_with(w))
        };
        let ingress = event
            .extension(INGRESS_EXTENSION)
            .map(|v| v.to_string())
            .unwrap_or_default();
        starts(&self.event_type, event.ty())
            && starts(&self.source, &event.source().to_string())
            && self
                .ingress
                .as_deref()
                .filter(|w| !w.is_empty())
                .is_none_or(|w| ingress == w)
    }
}

pub(crate) fn viewers() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(MAX_VIEWERS))
}

#[utoipa::path(get, path = "/system/events/stream", tag = "events", params(StreamFilter),
    description = "Every event stored from now on, as server-sent events: `event: cloudevent`, `id:` its SY_EVENTS sequence, `data:` the CloudEvent in structured JSON.",
    responses(
        (status = 200, body = String, content_type = "text/event-stream"),
        (status = 429, description = "Too many viewers", body = String, content_type = "text/plain"),
        (status = 503, body = String, content_type = "text/plain"),
    ))]
pub(crate) async fn stream(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(filter): Query<StreamFilter>,
) -> Result<Response, ApiError> {
    caller.operator(&state, "the live events of every organization")?;
    let permit = state.viewers.clone().try_acquire_owned().map_err(|_| {
        ApiError::TooMany(format!(
            "{MAX_VIEWERS} event viewers are connected to this gateway already; try again later"
        ))
    })?;
    let events = events::tail(&state.js)
        .await
        .map_err(|e| ApiError::Unavailable(switchyard_broker::errors::error_chain(&e)))?;
    let feed = events
        .filter(move |stored| std::future::ready(filter.matches(&stored.event)))
        .filter_map(|stored| async move {
            let data = serde_json::to_string(&stored.event).ok()?;
            Some(Ok::<_, Infallible>(
                SseEvent::default()
                    .event("cloudevent")
                    .id(stored.sequence.to_string())
                    .data(data),
            ))
        })
        // The permit lives as long as the stream: a viewer that goes frees its place.
        .map(move |item| {
            let _held = &permit;
            item
        });
    Ok(Sse::new(feed)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}
