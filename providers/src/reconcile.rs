//! The loop of the back ends that reconcile the engine's objects with the registry (Docker
//! containers, Swarm services): a round whenever the registry changes, every few seconds
//! anyway, and sooner while replicas are starting.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use switchyard_broker::cache::KvCache;
use switchyard_broker::follow;
use switchyard_broker::records::FunctionSpec;
use tokio_util::sync::CancellationToken;

/// A back end's reconciler.
pub(crate) trait Reconcile {
    /// What it manages, for the log (`function containers`).
    const OBJECTS: &'static str;
    /// How soon the next round comes while replicas are starting.
    const SOON: Duration;

    /// One round; `Ok(true)` when every wanted replica is ready (nothing is starting).
    fn reconcile(
        &self,
        desired: &HashMap<String, FunctionSpec>,
    ) -> impl Future<Output = Result<bool, bollard::errors::Error>> + Send;
}

/// How often the engine is checked even when the registry does not change.
const EVERY: Duration = Duration::from_secs(2);

/// Runs rounds of `reconciler` until `shutdown`; what it manages keeps running after it.
pub(crate) async fn follow<R: Reconcile>(
    reconciler: R,
    registry: KvCache<FunctionSpec>,
    shutdown: CancellationToken,
) {
    let mut rounds = follow::Rounds::new(vec![registry.changes()], &shutdown);
    loop {
        let desired = crate::functions_to_run(&registry);
        let next = match reconciler.reconcile(&desired).await {
            Ok(true) => EVERY,
            Ok(false) => R::SOON,
            Err(error) => {
                tracing::warn!(%error, "cannot reconcile {}; retrying", R::OBJECTS);
                EVERY
            }
        };
        if !rounds.next(Some(next)).await {
            break;
        }
    }
    tracing::info!("provider stopped; {} keep running", R::OBJECTS);
}
