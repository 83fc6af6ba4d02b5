//! The dispatcher as a whole: sync calls, job workers and callback delivery.

use std::sync::Arc;

use async_nats::{jetstream, Client};
use switchyard_broker::cache::KvCache;
use switchyard_broker::jobs::{JobStore, ResultStore};
use switchyard_broker::{buckets, keys, streams};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::DispatcherConfig;
use crate::delivery::Delivery;
use crate::endpoints::Directory;
use crate::event_owners::EventOwners;
use switchyard_broker::table::{CachedTable, Table};

use crate::forward::Forwarder;
use crate::jobs::context::JobContext;
use crate::load::Load;
use crate::metrics::Metrics;
use crate::wake::Waker;
use crate::{callbacks, catalog, jobs, routing, sync_calls};
use switchyard_broker::catalog::Catalog;

/// Room left in a NATS message for headers when relaying an answer.
const HEADER_ROOM: usize = 64 * 1024;

/// Why the dispatcher could not start.
#[derive(Debug, thiserror::Error)]
pub enum DispatcherError {
    #[error(transparent)]
    Bucket(#[from] buckets::BucketError),
    #[error(transparent)]
    Stream(#[from] streams::StreamError),
    #[error("cannot subscribe: {0}")]
    Subscribe(#[from] async_nats::SubscribeError),
    #[error("cannot open the callback consumer: {0}")]
    Consumer(async_nats::Error),
    #[error("cannot build the callback HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error(transparent)]
    Key(#[from] keys::KeyError),
}

/// A running dispatcher.
pub struct Dispatcher {
    tasks: Vec<JoinHandle<()>>,
    nats: Client,
}

impl Dispatcher {
    /// Starts taking sync calls, routing events, running jobs and delivering callbacks until `shutdown` fires; then each part
    /// stops taking work, finishes what is in flight, and [`Dispatcher::wait`] returns. Metrics
    /// are registered in `metrics`.
    pub async fn start(
        nats: Client,
        config: DispatcherConfig,
        metrics: &prometheus::Registry,
        shutdown: CancellationToken,
    ) -> Result<Self, DispatcherError> {
        let js = jetstream::new(nats.clone());
        streams::ensure(&js, &config.retention).await?;
        let endpoints = KvCache::start(buckets::endpoints(&js).await?, shutdown.clone()).await;
        let registry = KvCache::start(buckets::functions(&js).await?, shutdown.clone()).await;
        let subscriptions =
            KvCache::start(buckets::subscriptions(&js).await?, shutdown.clone()).await;
        let delivery = Arc::new(Delivery {
            directory: Directory::new(
                endpoints,
                Waker::new(registry.clone(), Table::new(buckets::functions(&js).await?)),
            ),
            forwarder: Forwarder::new(config.jobs.callback_networks.clone()),
            max_answer: nats.server_info().max_payload.saturating_sub(HEADER_ROOM),
            load: Load::default(),
        });
        let jobs_store = JobStore::open(&js, &config.retention).await?;
        let results = ResultStore::open(&js, &config.retention).await?;
        let http = callbacks::client(config.jobs.callback_networks.clone())?;
        let job_context = Arc::new(JobContext::new(
            nats.clone(),
            jobs_store,
            results,
            delivery.clone(),
            config.clone(),
            Metrics::new(metrics),
            http,
            subscriptions.clone(),
            keys::routing_key(&js).await?,
        ));
        let scheduler = switchyard_scheduler::Scheduler {
            js: js.clone(),
            registry: registry.clone(),
            states: CachedTable::start(buckets::schedules(&js).await?, shutdown.clone()).await,
            jobs: JobStore::open(&js, &config.retention).await?,
            misfire_after: config.schedule_misfire_after,
            max_catch_up: config.schedule_max_catch_up,
        };
        let grace = config.jobs.shutdown_grace;
        let reporter = delivery.load.report(nats.clone(), shutdown.clone());
        let tasks = vec![
            reporter,
            sync_calls::start(nats.clone(), config, delivery, shutdown.clone()).await?,
            jobs::start(job_context.clone(), registry.clone(), shutdown.clone()).await?,
            routing::start(
                job_context.clone(),
                subscriptions,
                registry,
                EventOwners {
                    namespaces: KvCache::start(buckets::namespaces(&js).await?, shutdown.clone())
                        .await,
                    sources: KvCache::start(buckets::sources(&js).await?, shutdown.clone()).await,
                },
                shutdown.clone(),
            ),
            catalog::start(
                js.clone(),
                Catalog::open(&js).await?,
                grace,
                shutdown.clone(),
            ),
            jobs::due::start(job_context.clone(), shutdown.clone())
                .await
                .map_err(DispatcherError::Consumer)?,
            callbacks::start(job_context, shutdown.clone())
                .await
                .map_err(DispatcherError::Consumer)?,
            tokio::spawn(scheduler.run(shutdown)),
        ];
        Ok(Dispatcher { tasks, nats })
    }

    /// Waits until every part has stopped after shutdown, then until NATS has everything they
    /// sent (the last replies and acks are still in the client's buffer, and a client dropped
    /// with a connection of its own may never send them).
    pub async fn wait(self) {
        for task in self.tasks {
            let _ = task.await;
        }
        if let Err(error) = self.nats.flush().await {
            tracing::warn!(%error, "last messages not confirmed sent");
        }
        tracing::info!("dispatcher stopped");
    }
}
