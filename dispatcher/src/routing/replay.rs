//! Replays: consumers of `SY_EVENTS` that each deliver events to one route up to a sequence,
//! after which the router delivers. Two kinds: a subscription's replay of what was stored
//! before it (made by the gateway, read up to the subscription's start sequence), and a
//! consumer of one route left from before the shared router (read up to where the router
//! began). Each is deleted once read to its end, so none outlives its purpose.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull::Config as PullConfig, Consumer};
use async_nats::jetstream::{self, AckKind};
use futures::TryStreamExt;
use switchyard_broker::consumers::{self, EventsConsumer};
use switchyard_broker::streams;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::route::Route;
use super::routes::Routes;
use super::{decode, deliver};
use crate::event_owners::EventOwners;
use crate::jobs::context::JobContext;
use crate::jobs::pull::{self, Capacity};

/// How often the stream's consumers are looked at for replays to run.
const LOOK_EVERY: Duration = Duration::from_secs(2);
/// Events replayed at once per replay by this dispatcher.
const CONCURRENCY: usize = 64;

pub(super) async fn run(
    context: Arc<JobContext>,
    routes: Arc<Routes>,
    owners: Arc<EventOwners>,
    router_began: u64,
    shutdown: CancellationToken,
) {
    let mut running: HashMap<String, JoinHandle<()>> = HashMap::new();
    let mut tick = tokio::time::interval(LOOK_EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => break,
        }
        running.retain(|_, task| !task.is_finished());
        let Ok(names) = consumer_names(&context.js).await else {
            continue;
        };
        let index = routes.current().await;
        let by_key: HashMap<&str, &Arc<Route>> =
            index.routes().iter().map(|r| (r.key.as_str(), r)).collect();
        for name in names {
            if running.contains_key(&name) {
                continue;
            }
            let Some(kind) = consumers::parse_events_consumer(&name) else {
                continue;
            };
            let key = match &kind {
                EventsConsumer::Replay { subscription }
                | EventsConsumer::Subscription { subscription } => {
                    consumers::subscription(subscription)
                }
                EventsConsumer::Topic { function } => consumers::topic(function),
            };
            let Some(route) = by_key.get(key.as_str()) else {
                // Its route is gone: nothing is left to deliver through it.
                delete(&context.js, &name).await;
                continue;
            };
            let until = match kind {
                EventsConsumer::Replay { .. } => route.live_from,
                _ => router_began,
            };
            let span = tracing::info_span!("replay", consumer = %name, function = %route.function);
            let task = tokio::spawn(
                replay(
                    context.clone(),
                    owners.clone(),
                    Arc::clone(route),
                    name.clone(),
                    until,
                    shutdown.clone(),
                )
                .instrument(span),
            );
            running.insert(name, task);
        }
    }
    for task in running.into_values() {
        let _ = task.await;
    }
}

async fn consumer_names(js: &jetstream::Context) -> Result<Vec<String>, async_nats::Error> {
    let stream = js.get_stream(streams::EVENTS).await?;
    Ok(stream.consumer_names().try_collect().await?)
}

async fn delete(js: &jetstream::Context, name: &str) {
    if let Ok(stream) = js.get_stream(streams::EVENTS).await {
        if stream.delete_consumer(name).await.is_ok() {
            tracing::info!(consumer = name, "event consumer without a route removed");
        }
    }
}

/// Delivers what the consumer `name` holds for `route` below `until`; deletes the consumer
/// once everything below `until` is delivered.
async fn replay(
    context: Arc<JobContext>,
    owners: Arc<EventOwners>,
    route: Arc<Route>,
    name: String,
    until: u64,
    shutdown: CancellationToken,
) {
    let Ok(stream) = context.js.get_stream(streams::EVENTS).await else {
        return;
    };
    let Ok(mut consumer) = stream.get_consumer::<PullConfig>(&name).await else {
        return;
    };
    tracing::info!(until, "replaying");
    let reached = shutdown.child_token();
    let capacity = Capacity::new(CONCURRENCY, CONCURRENCY);
    let handler_reached = reached.clone();
    let handler_context = context.clone();
    pull::consume_until(
        consumer.clone(),
        &capacity,
        reached.clone(),
        true,
        move |message, _slot| {
            replay_event(
                handler_context.clone(),
                owners.clone(),
                route.clone(),
                until,
                handler_reached.clone(),
                message,
            )
        },
    )
    .await;
    capacity.wait_idle(context.config.jobs.shutdown_grace).await;
    if shutdown.is_cancelled() {
        return;
    }
    if finished(&mut consumer, until).await {
        let _ = stream.delete_consumer(&name).await;
        tracing::info!("replay finished; the router delivers from here");
    }
}

/// Every event below `until` is acknowledged (or there is nothing left at all).
async fn finished(consumer: &mut Consumer<PullConfig>, until: u64) -> bool {
    consumer.info().await.is_ok_and(|info| {
        info.ack_floor.stream_sequence + 1 >= until
            || (info.num_pending == 0 && info.num_ack_pending == 0)
    })
}

async fn replay_event(
    context: Arc<JobContext>,
    owners: Arc<EventOwners>,
    route: Arc<Route>,
    until: u64,
    reached: CancellationToken,
    message: jetstream::Message,
) {
    let sequence = message.info().map(|i| i.stream_sequence).unwrap_or(0);
    if sequence >= until {
        // The router delivers this one and all after it.
        let _ = message.ack_with(AckKind::Ack).await;
        reached.cancel();
        return;
    }
    let Some(event) = decode(&message).await else {
        return;
    };
    let routes: Vec<&Route> = [route.as_ref()]
        .into_iter()
        .filter(|r| r.matches(&event) && owners.may_deliver(&event, &r.function))
        .collect();
    deliver(&context, &event, &routes, message).await;
}
