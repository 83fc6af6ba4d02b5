//! The autoscaler part: every `interval`, for each autoscaled function, measure its load,
//! decide its replicas ([`crate::decision`]) and write a change to the registry, logging the
//! reason and counting it.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};
use switchyard_broker::buckets::{self, BucketError};
use switchyard_broker::cache::KvCache;
use switchyard_broker::records::FunctionSpec;
use switchyard_broker::table::Table;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::decision::Window;
use crate::measures::{self, Measures};
use crate::openfaas_ce::{Alert, StepPolicy};
use crate::policy::{ScaleKind, ScalePolicy};

/// Autoscaler settings.
#[derive(Debug, Clone)]
pub struct AutoscalerConfig {
    /// How often load is measured and replicas decided.
    pub interval: Duration,
    /// How long the load must stay low before replicas are removed
    /// (`SWITCHYARD_SCALE_DOWN_WINDOW`).
    pub scale_down_window: Duration,
    /// Functions without scaling labels scale as OpenFaaS CE scales them ([`crate::openfaas_ce`]).
    pub openfaas_ce: bool,
}

impl Default for AutoscalerConfig {
    fn default() -> Self {
        AutoscalerConfig {
            interval: Duration::from_secs(1),
            scale_down_window: Duration::from_secs(120),
            openfaas_ce: true,
        }
    }
}

/// Why the autoscaler could not start.
#[derive(Debug, thiserror::Error)]
pub enum AutoscalerError {
    #[error(transparent)]
    Bucket(#[from] BucketError),
    #[error("cannot follow the load reports: {0}")]
    Subscribe(#[from] async_nats::SubscribeError),
    #[error("cannot register metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

pub struct Autoscaler {
    tasks: Vec<JoinHandle<()>>,
}

struct Metrics {
    decisions: IntCounterVec,
    desired: IntGaugeVec,
}

/// Sets a function's replicas from `from` to `to`, unless someone changed them meanwhile.
async fn change(
    table: &Table<FunctionSpec>,
    metrics: &Metrics,
    id: &str,
    from: u32,
    to: u32,
    reason: &'static str,
) {
    let changed = table
        .modify(id, |current| FunctionSpec {
            replicas: if current.replicas == from {
                to
            } else {
                current.replicas
            },
            ..current
        })
        .await;
    match changed {
        Ok(_) => {
            let direction = if to > from { "up" } else { "down" };
            metrics.decisions.with_label_values(&[id, direction]).inc();
            tracing::info!(function = %id, from, to, reason, "scaled");
        }
        Err(error) => tracing::warn!(function = %id, %error, "replicas not changed"),
    }
}

impl Autoscaler {
    /// Starts measuring and scaling; runs until `shutdown`.
    pub async fn start(
        nats: async_nats::Client,
        config: AutoscalerConfig,
        registry: &Registry,
        shutdown: CancellationToken,
    ) -> Result<Self, AutoscalerError> {
        let js = jetstream::new(nats.clone());
        let store = buckets::functions(&js).await?;
        let functions = KvCache::start(store.clone(), shutdown.clone()).await;
        let table: Table<FunctionSpec> = Table::new(store);
        let measures = Measures::default();
        let follower = measures.follow(&nats, shutdown.clone()).await?;
        let metrics = Metrics {
            decisions: IntCounterVec::new(
                Opts::new(
                    "switchyard_autoscaler_decisions_total",
                    "Replica changes made by the autoscaler",
                ),
                &["function_name", "direction"],
            )?,
            desired: IntGaugeVec::new(
                Opts::new(
                    "switchyard_autoscaler_desired_replicas",
                    "Replicas the autoscaler wants",
                ),
                &["function_name"],
            )?,
        };
        registry.register(Box::new(metrics.decisions.clone()))?;
        registry.register(Box::new(metrics.desired.clone()))?;
        tracing::info!(interval = ?config.interval, window = ?config.scale_down_window, "autoscaler running");
        let scaler = tokio::spawn(async move {
            let mut windows: HashMap<String, Window> = HashMap::new();
            let mut alerts: HashMap<String, Alert> = HashMap::new();
            let mut tick = tokio::time::interval(config.interval);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    () = shutdown.cancelled() => break,
                }
                let started = Instant::now();
                // What a tick needs of each function, read in place: copying every
                // deployment each tick cost most of a core with 10,000 functions.
                let specs: Vec<Scaled> = functions.read(|map| {
                    map.values()
                        .map(|spec: &FunctionSpec| Scaled {
                            id: spec.name(),
                            replicas: spec.replicas,
                            policy: ScalePolicy::of(&spec.deployment),
                            steps: config.openfaas_ce.then(|| StepPolicy::of(&spec.deployment)),
                        })
                        .collect()
                });
                let ids: HashSet<&str> = specs.iter().map(|s| s.id.as_str()).collect();
                windows.retain(|id, _| ids.contains(id.as_str()));
                alerts.retain(|id, _| ids.contains(id.as_str()));
                // One read of the queue per tick, whatever the number of functions.
                let queue = measures::queued(&js).await;
                let functions = specs.len();
                for spec in specs {
                    let id = spec.id.clone();
                    let now = Instant::now();
                    let Some(policy) = spec.policy else {
                        // Without scaling labels: OpenFaaS CE's steps, when on. (From zero, the
                        // dispatcher that holds a call or a job wakes it: `scale_from_zero`.)
                        if let Some(steps) = spec.steps {
                            let alert = alerts.entry(id.clone()).or_default();
                            let rate = measures.rate(&id, now);
                            if let Some(step) = alert.decide(&steps, rate, spec.replicas, now) {
                                change(
                                    &table,
                                    &metrics,
                                    &id,
                                    spec.replicas,
                                    step.replicas,
                                    step.reason,
                                )
                                .await;
                            }
                        }
                        continue;
                    };
                    let queued = queue.get(&id).copied().unwrap_or(0) as f64;
                    let load = match policy.kind {
                        ScaleKind::Capacity => measures.in_flight(&id, now),
                        ScaleKind::Rps => measures.rate(&id, now),
                        ScaleKind::Queue => queued,
                    };
                    // Calls held for a replica and jobs waiting always need one, whatever the
                    // load type: this is how a function scaled to zero wakes up.
                    let waiting = queued > 0.0 || measures.in_flight(&id, now) > 0.0;
                    let load = if load == 0.0 && waiting {
                        f64::EPSILON
                    } else {
                        load
                    };
                    let window = windows.entry(id.clone()).or_default();
                    let decision =
                        window.decide(&policy, load, spec.replicas, config.scale_down_window, now);
                    metrics
                        .desired
                        .with_label_values(&[&id])
                        .set(i64::from(decision.replicas));
                    if decision.replicas == spec.replicas {
                        continue;
                    }
                    let direction = if decision.replicas > spec.replicas {
                        "up"
                    } else {
                        "down"
                    };
                    let replicas = decision.replicas;
                    match table
                        .modify(&id, |current| FunctionSpec {
                            replicas,
                            ..current
                        })
                        .await
                    {
                        Ok(_) => {
                            metrics.decisions.with_label_values(&[&id, direction]).inc();
                            tracing::info!(
                                function = %id, from = spec.replicas, to = replicas, reason = decision.reason,
                                kind = ?policy.kind, load, target = policy.target, "scaled"
                            );
                        }
                        Err(error) => {
                            tracing::warn!(function = %id, %error, "replicas not changed")
                        }
                    }
                }
                tracing::debug!(functions, took = ?started.elapsed(), "tick");
            }
            tracing::info!("autoscaler stopped");
        });
        Ok(Autoscaler {
            tasks: vec![follower, scaler],
        })
    }

    /// Waits until it has stopped after shutdown.
    pub async fn wait(self) {
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// What one tick needs to know of a function.
struct Scaled {
    id: String,
    replicas: u32,
    policy: Option<ScalePolicy>,
    /// OpenFaaS CE's steps, when they are on.
    steps: Option<StepPolicy>,
}
