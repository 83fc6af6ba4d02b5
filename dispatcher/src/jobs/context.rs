//! What every job worker shares.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_nats::jetstream;
use async_nats::Client;
use switchyard_broker::cache::KvCache;
use switchyard_broker::events::Subscription;
use switchyard_broker::jobs::{JobStore, ResultStore};
use tokio_util::sync::CancellationToken;

use crate::config::DispatcherConfig;
use crate::delivery::Delivery;
use crate::metrics::Metrics;

pub(crate) struct JobContext {
    pub(crate) nats: Client,
    pub(crate) js: jetstream::Context,
    pub(crate) jobs: JobStore,
    pub(crate) results: ResultStore,
    pub(crate) delivery: Arc<Delivery>,
    pub(crate) config: DispatcherConfig,
    pub(crate) metrics: Metrics,
    pub(crate) http: reqwest::Client,
    pub(crate) subscriptions: KvCache<Subscription>,
    /// Keys the call ids of routed events (see `switchyard_broker::keys`).
    pub(crate) routing_key: Vec<u8>,
    /// Jobs running in this dispatcher, by call id, so a cancellation can abort them.
    running: Mutex<HashMap<String, CancellationToken>>,
}

impl JobContext {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        nats: Client,
        jobs: JobStore,
        results: ResultStore,
        delivery: Arc<Delivery>,
        config: DispatcherConfig,
        metrics: Metrics,
        http: reqwest::Client,
        subscriptions: KvCache<Subscription>,
        routing_key: Vec<u8>,
    ) -> Self {
        let js = jetstream::new(nats.clone());
        JobContext {
            nats,
            js,
            jobs,
            results,
            delivery,
            config,
            metrics,
            http,
            subscriptions,
            routing_key,
            running: Mutex::new(HashMap::new()),
        }
    }

    /// Registers a running job; the token fires if it is cancelled.
    pub(crate) fn running(&self, call_id: &str) -> CancellationToken {
        let token = CancellationToken::new();
        self.lock().insert(call_id.to_string(), token.clone());
        token
    }

    pub(crate) fn finished(&self, call_id: &str) {
        self.lock().remove(call_id);
    }

    /// Aborts the job if it runs here.
    pub(crate) fn cancel(&self, call_id: &str) {
        if let Some(token) = self.lock().get(call_id) {
            token.cancel();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CancellationToken>> {
        self.running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
