//! The endpoint directory as the dispatcher uses it: pick a ready replica, spread the calls.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use switchyard_broker::cache::KvCache;
use switchyard_broker::records::{endpoints_of, Endpoint};

pub(crate) struct Directory {
    cache: KvCache<Endpoint>,
    next: AtomicUsize,
}

impl Directory {
    pub(crate) fn new(cache: KvCache<Endpoint>) -> Self {
        Directory {
            cache,
            next: AtomicUsize::new(0),
        }
    }

    /// The function's ready replicas, rotated so that successive calls start at different ones.
    /// Waits up to `wait` for a first replica to appear.
    pub(crate) async fn replicas(&self, function: &str, wait: Duration) -> Vec<Endpoint> {
        let has_replica = |map: &_| !endpoints_of(map, function).is_empty();
        if !self.cache.read(has_replica) {
            self.cache.wait_until(wait, has_replica).await;
        }
        let mut replicas: Vec<Endpoint> = self
            .cache
            .read(|map| endpoints_of(map, function).into_iter().cloned().collect());
        if !replicas.is_empty() {
            let start = self.next.fetch_add(1, Ordering::Relaxed) % replicas.len();
            replicas.rotate_left(start);
        }
        replicas
    }
}
