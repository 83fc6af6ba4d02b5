//! The endpoint directory as each back end sees it: its own replicas, told apart by the
//! prefix of their replica name, and nobody else's.

use std::collections::HashMap;

use async_nats::jetstream::kv::Store;
use futures::StreamExt;
use switchyard_broker::records::Endpoint;

/// Lists exactly `ready` among the replicas whose name starts with `prefix`: those no longer
/// ready are removed, the others (re)written with a fresh heartbeat. Other replicas are left
/// alone.
pub(crate) async fn list_exactly(
    endpoints: &Store,
    prefix: &str,
    ready: HashMap<String, Endpoint>,
) {
    if let Ok(mut keys) = endpoints.keys().await {
        while let Some(Ok(key)) = keys.next().await {
            let ours = key
                .rsplit_once('.')
                .is_some_and(|(_, replica)| replica.starts_with(prefix));
            if ours && !ready.contains_key(&key) {
                let _ = endpoints.delete(&key).await;
            }
        }
    }
    for (key, endpoint) in ready {
        if let Ok(value) = serde_json::to_vec(&endpoint) {
            if let Err(error) = endpoints.put(&key, value.into()).await {
                tracing::warn!(%error, key, "endpoint not listed");
            }
        }
    }
}
