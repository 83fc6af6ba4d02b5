//! Asynchronous jobs: one durable pull consumer per function on `SY_INVOCATIONS`, shared by
//! every dispatcher, each with its own concurrency limit, so that a slow or failing function
//! never holds back another's jobs.

mod attempt;
pub(crate) mod context;
mod decision;
pub(crate) mod policy;
pub(crate) mod pull;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull::Config as PullConfig, AckPolicy, Consumer};
use futures::StreamExt;
use switchyard_broker::cache::KvCache;
use switchyard_broker::follow;
use switchyard_broker::records::FunctionSpec;
use switchyard_broker::{consumers, streams, subjects};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use context::JobContext;
use policy::JobPolicy;

/// The consumers' limit on unacknowledged messages, across all dispatchers.
pub(crate) const MAX_ACK_PENDING: i64 = 20_000;

/// Follows the registry: a worker per function, restarted when its policy changes, stopped
/// when it is removed. Also aborts running jobs that are cancelled.
pub(crate) async fn start(
    context: Arc<JobContext>,
    registry: KvCache<FunctionSpec>,
    shutdown: CancellationToken,
) -> Result<JoinHandle<()>, async_nats::SubscribeError> {
    let mut cancels = context.nats.subscribe(subjects::all_cancels()).await?;
    let canceller = context.clone();
    let stop_cancels = shutdown.clone();
    tokio::spawn(async move {
        loop {
            let message = tokio::select! {
                message = cancels.next() => message,
                () = stop_cancels.cancelled() => break,
            };
            let Some(message) = message else { break };
            if let Some(call_id) = subjects::parse_cancel(&message.subject) {
                canceller.cancel(call_id);
            }
        }
    });
    Ok(tokio::spawn(follow(context, registry, shutdown)))
}

struct Worker {
    policy: JobPolicy,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

async fn follow(
    context: Arc<JobContext>,
    registry: KvCache<FunctionSpec>,
    shutdown: CancellationToken,
) {
    let mut workers: HashMap<String, Worker> = HashMap::new();
    let mut rounds = follow::Rounds::new(vec![registry.changes()], &shutdown);
    loop {
        let desired: HashMap<String, JobPolicy> = registry.read(|map| {
            map.iter()
                .map(|(name, spec)| {
                    (
                        name.clone(),
                        JobPolicy::for_function(spec, &context.config.jobs),
                    )
                })
                .collect()
        });
        let mut stopping = Vec::new();
        workers.retain(|name, worker| {
            let keep = desired.get(name) == Some(&worker.policy);
            if !keep {
                worker.stop.cancel();
                stopping.push(std::mem::replace(&mut worker.task, tokio::spawn(async {})));
            }
            keep
        });
        for task in stopping {
            let _ = task.await;
        }
        for (name, policy) in desired {
            workers.entry(name.clone()).or_insert_with(|| {
                let stop = shutdown.child_token();
                let span = tracing::info_span!("jobs", function = %name);
                let task = tokio::spawn(
                    run_worker(context.clone(), name, policy.clone(), stop.clone())
                        .instrument(span),
                );
                Worker { policy, stop, task }
            });
        }
        if !rounds.next(None).await {
            break;
        }
    }
    for worker in workers.into_values() {
        worker.stop.cancel();
        let _ = worker.task.await;
    }
    tracing::info!("job workers stopped");
}

async fn run_worker(
    context: Arc<JobContext>,
    function: String,
    policy: JobPolicy,
    stop: CancellationToken,
) {
    let name = consumers::worker(&function);
    let Some(consumer) =
        pull::open_with_retry(&name, &stop, || consumer(&context, &function)).await
    else {
        return;
    };
    tracing::debug!(concurrency = policy.concurrency, "taking jobs");
    let depth = tokio::spawn(report_depth(
        context.clone(),
        consumer.clone(),
        function.clone(),
        stop.clone(),
    ));
    let policy = Arc::new(policy);
    let concurrency = policy.concurrency;
    let handler_context = context.clone();
    pull::consume(
        consumer,
        concurrency,
        stop,
        context.config.jobs.shutdown_grace,
        move |message| attempt::run(handler_context.clone(), policy.clone(), message),
    )
    .await;
    depth.abort();
}

/// The durable consumer of `function`'s invocations, created if needed.
async fn consumer(
    context: &JobContext,
    function: &str,
) -> Result<Consumer<PullConfig>, async_nats::Error> {
    let stream = context.js.get_stream(streams::INVOCATIONS).await?;
    let name = consumers::worker(function);
    let config = PullConfig {
        durable_name: Some(name.clone()),
        filter_subject: subjects::invoke(function),
        ack_policy: AckPolicy::Explicit,
        ack_wait: context.config.jobs.ack_wait,
        // Attempts are counted and limited by the worker, so redelivery never stops by itself.
        max_deliver: -1,
        max_ack_pending: MAX_ACK_PENDING,
        ..Default::default()
    };
    Ok(stream.get_or_create_consumer(&name, config).await?)
}

/// Publishes the queue depth of the function (jobs not yet taken) every few seconds.
async fn report_depth(
    context: Arc<JobContext>,
    mut consumer: Consumer<PullConfig>,
    function: String,
    stop: CancellationToken,
) {
    let mut ticker = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = stop.cancelled() => return,
        }
        if let Ok(info) = consumer.info().await {
            context
                .metrics
                .queued
                .with_label_values(&[&function])
                .set(info.num_pending as i64);
        }
    }
}
