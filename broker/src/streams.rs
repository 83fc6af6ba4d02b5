//! JetStream streams: names, subjects and definitions, created (or updated) idempotently.

use std::time::Duration;

use async_nats::jetstream::{self, stream};

use crate::subjects;

/// Asynchronous invocations waiting to run: a work queue, subjects `sy.invoke.<function>`.
pub const INVOCATIONS: &str = "SY_INVOCATIONS";
pub const DELAYED: &str = "SY_DELAYED";
/// Invocations that failed for good, with headers saying why: subjects `sy.dead.<function>`.
pub const DEAD: &str = "SY_DEAD";
/// Callbacks waiting to be delivered: a work queue, subjects `sy.callback.<function>`.
pub const CALLBACKS: &str = "SY_CALLBACKS";
/// Events from every source, kept for replay: subjects `sy.event.<type>` (see [`crate::events`]).
pub const EVENTS: &str = "SY_EVENTS";

/// How long Switchyard keeps what it stores for asynchronous jobs.
#[derive(Debug, Clone)]
pub struct Retention {
    /// A retried intake with the same call id inside this window is the same job
    /// (`Nats-Msg-Id` deduplication). Finished jobs are also never run again while their
    /// record lives.
    pub duplicate_window: Duration,
    /// How long job records are kept.
    pub record_ttl: Duration,
    /// How long stored results are kept.
    pub result_ttl: Duration,
    /// Largest result body stored; larger results are not stored (the record says so).
    pub result_max_bytes: usize,
    /// How long dead letters are kept.
    pub dead_ttl: Duration,
    /// How long events are kept for replay.
    pub events_ttl: Duration,
    /// Most bytes of events kept (the oldest go first); 0 = no limit.
    pub events_max_bytes: i64,
    /// Most bytes of invocations waiting in `SY_INVOCATIONS`; a full queue refuses new ones
    /// (intake answers 503 with `Retry-After`), it never drops accepted work.
    pub queue_max_bytes: i64,
    /// Most bytes of callbacks waiting in `SY_CALLBACKS`; a full one refuses new ones (the job
    /// is handed back and retried).
    pub callbacks_max_bytes: i64,
    /// Most bytes of dead letters kept (the oldest go first).
    pub dead_max_bytes: i64,
    /// Most bytes of job records, and of stored results (each bucket).
    pub records_max_bytes: i64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            duplicate_window: Duration::from_secs(10 * 60),
            record_ttl: Duration::from_secs(24 * 3600),
            result_ttl: Duration::from_secs(3600),
            result_max_bytes: 1024 * 1024,
            dead_ttl: Duration::from_secs(7 * 24 * 3600),
            events_ttl: Duration::from_secs(7 * 24 * 3600),
            events_max_bytes: 1024 * 1024 * 1024,
            queue_max_bytes: 1024 * 1024 * 1024,
            callbacks_max_bytes: 256 * 1024 * 1024,
            dead_max_bytes: 1024 * 1024 * 1024,
            records_max_bytes: 256 * 1024 * 1024,
        }
    }
}

/// Errors while creating a stream.
#[derive(Debug, thiserror::Error)]
#[error("cannot create stream `{stream}`")]
pub struct StreamError {
    stream: &'static str,
    #[source]
    source: async_nats::Error,
}

impl StreamError {
    pub(crate) fn new(stream: &'static str, source: async_nats::Error) -> Self {
        StreamError { stream, source }
    }
}

/// Creates or updates Switchyard's streams.
pub async fn ensure(js: &jetstream::Context, retention: &Retention) -> Result<(), StreamError> {
    // A full work queue refuses what comes (the sender is told); it never drops what it holds.
    let work_queue = |name: &'static str, subjects: &str, max_bytes: i64| stream::Config {
        name: name.to_string(),
        subjects: vec![subjects.to_string()],
        retention: stream::RetentionPolicy::WorkQueue,
        storage: stream::StorageType::File,
        duplicate_window: retention.duplicate_window,
        max_bytes: limit(max_bytes),
        discard: stream::DiscardPolicy::New,
        ..Default::default()
    };
    let configs = [
        work_queue(
            INVOCATIONS,
            subjects::ALL_INVOKES,
            retention.queue_max_bytes,
        ),
        // Delayed jobs are message schedules (`@at`): the server stores each on its function's
        // `sy.due.` subject when due, so they survive restarts of every part. Schedules cannot
        // be combined with discard-new, so the stream has no limit of its own that could drop
        // a job: the gateway refuses a delayed job while it holds `queue_max_bytes`.
        stream::Config {
            subjects: vec![
                subjects::ALL_DELAYED.to_string(),
                subjects::ALL_DUE.to_string(),
            ],
            allow_message_schedules: true,
            discard: stream::DiscardPolicy::Old,
            max_bytes: -1,
            ..work_queue(DELAYED, subjects::ALL_DELAYED, 0)
        },
        work_queue(
            CALLBACKS,
            subjects::ALL_CALLBACKS,
            retention.callbacks_max_bytes,
        ),
        stream::Config {
            name: DEAD.to_string(),
            subjects: vec![subjects::ALL_DEAD.to_string()],
            retention: stream::RetentionPolicy::Limits,
            storage: stream::StorageType::File,
            max_age: retention.dead_ttl,
            max_bytes: limit(retention.dead_max_bytes),
            duplicate_window: retention.duplicate_window,
            ..Default::default()
        },
        stream::Config {
            name: EVENTS.to_string(),
            subjects: vec![crate::events::ALL_EVENTS.to_string()],
            retention: stream::RetentionPolicy::Limits,
            storage: stream::StorageType::File,
            max_age: retention.events_ttl,
            max_bytes: limit(retention.events_max_bytes),
            duplicate_window: retention.duplicate_window,
            ..Default::default()
        },
    ];
    for config in configs {
        let stream = match config.name.as_str() {
            INVOCATIONS => INVOCATIONS,
            DELAYED => DELAYED,
            CALLBACKS => CALLBACKS,
            EVENTS => EVENTS,
            _ => DEAD,
        };
        create_or_update(js, config)
            .await
            .map_err(|source| StreamError { stream, source })?;
    }
    Ok(())
}

/// A byte limit as JetStream takes it: 0 (or less) means none.
fn limit(bytes: i64) -> i64 {
    if bytes > 0 {
        bytes
    } else {
        -1
    }
}

/// Creates the stream, or brings an existing one to `config` while keeping its replica count
/// (set by [`crate::replication::ensure`]): every part calls this at start, and resetting the
/// replicas each time would make a cluster move the stream back and forth.
async fn create_or_update(
    js: &jetstream::Context,
    mut config: stream::Config,
) -> Result<(), async_nats::Error> {
    config.num_replicas = crate::replication::replicas();
    match js.get_stream(&config.name).await {
        Ok(mut existing) => {
            let current = existing.info().await?.config.clone();
            config.num_replicas = current.num_replicas;
            if same_limits(&current, &config) {
                return Ok(());
            }
            js.update_stream(config).await?;
            Ok(())
        }
        Err(_) => match js.create_stream(config.clone()).await {
            Ok(_) => Ok(()),
            // Another part created it meanwhile.
            Err(_) => js.update_stream(config).await.map(drop).map_err(Into::into),
        },
    }
}

/// True when `current` already has what `wanted` sets.
fn same_limits(current: &stream::Config, wanted: &stream::Config) -> bool {
    current.subjects == wanted.subjects
        && current.max_age == wanted.max_age
        && current.max_bytes == wanted.max_bytes
        && current.discard == wanted.discard
        && current.duplicate_window == wanted.duplicate_window
        && current.allow_message_schedules == wanted.allow_message_schedules
}

/// Removes every message on `subject` from `stream`; how many there were.
pub async fn purge_subject(
    js: &jetstream::Context,
    stream: &str,
    subject: &str,
) -> Result<u64, StreamInfoError> {
    let failed = |source: async_nats::Error| StreamInfoError {
        stream: stream.to_string(),
        source,
    };
    let handle = js.get_stream(stream).await.map_err(|e| failed(e.into()))?;
    let purged = handle
        .purge()
        .filter(subject)
        .await
        .map_err(|e| failed(e.into()))?;
    Ok(purged.purged)
}

/// The bytes `stream` holds.
pub async fn stored_bytes(js: &jetstream::Context, stream: &str) -> Result<u64, StreamInfoError> {
    Ok(state_of(js, stream).await?.bytes)
}

/// The last message on `subject` in `stream`, if there is one.
pub async fn last_on(
    js: &jetstream::Context,
    stream: &str,
    subject: &str,
) -> Result<Option<jetstream::message::StreamMessage>, StreamInfoError> {
    let failed = |source: async_nats::Error| StreamInfoError {
        stream: stream.to_string(),
        source,
    };
    let handle = js.get_stream(stream).await.map_err(|e| failed(e.into()))?;
    match handle.get_last_raw_message_by_subject(subject).await {
        Ok(message) => Ok(Some(message)),
        Err(error)
            if error.kind()
                == async_nats::jetstream::stream::LastRawMessageErrorKind::NoMessageFound =>
        {
            Ok(None)
        }
        Err(error) => Err(failed(error.into())),
    }
}

/// The messages among the last `count` sequences of `stream`, newest first (deleted ones
/// skipped): bounded work however much the stream holds.
pub async fn recent(
    js: &jetstream::Context,
    stream: &str,
    count: u64,
) -> Result<Vec<jetstream::message::StreamMessage>, StreamInfoError> {
    let failed = |source: async_nats::Error| StreamInfoError {
        stream: stream.to_string(),
        source,
    };
    let handle = js.get_stream(stream).await.map_err(|e| failed(e.into()))?;
    recent_of(&handle, count).await.map_err(failed)
}

/// [`recent`] on a stream already at hand (a KV bucket's, say).
pub async fn recent_of(
    handle: &jetstream::stream::Stream,
    count: u64,
) -> Result<Vec<jetstream::message::StreamMessage>, async_nats::Error> {
    use futures::StreamExt;
    let last = handle.clone().info().await?.state.last_sequence;
    if last == 0 {
        return Ok(Vec::new());
    }
    let first = last.saturating_sub(count.saturating_sub(1)).max(1);
    let messages: Vec<_> = futures::stream::iter((first..=last).rev())
        .map(|sequence| {
            let handle = handle.clone();
            async move { handle.get_raw_message(sequence).await.ok() }
        })
        .buffered(32)
        .collect()
        .await;
    Ok(messages.into_iter().flatten().collect())
}

/// One message of `stream` by sequence, if it is there.
pub async fn message(
    js: &jetstream::Context,
    stream: &str,
    sequence: u64,
) -> Result<Option<jetstream::message::StreamMessage>, StreamInfoError> {
    let handle = js.get_stream(stream).await.map_err(|e| StreamInfoError {
        stream: stream.to_string(),
        source: e.into(),
    })?;
    Ok(handle.get_raw_message(sequence).await.ok())
}

/// Deletes one message of `stream`; false when it was not there.
pub async fn delete(js: &jetstream::Context, stream: &str, sequence: u64) -> bool {
    match js.get_stream(stream).await {
        Ok(handle) => handle.delete_message(sequence).await.unwrap_or(false),
        Err(_) => false,
    }
}

/// The sequence the next message stored in `stream` will get.
pub async fn next_sequence(js: &jetstream::Context, stream: &str) -> Result<u64, StreamInfoError> {
    Ok(state_of(js, stream).await?.last_sequence + 1)
}

/// What `stream` holds now.
async fn state_of(js: &jetstream::Context, stream: &str) -> Result<stream::State, StreamInfoError> {
    let failed = |source: async_nats::Error| StreamInfoError {
        stream: stream.to_string(),
        source,
    };
    let mut handle = js.get_stream(stream).await.map_err(|e| failed(e.into()))?;
    let info = handle.info().await.map_err(|e| failed(e.into()))?;
    Ok(info.state.clone())
}

/// A stream whose state could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read stream `{stream}`: {source}")]
pub struct StreamInfoError {
    stream: String,
    source: async_nats::Error,
}

/// A publish the server did not acknowledge.
#[derive(Debug, thiserror::Error)]
#[error("not stored on `{subject}`")]
pub struct PublishFailed {
    subject: String,
    #[source]
    source: async_nats::Error,
}

impl PublishFailed {
    /// The stream is at its byte or message limit and refuses new messages.
    pub fn is_full(&self) -> bool {
        let text = self.source.to_string();
        text.contains("maximum bytes") || text.contains("maximum messages")
    }
}

/// Publishes to a stream and waits for the server's ack: once this returns `Ok`, the message
/// is stored (or was a duplicate, which the ack says).
pub async fn publish_acked(
    js: &jetstream::Context,
    subject: String,
    headers: async_nats::HeaderMap,
    payload: bytes::Bytes,
) -> Result<jetstream::publish::PublishAck, PublishFailed> {
    let failed = |source: async_nats::Error| PublishFailed {
        subject: subject.clone(),
        source,
    };
    js.publish_with_headers(subject.clone(), headers, payload)
        .await
        .map_err(|e| failed(e.into()))?
        .await
        .map_err(|e| failed(e.into()))
}

/// Acks awaited at a time by [`publish_acked_many`]: enough to keep the server busy, few
/// enough that the client's cap on outstanding acks is never reached.
const ACK_WINDOW: usize = 256;

/// Publishes messages in order and waits until every one is stored. On `Err`, the messages
/// before the failed one may be stored; publish them again with their `Nats-Msg-Id` to be
/// sure, and JetStream drops the copies.
pub async fn publish_acked_many(
    js: &jetstream::Context,
    messages: impl IntoIterator<Item = (String, async_nats::HeaderMap, bytes::Bytes)>,
) -> Result<(), PublishFailed> {
    let mut pending = std::collections::VecDeque::with_capacity(ACK_WINDOW);
    for (subject, headers, payload) in messages {
        if pending.len() == ACK_WINDOW {
            await_ack(pending.pop_front()).await?;
        }
        let ack = js
            .publish_with_headers(subject.clone(), headers, payload)
            .await
            .map_err(|e| PublishFailed {
                subject: subject.clone(),
                source: e.into(),
            })?;
        pending.push_back((subject, ack));
    }
    while let Some(next) = pending.pop_front() {
        await_ack(Some(next)).await?;
    }
    Ok(())
}

async fn await_ack(
    pending: Option<(String, jetstream::context::PublishAckFuture)>,
) -> Result<(), PublishFailed> {
    let Some((subject, ack)) = pending else {
        return Ok(());
    };
    ack.await.map(drop).map_err(|e| PublishFailed {
        subject,
        source: e.into(),
    })
}
