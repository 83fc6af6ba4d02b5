//! The routes as the router sees them: rebuilt from the subscriptions and the functions'
//! `topic` annotations, and never older than what was answered before an event was stored.
//!
//! A subscription answered 201 must get the next event (read-your-writes), but the router
//! learns of it through a watch that may lag. So before routing an event it has not yet
//! vouched for, the router reads the two buckets' last revisions and waits until its copies
//! hold them: every subscription answered before that event was stored is then known. One such
//! check covers every event received before it began, so under load it is made once per
//! round trip, not once per event.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use switchyard_broker::cache::KvCache;
use switchyard_broker::events::Subscription;
use switchyard_broker::records::FunctionSpec;
use tokio::sync::{Mutex, RwLock};

use super::index::RouteIndex;
use super::route::Route;

/// How long one check waits for the copies to catch up before routing anyway.
const CATCH_UP_LIMIT: Duration = Duration::from_secs(2);

pub(crate) struct Routes {
    subscriptions: KvCache<Subscription>,
    registry: KvCache<FunctionSpec>,
    /// Highest event sequence received so far.
    received: AtomicU64,
    /// Every event up to this sequence may be routed with the current index.
    vouched: AtomicU64,
    /// One check at a time; the versions of the two copies the index was built from.
    checking: Mutex<(u64, u64)>,
    index: RwLock<Arc<RouteIndex>>,
}

impl Routes {
    pub(crate) fn new(
        subscriptions: KvCache<Subscription>,
        registry: KvCache<FunctionSpec>,
    ) -> Self {
        Routes {
            subscriptions,
            registry,
            received: AtomicU64::new(0),
            vouched: AtomicU64::new(0),
            checking: Mutex::new((u64::MAX, u64::MAX)),
            index: RwLock::new(Arc::new(RouteIndex::default())),
        }
    }

    /// The routes to test the event stored at `sequence` against.
    pub(crate) async fn for_event(&self, sequence: u64) -> Arc<RouteIndex> {
        self.received.fetch_max(sequence, Ordering::AcqRel);
        if sequence > self.vouched.load(Ordering::Acquire) {
            self.check(sequence).await;
        }
        self.index.read().await.clone()
    }

    /// The routes as the copies hold them now (for replays, which need no check).
    pub(crate) async fn current(&self) -> Arc<RouteIndex> {
        let mut built = self.checking.lock().await;
        self.rebuild(&mut built).await;
        self.index.read().await.clone()
    }

    async fn check(&self, sequence: u64) {
        let mut built = self.checking.lock().await;
        // Another check may have covered it while this one waited for the lock.
        if sequence <= self.vouched.load(Ordering::Acquire) {
            return;
        }
        let covering = self.received.load(Ordering::Acquire);
        let (subscriptions, functions) = tokio::join!(
            self.subscriptions.catch_up(CATCH_UP_LIMIT),
            self.registry.catch_up(CATCH_UP_LIMIT)
        );
        if !(subscriptions && functions) {
            tracing::debug!("routes not confirmed current; routing with what is known");
        }
        self.rebuild(&mut built).await;
        self.vouched.fetch_max(covering, Ordering::AcqRel);
    }

    /// Builds the index again if either copy changed since it was last built.
    async fn rebuild(&self, built: &mut (u64, u64)) {
        let versions = (
            *self.subscriptions.changes().borrow(),
            *self.registry.changes().borrow(),
        );
        if *built == versions {
            return;
        }
        let mut routes: Vec<Route> = self
            .subscriptions
            .read(|map| map.values().map(Route::explicit).collect());
        routes.extend(
            self.registry
                .read(|map| map.values().filter_map(Route::topic).collect::<Vec<_>>()),
        );
        let index = Arc::new(RouteIndex::new(routes));
        tracing::debug!(routes = index.len(), "routes rebuilt");
        *self.index.write().await = index;
        *built = versions;
    }
}
