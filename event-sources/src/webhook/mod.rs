//! The webhook ingester.

mod auth;
pub(crate) mod parse;

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use cloudevents::Event;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use switchyard_broker::buckets;
use switchyard_broker::errors::error_chain;
use switchyard_broker::events;
use switchyard_broker::records::{parse_rate, EventSource};
use switchyard_broker::streams;
use switchyard_broker::table::CachedTable;
use tokio_util::sync::CancellationToken;

/// Why the ingester could not start.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct WebhookError(#[from] buckets::BucketError);

struct Ingester {
    js: jetstream::Context,
    sources: CachedTable<EventSource>,
    max_body_bytes: usize,
    /// Per source: its configured rate and the limiter enforcing it.
    limiters: Mutex<HashMap<String, (String, Arc<DefaultDirectRateLimiter>)>>,
}

/// The routes of the webhook ingester (`POST /webhook/{source}`), to serve alone or merged into
/// the gateway's. Bodies over `max_body_bytes` get 413.
pub async fn router(
    nats: async_nats::Client,
    max_body_bytes: usize,
    shutdown: CancellationToken,
) -> Result<Router, WebhookError> {
    let js = jetstream::new(nats);
    let sources = CachedTable::start(buckets::sources(&js).await?, shutdown).await;
    let ingester = Arc::new(Ingester {
        js,
        sources,
        max_body_bytes,
        limiters: Mutex::new(HashMap::new()),
    });
    Ok(Router::new()
        .route("/webhook/{source}", post(ingest))
        .with_state(ingester))
}

fn refuse(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        [("content-type", "text/plain; charset=utf-8")],
        format!("{}\n", message.into()),
    )
        .into_response()
}

async fn ingest(
    State(ingester): State<Arc<Ingester>>,
    Path(name): Path<String>,
    request: Request<Body>,
) -> Response {
    // A source just created (by any gateway) may not be in our copy yet: ask the bucket.
    let source = match ingester.sources.get(&name) {
        Some(source) => Some(source),
        None => ingester.sources.fetch(&name).await.ok().flatten(),
    };
    let Some(source) = source else {
        return refuse(
            StatusCode::NOT_FOUND,
            format!("event source `{name}` not found"),
        );
    };
    let Some(config) = source.webhook() else {
        return refuse(
            StatusCode::NOT_FOUND,
            format!(
                "event source `{name}` is a {} source, not a webhook",
                source.kind()
            ),
        );
    };
    let (parts, body) = request.into_parts();
    let limit = ingester.max_body_bytes;
    let body: Bytes = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<LengthLimitError>() => {
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("body exceeds the limit of {limit} bytes"),
            )
        }
        Err(e) => return refuse(StatusCode::BAD_REQUEST, format!("cannot read body: {e}")),
    };
    if let Err(reason) = auth::check(config.auth.as_ref(), &parts.headers, &body) {
        return (
            StatusCode::UNAUTHORIZED,
            [("www-authenticate", "Basic realm=\"webhook\"")],
            format!("{reason}\n"),
        )
            .into_response();
    }
    // Only authenticated requests count against the rate: junk cannot use up a producer's quota.
    if let Some(wait) = ingester.throttle(&name, config.rate_limit.as_deref()) {
        let mut response = refuse(
            StatusCode::TOO_MANY_REQUESTS,
            format!("event source `{name}` is over its rate limit"),
        );
        let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from(seconds));
        return response;
    }
    let events = match parse::events(&name, config, &parts.headers, body) {
        Ok(events) => events,
        Err(error) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                format!("invalid CloudEvent: {error}"),
            )
        }
    };
    if let Some(refusal) = events.iter().find_map(|event| config.refusal(event)) {
        return refuse(
            StatusCode::FORBIDDEN,
            format!("event source `{name}` {refusal}"),
        );
    }
    match ingester.store(&name, source.namespace(), &events).await {
        Ok(()) => {
            tracing::debug!(source = %name, count = events.len(), "events stored");
            StatusCode::ACCEPTED.into_response()
        }
        Err(error) => refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("events could not be stored: {error}"),
        ),
    }
}

impl Ingester {
    /// `Some(wait)` when `source` is over its rate limit.
    fn throttle(&self, source: &str, rate: Option<&str>) -> Option<Duration> {
        let rate = rate?;
        let (count, seconds) = parse_rate(rate).ok()?;
        let limiter = {
            let mut limiters = self.limiters.lock().unwrap_or_else(|p| p.into_inner());
            let entry = limiters.entry(source.to_string()).or_insert_with(|| {
                (
                    String::new(),
                    Arc::new(RateLimiter::direct(Quota::per_second(NonZeroU32::MIN))),
                )
            });
            if entry.0 != rate {
                let burst = NonZeroU32::new(count).unwrap_or(NonZeroU32::MIN);
                let quota = Quota::with_period(Duration::from_secs(seconds) / count)
                    .unwrap_or_else(|| Quota::per_second(burst))
                    .allow_burst(burst);
                *entry = (rate.to_string(), Arc::new(RateLimiter::direct(quota)));
            }
            entry.1.clone()
        };
        limiter.check().err().map(|not_until| {
            not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ))
        })
    }

    /// Publishes every event with a deduplication id from its (source, id) and waits for all acks.
    /// Stores events taken in by the source `ingress` of `namespace`.
    async fn store(&self, ingress: &str, namespace: &str, events: &[Event]) -> Result<(), String> {
        let messages: Vec<_> = events
            .iter()
            .map(|event| events::to_stored_message(ingress, namespace, event))
            .collect();
        streams::publish_acked_many(&self.js, messages)
            .await
            .map_err(|e| error_chain(&e))
    }
}
