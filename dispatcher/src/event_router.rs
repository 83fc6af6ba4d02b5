//! The event router: a durable consumer on `SY_EVENTS` per subscription, turning each matching
//! event into one asynchronous invocation of the subscribed function.
//!
//! The invocation's call id is derived from (subscription, source, id) and published with
//! its deduplication id, and the event is acked only after the invocation is stored: a router that
//! dies mid-stream skips no event, and a redelivered event never runs a function twice.
//! A function's `topic: A,B` annotation subscribes it too (matching `subject` or `type`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull::Config as PullConfig, AckPolicy, DeliverPolicy};
use async_nats::jetstream::{self, AckKind};
use cloudevents::{AttributesReader, Event};
use switchyard_broker::cache::KvCache;
use switchyard_broker::codec;
use switchyard_broker::events::{
    self, DeliveryMode, Filter, StartAt, Subscription, HOPS_EXTENSION,
};
use switchyard_broker::follow;
use switchyard_broker::invocation::Invocation;
use switchyard_broker::records::FunctionSpec;
use switchyard_broker::{consumers, streams};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::event_owners::EventOwners;
use crate::jobs::context::JobContext;
use crate::jobs::{pull, MAX_ACK_PENDING};

/// Events routed at once per subscription by this dispatcher.
const CONCURRENCY: usize = 64;
const RETRY_STORE: Duration = Duration::from_secs(1);

/// One route: an explicit subscription, or a function's `topic` annotation.
#[derive(Debug, Clone, PartialEq)]
struct Route {
    /// Durable consumer name (`sy-sub-<name>` or `sy-topic-<function>`).
    consumer: String,
    /// Set for explicit subscriptions: its delivery policy applies to the invocations.
    subscription: Option<String>,
    function: String,
    filters: Vec<Filter>,
    filter_subject: String,
    start_at: StartAt,
    /// Where `start_at: new` starts (set when the subscription was created).
    start_sequence: Option<u64>,
    mode: DeliveryMode,
}

impl Route {
    fn explicit(s: &Subscription) -> Self {
        Route {
            consumer: consumers::subscription(&s.name),
            subscription: Some(s.name.clone()),
            function: s.function.clone(),
            filters: s.filters.clone(),
            filter_subject: s.filter_subject(),
            start_at: s.start_at.clone(),
            start_sequence: s.start_sequence,
            mode: s.mode,
        }
    }

    /// `topic: A,B` matches events whose `subject` or `type` is A or B.
    fn topic(spec: &FunctionSpec) -> Option<Self> {
        let topics: Vec<&str> = spec
            .annotation("topic")?
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect();
        if topics.is_empty() {
            return None;
        }
        let any = topics
            .iter()
            .flat_map(|t| {
                ["subject", "type"]
                    .map(|attribute| Filter::Exact([(attribute.to_string(), t.to_string())].into()))
            })
            .collect();
        Some(Route {
            consumer: consumers::topic(&spec.name()),
            subscription: None,
            function: spec.name(),
            filters: vec![Filter::Any(any)],
            filter_subject: events::ALL_EVENTS.to_string(),
            start_at: StartAt::New,
            start_sequence: spec.topic_start_sequence,
            mode: DeliveryMode::Binary,
        })
    }

    /// Describes what the consumer reads, so a changed route gets a new consumer.
    fn fingerprint(&self) -> String {
        match self.start_sequence {
            Some(sequence) => format!("{} {:?} {sequence}", self.filter_subject, self.start_at),
            // The form consumers made before start sequences existed, so they are kept.
            None => format!("{} {:?}", self.filter_subject, self.start_at),
        }
    }
}

struct Running {
    route: Route,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

pub(crate) fn start(
    context: Arc<JobContext>,
    subscriptions: KvCache<Subscription>,
    registry: KvCache<FunctionSpec>,
    owners: EventOwners,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(follow(context, subscriptions, registry, owners, shutdown))
}

async fn follow(
    context: Arc<JobContext>,
    subscriptions: KvCache<Subscription>,
    registry: KvCache<FunctionSpec>,
    owners: EventOwners,
    shutdown: CancellationToken,
) {
    let mut running: HashMap<String, Running> = HashMap::new();
    let mut rounds =
        follow::Rounds::new(vec![subscriptions.changes(), registry.changes()], &shutdown);
    loop {
        let mut desired: HashMap<String, Route> = subscriptions.read(|map| {
            map.values()
                .map(|s| (consumers::subscription(&s.name), Route::explicit(s)))
                .collect()
        });
        desired.extend(registry.read(|map| {
            map.values()
                .filter_map(Route::topic)
                .map(|r| (r.consumer.clone(), r))
                .collect::<Vec<_>>()
        }));

        let names: Vec<String> = running.keys().cloned().collect();
        for name in names {
            let changed = desired.get(&name) != running.get(&name).map(|r| &r.route);
            if changed {
                if let Some(old) = running.remove(&name) {
                    old.stop.cancel();
                    let _ = old.task.await;
                    if !desired.contains_key(&name) {
                        delete_consumer(&context, &name).await;
                    }
                }
            }
        }
        for (name, route) in desired {
            running.entry(name).or_insert_with(|| {
                let stop = shutdown.child_token();
                let span = tracing::info_span!("route", consumer = %route.consumer, function = %route.function);
                let task = tokio::spawn(
                    run_route(context.clone(), owners.clone(), route.clone(), stop.clone())
                        .instrument(span),
                );
                Running { route, stop, task }
            });
        }
        if !rounds.next(None).await {
            break;
        }
    }
    for route in running.into_values() {
        route.stop.cancel();
        let _ = route.task.await;
    }
    tracing::info!("event router stopped");
}

async fn run_route(
    context: Arc<JobContext>,
    owners: EventOwners,
    route: Route,
    stop: CancellationToken,
) {
    let Some(consumer) =
        pull::open_with_retry(&route.consumer, &stop, || consumer(&context, &route)).await
    else {
        return;
    };
    tracing::info!(subject = %route.filter_subject, "routing events");
    let route = Arc::new(route);
    let grace = context.config.jobs.shutdown_grace;
    let owners = Arc::new(owners);
    pull::consume(consumer, CONCURRENCY, stop, grace, move |message| {
        route_event(context.clone(), owners.clone(), route.clone(), message)
    })
    .await;
}

async fn consumer(
    context: &JobContext,
    route: &Route,
) -> Result<jetstream::consumer::Consumer<PullConfig>, async_nats::Error> {
    let stream = context.js.get_stream(streams::EVENTS).await?;
    // A route whose subject or start point changed reads from a fresh consumer.
    if let Ok(mut existing) = stream.get_consumer::<PullConfig>(&route.consumer).await {
        let same = existing
            .info()
            .await
            .is_ok_and(|i| i.config.description.as_deref() == Some(route.fingerprint().as_str()));
        if !same {
            let _ = stream.delete_consumer(&route.consumer).await;
        }
    }
    let deliver_policy = match (&route.start_at, route.start_sequence) {
        (StartAt::New, Some(start_sequence)) => DeliverPolicy::ByStartSequence { start_sequence },
        (StartAt::New, None) => DeliverPolicy::New,
        (StartAt::All, _) => DeliverPolicy::All,
        (StartAt::Since(time), _) => DeliverPolicy::ByStartTime {
            start_time: time::OffsetDateTime::from_unix_timestamp_nanos(
                time.timestamp_nanos_opt().unwrap_or(0).into(),
            )
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
        },
    };
    let config = PullConfig {
        durable_name: Some(route.consumer.clone()),
        description: Some(route.fingerprint()),
        filter_subject: route.filter_subject.clone(),
        deliver_policy,
        ack_policy: AckPolicy::Explicit,
        ack_wait: Duration::from_secs(30),
        max_deliver: -1,
        max_ack_pending: MAX_ACK_PENDING,
        ..Default::default()
    };
    Ok(stream
        .get_or_create_consumer(&route.consumer, config)
        .await?)
}

async fn delete_consumer(context: &JobContext, name: &str) {
    if let Ok(stream) = context.js.get_stream(streams::EVENTS).await {
        let _ = stream.delete_consumer(name).await;
    }
}

/// Turns one event into an invocation (if it matches), stored before the event is acked.
async fn route_event(
    context: Arc<JobContext>,
    owners: Arc<EventOwners>,
    route: Arc<Route>,
    message: jetstream::Message,
) {
    let event = match codec::decode(message.headers.as_ref(), &message.payload) {
        Ok(event) => event,
        Err(error) => {
            tracing::warn!(%error, subject = %message.subject, "not a CloudEvent; skipped");
            let _ = message.ack_with(AckKind::Term).await;
            return;
        }
    };
    // Another organization's event does not exist for this route, whatever its filters say.
    if !owners.may_deliver(&event, &route.function)
        || !route.filters.iter().all(|f| f.matches(&event))
    {
        let _ = message.ack().await;
        return;
    }
    let invocation = invocation(&route, &context.routing_key, &event);
    let span = tracing::info_span!("event", call_id = %invocation.call_id, id = %event.id(), source = %event.source());
    async {
        let (subject, headers, payload) = invocation.to_stored_message();
        match streams::publish_acked(&context.js, subject, headers, payload).await {
            Ok(_) => {
                tracing::debug!("event routed");
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

/// The invocation delivering `event` through `route`: a CloudEvents HTTP request in binary
/// mode (attributes in `ce-` headers) or structured mode (the event as JSON).
fn invocation(route: &Route, routing_key: &[u8], event: &Event) -> Invocation {
    let ingress = event
        .extension(events::INGRESS_EXTENSION)
        .map(|v| v.to_string())
        .unwrap_or_default();
    let call_id = events::routed_call_id(
        routing_key,
        &route.consumer,
        &ingress,
        event.source(),
        event.id(),
    );
    let hops = event
        .extension(HOPS_EXTENSION)
        .and_then(|v| v.to_string().parse::<u32>().ok())
        .unwrap_or(0);
    let (headers, content_type, body) = match route.mode {
        DeliveryMode::Binary => {
            let (nats_headers, payload) = codec::encode_binary(event);
            let mut headers = Vec::new();
            for (name, values) in nats_headers.iter() {
                let name: &str = name.as_ref();
                if name.eq_ignore_ascii_case("content-type") {
                    continue;
                }
                for value in values {
                    headers.push((name.to_string(), value.as_str().to_string()));
                }
            }
            (
                headers,
                event.datacontenttype().map(str::to_string),
                payload,
            )
        }
        DeliveryMode::Structured => {
            let payload = codec::encode_structured(event)
                .map(|(_, p)| p)
                .unwrap_or_default();
            (
                Vec::new(),
                Some(codec::STRUCTURED_CONTENT_TYPE.to_string()),
                payload,
            )
        }
    };
    Invocation {
        call_id,
        function: route.function.clone(),
        method: "POST".to_string(),
        path: "/".to_string(),
        query: None,
        content_type,
        headers,
        body,
        time: chrono::Utc::now(),
        callback_url: None,
        subscription: route.subscription.clone(),
        hops,
    }
}
