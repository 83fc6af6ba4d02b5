//! The event router: one durable consumer of `SY_EVENTS` ([`consumers::ROUTER`]), shared by
//! every dispatcher, reads each event once and turns it into one asynchronous invocation per
//! matching route (subscription, or function with a `topic` annotation). Routes are found
//! through an index of their filters ([`index`]), so the cost of an event grows with the
//! routes it matches, not with the number of routes; the number of consumers does not grow
//! with routes at all. A subscription that asks for events from before its creation has them
//! replayed by a consumer of its own until the router takes over ([`replay`]).
//!
//! An invocation's call id is derived from (route, ingress, source, id) and it is published
//! with its deduplication id; the event is acked only after every invocation is stored: a
//! router that dies mid-stream skips no event, and a redelivered event never runs a function
//! twice.

mod index;
mod replay;
mod route;
mod routes;

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{
    pull::Config as PullConfig, AckPolicy, Consumer, DeliverPolicy,
};
use async_nats::jetstream::{self, AckKind};
use cloudevents::{AttributesReader, Event};
use switchyard_broker::cache::KvCache;
use switchyard_broker::events::{self, Subscription};
use switchyard_broker::records::FunctionSpec;
use switchyard_broker::{codec, consumers, streams};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::event_owners::EventOwners;
use crate::jobs::context::JobContext;
use crate::jobs::{pull, MAX_ACK_PENDING};
use route::Route;
use routes::Routes;

/// Events routed at once by this dispatcher.
const CONCURRENCY: usize = 256;
const RETRY_STORE: Duration = Duration::from_secs(1);
/// A killed dispatcher's events are routed by another after this (routing one takes
/// milliseconds; one routed twice is stored once: its invocations are deduplicated).
const ACK_WAIT: Duration = Duration::from_secs(10);

pub(crate) fn start(
    context: Arc<JobContext>,
    subscriptions: KvCache<Subscription>,
    registry: KvCache<FunctionSpec>,
    owners: EventOwners,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    let routes = Arc::new(Routes::new(subscriptions, registry));
    tokio::spawn(run(context, routes, Arc::new(owners), shutdown))
}

async fn run(
    context: Arc<JobContext>,
    routes: Arc<Routes>,
    owners: Arc<EventOwners>,
    shutdown: CancellationToken,
) {
    let Some(consumer) =
        pull::open_with_retry(consumers::ROUTER, &shutdown, || router(&context)).await
    else {
        return;
    };
    // Where the router began: consumers left from before it are read up to here.
    let began = match consumer.cached_info().config.deliver_policy {
        DeliverPolicy::ByStartSequence { start_sequence } => start_sequence,
        _ => 0,
    };
    let replays = tokio::spawn(replay::run(
        context.clone(),
        routes.clone(),
        owners.clone(),
        began,
        shutdown.clone(),
    ));
    tracing::info!("routing events");
    let grace = context.config.jobs.shutdown_grace;
    let reopen_context = context.clone();
    pull::consume(
        consumers::ROUTER,
        consumer,
        || router(&reopen_context),
        CONCURRENCY,
        shutdown,
        grace,
        move |message| route_event(context.clone(), owners.clone(), routes.clone(), message),
    )
    .await;
    let _ = replays.await;
    tracing::info!("event router stopped");
}

/// The router's consumer; made, the first time, to start at the next event stored.
async fn router(context: &JobContext) -> Result<Consumer<PullConfig>, async_nats::Error> {
    let stream = context.js.get_stream(streams::EVENTS).await?;
    if let Ok(consumer) = stream.get_consumer(consumers::ROUTER).await {
        return Ok(consumer);
    }
    let start_sequence = streams::next_sequence(&context.js, streams::EVENTS).await?;
    let config = PullConfig {
        durable_name: Some(consumers::ROUTER.to_string()),
        filter_subject: events::ALL_EVENTS.to_string(),
        deliver_policy: DeliverPolicy::ByStartSequence { start_sequence },
        ack_policy: AckPolicy::Explicit,
        ack_wait: ACK_WAIT,
        max_deliver: -1,
        max_ack_pending: MAX_ACK_PENDING,
        ..Default::default()
    };
    Ok(stream.create_consumer(config).await?)
}

/// Routes one event through every route it matches that delivers from its sequence on.
async fn route_event(
    context: Arc<JobContext>,
    owners: Arc<EventOwners>,
    routes: Arc<Routes>,
    message: jetstream::Message,
) {
    let Some(event) = decode(&message).await else {
        return;
    };
    let sequence = message.info().map(|i| i.stream_sequence).unwrap_or(0);
    let index = routes.for_event(sequence).await;
    let matching = index.matching(&event);
    let chosen: Vec<&Route> = matching
        .iter()
        .map(Arc::as_ref)
        .filter(|route| sequence >= route.live_from)
        // Another organization's event does not exist for a route, whatever its filters say.
        .filter(|route| owners.may_deliver(&event, &route.function))
        .collect();
    deliver(&context, &event, &chosen, message).await;
}

/// The event of `message`; a message that is not one is terminated (never redelivered).
async fn decode(message: &jetstream::Message) -> Option<Event> {
    match codec::decode(message.headers.as_ref(), &message.payload) {
        Ok(event) => Some(event),
        Err(error) => {
            tracing::warn!(%error, subject = %message.subject, "not a CloudEvent; skipped");
            let _ = message.ack_with(AckKind::Term).await;
            None
        }
    }
}

/// Stores one invocation of `event` per route, then acks it; hands it back if any could not be
/// stored (those that were are deduplicated when it is routed again).
async fn deliver(
    context: &JobContext,
    event: &Event,
    routes: &[&Route],
    message: jetstream::Message,
) {
    if routes.is_empty() {
        let _ = message.ack().await;
        return;
    }
    let span = tracing::info_span!("event", id = %event.id(), source = %event.source());
    async {
        let now = chrono::Utc::now();
        let stored: Vec<_> = routes
            .iter()
            .map(|route| {
                let invocation = route.invocation(&context.routing_key, event);
                tracing::debug!(call_id = %invocation.call_id, function = %invocation.function, "routing");
                // A delayed route's job is held in `SY_DELAYED` until due, like a delayed invoke.
                match route.delay.and_then(|d| chrono::Duration::from_std(d).ok()) {
                    Some(delay) => invocation.to_delayed_message(now + delay),
                    None => invocation.to_stored_message(),
                }
            })
            .collect();
        match streams::publish_acked_many(&context.js, stored).await {
            Ok(()) => {
                tracing::debug!(routes = routes.len(), "event routed");
                let _ = message.ack().await;
            }
            Err(error) => {
                tracing::warn!(%error, "invocation not stored; event handed back");
                let _ = message.ack_with(AckKind::Nak(Some(RETRY_STORE))).await;
            }
        }
    }
    .instrument(span)
    .await
}
