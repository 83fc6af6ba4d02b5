//! Replicas of Switchyard's streams and buckets on a clustered NATS: every stream `SY_*` and
//! every bucket `sy_*` (stream `KV_sy_*`) is kept at the configured count, so that the broker
//! survives the loss of a node. Each process calls [`ensure`] once its own streams and buckets
//! exist; raising the count of an existing stream is an ordinary stream update.

use std::sync::atomic::{AtomicUsize, Ordering};

use async_nats::jetstream;
use futures::TryStreamExt;

/// The replica count new streams and buckets are created with.
static REPLICAS: AtomicUsize = AtomicUsize::new(1);

/// Sets the replica count every stream and bucket this process creates starts with. Called
/// once at start-up, before anything is created: a stream created with one replica and raised
/// later has a window, while its new replicas catch up, in which losing its first node takes
/// it offline.
pub fn create_with(replicas: usize) {
    REPLICAS.store(replicas.max(1), Ordering::Relaxed);
}

/// The replica count to create streams and buckets with.
pub fn replicas() -> usize {
    REPLICAS.load(Ordering::Relaxed)
}

/// A stream whose replicas could not be set.
#[derive(Debug, thiserror::Error)]
#[error("cannot set {replicas} replicas on stream `{stream}`: {reason}")]
pub struct ReplicationError {
    stream: String,
    replicas: usize,
    reason: String,
}

/// Sets `replicas` on every Switchyard stream and bucket that has another count.
pub async fn ensure(js: &jetstream::Context, replicas: usize) -> Result<(), ReplicationError> {
    let failed = |stream: &str, reason: String| ReplicationError {
        stream: stream.to_string(),
        replicas,
        reason,
    };
    let names: Vec<String> = js
        .stream_names()
        .try_collect()
        .await
        .map_err(|e| failed("*", e.to_string()))?;
    for name in names
        .iter()
        .filter(|n| n.starts_with("SY_") || n.starts_with("KV_sy_"))
    {
        let mut stream = js
            .get_stream(name)
            .await
            .map_err(|e| failed(name, e.to_string()))?;
        let mut config = stream
            .info()
            .await
            .map_err(|e| failed(name, e.to_string()))?
            .config
            .clone();
        if config.num_replicas == replicas {
            continue;
        }
        config.num_replicas = replicas;
        js.update_stream(config)
            .await
            .map_err(|e| failed(name, e.to_string()))?;
        tracing::info!(stream = %name, replicas, "stream replicas set");
    }
    Ok(())
}
