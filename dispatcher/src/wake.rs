//! Scaling a function from zero the moment a call or a job finds it there (OpenFaaS's
//! `scale_from_zero`), rather than at the autoscaler's next tick: the dispatcher that holds the
//! call sets the function's replicas to its minimum (at least one) in the registry, which the
//! provider follows at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use switchyard_broker::cache::KvCache;
use switchyard_broker::records::FunctionSpec;
use switchyard_broker::table::Table;

/// One write per function in this long, however many calls arrive at once; long enough for the
/// registry cache to show the change, short enough that a function scaled to zero again right
/// after is woken again.
const QUIET: Duration = Duration::from_millis(200);

pub(crate) struct Waker {
    registry: KvCache<FunctionSpec>,
    table: Table<FunctionSpec>,
    recent: Mutex<HashMap<String, Instant>>,
}

impl Waker {
    pub(crate) fn new(registry: KvCache<FunctionSpec>, table: Table<FunctionSpec>) -> Self {
        Waker {
            registry,
            table,
            recent: Mutex::new(HashMap::new()),
        }
    }

    /// Scales `function` to its minimum when it is at zero replicas.
    pub(crate) async fn wake(&self, function: &str) {
        let Some(spec) = self.registry.get(function) else {
            return;
        };
        if spec.replicas != 0 {
            return;
        }
        {
            let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            recent.retain(|_, at| now.duration_since(*at) < QUIET);
            if recent.contains_key(function) {
                return;
            }
            recent.insert(function.to_string(), now);
        }
        let replicas = FunctionSpec::initial_replicas(&spec.deployment).max(1);
        let woken = self
            .table
            .modify(function, |current| FunctionSpec {
                // Someone else may have scaled it meanwhile: theirs stands.
                replicas: if current.replicas == 0 {
                    replicas
                } else {
                    current.replicas
                },
                ..current
            })
            .await;
        match woken {
            Ok(_) => tracing::info!(%function, replicas, "scaled from zero: a call or a job waits"),
            Err(error) => tracing::warn!(%function, %error, "cannot scale from zero"),
        }
    }
}
