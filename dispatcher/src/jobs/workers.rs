//! The job workers of one dispatcher: a worker per function with work, started when work is
//! found, ended when its queue is drained or it yields to waiting functions ([`Demand`]).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{pull::Config as PullConfig, AckPolicy, Consumer};
use switchyard_broker::cache::KvCache;
use switchyard_broker::records::FunctionSpec;
use switchyard_broker::{consumers, streams, subjects};
use tokio::task::{Id, JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::attempt;
use super::context::JobContext;
use super::demand::{Demand, Ended};
use super::discovery::{self, Announcements, SCAN_EVERY};
use super::policy::JobPolicy;
use super::pull::{self, Capacity, Stopped};
use super::MAX_ACK_PENDING;

/// How long a function is served before it makes room for one that waits.
const SLICE: Duration = Duration::from_secs(2);
/// How often workers due to yield are looked for.
const YIELD_CHECK: Duration = Duration::from_millis(500);
/// A worker that drains within this long of its function being announced starts again: the
/// announcement may be of a job its last fetch did not see.
const RECHECK: Duration = Duration::from_secs(3);
/// The server deletes a function's consumer after this long without a fetch from any
/// dispatcher, so a function without work keeps none and the consumers on the stream number
/// about the functions served in the last seconds. Unacknowledged messages (jobs running, or
/// handed back for a later retry) count as activity (nats-server 2.11 and later), and a
/// worker fetches without pause while it has room, so a consumer in use is never deleted; the
/// server deletes it, not a dispatcher, because only the server knows no other dispatcher
/// has just taken a message from it.
const INACTIVE_AFTER: Duration = Duration::from_secs(2);

pub(super) async fn run(
    context: Arc<JobContext>,
    registry: KvCache<FunctionSpec>,
    mut announced: Announcements,
    shutdown: CancellationToken,
) {
    let mut pool = Pool {
        demand: Demand::new(context.config.jobs.active_functions, SLICE, RECHECK),
        context,
        registry: registry.clone(),
        shutdown: shutdown.clone(),
        running: HashMap::new(),
        limits: HashMap::new(),
        workers: JoinSet::new(),
        tasks: HashMap::new(),
        reported_queued: HashSet::new(),
    };
    let mut scan = tokio::time::interval(SCAN_EVERY);
    let mut yields = tokio::time::interval(YIELD_CHECK);
    let mut changes = registry.changes();
    let mut listening = true;
    loop {
        tokio::select! {
            function = announced.next(), if listening => match function {
                Some(function) => pool.found(&function),
                None => {
                    tracing::warn!("invocation announcements ended; relying on scans");
                    listening = false;
                }
            },
            _ = scan.tick() => pool.scan().await,
            Some(ended) = pool.workers.join_next_with_id() => pool.ended(ended),
            _ = yields.tick() => pool.yield_due(),
            changed = changes.changed() => match changed {
                Ok(()) => pool.registry_changed(),
                Err(_) => break,
            },
            () = shutdown.cancelled() => break,
        }
    }
    pool.stop().await;
    tracing::info!("job workers stopped");
}

/// A function's limits in this dispatcher: its concurrency bounds the calls to it, and a
/// multiple of that the jobs in hand (a finished call's records are written while the next
/// call runs). It outlives workers, so that a worker started again shares it with jobs its
/// predecessor still runs.
#[derive(Clone)]
struct Limit {
    concurrency: usize,
    capacity: Capacity,
}

/// Jobs in hand per call slot: the records of a finished call take about as long again as the
/// call to a fast function.
const JOBS_PER_SLOT: usize = 4;

struct Running {
    policy: JobPolicy,
    stop: CancellationToken,
}

struct Pool {
    context: Arc<JobContext>,
    registry: KvCache<FunctionSpec>,
    shutdown: CancellationToken,
    demand: Demand,
    running: HashMap<String, Running>,
    limits: HashMap<String, Limit>,
    workers: JoinSet<Stopped>,
    tasks: HashMap<Id, String>,
    /// Functions whose queue depth was last reported above zero.
    reported_queued: HashSet<String>,
}

impl Pool {
    /// Work was found for `function`. Jobs of a function not (or no longer) deployed wait in
    /// the stream: a scan finds them if it is deployed again.
    fn found(&mut self, function: &str) {
        if !self.registry.contains(function) {
            return;
        }
        if self.demand.found(function, Instant::now()) {
            self.start(vec![function.to_string()]);
        }
    }

    async fn scan(&mut self) {
        let Some(counts) = discovery::scan(&self.context.js).await else {
            return;
        };
        let queued = self.context.metrics.queued.clone();
        for gone in self.reported_queued.drain() {
            if !counts.contains_key(&gone) {
                queued.with_label_values(&[&gone]).set(0);
            }
        }
        for (function, count) in &counts {
            queued.with_label_values(&[function]).set(*count as i64);
            self.reported_queued.insert(function.clone());
            self.found(function);
        }
    }

    /// Starts workers for `functions` (the demand has made them active). A function that is
    /// gone ends at once, which may let others start.
    fn start(&mut self, mut functions: Vec<String>) {
        while let Some(function) = functions.pop() {
            let policy = self
                .registry
                .get(&function)
                .map(|spec| JobPolicy::for_function(&spec, &self.context.config.jobs));
            let Some(policy) = policy else {
                self.demand.forget(&function);
                functions.extend(self.demand.ended(&function, Ended::Drained, Instant::now()));
                continue;
            };
            let limit = match self.limits.get(&function) {
                Some(limit) if limit.concurrency == policy.concurrency => limit.clone(),
                _ => {
                    let limit = Limit {
                        concurrency: policy.concurrency,
                        capacity: Capacity::new(
                            policy.concurrency,
                            policy.concurrency.saturating_mul(JOBS_PER_SLOT),
                        ),
                    };
                    self.limits.insert(function.clone(), limit.clone());
                    limit
                }
            };
            let stop = self.shutdown.child_token();
            let span = tracing::info_span!("jobs", function = %function);
            let task = self.workers.spawn(
                work(
                    self.context.clone(),
                    function.clone(),
                    Arc::new(policy.clone()),
                    limit,
                    stop.clone(),
                )
                .instrument(span),
            );
            self.tasks.insert(task.id(), function.clone());
            self.running.insert(function, Running { policy, stop });
        }
    }

    fn ended(&mut self, ended: Result<(Id, Stopped), tokio::task::JoinError>) {
        let (id, stopped) = match ended {
            Ok((id, stopped)) => (id, stopped),
            Err(error) => {
                tracing::error!(%error, "a job worker failed");
                (error.id(), Stopped::Asked)
            }
        };
        let Some(function) = self.tasks.remove(&id) else {
            return;
        };
        self.running.remove(&function);
        let how = match stopped {
            Stopped::Drained => Ended::Drained,
            // A silent consumer is opened again when the worker is started again.
            Stopped::Asked | Stopped::Silent => Ended::Yielded,
        };
        let next = self.demand.ended(&function, how, Instant::now());
        self.start(next);
    }

    fn yield_due(&mut self) {
        for function in self.demand.due_to_yield(Instant::now()) {
            if let Some(running) = self.running.get(&function) {
                tracing::debug!(function = %function, waiting = self.demand.waiting(), "making room");
                running.stop.cancel();
            }
        }
    }

    /// Workers whose function changed or went away stop; a changed one starts again with its
    /// new policy (through [`Demand::ended`]: it yields).
    fn registry_changed(&mut self) {
        for (function, running) in &self.running {
            let policy = self
                .registry
                .get(function)
                .map(|spec| JobPolicy::for_function(&spec, &self.context.config.jobs));
            if policy.as_ref() != Some(&running.policy) {
                running.stop.cancel();
            }
        }
        let registry = &self.registry;
        self.limits
            .retain(|function, _| registry.contains(function));
    }

    async fn stop(mut self) {
        for running in self.running.values() {
            running.stop.cancel();
        }
        while self.workers.join_next().await.is_some() {}
        let grace = self.context.config.jobs.shutdown_grace;
        let in_flight = self
            .limits
            .values()
            .map(|limit| limit.capacity.wait_idle(grace));
        futures::future::join_all(in_flight).await;
    }
}

/// Takes `function`'s jobs until its queue is drained or `stop` fires.
async fn work(
    context: Arc<JobContext>,
    function: String,
    policy: Arc<JobPolicy>,
    limit: Limit,
    stop: CancellationToken,
) -> Stopped {
    let name = consumers::worker(&function);
    let Some(consumer) =
        pull::open_with_retry(&name, &stop, || consumer(&context, &function)).await
    else {
        return Stopped::Asked;
    };
    tracing::debug!(concurrency = policy.concurrency, "taking jobs");
    let handler_context = context.clone();
    let stopped = pull::consume_until(
        consumer,
        &limit.capacity,
        stop,
        true,
        move |message, slot| attempt::run(handler_context.clone(), policy.clone(), message, slot),
    )
    .await;
    tracing::debug!(?stopped, "no longer taking jobs");
    stopped
}

/// The durable consumer of `function`'s invocations, created (or its settings updated).
async fn consumer(
    context: &JobContext,
    function: &str,
) -> Result<Consumer<PullConfig>, async_nats::Error> {
    let stream = context.js.get_stream(streams::INVOCATIONS).await?;
    let config = PullConfig {
        durable_name: Some(consumers::worker(function)),
        filter_subject: subjects::invoke(function),
        ack_policy: AckPolicy::Explicit,
        ack_wait: context.config.jobs.ack_wait,
        // Attempts are counted and limited by the worker, so redelivery never stops by itself.
        max_deliver: -1,
        max_ack_pending: MAX_ACK_PENDING,
        inactive_threshold: INACTIVE_AFTER,
        ..Default::default()
    };
    Ok(stream.create_consumer(config).await?)
}
