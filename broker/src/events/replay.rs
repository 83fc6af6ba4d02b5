//! Replays: a subscription that starts before its creation (`startAt: all` or a time) gets the
//! events stored before it from its own consumer, made when the subscription is answered and
//! read by a dispatcher up to the subscription's `startSequence`; the shared router delivers
//! every event from that sequence on. A subscription that starts at `new` needs none.

use std::time::Duration;

use async_nats::jetstream;
use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};

use super::{StartAt, Subscription};
use crate::{consumers, streams};

/// How long a dispatcher may hold a replayed event before it is delivered again.
pub const ACK_WAIT: Duration = Duration::from_secs(10);
/// Unacknowledged events a replay may have out at once.
pub const MAX_ACK_PENDING: i64 = 20_000;

/// The replay consumer could not be made or removed.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} the replay of subscription `{subscription}`")]
pub struct ReplayError {
    action: &'static str,
    subscription: String,
    #[source]
    source: async_nats::Error,
}

/// Makes the consumer replaying what `subscription` asked for from before its
/// `start_sequence`, replacing any made before under its name (a subscription changed to start
/// elsewhere, or one of the same name removed earlier); one starting at `new` gets none.
pub async fn create(
    js: &jetstream::Context,
    subscription: &Subscription,
) -> Result<(), ReplayError> {
    let failed = |action, source: async_nats::Error| ReplayError {
        action,
        subscription: subscription.name.clone(),
        source,
    };
    let deliver_policy = match &subscription.start_at {
        StartAt::New => None,
        StartAt::All => Some(DeliverPolicy::All),
        StartAt::Since(time) => Some(DeliverPolicy::ByStartTime {
            start_time: time::OffsetDateTime::from_unix_timestamp_nanos(
                time.timestamp_nanos_opt().unwrap_or(0).into(),
            )
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
        }),
    };
    let name = consumers::replay(&subscription.name);
    let stream = js
        .get_stream(streams::EVENTS)
        .await
        .map_err(|e| failed("make", e.into()))?;
    match stream.delete_consumer(&name).await {
        Err(error) if !is_not_found(&error) => return Err(failed("replace", error.into())),
        _ => {}
    }
    let Some(deliver_policy) = deliver_policy else {
        return Ok(());
    };
    let config = pull::Config {
        durable_name: Some(name),
        filter_subject: subscription.filter_subject(),
        deliver_policy,
        ack_policy: AckPolicy::Explicit,
        ack_wait: ACK_WAIT,
        max_deliver: -1,
        max_ack_pending: MAX_ACK_PENDING,
        ..Default::default()
    };
    stream
        .create_consumer(config)
        .await
        .map(|_| ())
        .map_err(|e| failed("make", e.into()))
}

/// Removes the replay of the subscription `name`, if there is one.
pub async fn remove(js: &jetstream::Context, name: &str) -> Result<(), ReplayError> {
    let failed = |source: async_nats::Error| ReplayError {
        action: "remove",
        subscription: name.to_string(),
        source,
    };
    let stream = js
        .get_stream(streams::EVENTS)
        .await
        .map_err(|e| failed(e.into()))?;
    match stream.delete_consumer(&consumers::replay(name)).await {
        Ok(_) => Ok(()),
        Err(error) if is_not_found(&error) => Ok(()),
        Err(error) => Err(failed(error.into())),
    }
}

fn is_not_found(error: &jetstream::stream::ConsumerError) -> bool {
    matches!(
        error.kind(),
        jetstream::stream::ConsumerErrorKind::JetStream(e)
            if e.error_code() == jetstream::ErrorCode::CONSUMER_NOT_FOUND
    )
}
