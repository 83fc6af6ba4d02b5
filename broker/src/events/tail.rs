//! Following `SY_EVENTS` live: every event stored from now on, in order, for viewers (the UI's
//! live event viewer, `switchyard events tail`). An ordered consumer: ephemeral, unacknowledged,
//! recreated by the client library after a gap, and gone when the viewer goes.

use async_nats::jetstream::{self, consumer};
use cloudevents::Event;
use futures::{Stream, StreamExt};

use crate::codec;
use crate::streams;

/// Why the events cannot be followed.
#[derive(Debug, thiserror::Error)]
#[error("cannot follow the events stream")]
pub struct TailError(#[source] async_nats::Error);

/// One stored event, with its `SY_EVENTS` sequence.
#[derive(Debug, Clone)]
pub struct Stored {
    pub sequence: u64,
    pub event: Event,
}

/// Every event stored in `SY_EVENTS` after this call, in order. Messages that do not decode as
/// CloudEvents are skipped.
pub async fn tail(
    js: &jetstream::Context,
) -> Result<impl Stream<Item = Stored> + Send + 'static, TailError> {
    let stream = js
        .get_stream(streams::EVENTS)
        .await
        .map_err(|e| TailError(e.into()))?;
    let consumer = stream
        .create_consumer(consumer::push::OrderedConfig {
            deliver_subject: js.client().new_inbox(),
            filter_subject: super::ALL_EVENTS.to_string(),
            deliver_policy: consumer::DeliverPolicy::New,
            ..Default::default()
        })
        .await
        .map_err(|e| TailError(e.into()))?;
    let messages = consumer.messages().await.map_err(|e| TailError(e.into()))?;
    Ok(messages.filter_map(|message| async move {
        let message = message.ok()?;
        let sequence = message.info().ok()?.stream_sequence;
        let event = codec::decode(message.headers.as_ref(), &message.payload).ok()?;
        Some(Stored { sequence, event })
    }))
}
