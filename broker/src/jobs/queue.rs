//! What waits in `SY_INVOCATIONS`, per function, read from the stream itself rather than from
//! any consumer: a work queue keeps a message until it is acked, so the count on a function's
//! subject is its jobs waiting or running. Dispatchers use it to find work for functions that
//! have no consumer open, the autoscaler to size functions.

use std::collections::HashMap;

use async_nats::jetstream;
use futures::TryStreamExt;

use crate::{streams, subjects};

/// The queue's state could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read what waits in `{}`", streams::INVOCATIONS)]
pub struct QueueReadError(#[source] async_nats::Error);

/// Jobs waiting or running, per function id; functions with none are absent.
pub async fn waiting_by_function(
    js: &jetstream::Context,
) -> Result<HashMap<String, u64>, QueueReadError> {
    counts(js, subjects::ALL_INVOKES).await
}

async fn counts(
    js: &jetstream::Context,
    filter: &str,
) -> Result<HashMap<String, u64>, QueueReadError> {
    let failed = |e: async_nats::Error| QueueReadError(e);
    let stream = js
        .get_stream(streams::INVOCATIONS)
        .await
        .map_err(|e| failed(e.into()))?;
    let mut subjects_with_messages = stream
        .info_with_subjects(filter)
        .await
        .map_err(|e| failed(e.into()))?;
    let mut counts = HashMap::new();
    while let Some((subject, count)) = subjects_with_messages
        .try_next()
        .await
        .map_err(|e| failed(e.into()))?
    {
        if let Some(function) = subjects::parse_invoke(&subject) {
            counts.insert(function.to_string(), count as u64);
        }
    }
    Ok(counts)
}
