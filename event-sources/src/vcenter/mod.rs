//! The vCenter event source: one poller per `kind: vcenter` source in KV `sy_sources`,
//! started, restarted (when its configuration changes) and stopped (when it is removed) as
//! that bucket changes.
//!
//! Each poller logs in to its vCenter with [`soap::Client`] (our own SOAP client), follows the
//! event collector's `latestPage` with WaitForUpdatesEx, and stores every new event in
//! `SY_EVENTS` as a CloudEvent ([`event::VsphereEvent::to_cloudevent`]), in key order, with
//! a deduplication id from (source, key). Its checkpoint (KV `sy_checkpoints`) moves only after the
//! events before it are stored; its status (KV `sy_source_status`) is what the gateway shows.
//!
//! One process should follow a given source: `switchyard up`, or `switchyard source vcenter`.

mod checkpoint;
pub mod event;
mod metrics;
mod poller;
pub mod schema;
pub mod soap;
mod status;

use std::collections::HashMap;

use async_nats::jetstream;
use switchyard_broker::buckets;
use switchyard_broker::cache::KvCache;
use switchyard_broker::follow;
use switchyard_broker::networks::NetworkPolicy;
use switchyard_broker::records::{EventSource, VcenterConfig};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use checkpoint::Checkpoints;
use metrics::Metrics;
use poller::Poller;
use status::StatusReport;

/// Why the vCenter pollers could not start.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct VcenterError(#[from] buckets::BucketError);

/// The running pollers; [`VcenterSources::wait`] returns once all stopped after shutdown.
pub struct VcenterSources {
    supervisor: JoinHandle<()>,
}

struct Running {
    namespace: String,
    config: VcenterConfig,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

struct Supervisor {
    js: jetstream::Context,
    sources: KvCache<EventSource>,
    checkpoints: async_nats::jetstream::kv::Store,
    statuses: async_nats::jetstream::kv::Store,
    metrics: Metrics,
    running: HashMap<String, Running>,
    /// Where pollers may connect (the callbacks' policy).
    networks: NetworkPolicy,
}

impl VcenterSources {
    /// Starts following every vCenter source, now and as they are created, until `shutdown`.
    pub async fn start(
        nats: async_nats::Client,
        registry: &prometheus::Registry,
        networks: NetworkPolicy,
        shutdown: CancellationToken,
    ) -> Result<Self, VcenterError> {
        let js = jetstream::new(nats);
        let sources = KvCache::start(buckets::sources(&js).await?, shutdown.clone()).await;
        let mut supervisor = Supervisor {
            checkpoints: buckets::checkpoints(&js).await?,
            statuses: buckets::source_status(&js).await?,
            js,
            sources,
            metrics: Metrics::new(registry),
            running: HashMap::new(),
            networks,
        };
        let supervisor = tokio::spawn(async move { supervisor.run(shutdown).await });
        Ok(Self { supervisor })
    }

    pub async fn wait(self) {
        let _ = self.supervisor.await;
    }
}

impl Supervisor {
    async fn run(&mut self, shutdown: CancellationToken) {
        let mut rounds = follow::Rounds::new(vec![self.sources.changes()], &shutdown);
        loop {
            self.reconcile(&shutdown).await;
            if !rounds.next(None).await {
                break;
            }
        }
        for (_, running) in self.running.drain() {
            running.stop.cancel();
            let _ = running.task.await;
        }
    }

    /// Makes the running pollers match the vCenter sources in the bucket.
    async fn reconcile(&mut self, shutdown: &CancellationToken) {
        let wanted: HashMap<String, (String, VcenterConfig)> = self.sources.read(|map| {
            map.values()
                .filter_map(|s| {
                    s.vcenter()
                        .map(|c| (s.name.clone(), (s.namespace().to_string(), c.clone())))
                })
                .filter(|(_, (_, c))| c.validate().is_ok())
                .collect()
        });
        let stale: Vec<String> = self
            .running
            .iter()
            .filter(|(name, running)| {
                wanted.get(*name) != Some(&(running.namespace.clone(), running.config.clone()))
            })
            .map(|(name, _)| name.clone())
            .collect();
        for name in stale {
            if let Some(running) = self.running.remove(&name) {
                running.stop.cancel();
                let _ = running.task.await;
            }
            if !wanted.contains_key(&name) {
                // Removed: a source created again under this name starts afresh.
                let _ = self.checkpoints.delete(&name).await;
                let _ = self.statuses.delete(&name).await;
                tracing::info!(source = %name, "vCenter source removed");
            }
        }
        for (name, (namespace, config)) in wanted {
            if self.running.contains_key(&name) {
                continue;
            }
            let stop = shutdown.child_token();
            let poller = Poller {
                name: name.clone(),
                namespace: namespace.clone(),
                networks: self.networks.clone(),
                config: config.clone(),
                js: self.js.clone(),
                checkpoints: Checkpoints::new(self.checkpoints.clone(), &name),
                status: StatusReport::new(self.statuses.clone(), &name),
                metrics: self.metrics.clone(),
                shutdown: stop.clone(),
            };
            tracing::info!(source = %name, url = %config.url, "vCenter poller starting");
            let task = tokio::spawn(poller.run());
            self.running.insert(
                name,
                Running {
                    namespace,
                    config,
                    stop,
                    task,
                },
            );
        }
    }
}
