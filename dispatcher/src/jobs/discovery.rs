//! How a dispatcher learns which functions have jobs waiting: every invocation stored is also
//! seen on its subject (a plain subscription, so at once), and the queue itself is read every
//! few seconds, for what was stored while this dispatcher was away or announced while it was
//! too busy to listen.

use std::collections::HashMap;
use std::time::Duration;

use async_nats::jetstream;
use futures::StreamExt;
use switchyard_broker::jobs::queue;
use switchyard_broker::subjects;

/// How often the queue is read in full.
pub(super) const SCAN_EVERY: Duration = Duration::from_secs(5);

/// Invocations as they are stored.
pub(crate) struct Announcements(async_nats::Subscriber);

impl Announcements {
    pub(crate) async fn subscribe(
        nats: &async_nats::Client,
    ) -> Result<Self, async_nats::SubscribeError> {
        Ok(Announcements(nats.subscribe(subjects::ALL_INVOKES).await?))
    }

    /// The function the next stored invocation is for; `None` when the subscription ended.
    pub(super) async fn next(&mut self) -> Option<String> {
        loop {
            let message = self.0.next().await?;
            if let Some(function) = subjects::parse_invoke(&message.subject) {
                return Some(function.to_string());
            }
        }
    }
}

/// Jobs waiting or running per function, or nothing (said at debug level) when the queue
/// cannot be read now: the next scan tries again.
pub(super) async fn scan(js: &jetstream::Context) -> Option<HashMap<String, u64>> {
    match queue::waiting_by_function(js).await {
        Ok(counts) => Some(counts),
        Err(error) => {
            tracing::debug!(%error, "queue not read; next scan tries again");
            None
        }
    }
}
