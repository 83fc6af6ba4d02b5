//! The endpoint directory as the dispatcher uses it: pick a ready replica, spread the calls.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use switchyard_broker::cache::KvCache;
use switchyard_broker::records::{endpoints_of, Endpoint};

use crate::wake::Waker;

/// How often a call waiting for a replica checks that its function is not at zero.
const WAKE_AGAIN: Duration = Duration::from_secs(1);

pub(crate) struct Directory {
    cache: KvCache<Endpoint>,
    waker: Waker,
    next: AtomicUsize,
}

impl Directory {
    pub(crate) fn new(cache: KvCache<Endpoint>, waker: Waker) -> Self {
        Directory {
            cache,
            waker,
            next: AtomicUsize::new(0),
        }
    }

    /// The function's ready replicas, rotated so that successive calls start at different ones.
    /// Waits up to `wait` for a first replica to appear, waking the function first when it is
    /// at zero replicas.
    pub(crate) async fn replicas(&self, function: &str, wait: Duration) -> Vec<Endpoint> {
        let has_replica = |map: &_| !endpoints_of(map, function).is_empty();
        if !self.cache.read(has_replica) {
            // Woken again every second of the wait: it may be scaled to zero meanwhile.
            let deadline = Instant::now() + wait;
            loop {
                self.waker.wake(function).await;
                let slice = deadline
                    .saturating_duration_since(Instant::now())
                    .min(WAKE_AGAIN);
                if self.cache.wait_until(slice, has_replica).await || slice < WAKE_AGAIN {
                    break;
                }
            }
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
