//! Keeps the event catalog ([`switchyard_broker::catalog`]): every event stored in `SY_EVENTS`
//! is counted once under its source and type. All dispatchers share one durable consumer, so
//! each event is counted by one of them; an event is acked once counted.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull::Config as PullConfig, AckPolicy, DeliverPolicy};
use async_nats::jetstream::{self, AckKind};
use switchyard_broker::catalog::Catalog;
use switchyard_broker::{codec, consumers, events, streams};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::jobs::pull;

/// Events counted at once by this dispatcher (each a compare-and-set on one key).
const CONCURRENCY: usize = 8;

/// Starts counting; the task ends on `shutdown`.
pub(crate) fn start(
    js: jetstream::Context,
    catalog: Catalog,
    grace: Duration,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let Some(consumer) =
            pull::open_with_retry(consumers::CATALOG, &shutdown, || consumer_of(&js)).await
        else {
            return;
        };
        let catalog = Arc::new(catalog);
        pull::consume(
            consumers::CATALOG,
            consumer,
            || consumer_of(&js),
            CONCURRENCY,
            shutdown,
            grace,
            move |message| count(catalog.clone(), message),
        )
        .await;
    })
}

async fn consumer_of(
    js: &jetstream::Context,
) -> Result<jetstream::consumer::Consumer<PullConfig>, async_nats::Error> {
    let stream = js.get_stream(streams::EVENTS).await?;
    let config = PullConfig {
        durable_name: Some(consumers::CATALOG.to_string()),
        filter_subject: events::ALL_EVENTS.to_string(),
        deliver_policy: DeliverPolicy::All,
        ack_policy: AckPolicy::Explicit,
        ack_wait: Duration::from_secs(30),
        max_deliver: -1,
        ..Default::default()
    };
    Ok(stream
        .get_or_create_consumer(consumers::CATALOG, config)
        .await?)
}

async fn count(catalog: Arc<Catalog>, message: jetstream::Message) {
    let Ok(event) = codec::decode(message.headers.as_ref(), &message.payload) else {
        let _ = message.ack_with(AckKind::Term).await;
        return;
    };
    let Ok(info) = message.info() else {
        let _ = message.ack_with(AckKind::Term).await;
        return;
    };
    let sequence = info.stream_sequence;
    let seen = chrono::DateTime::from_timestamp(
        info.published.unix_timestamp(),
        info.published.nanosecond(),
    )
    .unwrap_or_else(chrono::Utc::now);
    match catalog.record(&event, sequence, seen).await {
        Ok(()) => {
            let _ = message.ack().await;
        }
        Err(error) => {
            // A full catalog stops counting new types; the event is not retried for it.
            tracing::warn!(%error, "event not counted in the catalog");
            let _ = message.ack().await;
        }
    }
}
